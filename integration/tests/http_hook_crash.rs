//! The real `presage-applier` killed with SIGKILL in the middle of an http hook's change, by
//! the application's server itself, then started again.
//!
//! Without a `state_dir` the http hook keeps no state of its own: the application's
//! configuration is the truth, and the interrupted directive (whose outcome was never
//! published) is replayed from a fresh read.
//!
//! - Killed after the change was sent, while its check was pending: the replay finds the change
//!   in force, sends nothing, checks it, and records `applied`.
//! - Killed while the previous configuration was being sent back (the check had failed): the
//!   replay finds the change still in force and no longer knows the state before it, so it is
//!   not rolled back; the outcome says so (`failed`). This is the limit of keeping no journal,
//!   shown rather than hidden.
//!
//! With a `state_dir` the hook journals the configuration it read and the change before sending
//! it, and the restarted applier converges what it finds there:
//!
//! - Killed while rolling back: the previous configuration is sent again; `rolled_back`.
//! - Killed while checking, the check then failing: the change is rolled back; `rolled_back`.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use presage_events::{decode, event_id, ApplyOutcome, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, binary};
use presage_integration::topics::{produce, TopicReader};
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, KafkaChild};
use serde_json::{json, Value};

/// Where the server kills the applier.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KillAt {
    /// At the first `GET /health` (the check after the change), before answering.
    Check,
    /// At the second write (the rollback after a failing check), before storing it.
    Rollback,
    /// At the first `GET /health`, which answers 503 from then on: the check fails after the
    /// restart.
    CheckThenFail,
}

/// The application: its configuration (GET/PUT `/config`) and its health (`/health`), which
/// SIGKILLs the applier whose pid is in `pid` once, where `kill_at` says.
struct AppServer {
    url: String,
    pid: Arc<AtomicU32>,
    config: Arc<Mutex<Value>>,
    writes: Arc<AtomicUsize>,
}

impl AppServer {
    fn start(kill_at: KillAt) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("http server");
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let pid = Arc::new(AtomicU32::new(0));
        let config = Arc::new(Mutex::new(
            json!({"resources": {"replicas": 3, "memory_mb": 1024}}),
        ));
        let writes = Arc::new(AtomicUsize::new(0));
        let (target, held, written) = (pid.clone(), config.clone(), writes.clone());
        std::thread::spawn(move || {
            let mut armed = true;
            let sigkill = || {
                let pid = target.load(Ordering::SeqCst) as libc::pid_t;
                assert!(pid > 0, "the applier's pid is not known yet");
                // SAFETY: kill(2) on the applier process this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            };
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let answer = match (request.method().as_str(), request.url()) {
                    ("GET", "/config") => (200, held.lock().unwrap().to_string()),
                    ("PUT", "/config") => {
                        let n = written.fetch_add(1, Ordering::SeqCst) + 1;
                        if armed && kill_at == KillAt::Rollback && n == 2 {
                            armed = false;
                            sigkill();
                            continue; // not stored: the request dies with its client
                        }
                        *held.lock().unwrap() = serde_json::from_str(&body).unwrap();
                        (200, String::new())
                    }
                    ("GET", "/health")
                        if matches!(kill_at, KillAt::Check | KillAt::CheckThenFail) && armed =>
                    {
                        armed = false;
                        sigkill();
                        continue;
                    }
                    ("GET", "/health") if kill_at == KillAt::Check => {
                        if armed {
                            armed = false;
                            sigkill();
                            continue;
                        }
                        (200, String::new())
                    }
                    ("GET", "/health") => (503, String::new()),
                    _ => (404, String::new()),
                };
                let _ = request
                    .respond(tiny_http::Response::from_string(answer.1).with_status_code(answer.0));
            }
        });
        Self {
            url,
            pid,
            config,
            writes,
        }
    }

    fn replicas(&self) -> Option<i64> {
        self.config.lock().unwrap()["resources"]["replicas"].as_i64()
    }
}

