//! End to end: the real collector binary reads a Prometheus page over `https://` from a real TLS
//! server (`openssl s_server -WWW`, self-signed certificate made by `openssl req -x509`), trusting
//! it because the operator points `SSL_CERT_FILE` at that certificate in the collector's
//! environment; the page's samples reach `presage.metrics.raw` on a real broker. A second server,
//! whose certificate is in no trust store, is refused, and the collector's log says why.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use presage_events::RawSample;
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, Services};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;

/// `openssl s_server -WWW` serving `dir/www` over TLS with a self-signed certificate for
/// `localhost` (`dir/cert.pem`); killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    fn start(dir: &Path, page: &str) -> Self {
        std::fs::create_dir_all(dir.join("www")).unwrap();
        std::fs::write(dir.join("www/metrics"), page).unwrap();
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .output()
            .expect("the openssl command line");
        assert!(made.status.success(), "openssl req: {made:?}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.join("cert.pem"))
            .arg("-key")
            .arg(dir.join("key.pem"))
            .current_dir(dir.join("www"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let server = TlsServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/metrics", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_collector_reads_an_https_page_its_operator_trusts_and_refuses_one_it_does_not() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();
    let trusted = TlsServer::start(&dir.path().join("trusted"), "queue_depth 17\n");
    let stranger = TlsServer::start(&dir.path().join("stranger"), "queue_depth 99\n");
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
            trusted.url(),
            stranger.url()
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
