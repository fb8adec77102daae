//! End to end: the real collector binary reads a Prometheus page over `https://` from a real TLS
//! server (`openssl s_server -WWW`, self-signed certificate made by `openssl req -x509`), trusting
//! it because the operator points `SSL_CERT_FILE` at that certificate in the collector's
//! environment; the page's samples reach `presage.metrics.raw` on a real broker. A second server,
//! whose certificate is in no trust store, is refused, and the collector's log says why.

use std::time::{Duration, Instant};

use presage_events::RawSample;
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, Services};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;

#[path = "../../services/collector/tests/tls_server/mod.rs"]
mod tls_server;
use tls_server::TlsServer;

/// The page's URL on `server`.
fn metrics_url(server: &TlsServer) -> String {
    format!("{}/metrics", server.origin())
}

#[test]
fn the_collector_reads_an_https_page_its_operator_trusts_and_refuses_one_it_does_not() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();
    let trusted = TlsServer::start(
        &dir.path().join("trusted"),
        &[("metrics", "queue_depth 17\n")],
    );
    let stranger = TlsServer::start(
        &dir.path().join("stranger"),
        &[("metrics", "queue_depth 99\n")],
    );
    let template = dir.path().join("orders.yaml");
    std::fs::write(
        &template,
        format!(
            r#"
app: orders
dynamic_metadata:
  sources:
    - {{ id: trusted, kind: prometheus, url: "{}", every: 1s }}
    - {{ id: stranger, kind: prometheus, url: "{}", every: 1s }}
  metric_recipes:
    - {{ name: depth, from: trusted.queue_depth, window: {{ tumble: 5s }} }}
"#,
            metrics_url(&trusted),
            metrics_url(&stranger)
        ),
    )
    .unwrap();
    publish_templates(kafka, std::slice::from_ref(&template)).unwrap();
    let mut services = Services::new(&dir.path().join("logs"));
    services.grant(&allow_templates(
        std::slice::from_ref(&template),
        dir.path(),
        &dir.path().join("allow.yaml"),
    ));
    let bundle = dir.path().join("trusted/cert.pem");
    services.set_env("collector", "SSL_CERT_FILE", bundle.to_str().unwrap());
    services.start("collector", kafka, dir.path());
    let raw = TopicReader::open(kafka, &kafka.topics().raw());

    let refused = "certificate verify failed";
    let mut depths = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline
        && (depths.is_empty() || !services.log_of("collector").contains(refused))
    {
        for sample in raw.poll::<RawSample>(Duration::from_millis(500)) {
            assert_eq!(sample.app, "orders");
            assert_eq!(
                sample.source, "trusted",
                "only the trusted server is read: {sample:?}"
            );
            assert_eq!(sample.metric, "queue_depth");
            depths.push(sample.value);
        }
    }
    let log = services.log_of("collector");
    assert!(
        !depths.is_empty() && depths.iter().all(|d| *d == 17.0),
        "the trusted https page reached the raw topic: {depths:?}\n{}",
        services.logs()
    );
    let line = log
        .lines()
        .find(|line| line.contains(refused))
        .unwrap_or_else(|| panic!("no refusal of the untrusted server logged:\n{log}"));
    assert!(
        line.contains("stranger") && line.contains(&format!("localhost:{}", stranger.port)),
        "the refusal names the source and its URL: {line}"
    );
}
