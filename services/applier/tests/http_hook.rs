//! The http hook against a real HTTP server started by each test: it holds the application's
//! configuration (GET reads it; PUT and POST replace it; PATCH merges into it), answers a
//! validation endpoint and a health check as told, and records every request it gets.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use presage_applier::hooks::{apply, apply_fragment, Granted};
use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_template::authority::Allow;
use presage_template::Template;
use serde_json::{json, Value};

/// One request as the server got it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_write(&self) -> bool {
        self.path == "/config" && self.method != "GET"
    }
}

/// How the server answers; changed by a test before it applies.
#[derive(Debug, Clone)]
struct Behaviour {
    /// `POST /validate`: the status and body.
    validate: (u16, &'static str),
    /// `GET /health`.
    health: u16,
    /// The first this many writes to `/config` answer 503 and change nothing.
    failing_writes: usize,
    /// Writes answer 200 but change nothing (a server that drops what it is sent).
    drops_writes: bool,
}

struct Server {
    url: String,
    config: Arc<Mutex<Value>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Server {
    fn start(config: Value) -> Server {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let config = Arc::new(Mutex::new(config));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour {
            validate: (200, ""),
            health: 200,
            failing_writes: 0,
            drops_writes: false,
        }));
        let (held, record, told) = (config.clone(), seen.clone(), behaviour.clone());
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let this = Seen {
                    method: request.method().to_string(),
                    path: request.url().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string(), h.value.to_string()))
                        .collect(),
                    body,
                };
                let mut record = record.lock().unwrap();
                record.push(this.clone());
                let writes_so_far = record.iter().filter(|s| s.is_write()).count();
                drop(record);
                let b = told.lock().unwrap().clone();
                let (status, text) = match (this.method.as_str(), this.path.as_str()) {
                    ("GET", "/config") => (200, held.lock().unwrap().to_string()),
                    ("POST", "/validate") => (b.validate.0, b.validate.1.to_string()),
                    ("GET", "/health") => (b.health, String::new()),
                    (_, "/config") if writes_so_far <= b.failing_writes => {
                        (503, "busy".to_string())
                    }
                    (_, "/config") if b.drops_writes => (200, String::new()),
                    ("PUT" | "POST", "/config") => {
                        *held.lock().unwrap() = serde_json::from_str(&this.body).unwrap();
                        (200, String::new())
                    }
                    ("PATCH", "/config") => {
                        let patch: Value = serde_json::from_str(&this.body).unwrap();
                        merge_patch(&mut held.lock().unwrap(), &patch);
                        (200, String::new())
                    }
                    _ => (404, String::new()),
                };
                let _ = request
                    .respond(tiny_http::Response::from_string(text).with_status_code(status));
            }
        });
        Server {
            url,
            config,
            seen,
            behaviour,
        }
    }

    fn config(&self) -> Value {
        self.config.lock().unwrap().clone()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn writes(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(Seen::is_write).collect()
    }

    fn told(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock().unwrap());
    }
}

