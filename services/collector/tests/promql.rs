//! A `promql` source read by the collector's reader against a real Prometheus server scraping an
//! exporter this test serves: each series of the query's result is a reading with its labels;
//! a query Prometheus refuses, or one giving a range vector, is an error that says why; a result
//! with more series than `--max-scrape-series` is refused whole; a server the allow-list does
//! not grant is not reached.

mod promql_server;

use presage_collector::readers::Readers;
use presage_collector::{Refusal, SourceReader};
use presage_template::authority::Allow;
use presage_template::{Duration, Source, SourceKind};
use promql_server::{Exporter, Prometheus};

const PAGE: &str = "# TYPE orders_total counter\n\
orders_total{shop=\"north\"} 10\n\
orders_total{shop=\"south\"} 32\n\
# TYPE queue_depth gauge\n\
queue_depth 7\n";

fn source(url: &str, query: &str) -> Source {
    Source {
        id: "orders".into(),
        kind: SourceKind::Promql,
        url: Some(url.into()),
        query: Some(query.into()),
        metric: Some("orders_total".into()),
        every: Some(Duration::from_millis(1000)),
        timeout: Some(Duration::from_millis(10_000)),
        ..Default::default()
    }
}

fn granting(url: &str, max_series: usize) -> Readers {
    let allow = Allow::parse(&format!("urls: [\"{url}/\"]"), "allow.yaml").unwrap();
    Readers::new(allow, max_series)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_promql_source_reads_each_series_of_its_query_with_its_labels() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(PAGE);
    let prometheus = Prometheus::scraping(&[&exporter.addr], dir.path());
    prometheus.wait_for("the exporter's two shops to be scraped", |p| {
        p.series("orders_total") == 2
    });
    let mut readers = granting(&prometheus.base, 100);

    let now = now_ms();
    let mut readings = readers
        .read(&source(&prometheus.base, "orders_total"), now)
        .unwrap_or_else(|e| panic!("{e}"));
    readings.sort_by(|a, b| a.labels["shop"].cmp(&b.labels["shop"]));
    let seen: Vec<(&str, &str, f64)> = readings
        .iter()
        .map(|r| (r.metric.as_str(), r.labels["shop"].as_str(), r.value))
        .collect();
    assert_eq!(
        seen,
        [
            ("orders_total", "north", 10.0),
            ("orders_total", "south", 32.0)
        ]
    );
    for reading in &readings {
        assert_eq!(reading.labels["job"], "exporter", "{reading:?}");
        assert_eq!(reading.labels["instance"], exporter.addr, "{reading:?}");
        assert!(!reading.labels.contains_key("__name__"), "{reading:?}");
        assert_eq!(reading.at_ms, now, "evaluated at the collector's clock");
    }

    // An aggregation has no __name__ and fewer labels; a scalar has none.
    exporter.set(&PAGE.replace(" 32\n", " 40\n"));
    prometheus.wait_for("the south shop's new count", |p| {
        p.series("orders_total{shop=\"south\"} == 40") == 1
    });
    let sum = readers
        .read(&source(&prometheus.base, "sum(orders_total)"), now_ms())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sum.len(), 1);
    assert_eq!((sum[0].value, sum[0].labels.len()), (50.0, 0));
    let scalar = readers
        .read(
            &source(&prometheus.base, "scalar(queue_depth) * 2"),
            now_ms(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scalar.len(), 1);
    assert_eq!((scalar[0].value, scalar[0].labels.len()), (14.0, 0));

    // No `metric`: the samples are named by the source's id.
    let unnamed = Source {
        metric: None,
        ..source(&prometheus.base, "queue_depth")
    };
    let depth = readers.read(&unnamed, now_ms()).unwrap();
    assert_eq!(depth[0].metric, "orders");
}

#[test]
fn a_refused_query_or_a_range_vector_is_an_error_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(PAGE);
    let prometheus = Prometheus::scraping(&[&exporter.addr], dir.path());
    prometheus.wait_for("the exporter to be scraped", |p| {
        p.series("queue_depth") == 1
    });
    let mut readers = granting(&prometheus.base, 100);

    let err = readers
        .read(&source(&prometheus.base, "sum(orders_total"), now_ms())
        .expect_err("a query that does not parse");
    assert!(err.refusal.is_none(), "a failure, not a refusal: {err}");
    let message = err.to_string();
    assert!(message.starts_with("source orders: GET "), "{message}");
    assert!(
        message.contains("Prometheus refused the query (bad_data)"),
        "{message}"
    );

    let err = readers
        .read(&source(&prometheus.base, "orders_total[1m]"), now_ms())
        .expect_err("a range vector");
    assert!(err.to_string().contains("range vector (matrix)"), "{err}");

    // A URL under the server rather than the server: its 404 page is quoted, with the hint.
    let err = readers
        .read(
            &source(&format!("{}/metrics", prometheus.base), "up"),
            now_ms(),
        )
        .expect_err("not the API");
    assert!(
        err.to_string().contains("404 page not found")
            && err.to_string().contains("the server's base URL"),
        "{err}"
    );

    // Credentials in the server's URL never reach the error.
    let with_secret = prometheus.base.replace("http://", "http://reader:s3cret@");
    let mut readers = granting(&with_secret, 100);
    let port = prometheus.base.rsplit(':').next().unwrap().to_string();
    drop(prometheus);
    let err = readers
        .read(&source(&with_secret, "up"), now_ms())
        .expect_err("the server is gone");
    assert!(err.to_string().contains(&port), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[test]
fn a_result_with_more_series_than_the_bound_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(PAGE);
    let prometheus = Prometheus::scraping(&[&exporter.addr], dir.path());
    prometheus.wait_for("the exporter's two shops to be scraped", |p| {
        p.series("orders_total") == 2
    });
    let mut readers = granting(&prometheus.base, 1);
    let err = readers
        .read(&source(&prometheus.base, "orders_total"), now_ms())
        .expect_err("two series, one allowed");
    assert_eq!(
        err.refusal,
        Some(Refusal::TooManySeries { series: 2, max: 1 })
    );
    assert!(err.to_string().contains("--max-scrape-series (1)"), "{err}");
    // One series is within the bound.
    let one = readers
        .read(&source(&prometheus.base, "sum(orders_total)"), now_ms())
        .unwrap();
    assert_eq!(one.len(), 1);

    // A server the allow-list does not grant is not reached.
    let mut ungranted = Readers::new(Allow::none(), 100);
    let err = ungranted
        .read(&source(&prometheus.base, "orders_total"), now_ms())
        .expect_err("not granted");
    assert_eq!(err.refusal, Some(Refusal::NotGranted));
}
