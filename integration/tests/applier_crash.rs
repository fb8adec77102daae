//! The real `presage-applier` killed with SIGKILL at each step of the shadow flow, by its own
//! hook (a test or reload command that kills its parent, a check server that kills the
//! applier's pid), then started again. Reconciled from the outside: on `presage.applied`, one
//! terminal outcome per live directive and hook, never one id with two payloads; on disk, the
//! live file is the last applied target and obeys the rules, and `.prev` is the version that
//! was live before it.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::applier::{
    broker_with_template, live_directive, outcome_id, replicas, ApplierProcess, Outcomes, ORIGINAL,
};
use presage_events::{event_id, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::topics::produce;
use presage_runner::KafkaArgs;

const RULE: &str = "resources.replicas >= 1 && resources.replicas <= 50";

/// A check endpoint: answers 200, except that the first request SIGKILLs the applier whose pid
/// is in `pid` (before answering, or just after answering 200).
struct CheckServer {
    url: String,
    pid: Arc<AtomicU32>,
}

#[derive(Clone, Copy, PartialEq)]
enum KillWhen {
    BeforeAnswering,
    AfterAnswering200,
}

impl CheckServer {
    fn start(when: KillWhen) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("http server");
        let url = format!("http://{}/health", server.server_addr().to_ip().unwrap());
        let pid = Arc::new(AtomicU32::new(0));
        let target = pid.clone();
        let armed = AtomicBool::new(true);
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let kill = armed.swap(false, Ordering::SeqCst);
                let sigkill = || {
                    let pid = target.load(Ordering::SeqCst) as libc::pid_t;
                    assert!(pid > 0, "the applier's pid is not known yet");
                    // SAFETY: kill(2) on the applier process this test started.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                };
                if kill && when == KillWhen::BeforeAnswering {
                    sigkill();
                    continue; // the request dies with its client
                }
                let _ = request.respond(tiny_http::Response::empty(200));
                if kill {
                    sigkill();
                }
            }
        });
        Self { url, pid }
    }
}

/// `sh -c` that SIGKILLs its parent (the applier that spawned it) the first time it runs.
fn killer(mark: &Path) -> String {
    format!(
        "[sh, -c, \"[ -e {m} ] || {{ touch {m}; kill -9 $PPID; }}\"]",
        m = mark.display()
    )
}

struct Scenario {
    app: String,
    dir: PathBuf,
    config: PathBuf,
    /// A second file hook, after `cfg`, for the crash between two hooks' outcomes.
    second: Option<PathBuf>,
    template: presage_template::Template,
}

impl Scenario {
    /// A template for `app` whose hook `cfg` writes `config.yaml`, with `extra` settings.
    fn new(app: &str, dir: &Path, extra: &str, second: Option<&str>) -> Self {
        let config = dir.join("config.yaml");
        std::fs::write(&config, ORIGINAL).unwrap();
        let second_path = second.map(|_| dir.join("second.yaml"));
        if let Some(path) = &second_path {
            std::fs::write(path, ORIGINAL).unwrap();
        }
        let second_hook = match (second, &second_path) {
            (Some(settings), Some(path)) => format!(
                "    - {{ name: after, kind: file, path: {path:?}, retry: {{ attempts: 1 }}, {settings} }}\n"
            ),
            _ => String::new(),
        };
        let yaml = format!(
            "app: {app}\n\
             bootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
             dynamic_metadata:\n  configuration_hooks:\n    \
             - {{ name: cfg, kind: file, path: {config:?}, retry: {{ attempts: 1 }}{extra} }}\n\
             {second_hook}  validation_rules:\n    - \"{RULE}\"\n"
        );
        let path = dir.join(format!("{app}.yaml"));
        std::fs::write(&path, &yaml).unwrap();
        let template = presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        Self {
            app: app.into(),
            dir: dir.into(),
            config,
            second: second_path,
            template,
        }
    }