/// RFC 7396, as a server taking PATCH would apply it.
fn merge_patch(doc: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = json!({});
    }
    let map = doc.as_object_mut().unwrap();
    for (key, value) in fields {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The application's real configuration: memory is lower than the bootstrap's and the server
/// holds a field the template never mentions.
fn real_config() -> Value {
    json!({"resources": {"replicas": 5, "memory_mb": 2048}, "config": {"cache_mb": 256, "log": "info"}})
}

fn template(hook: &str) -> Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }}, config: {{ cache_mb: 256 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {hook}\n  validation_rules:\n    \
         - \"resources.replicas >= 1 && resources.replicas <= 50\"\n    \
         - \"config.cache_mb <= resources.memory_mb / 2\"\n"
    );
    presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn directive(target: i64) -> ScalingDirective {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    ScalingDirective {
        event_id: format!("d-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: "replicas".into(),
        target,
        ..Default::default()
    }
}

fn granted(allow: &str) -> Granted {
    let allow = Allow::parse(allow, "allow.yaml").unwrap_or_else(|e| panic!("{e}"));
    Granted::new(allow, PathBuf::from("/"))
}

/// A directive for `target` replicas through the template's only hook, with `grant`, or with
/// exactly what the template asks when `grant` is None.
fn apply_with(hook: &str, target: i64, grant: Option<&Granted>) -> ApplyOutcome {
    let t = template(hook);
    let covering = Granted::covering(&t);
    apply(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &directive(target),
        grant.unwrap_or(&covering),
        0,
    )
}

fn plain_hook(url: &str) -> String {
    format!("{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }} }}")
}

#[test]
fn the_change_is_merged_into_the_configuration_read_from_the_server_and_sent_back_whole() {
    let server = Server::start(real_config());
    let outcome = apply_with(&plain_hook(&server.url), 7, None);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(
        server.config(),
        json!({"resources": {"replicas": 7, "memory_mb": 2048}, "config": {"cache_mb": 256, "log": "info"}}),
        "the target lands on the real configuration, whose other fields are kept"
    );
    let methods: Vec<String> = server
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    // Read, send (PUT by default), read back to check.
    assert_eq!(methods, ["GET /config", "PUT /config", "GET /config"]);
    assert_eq!(
        server.writes()[0].header("Content-Type"),
        Some("application/json")
    );
}

#[test]
fn rules_are_checked_on_the_real_configuration_and_a_breaking_change_never_reaches_the_server() {
    // A 500 MB cache fits the bootstrap's memory (500 <= 1024 / 2), not the application's real
    // 800 MB (500 <= 800 / 2 is false).
    let real = json!({"resources": {"replicas": 5, "memory_mb": 800}, "config": {"cache_mb": 500}});
    let server = Server::start(real.clone());
    let outcome = apply_with(&plain_hook(&server.url), 7, None);
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("config.cache_mb <= resources.memory_mb / 2"),
        "{reason}"
    );
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    assert_eq!(server.config(), real);
}

#[test]
fn a_failing_test_endpoint_means_no_change_is_sent() {
    let server = Server::start(real_config());
    server.told(|b| b.validate = (422, "replicas above the quota"));
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }}, \
         test: {{ http: \"{url}/validate\", expect: 200, within: 1s }} }}",
        url = server.url
    );
    let outcome = apply_with(&hook, 7, None);
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("test failed, nothing sent")
            && reason.contains("HTTP 422: replicas above the quota"),
        "{reason}"
    );
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    assert_eq!(server.config(), real_config());
    // The validation endpoint got the candidate: the real configuration with the change.
    let tested = server
        .seen()
        .into_iter()
        .find(|s| s.path == "/validate")
        .unwrap();
    let candidate: Value = serde_json::from_str(&tested.body).unwrap();
    assert_eq!(candidate["resources"]["replicas"], 7);
    assert_eq!(candidate["config"]["log"], "info");

    // The endpoint passing, the same change goes through.
    server.told(|b| b.validate = (200, ""));
    let outcome = apply_with(&hook, 7, None);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(server.config()["resources"]["replicas"], 7);
}

