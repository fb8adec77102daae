//! The live dashboard against a running stack, looked at in a real browser.
//!
//! `presage up` runs the whole pipeline (local broker, the five services) on the `grid-demand`
//! example template scraping a page served here, and serves the dashboard. The test waits until
//! the dashboard's state holds the app's observed values, forecast band and targets and a
//! directive the applier applied; checks that `presage dashboard --brokers` started afterwards
//! reads the same back from the topics and explains that directive; then loads the page in
//! headless Chromium, checks its DOM, and decodes its screenshot to see the chart drawn.
//!
//! Needs the service binaries (`cargo build --workspace --bins`), the local broker (Nisshi, or
//! `PRESAGE_TEST_BROKERS`) and Chromium (`/usr/bin/chromium`, or `PRESAGE_CHROMIUM`), as
//! `cargo xtask test` provides them.

#[path = "dashboard/browser.rs"]
mod browser;
#[path = "dashboard/png.rs"]
mod png;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use presage_cli::SERVICES;
use presage_runner::broker::free_port;
use presage_runner::KafkaArgs;
use serde_json::Value;

/// The demand the workload page serves, one value per wall-clock second, repeating: the
/// template's four-second season.
const DEMAND: [f64; 4] = [21_000.0, 27_500.0, 33_000.0, 25_000.0];
const APP: &str = "grid-demand";