    fn hooks(&self) -> Vec<&'static str> {
        if self.second.is_some() {
            vec!["cfg", "after"]
        } else {
            vec!["cfg"]
        }
    }

    fn directive(&self, target: i64, issued_at_ms: i64) -> ScalingDirective {
        let id = event_id(&["crash-test", &self.app, &target.to_string()]);
        live_directive(id, &self.app, target, issued_at_ms)
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn journal_has_intent(config: &Path) -> bool {
    let name = config.file_name().unwrap().to_string_lossy();
    let journal = config.with_file_name(format!(".{name}.presage-journal"));
    let doc: serde_json::Value =
        serde_json::from_str(&read(&journal)).unwrap_or(serde_json::Value::Null);
    !doc["intent"].is_null()
}

/// A broker with the scenario's template published, and a kafka config whose killed consumer
/// leaves the group within seconds.
/// The scenario's allow-list (granting what its template asks) is written beside its log, where
/// [`ApplierProcess::start`] finds it.
fn broker_for(scenario: &Scenario) -> (TestBroker, KafkaArgs) {
    let template = scenario.dir.join(format!("{}.yaml", scenario.app));
    broker_with_template(&template, &scenario.dir)
}

/// Where the kill lands, and what the files must look like at that instant.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    AfterShadowWrite,
    AfterRename,
    AfterReload,
    AfterCheck,
    BeforeOutcome,
}