fn start_applier(kafka: &KafkaArgs, dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("applier.log"))
        .expect("log file");
    Command::new(binary("presage-applier"))
        .kafka(kafka)
        .env("PRESAGE_ALLOW", dir.join("allow.yaml"))
        .env("RUST_LOG", "info,presage=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawning presage-applier")
}

fn wait_killed(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            assert_eq!(
                status.signal(),
                Some(9),
                "the applier ended otherwise: {status}"
            );
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Every outcome on `presage.applied` until one with `id` arrives (then a little longer).
fn outcomes_until(reader: &TopicReader, id: &str, limit: Duration) -> Vec<ApplyOutcome> {
    let deadline = Instant::now() + limit;
    let mut seen: Vec<ApplyOutcome> = Vec::new();
    while Instant::now() < deadline {
        for (bytes, _, _) in reader.poll_raw(Duration::from_millis(500)) {
            seen.push(decode(&bytes).expect("an outcome"));
        }
        if seen.iter().any(|o| o.event_id == id) {
            for (bytes, _, _) in reader.poll_raw(Duration::from_secs(2)) {
                seen.push(decode(&bytes).expect("an outcome"));
            }
            break;
        }
    }
    seen
}

/// Runs the scenario: the applier killed where `kill_at` says, started again; the outcomes of
/// the interrupted directive after the restart, and the server.
/// With `journaled`, the hook has a `state_dir` (granted by the allow-list the test writes).
fn killed_mid_change(
    kill_at: KillAt,
    journaled: bool,
) -> (Vec<ApplyOutcome>, String, AppServer, String) {
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    let server = AppServer::start(kill_at);
    let app = format!("http-crash-{kill_at:?}-{journaled}").to_lowercase();
    let state_dir = match journaled {
        true => format!("state_dir: \"{}/state/\", ", dir.display()),
        false => String::new(),
    };
    let yaml = format!(
        "app: {app}\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    \
         - {{ name: scale, kind: http, url: \"{url}/config\", retry: {{ attempts: 1 }}, \
         {state_dir}http: {{ check: {{ url: \"{url}/health\", within: 2s }} }} }}\n  \
         validation_rules: [\"resources.replicas >= 1 && resources.replicas <= 50\"]\n",
        url = server.url
    );
    let template = dir.join(format!("{app}.yaml"));
    std::fs::write(&template, yaml).unwrap();
    let broker = TestBroker::start();
    publish_templates(&broker.kafka, std::slice::from_ref(&template)).expect("publish template");
    allow_templates(&[template], dir, &dir.join("allow.yaml"));
    let mut kafka = broker.kafka.clone();
    kafka.kafka_settings.push("session.timeout.ms=6000".into());
    let applied = TopicReader::open(&kafka, &kafka.topics().applied());
    let logs = || std::fs::read_to_string(dir.join("applier.log")).unwrap_or_default();

    let mut applier = start_applier(&kafka, dir);
    server.pid.store(applier.id(), Ordering::SeqCst);
    let directive = ScalingDirective {
        event_id: event_id(&["http-crash", &app]),
        app: app.clone(),
        template_version: "test".into(),
        resource: "replicas".into(),
        target: 5,
        issued_at_ms: 1_000,
        effective_at_ms: 1_000,
        policy: "test".into(),
        reason: "sent by the test".into(),
        mode: "live".into(),
        ..Default::default()
    };
    produce(&kafka, &kafka.topics().directives(), &directive);
    assert!(
        wait_killed(&mut applier, Duration::from_secs(120)),
        "the server never killed the applier\n{}",
        logs()
    );
    assert_eq!(
        server.replicas(),
        Some(5),
        "killed after the change was sent"
    );
    let id = event_id(&["applied", &directive.event_id, "scale"]);
    assert!(
        applied
            .poll_raw(Duration::from_secs(1))
            .into_iter()
            .all(|(bytes, _, _)| decode::<ApplyOutcome>(&bytes).unwrap().event_id != id),
        "no outcome before the kill"
    );

    let mut restarted = start_applier(&kafka, dir);
    server.pid.store(restarted.id(), Ordering::SeqCst);
    let seen = outcomes_until(&applied, &id, Duration::from_secs(120));
    let _ = restarted.kill();
    let _ = restarted.wait();
    let ours: Vec<ApplyOutcome> = seen.into_iter().filter(|o| o.event_id == id).collect();
    let logs = logs();
    drop(broker);
    (ours, id, server, logs)
}

#[test]
fn killed_while_the_check_was_pending_the_replay_finds_the_change_in_force_and_sends_nothing() {
    let (outcomes, id, server, logs) = killed_mid_change(KillAt::Check, false);
    assert!(
        !outcomes.is_empty(),
        "no outcome {id} after the restart\n{logs}"
    );
    assert!(
        outcomes.iter().all(|o| o == &outcomes[0]),
        "one payload: {outcomes:?}"
    );
    assert_eq!(outcomes[0].status, "applied", "{:?}\n{logs}", outcomes[0]);
    assert_eq!(server.replicas(), Some(5));
    assert_eq!(
        server.writes.load(Ordering::SeqCst),
        1,
        "the replay sent nothing: the change was already in force"
    );
}

#[test]
fn killed_while_rolling_back_the_replay_cannot_know_the_previous_state_and_says_so() {
    let (outcomes, id, server, logs) = killed_mid_change(KillAt::Rollback, false);
    assert!(
        !outcomes.is_empty(),
        "no outcome {id} after the restart\n{logs}"
    );
    let outcome = &outcomes[0];
    assert_eq!(outcome.status, "failed", "{outcome:?}\n{logs}");
    let reason = outcome.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("already in force") && reason.contains("not rolled back"),
        "{reason}"
    );
    assert_eq!(
        server.replicas(),
        Some(5),
        "the change stayed, as the outcome says"
    );
    assert_eq!(
        server.writes.load(Ordering::SeqCst),
        2,
        "the change and the lost rollback"
    );
}