#[test]
fn method_headers_and_a_bearer_token_from_the_environment_arrive_as_named_and_stay_out_of_the_outcome(
) {
    let server = Server::start(real_config());
    let token = "tok-4e1f-from-env";
    std::env::set_var("PRESAGE_TEST_HTTP_BEARER", token);
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }}, \
         test: {{ http: \"{url}/validate\" }}, \
         http: {{ method: POST, headers: {{ X-Team: checkout }}, auth: {{ bearer: {{ env: PRESAGE_TEST_HTTP_BEARER }} }} }} }}",
        url = server.url
    );
    let url = &server.url;
    let grant = granted(&format!(
        "urls: [\"{url}/\"]\nsecrets:\n  - {{ env: PRESAGE_TEST_HTTP_BEARER, to: [\"{url}/\"] }}\n"
    ));
    let outcome = apply_with(&hook, 9, Some(&grant));
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "GET, test, POST, read back: {seen:?}");
    for request in &seen {
        assert_eq!(
            request.header("Authorization"),
            Some(format!("Bearer {token}").as_str()),
            "{request:?}"
        );
        assert_eq!(request.header("X-Team"), Some("checkout"), "{request:?}");
    }
    assert_eq!(server.writes()[0].method, "POST");
    assert_eq!(server.config()["resources"]["replicas"], 9);
    assert!(!format!("{outcome:?}").contains(token), "{outcome:?}");

    // A server echoing its credentials in a refusal: the reason quotes it without the token.
    server.told(|b| b.validate = (401, "bad token tok-4e1f-from-env"));
    let outcome = apply_with(&hook, 8, Some(&grant));
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    let shown = format!("{outcome:?}");
    assert!(
        !shown.contains(token) && shown.contains("bad token [redacted]"),
        "{shown}"
    );
}

#[test]
fn patch_with_basic_auth_from_a_secret_file_sends_only_the_change() {
    let server = Server::start(real_config());
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("password");
    std::fs::write(&secret, "pa55-from-file\n").unwrap();
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }}, \
         http: {{ method: PATCH, auth: {{ basic: {{ username: presage, password: {{ file: {secret:?} }} }} }} }} }}",
        url = server.url
    );
    let url = &server.url;
    let grant = granted(&format!(
        "urls: [\"{url}/config\"]\nsecrets:\n  - {{ file: {secret:?}, to: [\"{url}/config\"] }}\n"
    ));
    let outcome = apply_with(&hook, 6, Some(&grant));
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    let write = &server.writes()[0];
    assert_eq!(write.method, "PATCH");
    assert_eq!(
        serde_json::from_str::<Value>(&write.body).unwrap(),
        json!({"resources": {"replicas": 6}})
    );
    let expected = base64::engine::general_purpose::STANDARD.encode("presage:pa55-from-file");
    assert_eq!(
        write.header("Authorization"),
        Some(format!("Basic {expected}").as_str())
    );
    assert_eq!(server.config()["resources"]["memory_mb"], 2048);
    assert!(!format!("{outcome:?}").contains("pa55"), "{outcome:?}");
}

