//! `https://` sources against a real TLS server started by the test (`openssl s_server -WWW`
//! with a self-signed certificate made by `openssl req -x509`). The certificate is in no trust
//! store this process reads, so the read is refused, and the refusal says why without leaking
//! the URL's credentials. (Trusting it takes `SSL_CERT_FILE` in the collector's environment:
//! `integration/tests/tls.rs` runs the real binary so; this test changes no environment.)

use presage_collector::readers::Readers;
use presage_collector::SourceReader;
use presage_template::authority::Allow;
use presage_template::{Source, SourceKind};

mod tls_server;
use tls_server::TlsServer;

#[test]
fn an_https_page_whose_certificate_no_store_trusts_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = TlsServer::start(dir.path(), &[("metrics", "queue_depth 17\n")]);
    let origin = server.origin();
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