#[test]
fn with_a_state_dir_killed_while_rolling_back_the_restart_sends_the_previous_state_again() {
    let (outcomes, id, server, logs) = killed_mid_change(KillAt::Rollback, true);
    assert!(
        !outcomes.is_empty(),
        "no outcome {id} after the restart\n{logs}"
    );
    assert!(
        outcomes.iter().all(|o| o == &outcomes[0]),
        "one payload: {outcomes:?}"
    );
    let outcome = &outcomes[0];
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}\n{logs}");
    let reason = outcome.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("check after the change failed")
            && reason.contains("interrupted by a crash while rolling back"),
        "{reason}"
    );
    assert_eq!(
        server.replicas(),
        Some(3),
        "the previous configuration is back\n{logs}"
    );
    assert_eq!(
        server.writes.load(Ordering::SeqCst),
        3,
        "the change, the rollback lost with the applier, the rollback sent again"
    );
}

#[test]
fn with_a_state_dir_killed_while_checking_a_check_that_then_fails_rolls_the_change_back() {
    let (outcomes, id, server, logs) = killed_mid_change(KillAt::CheckThenFail, true);
    assert!(
        !outcomes.is_empty(),
        "no outcome {id} after the restart\n{logs}"
    );
    assert!(
        outcomes.iter().all(|o| o == &outcomes[0]),
        "one payload: {outcomes:?}"
    );
    let outcome = &outcomes[0];
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}\n{logs}");
    let reason = outcome.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("interrupted by a crash while checking") && reason.contains("HTTP 503"),
        "{reason}"
    );
    assert_eq!(
        server.replicas(),
        Some(3),
        "the change that failed its check is undone\n{logs}"
    );
    assert_eq!(
        server.writes.load(Ordering::SeqCst),
        2,
        "the change, then the previous configuration"
    );
}
