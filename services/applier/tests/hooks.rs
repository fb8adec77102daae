//! Hooks against real files, real processes and real HTTP servers started by the test.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use presage_applier::hooks::{apply, apply_fragment, Applier, Granted};
use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_template::Template;

const ORIGINAL: &str = "resources:\n  replicas: 3\n  memory_mb: 1024\nconfig:\n  cache_mb: 256\n";

fn template(hook: &str) -> Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }}, config: {{ cache_mb: 256 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {hook}\n  validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n    - \"config.cache_mb <= resources.memory_mb / 2\"\n"
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
        previous_target: Some(3),
        forecast_value: 0.0,
        effective_at_ms: 0,
        issued_at_ms: 0,
        policy: "test".into(),
        reason: "test".into(),
        lineage: vec![],
        ..Default::default()
    }
}

/// Applies a directive for `target` replicas through the template's only hook, at `now_ms`.
fn apply_through(hook: &str, target: i64, now_ms: i64) -> ApplyOutcome {
    let t = template(hook);
    apply(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &directive(target),
        &Granted::covering(&t),
        now_ms,
    )
}

/// A file hook with no test and no reload.
fn file_hook(path: &Path) -> String {
    format!("{{ name: cfg, kind: file, path: {:?} }}", path)
}

fn live_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, ORIGINAL).unwrap();
    path
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("shadow"))
        .collect()
}

#[test]
fn a_valid_directive_is_swapped_in_and_the_previous_version_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let outcome = apply_through(&file_hook(&path), 7, 42);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(outcome.applied_at_ms, 42);
    let now: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(now["resources"]["replicas"].as_i64(), Some(7));
    assert_eq!(
        now["config"]["cache_mb"].as_i64(),
        Some(256),
        "the rest of the file is kept"
    );
    assert_eq!(
        std::fs::read_to_string(outcome.backup_path.unwrap()).unwrap(),
        ORIGINAL
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn the_test_command_runs_on_the_shadow_copy_before_the_swap() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    // Passes only if the shadow, not the live file, already holds the new value.
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, test: {{ command: [grep, -q, \"replicas: 9\", \"{{shadow}}\"] }} }}",
        path
    );
    let outcome = apply_through(&hook, 9, 0);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
}

#[test]
fn a_failing_test_leaves_the_live_file_untouched_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, test: {{ command: [sh, -c, \"echo config rejected >&2; exit 3\"] }} }}",
        path
    );
    let outcome = apply_through(&hook, 7, 0);
    assert_eq!(outcome.status, "failed");
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("config rejected") && reason.contains("exit"),
        "{reason}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
    assert!(leftovers(dir.path()).is_empty(), "the shadow is cleaned up");
}

#[test]
fn a_directive_that_breaks_a_rule_is_rejected_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let outcome = apply_through(&file_hook(&path), 80, 0);
    assert_eq!(outcome.status, "rejected");
    assert!(outcome.reason.unwrap().contains("resources.replicas <= 50"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn an_unreadable_live_config_is_a_failure_not_an_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "resources: [unclosed\n").unwrap();
    let outcome = apply_through(&file_hook(&path), 7, 0);
    assert_eq!(outcome.status, "failed");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "resources: [unclosed\n"
    );
}

#[test]
fn a_missing_config_starts_from_the_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/config.json");
    let outcome = apply_through(&file_hook(&path), 5, 0);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["resources"]["replicas"], 5);
    assert_eq!(doc["resources"]["memory_mb"], 1024);
    assert_eq!(outcome.backup_path, None);
}

#[test]
fn the_running_process_is_signalled_to_reload_after_the_swap() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let pid_file = dir.path().join("app.pid");
    let reloaded = dir.path().join("reloaded");
    let script = format!(
        "trap 'cp {config} {reloaded}' HUP; echo $$ > {pid}; while true; do sleep 0.05; done",
        config = path.display(),
        reloaded = reloaded.display(),
        pid = pid_file.display()
    );
    let mut app = std::process::Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n')) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, reload: {{ signal: HUP, pid_file: {:?} }} }}",
        path, pid_file
    );
    let outcome = apply_through(&hook, 11, 0);
    let mut seen = String::new();
    for _ in 0..100 {
        seen = std::fs::read_to_string(&reloaded).unwrap_or_default();
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert!(
        seen.contains("replicas: 11"),
        "the app reloaded and read the new file: {seen:?}"
    );
}

/// A one-route HTTP server answering `status`, reporting each request body.
fn server(status: u16) -> (String, mpsc::Receiver<String>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let _ = tx.send(format!("{} {} {body}", request.method(), request.url()));
            let _ = request.respond(tiny_http::Response::empty(status));
        }
    });
    (url, rx)
}

