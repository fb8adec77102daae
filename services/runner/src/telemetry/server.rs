//! The HTTP edge: `/metrics`, `/healthz` and `/readyz` on the operator's address.

use std::net::SocketAddr;

use anyhow::Context;

use super::Telemetry;

/// Threads answering requests.
const WORKERS: usize = 4;

/// The OpenMetrics text format, which Prometheus asks for and reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` and answers on a thread of its own for the life of the process. Returns the
/// bound address (port 0 picks a free one).
pub fn serve(addr: SocketAddr, telemetry: &'static Telemetry) -> anyhow::Result<SocketAddr> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("serving metrics on {addr} (--metrics-listen)"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .context("the metrics server is not on an IP address")?;
    // A few threads: a scraper that stops reading a large /metrics holds one of them, not
    // the liveness probe.
    let server = std::sync::Arc::new(server);
    for worker in 0..WORKERS {
        let server = server.clone();
        std::thread::Builder::new()
            .name(format!("metrics-http-{worker}"))
            .spawn(move || {
                for request in server.incoming_requests() {
                    let (status, content_type, body) = answer(request.url(), telemetry);
                    let header = tiny_http::Header::from_bytes("Content-Type", content_type)
                        .expect("a valid header");
                    let response = tiny_http::Response::from_string(body)
                        .with_status_code(status)
                        .with_header(header);
                    if let Err(err) = request.respond(response) {
                        tracing::debug!(error = %err, "metrics client went away");
                    }
                }
            })
            .context("starting the metrics threads")?;
    }
    Ok(bound)
}

/// Status, content type and body for a path.
fn answer(url: &str, telemetry: &Telemetry) -> (u16, &'static str, String) {
    let path = url.split('?').next().unwrap_or_default();
    match path {
        "/metrics" => {
            telemetry.refresh_readiness();
            (200, OPENMETRICS, telemetry.metrics.encode())
        }
        "/healthz" => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
        "/readyz" => {
            let (ready, report) = telemetry.health.readiness();
            (
                if ready { 200 } else { 503 },
                "text/plain; charset=utf-8",
                report,
            )
        }
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found: try /metrics, /healthz or /readyz\n".to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (status, head.to_string(), body.to_string())
    }

    #[test]
    fn the_server_answers_metrics_health_and_readiness_over_http() {
        let telemetry: &'static Telemetry = Box::leak(Box::new(Telemetry::new("test", true, 10)));
        let addr = serve("127.0.0.1:0".parse().unwrap(), telemetry).unwrap();

        let (status, head, body) = get(addr, "/metrics");
        assert_eq!(status, 200);
        assert!(head.contains("application/openmetrics-text"), "{head}");
        assert!(
            body.contains(r#"presage_build_info{service="test""#),
            "{body}"
        );
        assert!(
            body.contains(r#"presage_ready{service="test"} 0"#),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");

        assert_eq!(get(addr, "/healthz").0, 200);
        let (status, _, body) = get(addr, "/readyz");
        assert_eq!(status, 503);
        assert!(body.contains("no loop"), "{body}");

        let one = telemetry.health.register("stage");
        one.templates_loaded();
        one.joined();
        let (status, _, body) = get(addr, "/readyz");
        assert_eq!((status, body.as_str()), (200, "stage: ready\n"));
        assert!(get(addr, "/metrics")
            .2
            .contains(r#"presage_ready{service="test"} 1"#));
        assert_eq!(get(addr, "/nothing").0, 404);
    }

    #[test]
    fn an_address_in_use_is_a_clear_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let telemetry: &'static Telemetry = Box::leak(Box::new(Telemetry::new("test", true, 10)));
        let err = serve(taken.local_addr().unwrap(), telemetry).unwrap_err();
        assert!(format!("{err:#}").contains("--metrics-listen"), "{err:#}");
    }
}
