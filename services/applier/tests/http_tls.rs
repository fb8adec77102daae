//! The http hook over `https://`, against a real TLS server (`openssl s_server`) whose
//! self-signed certificate no trust store of this process holds: the hook speaks TLS (through the
//! system OpenSSL, not "no TLS backend"), refuses the certificate before anything is sent, and
//! says why without the bearer token. Trusting a private CA is the operator's `SSL_CERT_FILE`
//! (`integration/tests/tls.rs` runs a real binary so); this test changes no environment.

use presage_applier::hooks::{apply, Granted};
use presage_events::ScalingDirective;

#[path = "../../collector/tests/tls_server/mod.rs"]
mod tls_server;
use tls_server::TlsServer;

#[test]
fn an_https_configuration_whose_certificate_is_untrusted_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = TlsServer::start(
        dir.path(),
        &[("config", r#"{"resources": {"replicas": 3}}"#)],
    );
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cr3t-bearer\n").unwrap();
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }} }}\ndynamic_metadata:\n  configuration_hooks:\n    \
         - {{ name: scale, kind: http, url: \"{}/config\", retry: {{ attempts: 1 }}, \
         http: {{ auth: {{ bearer: {{ file: {token:?} }} }} }} }}\n",
        server.origin()
    );
    let t = presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let directive = ScalingDirective {
        event_id: "d-1".into(),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: "replicas".into(),
        target: 7,
        ..Default::default()
    };

    let outcome = apply(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &directive,
        &Granted::covering(&t),
        0,
    );

    assert_eq!(outcome.status, "failed", "{outcome:?}");
    let reason = outcome.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("certificate verify failed"),
        "the refusal names the certificate check: {reason}"
    );
    assert!(!reason.contains("s3cr3t"), "the token stays out: {reason}");
    // The configuration the server holds is untouched (s_server -WWW cannot take a write, and
    // none was attempted past the handshake).
    assert_eq!(
        std::fs::read_to_string(dir.path().join("www/config")).unwrap(),
        r#"{"resources": {"replicas": 3}}"#
    );
}