#[test]
fn a_failing_check_after_the_swap_rolls_back_to_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let (url, _requests) = server(503);
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, test: {{ http: \"{url}/health\", expect: 200, within: 1s }} }}",
        path
    );
    let outcome = apply_through(&hook, 7, 0);
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert!(outcome.reason.unwrap().contains("503"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
}

// The http hook (read, merge, rules, test, send, check, roll back) is specified in
// tests/http_hook.rs against a server holding a configuration.

// ---------------------------------------------------------------- metadata fragments

fn fragment(format: &str, body: &str) -> MetadataFragment {
    MetadataFragment {
        // Derived from the content, as real fragment ids are: two bodies, two ids.
        event_id: presage_events::event_id(&["test-fragment", format, body]),
        app: "shop".into(),
        template_version: "v1".into(),
        recipe: "rps".into(),
        format: format.into(),
        body: body.into(),
        window_end_ms: 60_000,
        lineage: vec!["m-1".into()],
    }
}

/// Applies `fragment` through the template's only hook, at `now_ms`.
fn apply_fragment_through(hook: &str, fragment: &MetadataFragment, now_ms: i64) -> ApplyOutcome {
    let t = template(hook);
    apply_fragment(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        fragment,
        &Granted::covering(&t),
        now_ms,
    )
}

fn yaml_of(path: &Path) -> yaml_serde::Value {
    yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_fragment_is_merged_into_the_live_file_once_its_test_passes_on_the_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    // Passes only if the shadow, not the live file, already holds the fragment's value.
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, test: {{ command: [grep, -q, \"worker_threads: 12\", \"{{shadow}}\"] }} }}",
        path
    );
    let fragment = fragment("json", r#"{"config":{"worker_threads":12}}"#);
    let outcome = apply_fragment_through(&hook, &fragment, 42);

    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(outcome.directive_id, fragment.event_id);
    assert_eq!(outcome.lineage, vec![fragment.event_id.clone()]);
    assert_eq!(
        outcome.event_id,
        presage_events::event_id(&["applied", &fragment.event_id, "cfg"])
    );
    assert_eq!(outcome.applied_at_ms, 42);
    let now = yaml_of(&path);
    assert_eq!(now["config"]["worker_threads"].as_i64(), Some(12));
    assert_eq!(
        now["config"]["cache_mb"].as_i64(),
        Some(256),
        "siblings are kept"
    );
    assert_eq!(now["resources"]["replicas"].as_i64(), Some(3));
    assert_eq!(
        std::fs::read_to_string(outcome.backup_path.unwrap()).unwrap(),
        ORIGINAL
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_fragment_that_breaks_a_rule_is_rejected_before_its_test_and_the_file_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let tested = dir.path().join("tested");
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, test: {{ command: [touch, {:?}] }} }}",
        path, tested
    );
    // cache_mb must stay at most half of memory_mb (1024).
    let outcome = apply_fragment_through(&hook, &fragment("yaml", "config:\n  cache_mb: 600\n"), 0);

    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(outcome
        .reason
        .unwrap()
        .contains("config.cache_mb <= resources.memory_mb / 2"),);
    assert_eq!(std::fs::read(&path).unwrap(), ORIGINAL.as_bytes());
    assert!(!tested.exists(), "the test never ran");
    assert!(leftovers(dir.path()).is_empty());
    assert!(!dir.path().join("config.yaml.prev").exists());
}

#[test]
fn a_fragment_body_that_is_not_a_config_patch_is_rejected_with_the_reason_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    for (format, body, why) in [
        (
            "json",
            r#"{"rps": 12.5, "window_end_ms": 60000}"#,
            "not `rps`, `window_end_ms`",
        ),
        (
            "json",
            r#"{"config": {"worker_threads": "#,
            "not valid JSON",
        ),
        ("yaml", "- worker_threads\n", "not a list"),
        ("toml", "worker_threads = 12", "\"toml\" is neither"),
    ] {
        let outcome = apply_fragment_through(&file_hook(&path), &fragment(format, body), 0);
        assert_eq!(outcome.status, "rejected", "{body}: {outcome:?}");
        let reason = outcome.reason.unwrap();
        assert!(
            reason.starts_with("metadata fragment of recipe `rps` refused: ")
                && reason.contains(why),
            "{reason}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), ORIGINAL.as_bytes());
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_fragment_with_no_live_file_yet_starts_from_the_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/config.json");
    let outcome = apply_fragment_through(
        &file_hook(&path),
        &fragment(
            "yaml",
            "resources:\n  memory_mb: 2048\nconfig:\n  cache_mb: 1000\n",
        ),
        0,
    );
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"resources": {"replicas": 3, "memory_mb": 2048}, "config": {"cache_mb": 1000}})
    );
}

#[test]
fn a_fragment_whose_check_after_the_swap_fails_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let (url, _requests) = server(503);
    let hook = format!(
        "{{ name: cfg, kind: file, path: {:?}, test: {{ http: \"{url}/health\", expect: 200, within: 1s }} }}",
        path
    );
    let outcome = apply_fragment_through(
        &hook,
        &fragment("json", r#"{"config":{"cache_mb":300}}"#),
        0,
    );
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
}

// A metadata fragment at an http hook is merged and sent: see tests/http_hook.rs.

#[test]
fn a_directive_and_a_fragment_each_merge_on_top_of_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let t = template(&file_hook(&path));
    let mut applier = Applier::new(Granted::covering(&t));

    let first = applier.apply_directive(&t, &directive(7), 0);
    let second = applier.apply_fragment(
        &t,
        &fragment("json", r#"{"config":{"worker_threads":12}}"#),
        0,
    );
    let third = applier.apply_directive(&t, &directive(9), 0);
    for outcome in first.iter().chain(&second).chain(&third) {
        assert_eq!(outcome.status, "applied", "{outcome:?}");
    }

    let now = yaml_of(&path);
    assert_eq!(now["resources"]["replicas"].as_i64(), Some(9));
    assert_eq!(now["resources"]["memory_mb"].as_i64(), Some(1024));
    assert_eq!(
        now["config"]["worker_threads"].as_i64(),
        Some(12),
        "the directive kept the fragment's value"
    );
    assert_eq!(now["config"]["cache_mb"].as_i64(), Some(256));
}

#[test]
fn directives_and_fragments_applied_from_two_threads_through_one_applier_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let t = Arc::new(template(&file_hook(&path)));
    let applier = Arc::new(Mutex::new(Applier::new(Granted::covering(&t))));
    const ROUNDS: i64 = 10;

    let directives = {
        let (t, applier) = (t.clone(), applier.clone());
        std::thread::spawn(move || {
            (1..=ROUNDS)
                .flat_map(|n| {
                    applier
                        .lock()
                        .unwrap()
                        .apply_directive(&t, &directive(n), 0)
                })
                .collect::<Vec<_>>()
        })
    };
    let fragments = {
        let (t, applier) = (t.clone(), applier.clone());
        std::thread::spawn(move || {
            (1..=ROUNDS)
                .flat_map(|n| {
                    let body = format!(r#"{{"config":{{"worker_threads":{n}}}}}"#);
                    applier
                        .lock()
                        .unwrap()
                        .apply_fragment(&t, &fragment("json", &body), 0)
                })
                .collect::<Vec<_>>()
        })
    };
    let outcomes: Vec<ApplyOutcome> = [directives, fragments]
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();

    assert_eq!(outcomes.len(), 2 * ROUNDS as usize);
    assert!(
        outcomes.iter().all(|o| o.status == "applied"),
        "{outcomes:?}"
    );
    let now = yaml_of(&path);
    assert_eq!(now["resources"]["replicas"].as_i64(), Some(ROUNDS));
    assert_eq!(now["config"]["worker_threads"].as_i64(), Some(ROUNDS));
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_shadow_directive_is_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let t = template(&file_hook(&path));
    let mut shadow = directive(9);
    shadow.mode = "shadow".into();
    let mut applier = Applier::new(Granted::covering(&t));
    assert!(applier.apply_directive(&t, &shadow, 1).is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
    // the same directive, live, is applied
    shadow.mode = "live".into();
    let outcomes = applier.apply_directive(&t, &shadow, 2);
    assert_eq!(outcomes[0].status, "applied", "{outcomes:?}");
}

#[test]
fn every_target_of_a_multi_resource_directive_is_written_in_one_swap() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let mut d = directive(6);
    d.targets = vec![
        presage_events::ResourceTarget {
            resource: "replicas".into(),
            target: 6,
            ..Default::default()
        },
        presage_events::ResourceTarget {
            resource: "memory_mb".into(),
            target: 2048,
            ..Default::default()
        },
    ];
    let t = template(&file_hook(&path));
    let outcome = apply(
        &t,
        &t.dynamic_metadata.configuration_hooks[0],
        &d,
        &Granted::covering(&t),
        5,
    );
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    let now: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(now["resources"]["replicas"].as_i64(), Some(6));
    assert_eq!(now["resources"]["memory_mb"].as_i64(), Some(2048));
}

#[test]
fn a_directive_decided_before_one_already_applied_is_superseded_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = live_config(dir.path());
    let t = template(&file_hook(&path));
    let mut applier = Applier::new(Granted::covering(&t));
    let mut newer = directive(9);
    newer.issued_at_ms = 200;
    let mut older = directive(4);
    older.issued_at_ms = 100;
    assert_eq!(applier.apply_directive(&t, &newer, 1)[0].status, "applied");
    let late = applier.apply_directive(&t, &older, 2);
    assert_eq!(late[0].status, "superseded", "{late:?}");
    assert!(late[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("decided at 200"));
    let now: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(now["resources"]["replicas"].as_i64(), Some(9));
    // a later decision is applied as usual
    let mut latest = directive(5);
    latest.issued_at_ms = 300;
    assert_eq!(applier.apply_directive(&t, &latest, 3)[0].status, "applied");
}
