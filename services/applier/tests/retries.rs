//! Failed applies are tried again, with backoff, up to the hook's `retry.attempts`; only
//! failures that may pass later are. Real HTTP servers, real commands, real files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use presage_applier::hooks::{apply, Granted};
use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::Template;

const ORIGINAL: &str = "resources:\n  replicas: 3\n  memory_mb: 1024\n";

fn template(hook: &str) -> Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {hook}\n  validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n"
    );
    presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn directive(target: i64) -> ScalingDirective {
    ScalingDirective {
        event_id: format!("d-{target}"),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: "replicas".into(),
        target,
        issued_at_ms: 1_000,
        policy: "test".into(),
        reason: "test".into(),
        ..Default::default()
    }
}

fn apply_through(hook: &str, target: i64) -> ApplyOutcome {
    let t = template(hook);
    apply(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &directive(target),
        &Granted::covering(&t),
        0,
    )
}

fn live_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, ORIGINAL).unwrap();
    path
}

fn replicas(path: &Path) -> Option<i64> {
    let doc: yaml_serde::Value = yaml_serde::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    doc["resources"]["replicas"].as_i64()
}

/// An HTTP server that answers each request with `answer(n)` for the n-th request (from 0);
/// returns its URL and the count of requests.
fn server(answer: impl Fn(usize) -> u16 + Send + 'static) -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let _ = request.respond(tiny_http::Response::empty(answer(n)));
        }
    });
    (url, count)
}

// An http hook applied after two 503s: tests/http_hook.rs (its server holds a configuration).

#[test]
fn an_http_hook_that_keeps_failing_gives_up_after_its_attempts_with_the_last_reason() {
    let (url, requests) = server(|_| 503);
    let outcome = apply_through(
        &format!(
            "{{ name: scale, kind: http, url: \"{url}/scale\", retry: {{ attempts: 2, backoff: 50ms }} }}"
        ),
        6,
    );
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    assert!(outcome.reason.unwrap().contains("HTTP 503"));
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[test]
fn an_http_4xx_is_not_retried() {
    let (url, requests) = server(|_| 404);
    let outcome = apply_through(
        &format!(
            "{{ name: scale, kind: http, url: \"{url}/scale\", retry: {{ attempts: 3, backoff: 50ms }} }}"
        ),
        6,
    );
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert_eq!(outcome.attempts, 1);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[test]
fn an_unreachable_http_hook_is_retried_as_a_connection_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcome = apply_through(
        &format!(
            "{{ name: scale, kind: http, url: \"http://127.0.0.1:{port}/scale\", retry: {{ attempts: 2, backoff: 50ms }} }}"
        ),
        6,
    );
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
}

#[test]
fn a_test_command_that_fails_then_passes_is_applied_on_the_second_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let mark = dir.path().join("failed-once");
    let hook = format!(
        "{{ name: cfg, kind: file, path: {path:?}, retry: {{ attempts: 3, backoff: 50ms }}, \
         test: {{ command: [sh, -c, \"[ -e {mark} ] || {{ touch {mark}; echo flaky >&2; exit 1; }}\"] }} }}",
        mark = mark.display()
    );
    let outcome = apply_through(&hook, 7);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    assert_eq!(replicas(&path), Some(7));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.yaml.prev")).unwrap(),
        ORIGINAL
    );
}

#[test]
fn a_rejected_change_is_never_retried_and_its_test_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let runs = dir.path().join("runs");
    let hook = format!(
        "{{ name: cfg, kind: file, path: {path:?}, retry: {{ attempts: 3, backoff: 50ms }}, \
         test: {{ command: [sh, -c, \"echo run >> {runs}; exit 1\"] }} }}",
        runs = runs.display()
    );
    let outcome = apply_through(&hook, 80);
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert_eq!(outcome.attempts, 1);
    assert!(!runs.exists(), "the test command ran");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
}

#[test]
fn a_rollback_after_a_failing_check_is_retried_until_the_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    // Each reload appends a line: the first try's swap (1) and rollback (2), then the second
    // try's swap (3). The check answers 200 only from the third reload on, so the first try is
    // rolled back whatever the machine's speed.
    let reloads = dir.path().join("reloads");
    let counted = reloads.clone();
    let (url, _) = server(move |_| {
        let n = std::fs::read_to_string(&counted)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n >= 3 {
            200
        } else {
            503
        }
    });
    let hook = format!(
        "{{ name: cfg, kind: file, path: {path:?}, retry: {{ attempts: 3, backoff: 50ms }}, \
         reload: {{ command: [sh, -c, \"echo reload >> {reloads}\"] }}, \
         test: {{ http: \"{url}/health\", expect: 200, within: 1s }} }}",
        reloads = reloads.display()
    );
    let outcome = apply_through(&hook, 7);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    assert_eq!(replicas(&path), Some(7));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.yaml.prev")).unwrap(),
        ORIGINAL,
        ".prev is the version live before the swap, not the rolled-back candidate"
    );
}

#[test]
fn a_check_that_keeps_failing_ends_rolled_back_after_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let (url, _) = server(|_| 503);
    let hook = format!(
        "{{ name: cfg, kind: file, path: {path:?}, retry: {{ attempts: 2, backoff: 50ms }}, \
         test: {{ http: \"{url}/health\", expect: 200, within: 300ms }} }}"
    );
    let outcome = apply_through(&hook, 7);
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
}
