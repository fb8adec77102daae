//! The collector's readers against real HTTP servers started by the test, and this host's /proc.

use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use presage_collector::readers::Readers;
use presage_collector::{Refusal, SourceReader};
use presage_template::authority::Allow;
use presage_template::{Source, SourceKind};

/// An allow-list granting every path under `url_prefix` (scheme, host and port).
fn granting(url_prefix: &str) -> Allow {
    let url = url_prefix.trim_end_matches('/');
    Allow::parse(&format!("urls: [\"{url}/\"]"), "allow.yaml").unwrap()
}

fn readers_for(url: &str, max_series: usize) -> Readers {
    let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    Readers::new(granting(&origin), max_series)
}

fn serve(status: u16, body: &'static str, delay: Duration) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            std::thread::sleep(delay);
            let _ =
                request.respond(tiny_http::Response::from_string(body).with_status_code(status));
        }
    });
    url
}

fn source(kind: SourceKind, url: Option<String>) -> Source {
    Source {
        id: "src".into(),
        kind,
        url,
        every: Some("1s".parse().unwrap()),
        timeout: Some("500ms".parse().unwrap()),
        ..Default::default()
    }
}

#[test]
fn a_prometheus_page_becomes_readings_and_bad_lines_are_skipped() {
    let url = serve(
        200,
        "# TYPE q gauge\nqueue_depth{queue=\"orders\"} 17\nbroken line here\nup 1 1700000000000\n",
        Duration::ZERO,
    );
    let readings = readers_for(&url, 10_000)
        .read(&source(SourceKind::Prometheus, Some(url)), 5_000)
        .unwrap();
    assert_eq!(readings.len(), 2);
    assert_eq!(
        (
            readings[0].metric.as_str(),
            readings[0].value,
            readings[0].at_ms
        ),
        ("queue_depth", 17.0, 5_000)
    );
    assert_eq!(readings[0].labels["queue"], "orders");
    assert_eq!(readings[1].at_ms, 1_700_000_000_000);
}

#[test]
fn an_unreachable_endpoint_is_an_error_naming_the_source() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let err = readers_for(&url, 10_000)
        .read(&source(SourceKind::Prometheus, Some(url)), 0)
        .unwrap_err();
    assert_eq!(err.source_id, "src");
    assert_eq!(err.refusal, None, "unreachable, not refused");
}

#[test]
fn a_probe_reports_status_and_response_time() {
    let url = serve(503, "down", Duration::from_millis(60));
    let readings = readers_for(&url, 10_000)
        .read(&source(SourceKind::HttpProbe, Some(url)), 0)
        .unwrap();
    let get = |name: &str| readings.iter().find(|r| r.metric == name).map(|r| r.value);
    assert_eq!(get("up"), Some(1.0));
    assert_eq!(get("status_code"), Some(503.0));
    assert!(get("latency_ms").unwrap() >= 60.0, "{readings:?}");
}

#[test]
fn a_probe_that_times_out_reports_down() {
    let url = serve(200, "slow", Duration::from_secs(2));
    let readings = readers_for(&url, 10_000)
        .read(&source(SourceKind::HttpProbe, Some(url)), 0)
        .unwrap();
    assert_eq!(readings.len(), 1);
    assert_eq!(
        (readings[0].metric.as_str(), readings[0].value),
        ("up", 0.0)
    );
}

#[test]
fn host_readings_come_from_this_machines_proc_files() {
    let mut readers = Readers::without_urls();
    let host = source(SourceKind::Host, None);
    let first = readers.read(&host, 0).unwrap();
    let names: Vec<&str> = first.iter().map(|r| r.metric.as_str()).collect();
    assert!(
        names.contains(&"memory_total_bytes") && names.contains(&"memory_used_bytes"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"cpu_utilization"),
        "CPU needs two snapshots"
    );
    std::thread::sleep(Duration::from_millis(50));
    let second = readers.read(&host, 1).unwrap();
    let cpu = second
        .iter()
        .find(|r| r.metric == "cpu_utilization")
        .expect("cpu on the second read");
    assert!((0.0..=1.0).contains(&cpu.value));
    let total = first
        .iter()
        .find(|r| r.metric == "memory_total_bytes")
        .unwrap()
        .value;
    let used = first
        .iter()
        .find(|r| r.metric == "memory_used_bytes")
        .unwrap()
        .value;
    assert!(used > 0.0 && used <= total);
}

/// A server counting the requests it answers.
fn counting(body: String) -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", server.server_addr().to_ip().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = request.respond(tiny_http::Response::from_string(body.clone()));
        }
    });
    (url, hits)
}

#[test]
fn a_url_the_allow_list_does_not_grant_is_never_reached() {
    let (url, hits) = counting("up 1\n".into());
    for kind in [SourceKind::Prometheus, SourceKind::HttpProbe] {
        for mut readers in [
            Readers::without_urls(),
            Readers::new(granting("http://127.0.0.1:1/"), 10),
        ] {
            let err = readers
                .read(&source(kind, Some(url.clone())), 0)
                .unwrap_err();
            assert_eq!(err.refusal, Some(Refusal::NotGranted), "{err}");
            assert!(err.message.contains("`urls`"), "{err}");
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the server was reached");
    // Granted: read.
    readers_for(&url, 10_000)
        .read(&source(SourceKind::Prometheus, Some(url)), 0)
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn a_page_with_more_series_than_the_bound_is_refused_whole() {
    let page: String = (0..101)
        .map(|i| format!("requests{{path=\"/p{i}\"}} {i}\n"))
        .collect();
    let (url, _) = counting(format!("# TYPE requests counter\n{page}"));
    let err = readers_for(&url, 100)
        .read(&source(SourceKind::Prometheus, Some(url.clone())), 0)
        .unwrap_err();
    assert_eq!(
        err.refusal,
        Some(Refusal::TooManySeries {
            series: 101,
            max: 100
        }),
        "{err}"
    );
    let readings = readers_for(&url, 101)
        .read(&source(SourceKind::Prometheus, Some(url)), 0)
        .unwrap();
    assert_eq!(readings.len(), 101, "at the bound, read whole");
}

#[test]
fn a_calendar_source_reads_the_clock_of_the_template_s_zone() {
    let mut readers = Readers::new(Allow::default(), 100);
    let clock = source(SourceKind::Calendar, None);
    // 2026-07-03T23:30:00Z: Friday 23:30 in UTC, Saturday 00:30 in London (BST).
    let at = presage_template::calendar::parse_timestamp("2026-07-03T23:30:00Z").unwrap();
    let london = "Europe/London".parse().unwrap();
    let values = |readings: Vec<presage_collector::Reading>| {
        readings.iter().map(|r| r.value).collect::<Vec<_>>()
    };
    assert_eq!(
        values(readers.read_in(&clock, london, at).unwrap()),
        [0.5, 5.0, 1.0]
    );
    // `read` is the clock of a template without a zone: UTC.
    assert_eq!(values(readers.read(&clock, at).unwrap()), [23.5, 4.0, 0.0]);
}