#[test]
fn a_failing_check_rolls_back_and_the_server_ends_holding_the_previous_configuration() {
    let server = Server::start(real_config());
    server.told(|b| b.health = 503);
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }}, \
         http: {{ check: {{ url: \"{url}/health\", expect: 200, within: 300ms }} }} }}",
        url = server.url
    );
    let outcome = apply_with(&hook, 7, None);
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("check after the change failed") && reason.contains("503"),
        "{reason}"
    );
    let writes = server.writes();
    assert_eq!(
        writes.len(),
        2,
        "the change, then the previous state: {writes:?}"
    );
    let sent: Value = serde_json::from_str(&writes[0].body).unwrap();
    assert_eq!(sent["resources"]["replicas"], 7);
    assert_eq!(server.config(), real_config());
}

#[test]
fn a_server_that_does_not_hold_the_change_when_read_back_is_rolled_back() {
    let server = Server::start(real_config());
    server.told(|b| b.drops_writes = true);
    let outcome = apply_with(&plain_hook(&server.url), 7, None);
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert!(outcome.reason.unwrap().contains("does not hold the change"));
    assert_eq!(server.writes().len(), 2);
}

#[test]
fn a_metadata_fragment_is_merged_into_the_real_configuration_and_sent() {
    let server = Server::start(real_config());
    let t = template(&plain_hook(&server.url));
    let fragment = MetadataFragment {
        event_id: "f-1".into(),
        app: "shop".into(),
        template_version: "v1".into(),
        recipe: "rps".into(),
        format: "json".into(),
        body: r#"{"config":{"cache_mb":300}}"#.into(),
        window_end_ms: 60_000,
        lineage: vec![],
    };
    let outcome = apply_fragment(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &fragment,
        &Granted::covering(&t),
        0,
    );
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(
        server.config(),
        json!({"resources": {"replicas": 5, "memory_mb": 2048}, "config": {"cache_mb": 300, "log": "info"}})
    );

    // A fragment the real configuration's rules refuse is not sent: 1100 > 2048 / 2.
    let too_big = MetadataFragment {
        event_id: "f-2".into(),
        body: r#"{"config":{"cache_mb":1100}}"#.into(),
        ..fragment
    };
    let writes_before = server.writes().len();
    let outcome = apply_fragment(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &too_big,
        &Granted::covering(&t),
        0,
    );
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert_eq!(server.writes().len(), writes_before);
}

#[test]
fn a_503_is_tried_again_and_a_4xx_is_not() {
    let server = Server::start(real_config());
    server.told(|b| b.failing_writes = 2);
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 3, backoff: 50ms }} }}",
        url = server.url
    );
    let outcome = apply_with(&hook, 7, None);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(outcome.attempts, 3);
    assert_eq!(server.writes().len(), 3, "two refused, then taken");
    assert_eq!(server.config()["resources"]["replicas"], 7);

    // A 404 (no such configuration) would be the same answer next time.
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/nothing\", retry: {{ attempts: 3, backoff: 50ms }} }}",
        url = server.url
    );
    let before = server.seen().len();
    let outcome = apply_with(&hook, 8, None);
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert_eq!(outcome.attempts, 1);
    assert!(outcome.reason.unwrap().contains("HTTP 404"));
    assert_eq!(server.seen().len(), before + 1, "one GET, not repeated");
}

#[test]
fn an_unreachable_server_is_tried_again_as_a_connection_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcome = apply_with(
        &format!(
            "{{ name: scale, kind: http, url: \"http://127.0.0.1:{port}/config\", retry: {{ attempts: 2, backoff: 50ms }} }}"
        ),
        6,
        None,
    );
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
}

#[test]
fn an_ungranted_test_or_check_url_or_secret_is_rejected_before_any_request() {
    let server = Server::start(real_config());
    let url = &server.url;
    std::env::set_var("PRESAGE_TEST_HTTP_UNGRANTED", "never-sent");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    std::fs::write(&secret, "never-sent-either").unwrap();
    let only_config = format!("urls: [\"{url}/config\"]\n");
    let cases = [
        (
            format!("test: {{ http: \"{url}/validate\" }}"),
            only_config.clone(),
            "test.http",
        ),
        (
            format!("http: {{ check: {{ url: \"{url}/health\" }} }}"),
            only_config.clone(),
            "http.check.url",
        ),
        (
            format!("http: {{ read: \"{url}/validate\" }}"),
            only_config.clone(),
            "http.read",
        ),
        (
            "http: { auth: { bearer: { env: PRESAGE_TEST_HTTP_UNGRANTED } } }".to_string(),
            only_config.clone(),
            "rule `secrets`",
        ),
        // Granted, but to another URL: the template may not send it here.
        (
            "http: { auth: { bearer: { env: PRESAGE_TEST_HTTP_UNGRANTED } } }".to_string(),
            format!("{only_config}secrets: [{{ env: PRESAGE_TEST_HTTP_UNGRANTED, to: [\"{url}/other\"] }}]\n"),
            "rule `secrets`",
        ),
        // A file granted as a path to write is not a secret to send.
        (
            format!("http: {{ auth: {{ bearer: {{ file: {secret:?} }} }} }}"),
            format!("{only_config}paths: [\"{}/\"]\n", dir.path().display()),
            "rule `secrets`",
        ),
    ];
    for (fields, allow, named) in cases {
        let hook = format!("{{ name: scale, kind: http, url: \"{url}/config\", {fields} }}");
        let outcome = apply_with(&hook, 7, Some(&granted(&allow)));
        assert_eq!(outcome.status, "rejected", "{hook}: {outcome:?}");
        let reason = outcome.reason.unwrap();
        assert!(reason.contains(named), "{hook}: {reason}");
        assert!(!reason.contains("never-sent"), "{reason}");
    }
    assert!(
        server.seen().is_empty(),
        "a request was made: {:?}",
        server.seen()
    );
    assert_eq!(server.config(), real_config());
}