#[test]
fn the_dashboard_shows_a_running_stack_live_in_a_browser() {
    let chromium = browser::chromium();
    let services = Path::new(env!("CARGO_BIN_EXE_presage")).with_file_name("presage-planner");
    assert!(
        services.is_file(),
        "{} is missing: build the services first (`cargo build --workspace --bins`; `cargo \
         xtask test` does it)",
        services.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let workload = workload();
    let template = write_template(dir.path(), &workload);
    let broker_port = free_port().unwrap();
    let dashboard: SocketAddr = ([127, 0, 0, 1], free_port().unwrap()).into();
    let metrics_base = consecutive_free_ports(SERVICES.len());
    let log_path = dir.path().join("up.log");
    let log = File::create(&log_path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_presage"));
    command
        .arg("up")
        .arg("--templates")
        .arg(&template)
        .arg("--data-dir")
        .arg(dir.path().join("var"))
        .args(["--port", &broker_port.to_string()])
        .args(["--dashboard-listen", &dashboard.to_string()])
        // Other stacks run in parallel: five ports found free, not the default ones.
        .args(["--metrics-port-base", &metrics_base.to_string()])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // The stack's cluster: the local broker `up` starts, or an external one under a prefix.
    let kafka = match std::env::var("PRESAGE_TEST_BROKERS") {
        Ok(brokers) => {
            let kafka = KafkaArgs {
                topic_prefix: format!("dash{broker_port}."),
                ..KafkaArgs::for_brokers(brokers)
            };
            command.args(["--brokers", &kafka.brokers]);
            command.args(["--topic-prefix", &kafka.topic_prefix]);
            kafka
        }
        Err(_) => KafkaArgs::for_brokers(format!("127.0.0.1:{broker_port}")),
    };
    let mut up = Stopped(command.spawn().unwrap());
    let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // Live data: observed values, a band, a target and a directive the applier applied.
    let state = wait_for(&mut up.0, &logs, Duration::from_secs(150), || {
        let state = get_json(dashboard, "/api/state")?;
        ready(&state).then_some(state)
    });
    assert!(
        logs().contains(&format!("dashboard at http://{dashboard}/")),
        "the URL is logged:\n{}",
        logs()
    );
    let app = app_of(&state).unwrap();
    assert_eq!(app["metric"], "demand_mw");
    let observed: Vec<f64> = app["observed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[1].as_f64())
        .collect();
    assert!(
        observed.iter().all(|v| DEMAND.contains(v)),
        "observed values are the served demand: {observed:?}"
    );
    // `up` gave each service its metrics address, in the order it starts them (SERVICES) from
    // the base.
    for (i, service) in SERVICES.iter().enumerate() {
        let addr: SocketAddr = ([127, 0, 0, 1], metrics_base + i as u16).into();
        let (status, body) = get(addr, "/metrics").unwrap_or_default();
        assert!(
            status == 200 && body.contains(&format!("service=\"{service}\"")),
            "{service}'s /metrics on {addr}: {status}\n{body}\n{}",
            logs()
        );
    }
    assert!(
        logs().contains(&format!(
            "collector: metrics at http://127.0.0.1:{metrics_base}/metrics"
        )),
        "{}",
        logs()
    );
    let applied = applied_directive(&state).unwrap();
    let id = applied["id"].as_str().unwrap().to_string();

    // It keeps moving: a later poll sees newer observed windows.
    let newest =
        |state: &Value| app_of(state).and_then(|a| a["observed"].as_array()?.last()?[0].as_i64());
    let before = newest(&state).unwrap();
    wait_for(&mut up.0, &logs, Duration::from_secs(30), || {
        let state = get_json(dashboard, "/api/state")?;
        (newest(&state)? > before).then_some(())
    });

    // A record no stage can read is dead-lettered, and shown by kind. So is a dead letter
    // stamped past any date a browser can show (the page must keep redrawing regardless).
    send(&kafka, &kafka.topics().derived(), b"not an event");
    let from_the_future = presage_events::DeadLetter {
        event_id: "from-the-future".into(),
        app: APP.into(),
        template_version: String::new(),
        stage: "elsewhere".into(),
        source_topic: kafka.topics().derived(),
        source_partition: 0,
        source_offset: 0,
        key: None,
        payload: Vec::new(),
        kind: "from_the_future".into(),
        reason: "stamped i64::MAX".into(),
        failed_at_ms: i64::MAX,
        lineage: String::new(),
    };
    send(
        &kafka,
        &kafka.topics().dlq(),
        &presage_events::encode(&from_the_future).unwrap(),
    );
    wait_for(&mut up.0, &logs, Duration::from_secs(60), || {
        let state = get_json(dashboard, "/api/state")?;
        let kinds = &state["dead_letters"]["by_kind"];
        (kinds["undecodable"].as_u64()? >= 1 && kinds["from_the_future"].as_u64()? >= 1)
            .then_some(())
    });

    // `presage dashboard` for the same cluster reads the same back from the topics.
    let standalone: SocketAddr = ([127, 0, 0, 1], free_port().unwrap()).into();
    let mut dashboard_command = Command::new(env!("CARGO_BIN_EXE_presage"));
    dashboard_command
        .args(["dashboard", "--brokers", &kafka.brokers])
        .args(["--listen", &standalone.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !kafka.topic_prefix.is_empty() {
        dashboard_command.args(["--topic-prefix", &kafka.topic_prefix]);
    }
    let mut read_back = Stopped(dashboard_command.spawn().unwrap());
    let again = wait_for(&mut read_back.0, &logs, Duration::from_secs(60), || {
        let state = get_json(standalone, "/api/state")?;
        let listed = state["directives"]
            .as_array()?
            .iter()
            .any(|d| d["id"] == id.as_str());
        (listed && app_of(&state)?["observed"].as_array()?.len() >= 10).then_some(state)
    });
    assert_eq!(app_of(&again).unwrap()["metric"], "demand_mw");
    let explained = get_json(standalone, &format!("/api/explain/{}", &id[..12])).unwrap();
    let chain = explained["text"].as_str().unwrap_or_default();
    assert!(
        explained["id"] == id.as_str() && chain.contains(&id) && chain.contains("demand_mw"),
        "the directive's explain chain: {explained}"
    );
    drop(read_back);

    // The page in a real browser: the app, the directive, a chart.
    let url = format!("http://{dashboard}/");
    let dom = browser::dump_dom(&chromium, &url);
    assert!(
        dom.contains(&format!("class=\"app\" data-app=\"{APP}\"")),
        "the app's card is in the page:\n{dom}"
    );
    assert!(
        dom.contains(&format!("data-id=\"{id}\"")) || dom.contains("class=\"directive "),
        "a directive row is in the page:\n{dom}"
    );
    assert!(
        dom.contains("class=\"observed\"") && dom.contains("class=\"band\""),
        "the chart has its observed line and band:\n{dom}"
    );
    assert!(
        dom.contains("applied</span>"),
        "an outcome is shown:\n{dom}"
    );
    assert!(
        dom.contains("data-kind=\"undecodable\"") && dom.contains("data-kind=\"from_the_future\""),
        "dead letters are shown by kind:\n{dom}"
    );
    // It polls: within the browser's budget the page redrew from fresh state more than once.
    let updates: u32 = dom
        .split("data-updates=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(updates >= 2, "the page redrew {updates} times:\n{dom}");

    // A directive opens its explain chain (the page's address for it: a click sets it).
    let dom = browser::dump_dom(&chromium, &format!("{url}#explain={id}"));
    let panel = dom
        .split("id=\"explain-text\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_default();
    assert!(
        panel.contains(&id) && panel.contains("demand_mw"),
        "the explain panel shows the chain:\n{panel}\n---\n{dom}"
    );

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    browser::screenshot(&chromium, &url, &shot);
    let image = png::decode(&std::fs::read(&shot).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
    let observed = browser::stroke(&image, [0x1f, 0x77, 0xb4]);
    let band = browser::stroke(&image, [0xfd, 0xd0, 0xa2]);
    let target = browser::stroke(&image, [0x2c, 0xa0, 0x2c]);
    eprintln!(
        "screenshot {}: observed line {observed:?}, band {band:?}, target {target:?}",
        shot.display()
    );
    // A line across the chart that goes up and down with the demand (the legend's swatch is
    // 14 pixels wide and 3 high; how far the line moves depends on how wide the band is), a
    // band with area, a target line across.
    assert!(
        observed.columns >= 200 && observed.rows >= 12,
        "the observed line is not drawn across the chart: {observed:?} ({})",
        shot.display()
    );
    assert!(
        band.pixels >= 2_000,
        "no forecast band: {band:?} ({})",
        shot.display()
    );
    assert!(
        target.columns >= 100,
        "no target line: {target:?} ({})",
        shot.display()
    );
}

/// The state is live enough to look at: observed values, a band, a target and an applied
/// directive.
fn ready(state: &Value) -> bool {
    let Some(app) = app_of(state) else {
        return false;
    };
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    len(&app["observed"]) >= 12
        && len(&app["band"]) >= 4
        && len(&app["targets"]["replicas"]) >= 2
        && applied_directive(state).is_some()
}

fn app_of(state: &Value) -> Option<&Value> {
    state["apps"].as_array()?.iter().find(|a| a["app"] == APP)
}

fn applied_directive(state: &Value) -> Option<&Value> {
    state["directives"].as_array()?.iter().find(|d| {
        d["app"] == APP
            && d["outcomes"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["status"] == "applied"))
    })
}

/// Polls `check` every half second until it answers, failing with the stack's log when `child`
/// exits or `limit` passes.
fn wait_for<T>(
    child: &mut Child,
    logs: &dyn Fn() -> String,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "a presage process exited early:\n{}",
            logs()
        );
        assert!(
            Instant::now() < deadline,
            "not there within {limit:?}:\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// GET `path` from `addr` as JSON; `None` while it does not answer with some.
fn get_json(addr: SocketAddr, path: &str) -> Option<Value> {
    serde_json::from_str(&get(addr, path)?.1).ok()
}

/// GET `path` from `addr`: status and body, `None` while nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    let (_, body) = text.split_once("\r\n\r\n")?;
    Some((status, body.to_string()))
}

/// The first of `n` consecutive ports nobody listens on, below the kernel's ephemeral range
/// (32768 up), so the ports other tests are handed meanwhile (port 0) cannot be among them.
fn consecutive_free_ports(n: usize) -> u16 {
    let start = 20_000 + (std::process::id() % 1_000) as u16 * 10;
    (0..1_000u16)
        .map(|k| 20_000 + (start - 20_000 + k * 10) % 10_000)
        .find(|&base| {
            (0..n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        })
        .expect("five free consecutive ports")
}

/// One record on `topic`, keyed by the app.
fn send(kafka: &KafkaArgs, topic: &str, payload: &[u8]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = kafka.client_config(&[]).unwrap().create().unwrap();
    producer
        .send(BaseRecord::to(topic).key(APP).payload(payload))
        .map_err(|(err, _)| err)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// A Prometheus page serving [`DEMAND`], one value per wall-clock second.
fn workload() -> String {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://{}/metrics", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let second = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let value = DEMAND[second as usize % DEMAND.len()];
            // Stamped mid-second, so each value falls in its own one-second window.
            let page = format!(
                "# TYPE grid_demand_mw gauge\ngrid_demand_mw{{region=\"ew\"}} {value} {}\n",
                second * 1000 + 500
            );
            let _ = request.respond(tiny_http::Response::from_string(page));
        }
    });
    url
}

/// The shipped `grid-demand` template, scraping `url` and writing its config in `dir`.
fn write_template(dir: &Path, url: &str) -> PathBuf {
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../templates/grid-demand.yaml"
    );
    let text = std::fs::read_to_string(shipped)
        .unwrap()
        .replace("http://127.0.0.1:9464/metrics", url)
        .replace(
            "var/grid-demand/config.yaml",
            &dir.join("app/config.yaml").display().to_string(),
        );
    let path = dir.join("grid-demand.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A child that a failed assertion does not leave running: SIGTERM (so `up` stops its
/// services and broker), then waited for.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on our own child's pid with a valid signal.
            unsafe {
                libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
