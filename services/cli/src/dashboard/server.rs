//! The dashboard's HTTP edge: the page, its state as JSON, and a directive's explain chain.
//! A few worker threads share one listener, so a slow explain (it reads topics from their
//! beginning) does not hold up the page's polling.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use presage_runner::{KafkaArgs, Shutdown};
use serde_json::{json, Value};
use tiny_http::{Header, Request, Response, Server};

use super::feed::{now_ms, Shared};
use super::view::state_json;
use crate::explain::{collect, render_chain, Unresolved, MIN_PREFIX};

/// The page: HTML, CSS and JS in one file, no outside resource.
pub const PAGE: &str = include_str!("page.html");
const WORKERS: usize = 4;
/// Explains at once: each reads topics from their beginning, and the page's polling must keep
/// a worker.
const EXPLAINS: usize = 2;
/// How long an explain may read any one topic.
const EXPLAIN_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Page,
    State,
    Explain(String),
    /// An explain request whose id cannot be one.
    BadId,
    NotFound,
}

/// The route of a request target (path and optional query).
pub fn route(url: &str) -> Route {
    let path = url.split(['?', '#']).next().unwrap_or("");
    match path {
        "/" | "/index.html" => Route::Page,
        "/api/state" => Route::State,
        _ => match path.strip_prefix("/api/explain/") {
            Some(id)
                if (MIN_PREFIX..=128).contains(&id.len())
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                Route::Explain(id.to_string())
            }
            Some(_) => Route::BadId,
            None => Route::NotFound,
        },
    }
}

/// Binds `addr` and serves on worker threads until `stop` is raised.
pub fn serve(
    addr: SocketAddr,
    kafka: KafkaArgs,
    shared: Shared,
    stop: Shutdown,
) -> anyhow::Result<(SocketAddr, Vec<std::thread::JoinHandle<()>>)> {
    let server = Server::http(addr)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("serving the dashboard on {addr}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .context("the dashboard's address")?;
    let server = Arc::new(server);
    let workers = (0..WORKERS)
        .map(|_| {
            let (server, kafka, shared, stop) =
                (server.clone(), kafka.clone(), shared.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.requested() {
                    match server.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(request)) => handle(request, &kafka, &shared),
                        Ok(None) => {}
                        Err(err) => {
                            tracing::warn!(error = %err, "dashboard: accepting a request");
                            stop.sleep(Duration::from_millis(200));
                        }
                    }
                }
            })
        })
        .collect();
    Ok((bound, workers))
}

fn handle(request: Request, kafka: &KafkaArgs, shared: &Shared) {
    let (status, content_type, body) = match route(request.url()) {
        Route::Page => (200, "text/html; charset=utf-8", PAGE.to_string()),
        Route::State => {
            let view = {
                let status = shared
                    .status
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default();
                match shared.state.lock() {
                    Ok(state) => state_json(&state, &status, now_ms()),
                    Err(_) => json!({"error": "the dashboard's state is poisoned"}),
                }
            };
            (200, "application/json", view.to_string())
        }
        Route::Explain(id) => {
            let (status, body) = match Slot::take(&shared.explains, EXPLAINS) {
                Some(_slot) => explain(kafka, &id),
                None => (
                    503,
                    json!({"id": id, "error": "busy explaining others: try again shortly"}),
                ),
            };
            (status, "application/json", body.to_string())
        }
        Route::BadId => (
            400,
            "application/json",
            json!({"error": format!("a directive id is {MIN_PREFIX} to 128 letters, digits or dashes")})
                .to_string(),
        ),
        Route::NotFound => (404, "text/plain; charset=utf-8", "not found\n".to_string()),
    };
    let response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        // Live data: never from a cache.
        .with_header(header("Cache-Control", "no-store"));
    if let Err(err) = request.respond(response) {
        tracing::debug!(error = %err, "dashboard: answering a request");
    }
}

fn explain(kafka: &KafkaArgs, id: &str) -> (u16, Value) {
    match collect(kafka, id, EXPLAIN_LIMIT) {
        Ok(chain) => (
            200,
            json!({"id": chain.directive.event_id, "text": render_chain(&chain)}),
        ),
        Err(err) => (
            explain_status(&err),
            json!({"id": id, "error": format!("{err:#}")}),
        ),
    }
}

/// 404 when the id names no one directive (none, or several: the asker gives another or more of
/// it); 500 when the topics could not be read.
fn explain_status(err: &anyhow::Error) -> u16 {
    if err.downcast_ref::<Unresolved>().is_some() {
        404
    } else {
        500
    }
}

/// One of a bounded number of concurrent uses, given back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl<'a> Slot<'a> {
    fn take(in_use: &'a AtomicUsize, max: usize) -> Option<Self> {
        in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(in_use))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_route_to_the_page_the_state_or_an_explain() {
        assert_eq!(route("/"), Route::Page);
        assert_eq!(route("/index.html"), Route::Page);
        assert_eq!(route("/api/state?t=1"), Route::State);
        assert_eq!(
            route("/api/explain/3f2a9c1e"),
            Route::Explain("3f2a9c1e".into())
        );
        assert_eq!(route("/api/explain/3f2a"), Route::BadId, "too short");
        assert_eq!(route("/api/explain/3f2a9c1e/../x"), Route::BadId);
        assert_eq!(route("/api/explain/%2e%2e%2fetc"), Route::BadId);
        assert_eq!(route("/favicon.ico"), Route::NotFound);
    }

    #[test]
    fn an_id_naming_no_one_directive_is_404_and_a_read_failure_500() {
        let unreadable = anyhow::anyhow!("Local: Broker transport failure")
            .context("reading metadata of presage.directives");
        assert_eq!(explain_status(&unreadable), 500);
        // Refused before any topic is read (nothing listens on port 9).
        let kafka = KafkaArgs::for_brokers("127.0.0.1:9");
        let too_short = collect(&kafka, "3f2a", Duration::from_millis(1)).unwrap_err();
        assert_eq!(explain_status(&too_short), 404, "{too_short:#}");
        let context = too_short.context("explaining");
        assert_eq!(explain_status(&context), 404, "through context too");
    }

    #[test]
    fn explains_at_once_are_bounded_and_a_finished_one_frees_its_slot() {
        let in_use = AtomicUsize::new(0);
        let first = Slot::take(&in_use, 2).unwrap();
        let second = Slot::take(&in_use, 2).unwrap();
        assert!(Slot::take(&in_use, 2).is_none());
        drop(first);
        assert!(Slot::take(&in_use, 2).is_some());
        drop(second);
        assert_eq!(in_use.load(Ordering::Acquire), 0);
    }

    #[test]
    fn the_page_is_self_contained() {
        // Nothing fetched from elsewhere: it must work offline.
        for outside in ["http://", "https://", "//cdn", "<link", "src=\""] {
            assert!(!PAGE.contains(outside), "the page refers to {outside}");
        }
        assert!(PAGE.contains("/api/state") && PAGE.contains("/api/explain/"));
    }
}