#[test]
fn an_unset_secret_fails_without_sending_anything() {
    let server = Server::start(real_config());
    let url = &server.url;
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", http: {{ auth: {{ bearer: {{ env: PRESAGE_TEST_HTTP_NEVER_SET }} }} }} }}"
    );
    let grant = granted(&format!(
        "urls: [\"{url}/\"]\nsecrets: [{{ env: PRESAGE_TEST_HTTP_NEVER_SET, to: [\"{url}/\"] }}]\n"
    ));
    let outcome = apply_with(&hook, 7, Some(&grant));
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert!(outcome.reason.unwrap().contains("is not set"));
    assert!(server.seen().is_empty());
}

#[test]
fn a_redirect_is_not_followed_so_credentials_never_leave_the_granted_urls() {
    // Elsewhere: a server the grant does not cover, which must never be reached.
    let elsewhere = Server::start(real_config());
    let redirecting = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", redirecting.server_addr().to_ip().unwrap());
    let target = format!("{}/config", elsewhere.url);
    std::thread::spawn(move || {
        for request in redirecting.incoming_requests() {
            let location = tiny_http::Header::from_bytes("Location", target.as_bytes()).unwrap();
            let _ = request.respond(tiny_http::Response::empty(302).with_header(location));
        }
    });
    std::env::set_var("PRESAGE_TEST_HTTP_REDIRECT", "tok-redirected");
    let hook = format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }}, \
         http: {{ auth: {{ bearer: {{ env: PRESAGE_TEST_HTTP_REDIRECT }} }} }} }}"
    );
    let grant = granted(&format!(
        "urls: [\"{url}/\"]\nsecrets: [{{ env: PRESAGE_TEST_HTTP_REDIRECT, to: [\"{url}/\"] }}]\n"
    ));
    let outcome = apply_with(&hook, 7, Some(&grant));
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert!(outcome.reason.unwrap().contains("HTTP 302"));
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

fn journaled_hook(url: &str, state: &std::path::Path) -> String {
    format!(
        "{{ name: scale, kind: http, url: \"{url}/config\", state_dir: \"{}/\", retry: {{ attempts: 1 }}, \
         http: {{ check: {{ url: \"{url}/health\", within: 1s }} }} }}",
        state.display()
    )
}

