//! The HTTP agent of every Presage component that reads or calls URLs (the collector's sources,
//! `presage backtest --prometheus`, the applier's http hook), so `https://` URLs work.
//!
//! ureq 2 sends `ureq::get` through rustls only, which this workspace does not build; TLS here
//! goes through native-tls, i.e. the system OpenSSL (already linked for rdkafka). Trusted: the
//! system's CA bundle (on Debian `/etc/ssl/certs/ca-certificates.crt`, from `ca-certificates`)
//! and its hashed certificate directories (`/etc/ssl/certs`). An operator whose endpoints use a
//! private CA points `SSL_CERT_FILE` at a PEM bundle of it in the service's environment: that
//! file replaces the default bundle file, while the system's certificate directories are still
//! read, so public endpoints keep working. `SSL_CERT_DIR` adds a hashed directory likewise.

use std::sync::{Arc, OnceLock};

/// One agent for the process: its connection pool and TLS context are shared by every source.
/// It follows no redirect: the operator granted the URL asked for, not wherever its server
/// points next.
pub fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| agent_builder().redirects(0).build())
}

/// A builder already holding the TLS connector, for callers that set their own options
/// (timeouts, redirects). The connector, with the trust store loaded, is made once a process.
pub fn agent_builder() -> ureq::AgentBuilder {
    static CONNECTOR: OnceLock<Option<Arc<native_tls::TlsConnector>>> = OnceLock::new();
    let connector = CONNECTOR.get_or_init(|| match native_tls::TlsConnector::new() {
        Ok(connector) => Some(Arc::new(connector)),
        Err(err) => {
            // Only when OpenSSL cannot make a context at all: plain http still works, and
            // every https request fails with ureq's "no TLS backend is configured".
            tracing::error!(error = %err, "TLS unavailable: https URLs will fail");
            None
        }
    });
    match connector {
        Some(connector) => ureq::AgentBuilder::new().tls_connector(connector.clone()),
        None => ureq::AgentBuilder::new(),
    }
}
