//! `https://` sources against a real TLS server started by the test (`openssl s_server -WWW`
//! with a self-signed certificate made by `openssl req -x509`). The certificate is in no trust
//! store this process reads, so the read is refused, and the refusal says why without leaking
//! the URL's credentials. (Trusting it takes `SSL_CERT_FILE` in the collector's environment:
//! `integration/tests/tls.rs` runs the real binary so; this test changes no environment.)

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use presage_collector::readers::Readers;
use presage_collector::SourceReader;
use presage_template::authority::Allow;
use presage_template::{Source, SourceKind};

/// `openssl s_server -WWW` serving the files of a directory over TLS; killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    /// A self-signed certificate for `localhost` and 127.0.0.1 in `dir` (`cert.pem`, `key.pem`)
    /// and a server for the files of `dir/www`.
    fn start(dir: &Path) -> Self {
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
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_page_whose_certificate_no_store_trusts_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/metrics"), "queue_depth 17\n").unwrap();
    let server = TlsServer::start(dir.path());
    let origin = format!("https://localhost:{}", server.port);
    let allow = Allow::parse(&format!("urls: [\"{origin}/\"]"), "allow.yaml").unwrap();
    let url = format!(
        "https://scraper:hunter2@localhost:{}/metrics?token=s3cr3t",
        server.port
    );
    let source = Source {
        id: "orders".into(),
        kind: SourceKind::Prometheus,
        url: Some(url),
        every: Some("1s".parse().unwrap()),
        timeout: Some("10s".parse().unwrap()),
        ..Default::default()
    };

    let err = Readers::new(allow, 10_000).read(&source, 0).unwrap_err();

    assert_eq!(err.source_id, "orders");
    assert!(
        err.message.contains("certificate verify failed"),
        "the refusal names the certificate check: {}",
        err.message
    );
    assert!(
        err.message.contains("self-signed certificate"),
        "and why it failed: {}",
        err.message
    );
    assert!(
        err.message
            .contains(&format!("localhost:{}/metrics", server.port)),
        "and the URL: {}",
        err.message
    );
    assert!(
        !err.message.contains("hunter2") && !err.message.contains("s3cr3t"),
        "credentials stay out: {}",
        err.message
    );
}