/// Runs one crash scenario end to end and reconciles it.
fn crash_at(point: Point) {
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    let app = format!("crash-{}", format!("{point:?}").to_lowercase());
    let mark = dir.join("killed-once");
    let check = match point {
        Point::AfterReload => Some(CheckServer::start(KillWhen::BeforeAnswering)),
        Point::AfterCheck => Some(CheckServer::start(KillWhen::AfterAnswering200)),
        _ => None,
    };
    let reloads = dir.join("reloads");
    let count_reload = format!("[sh, -c, \"echo reload >> {}\"]", reloads.display());
    let extra = match point {
        Point::AfterShadowWrite => format!(", test: {{ command: {} }}", killer(&mark)),
        Point::AfterRename => format!(", reload: {{ command: {} }}", killer(&mark)),
        Point::AfterReload | Point::AfterCheck => format!(
            ", reload: {{ command: {count_reload} }}, test: {{ http: \"{}\", expect: 200, within: 20s }}",
            check.as_ref().unwrap().url
        ),
        Point::BeforeOutcome => String::new(),
    };
    let second =
        (point == Point::BeforeOutcome).then(|| format!("test: {{ command: {} }}", killer(&mark)));
    let scenario = Scenario::new(&app, dir, &extra, second.as_deref());
    let (_broker, kafka) = broker_for(&scenario);
    let topics = kafka.topics();
    let log = dir.join("applier.log");
    let logs = || read(&log);
    let mut outcomes = Outcomes::open(&kafka);

    let mut applier = ApplierProcess::start(&kafka, &log);
    if let Some(check) = &check {
        check.pid.store(applier.pid(), Ordering::SeqCst);
    }
    let first = scenario.directive(5, 1_000);
    produce(&kafka, &topics.directives(), &first);
    assert!(
        applier.wait_killed(Duration::from_secs(120)),
        "the hook never killed the applier\n{}",
        logs()
    );

    // Where the kill landed.
    let live = read(&scenario.config);
    match point {
        Point::AfterShadowWrite => {
            assert_eq!(live, ORIGINAL, "nothing swapped before the test passed");
            assert!(!journal_has_intent(&scenario.config));
            let shadows = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("presage-shadow"))
                .count();
            assert_eq!(shadows, 1, "the shadow the test ran on is left behind");
        }
        Point::AfterRename | Point::AfterReload | Point::AfterCheck => {
            assert_eq!(replicas(&live), Some(5), "killed after the swap: {live}");
            assert!(
                journal_has_intent(&scenario.config) || point == Point::AfterCheck,
                "the intent is recorded until the outcome is"
            );
        }
        Point::BeforeOutcome => {
            assert_eq!(replicas(&live), Some(5), "the first hook applied");
            assert!(!journal_has_intent(&scenario.config));
            assert_eq!(read(scenario.second.as_ref().unwrap()), ORIGINAL);
        }
    }
    outcomes.read(Duration::from_secs(1));
    if point != Point::AfterCheck {
        assert!(
            !outcomes.by_id.contains_key(&outcome_id(&first, "cfg")),
            "no outcome was published before the kill"
        );
    }

    // Started again: the interrupted directive is replayed and converges.
    let mut applier = ApplierProcess::start(&kafka, &log);
    if let Some(check) = &check {
        check.pid.store(applier.pid(), Ordering::SeqCst);
    }
    let first_ids: Vec<String> = scenario
        .hooks()
        .iter()
        .map(|h| outcome_id(&first, h))
        .collect();
    assert!(
        outcomes.wait_for_settled(&first_ids, Duration::from_secs(120)),
        "no outcome for the interrupted directive after the restart: {:?}\n{}",
        outcomes.by_id.keys().collect::<Vec<_>>(),
        logs()
    );
    for id in &first_ids {
        let outcome = outcomes.one(id);
        assert_eq!(outcome.status, "applied", "{outcome:?}\n{}", logs());
    }
    for config in std::iter::once(&scenario.config).chain(scenario.second.as_ref()) {
        assert_eq!(replicas(&read(config)), Some(5), "{}", config.display());
        assert_eq!(
            read(&config.with_extension("yaml.prev")),
            ORIGINAL,
            "{}.prev must be the version live before the interrupted apply",
            config.display()
        );
    }

    // A later directive goes through the restarted applier as usual.
    let second_directive = scenario.directive(7, 2_000);
    produce(&kafka, &topics.directives(), &second_directive);
    let second_ids: Vec<String> = scenario
        .hooks()
        .iter()
        .map(|h| outcome_id(&second_directive, h))
        .collect();
    assert!(
        outcomes.wait_for_settled(&second_ids, Duration::from_secs(120)),
        "no outcome for the later directive\n{}",
        logs()
    );
    applier.kill();

    // Reconciled from the outside.
    outcomes.assert_one_payload_each();
    let expected: Vec<&String> = first_ids.iter().chain(&second_ids).collect();
    let ours: Vec<&String> = outcomes.by_id.keys().collect();
    assert_eq!(
        {
            let mut e = expected.clone();
            e.sort();
            e
        },
        ours,
        "exactly one terminal outcome per directive and hook"
    );
    let last = outcomes.one(&second_ids[0]);
    assert_eq!(last.status, "applied", "{last:?}");
    for config in std::iter::once(&scenario.config).chain(scenario.second.as_ref()) {
        let live = read(config);
        assert_eq!(replicas(&live), Some(7), "{}: {live}", config.display());
        let doc: serde_json::Value = yaml_serde::from_str(&live).unwrap();
        for rule in scenario.template.rules() {
            assert!(matches!(rule.check(&doc), Ok(true)), "{}", rule.source());
        }
        let prev = read(&config.with_extension("yaml.prev"));
        assert_eq!(
            replicas(&prev),
            Some(5),
            "{}.prev is the version live before the last swap: {prev}",
            config.display()
        );
        assert!(!journal_has_intent(config));
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".presage-") && !n.ends_with("-lock") && !n.ends_with("-journal"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn killed_after_the_shadow_write_the_applier_converges() {
    crash_at(Point::AfterShadowWrite);
}

#[test]
fn killed_after_the_rename_the_applier_converges() {
    crash_at(Point::AfterRename);
}

#[test]
fn killed_after_the_reload_the_applier_converges() {
    crash_at(Point::AfterReload);
}

#[test]
fn killed_after_the_check_the_applier_converges() {
    crash_at(Point::AfterCheck);
}

#[test]
fn killed_before_the_outcome_is_published_the_applier_converges() {
    crash_at(Point::BeforeOutcome);
}

/// The newest applied directive per resource survives a SIGKILL: it is read back from
/// `presage.applied`, so an older directive arriving after the restart is superseded.
#[test]
fn a_restarted_applier_never_lets_an_older_directive_undo_a_newer_one() {
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    let scenario = Scenario::new("crash-newest", dir, "", None);
    let (_broker, kafka) = broker_for(&scenario);
    let topics = kafka.topics();
    let log = dir.join("applier.log");
    let mut outcomes = Outcomes::open(&kafka);

    let mut applier = ApplierProcess::start(&kafka, &log);
    let newer = scenario.directive(9, 3_000);
    produce(&kafka, &topics.directives(), &newer);
    let newer_id = outcome_id(&newer, "cfg");
    assert!(
        outcomes.wait_for_settled(std::slice::from_ref(&newer_id), Duration::from_secs(120)),
        "no outcome\n{}",
        read(&log)
    );
    assert_eq!(outcomes.one(&newer_id).status, "applied");
    applier.kill();

    let _applier = ApplierProcess::start(&kafka, &log);
    let older = scenario.directive(4, 2_000);
    produce(&kafka, &topics.directives(), &older);
    let older_id = outcome_id(&older, "cfg");
    assert!(
        outcomes.wait_for_settled(std::slice::from_ref(&older_id), Duration::from_secs(120)),
        "no outcome for the older directive\n{}",
        read(&log)
    );
    let outcome = outcomes.one(&older_id);
    assert_eq!(outcome.status, "superseded", "{outcome:?}\n{}", read(&log));
    assert_eq!(replicas(&read(&scenario.config)), Some(9));
    outcomes.assert_one_payload_each();
    let counts: HashMap<&String, usize> =
        outcomes.by_id.iter().map(|(id, c)| (id, c.len())).collect();
    assert_eq!(counts.len(), 2, "{counts:?}");
}

/// Killed while rolling back (after the previous version is renamed back, at the rollback's
/// reload): on restart the rollback is finished, and the directive's one outcome is
/// `rolled_back`.
#[test]
fn killed_during_a_rollback_the_applier_finishes_the_rollback() {
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    // The check never passes: every apply is rolled back.
    let server = tiny_http::Server::http("127.0.0.1:0").expect("http server");
    let url = format!("http://{}/health", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::empty(503));
        }
    });
    // Reload 1 follows the swap; reload 2 follows the restore: that one kills the applier.
    let count = dir.join("reloads");
    let extra = format!(
        ", reload: {{ command: [sh, -c, \"n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; [ $n -eq 2 ] && kill -9 $PPID; true\"] }}, \
         test: {{ http: \"{url}\", expect: 200, within: 1s }}",
        c = count.display()
    );
    let scenario = Scenario::new("crash-rollback", dir, &extra, None);
    let (_broker, kafka) = broker_for(&scenario);
    let log = dir.join("applier.log");
    let mut outcomes = Outcomes::open(&kafka);

    let mut applier = ApplierProcess::start(&kafka, &log);
    let first = scenario.directive(5, 1_000);
    produce(&kafka, &kafka.topics().directives(), &first);
    assert!(
        applier.wait_killed(Duration::from_secs(120)),
        "the rollback's reload never killed the applier\n{}",
        read(&log)
    );
    assert_eq!(read(&scenario.config), ORIGINAL, "killed after the restore");
    assert!(journal_has_intent(&scenario.config));

    let _applier = ApplierProcess::start(&kafka, &log);
    let id = outcome_id(&first, "cfg");
    assert!(
        outcomes.wait_for_settled(std::slice::from_ref(&id), Duration::from_secs(120)),
        "no outcome after the restart\n{}",
        read(&log)
    );
    let outcome = outcomes.one(&id);
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert!(
        outcome.reason.as_deref().unwrap().contains("HTTP 503"),
        "{outcome:?}"
    );
    outcomes.assert_one_payload_each();
    assert_eq!(outcomes.by_id.len(), 1);
    assert_eq!(read(&scenario.config), ORIGINAL);
    assert_eq!(read(&scenario.config.with_extension("yaml.prev")), ORIGINAL);
    assert!(!journal_has_intent(&scenario.config));
    assert_eq!(
        read(&count).trim(),
        "3",
        "the restarted applier reloaded the restored version once"
    );
}