fn journal_in(state: &std::path::Path) -> presage_applier::journal::Journal {
    let bytes = std::fs::read(state.join(".shop.scale.presage-journal")).expect("a journal");
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn with_a_state_dir_a_failing_check_is_rolled_back_and_its_outcome_recorded_for_a_replay() {
    let server = Server::start(real_config());
    server.told(|b| b.health = 503);
    let state = tempfile::tempdir().unwrap();
    let t = template(&journaled_hook(&server.url, state.path()));
    let hook = &t.dynamic_metadata.configuration_hooks[0];
    let grant = Granted::covering(&t);
    let d = directive(9);
    let outcome = apply(&t, hook, &d, &grant, 0);
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert_eq!(server.config(), real_config());
    let journal = journal_in(state.path());
    assert_eq!(journal.intent, None, "the flow ended: no intent left");
    assert_eq!(journal.outcomes, std::slice::from_ref(&outcome));
    // The same input again (replayed after its outcome was lost): the recorded outcome, and
    // not one more request.
    let requests = server.seen().len();
    assert_eq!(apply(&t, hook, &d, &grant, 99), outcome);
    assert_eq!(server.seen().len(), requests);
}

/// The journal a crash leaves: input `d-crashed` to replicas 9 over `real_config()`, in `phase`,
/// sent to `target` (None: journaled before targets were recorded).
fn crashed_journal(
    phase: presage_applier::journal::Phase,
    target: Option<String>,
) -> presage_applier::journal::Journal {
    use presage_applier::journal::{Intent, Journal};
    let mut candidate = real_config();
    candidate["resources"]["replicas"] = json!(9);
    let sent =
        json!({"document": candidate, "change": {"resources": {"replicas": 9}}, "method": "PUT"});
    Journal {
        intent: Some(Intent {
            input: presage_applier::Input {
                event_id: "d-crashed".into(),
                app: "shop".into(),
                template_version: "v1".into(),
                decided_at_ms: 1,
                resources: vec!["replicas".into()],
            },
            hook: "scale".into(),
            previous: Some(real_config().to_string()),
            candidate: sent.to_string(),
            attempt: 1,
            phase,
            target,
        }),
        ..Default::default()
    }
}

/// Leaves `journal` where the hook keeps it, recovers, and gives the outcome recorded.
fn recover_from(
    t: &Template,
    state: &std::path::Path,
    journal: &presage_applier::journal::Journal,
) -> ApplyOutcome {
    std::fs::write(
        state.join(".shop.scale.presage-journal"),
        serde_json::to_vec(journal).unwrap(),
    )
    .unwrap();
    presage_applier::hooks::Applier::new(Granted::covering(t)).recover(t, 5);
    let journal = journal_in(state);
    assert_eq!(journal.intent, None);
    journal.outcomes[0].clone()
}

#[test]
fn a_journaled_change_the_server_never_got_is_not_sent_on_recovery() {
    use presage_applier::journal::Phase;
    let server = Server::start(real_config());
    let state = tempfile::tempdir().unwrap();
    let t = template(&journaled_hook(&server.url, state.path()));
    // Killed after the intent was journaled, before the PUT reached the server.
    let outcome = recover_from(&t, state.path(), &crashed_journal(Phase::Swapping, None));
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("before the change took effect"),
        "{outcome:?}"
    );
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    assert_eq!(server.config(), real_config());
}

/// Killed mid-rollback at one URL, restarted after the template moved the hook to another: the
/// old endpoint's previous configuration is not put at the new one.
#[test]
fn a_crash_journaled_for_another_url_is_not_converged_at_the_new_one() {
    use presage_applier::journal::Phase;
    let server = Server::start(json!({"resources": {"replicas": 2}}));
    let state = tempfile::tempdir().unwrap();
    let t = template(&journaled_hook(&server.url, state.path()));
    let rolling_back = Phase::RollingBack {
        reason: "check failed".into(),
    };
    let old = "http://127.0.0.1:9/config".to_string();
    let outcome = recover_from(&t, state.path(), &crashed_journal(rolling_back, Some(old)));
    assert_eq!(outcome.status, "failed", "{outcome:?}");
    let reason = outcome.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("now sends to") && reason.contains("127.0.0.1:9/config"),
        "{reason}"
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    assert_eq!(server.config(), json!({"resources": {"replicas": 2}}));
}

#[test]
fn a_state_dir_the_operator_did_not_grant_is_rejected_before_any_request() {
    let server = Server::start(real_config());
    let state = tempfile::tempdir().unwrap();
    let hook = journaled_hook(&server.url, state.path());
    let only_urls = granted(&format!("urls: [\"{}/\"]\n", server.url));
    let outcome = apply_with(&hook, 9, Some(&only_urls));
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("state_dir"),
        "{outcome:?}"
    );
    assert!(server.seen().is_empty());
}
