//! The env hook against a real process: a shell script standing for the application sources
//! the env file (as `set -a; . file`, the way a service's start script does) at start and on
//! every SIGHUP, and writes the environment a child of it would see to a file the test reads.
//! The hook reloads it with `reload: { signal: HUP, pid_file }`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use presage_applier::hooks::{apply, Applier, Granted};
use presage_applier::journal::{Intent, Journal, Phase};
use presage_applier::Input;
use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::Template;

const LIVE: &str = "# checkout's environment (kept by presage)\n\nexport REPLICAS=3\nJAVA_OPTS=\"-Xmx1024m -XX:+UseG1GC\"\nLOG_LEVEL=info\n";

/// The application: a shell that re-reads the env file on SIGHUP. Killed when dropped.
struct App {
    dir: tempfile::TempDir,
    child: Child,
}

impl App {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.env"), LIVE).unwrap();
        let script = dir.path().join("app.sh");
        std::fs::write(
            &script,
            r#"#!/bin/sh
D="$1"
load() {
  ( set -a; . "$D/app.env"; env | grep -E '^(REPLICAS|JAVA_OPTS|LOG_LEVEL)=' | sort > "$D/seen.tmp" )
  n=$(( ${n:-0} + 1 )); echo "loads=$n" >> "$D/seen.tmp"; mv "$D/seen.tmp" "$D/seen"
}
trap load HUP
load
echo $$ > "$D/app.pid"
while :; do sleep 0.05; done
"#,
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Through sh, not exec of the script: another test thread forking while this file was
        // open for writing would make exec fail with ETXTBSY ("Text file busy").
        let child = Command::new("sh")
            .arg(&script)
            .arg(dir.path())
            .spawn()
            .unwrap();
        let app = App { dir, child };
        app.wait_for(|seen| seen.contains("loads=1"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !app.path("app.pid").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        app
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn seen(&self) -> String {
        std::fs::read_to_string(self.path("seen")).unwrap_or_default()
    }

    /// Waits until what the application saw passes `ok`; panics after 5 s.
    fn wait_for(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let seen = self.seen();
            if ok(&seen) {
                return seen;
            }
            assert!(Instant::now() < deadline, "the application saw: {seen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn env_file(&self) -> String {
        std::fs::read_to_string(self.path("app.env")).unwrap()
    }

    fn hook(&self, extra: &str) -> String {
        format!(
            "{{ name: env, kind: env, path: {:?}, retry: {{ attempts: 1 }}, \
             vars: {{ REPLICAS: \"{{replicas}}\", JAVA_OPTS: \"-Xmx{{memory_mb}}m -XX:+UseG1GC\" }}, \
             reload: {{ signal: HUP, pid_file: {:?} }}{extra} }}",
            self.path("app.env"),
            self.path("app.pid"),
        )
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn template(hook: &str) -> Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {hook}\n  validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n"
    );
    presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn directive(resource: &str, target: i64) -> ScalingDirective {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    ScalingDirective {
        event_id: format!("d-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: resource.into(),
        target,
        ..Default::default()
    }
}

fn apply_to(t: &Template, d: &ScalingDirective, grant: &Granted) -> ApplyOutcome {
    apply(t, &t.dynamic_metadata.configuration_hooks[0], d, grant, 1)
}

fn reason(o: &ApplyOutcome) -> String {
    o.reason.clone().unwrap_or_default()
}

#[test]
fn the_running_process_sees_the_new_variables_and_the_file_keeps_its_comments() {
    let app = App::start();
    let t = template(&app.hook(""));
    let o = apply_to(&t, &directive("memory_mb", 2048), &Granted::covering(&t));
    assert_eq!(o.status, "applied", "{o:?}");
    assert_eq!(
        app.env_file(),
        "# checkout's environment (kept by presage)\n\nexport REPLICAS=3\nJAVA_OPTS=\"-Xmx2048m -XX:+UseG1GC\"\nLOG_LEVEL=info\n",
        "REPLICAS was read back from the file (3) and written unchanged"
    );
    let seen = app.wait_for(|s| s.contains("loads=2"));
    assert!(
        seen.contains("JAVA_OPTS=-Xmx2048m -XX:+UseG1GC\n"),
        "{seen}"
    );
    assert!(
        seen.contains("REPLICAS=3\n") && seen.contains("LOG_LEVEL=info\n"),
        "{seen}"
    );
    assert_eq!(
        std::fs::read_to_string(app.path("app.env.prev")).unwrap(),
        LIVE
    );

    let o = apply_to(&t, &directive("replicas", 7), &Granted::covering(&t));
    assert_eq!(o.status, "applied", "{o:?}");
    let seen = app.wait_for(|s| s.contains("loads=3"));
    assert!(seen.contains("REPLICAS=7\n"), "{seen}");
    assert!(
        seen.contains("JAVA_OPTS=-Xmx2048m"),
        "memory kept from the file: {seen}"
    );
}

#[test]
fn the_test_runs_on_the_shadow_and_a_failing_one_leaves_the_file_and_process_alone() {
    let app = App::start();
    // Passes only if the shadow holds the new value: proof it ran on the shadow.
    let test = ", test: { command: [grep, -q, \"^export REPLICAS=9$\", \"{shadow}\"] }";
    let t = template(&app.hook(test));
    assert_eq!(
        apply_to(&t, &directive("replicas", 9), &Granted::covering(&t)).status,
        "applied"
    );
    app.wait_for(|s| s.contains("REPLICAS=9\n"));
    let before = app.env_file();
    let o = apply_to(&t, &directive("replicas", 8), &Granted::covering(&t));
    assert_eq!(o.status, "failed", "{o:?}");
    assert!(reason(&o).contains("test failed on the shadow"), "{o:?}");
    assert_eq!(app.env_file(), before);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        app.seen().contains("loads=2"),
        "not reloaded: {}",
        app.seen()
    );
}

#[test]
fn a_failing_check_after_the_reload_restores_the_previous_file_and_reloads_it() {
    let app = App::start();
    // Nothing listens there: the post-swap check fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let check = format!(", test: {{ http: \"http://127.0.0.1:{port}/health\", within: 300ms }}");
    let t = template(&app.hook(&check));
    let o = apply_to(&t, &directive("replicas", 12), &Granted::covering(&t));
    assert_eq!(o.status, "rolled_back", "{o:?}");
    assert_eq!(app.env_file(), LIVE);
    // Reloaded with the candidate, then again with the restored file.
    let seen = app.wait_for(|s| s.contains("loads=3"));
    assert!(seen.contains("REPLICAS=3\n"), "{seen}");
}

#[test]
fn rules_refuse_a_candidate_and_a_value_that_would_add_a_line() {
    let app = App::start();
    let t = template(&app.hook(""));
    let o = apply_to(&t, &directive("replicas", 99), &Granted::covering(&t));
    assert_eq!(o.status, "rejected", "{o:?}");
    assert_eq!(app.env_file(), LIVE);
    // A setting holding a line break (only a fragment or a bootstrap could carry one) would
    // add a variable of its own choosing: refused before the shadow is written.
    let hook = format!(
        "{{ name: env, kind: env, path: {:?}, vars: {{ TIER: \"{{config.tier}}\" }} }}",
        app.path("app.env")
    );
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }}, config: {{ tier: \"gold\\nLD_PRELOAD=/tmp/x.so\" }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {hook}\n"
    );
    let t = presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let o = apply_to(&t, &directive("replicas", 4), &Granted::covering(&t));
    assert_eq!(o.status, "rejected", "{o:?}");
    assert!(reason(&o).contains("line break"), "{o:?}");
    assert_eq!(app.env_file(), LIVE);
}

#[test]
fn an_env_file_or_pid_file_not_granted_is_rejected_and_nothing_is_written_or_signalled() {
    let app = App::start();
    let t = template(&app.hook(""));
    let allow = presage_template::authority::Allow::parse(
        &format!("paths: [{:?}]\n", app.path("app.pid")),
        "allow.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = apply_to(
        &t,
        &directive("replicas", 5),
        &Granted::new(allow, PathBuf::from("/")),
    );
    assert_eq!(o.status, "rejected", "{o:?}");
    let why = reason(&o);
    assert!(
        why.contains("configuration_hooks[0].path") && why.contains("`paths`"),
        "{why}"
    );
    assert_eq!(app.env_file(), LIVE);
    let names: Vec<String> = std::fs::read_dir(app.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("presage") || n.ends_with(".prev")),
        "{names:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(app.seen().contains("loads=1"), "signalled: {}", app.seen());
}

#[test]
fn killed_between_the_journal_and_the_swap_the_swap_is_finished_and_the_process_reloaded() {
    let app = App::start();
    let t = template(&app.hook(""));
    let candidate = LIVE.replace("export REPLICAS=3", "export REPLICAS=6");
    let journal = Journal {
        intent: Some(Intent {
            input: Input {
                event_id: "d-crashed".into(),
                app: "shop".into(),
                template_version: "v1".into(),
                decided_at_ms: 1,
                resources: vec!["replicas".into()],
            },
            hook: "env".into(),
            previous: Some(LIVE.into()),
            candidate: candidate.clone(),
            attempt: 1,
            phase: Phase::Swapping,
            target: None,
        }),
        outcomes: Vec::new(),
        applied: None,
    };
    let journal_path = app.path(".app.env.presage-journal");
    std::fs::write(&journal_path, serde_json::to_vec(&journal).unwrap()).unwrap();
    Applier::new(Granted::covering(&t)).recover(&t, 5);
    assert_eq!(app.env_file(), candidate);
    let seen = app.wait_for(|s| s.contains("loads=2"));
    assert!(seen.contains("REPLICAS=6\n"), "{seen}");
    let after: Journal = serde_json::from_slice(&std::fs::read(&journal_path).unwrap()).unwrap();
    assert_eq!(after.intent, None);
    assert_eq!(after.outcomes[0].status, "applied");
}
