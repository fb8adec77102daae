//! Two node-local appliers (`presage run applier --node NAME`, real binaries) on one broker, each
//! in its own working directory standing for its node's disk: apps placed on node-a, on node-b
//! and on both, and one placed nowhere. Every app has an `env` hook (a real env file) and a
//! `command` hook (a real script, granted by `--allow`, with a test and a check). Live
//! directives go to `presage.directives`; each node applies exactly its apps' directives, and
//! `presage.applied`, read back by this test, holds one outcome per directive, node and hook.
//!
//! node-b starts only after node-a has published its outcomes, so when it restores it reads
//! node-a's outcomes for the app they share: it must still apply them (another node's outcome
//! is not this node's). Then node-b is SIGKILLed and started again, and a later directive is
//! applied once, with nothing applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use presage_events::{event_id, ApplyOutcome, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, binary};
use presage_integration::topics::{produce, TopicReader};
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, KafkaChild};

const NODES: [&str; 2] = ["node-a", "node-b"];

/// App name → the nodes it is placed on (none: not node-local).
const APPS: [(&str, &[&str]); 4] = [
    ("shop-a", &["node-a"]),
    ("shop-b", &["node-b"]),
    ("shop-ab", &["node-a", "node-b"]),
    ("central", &[]),
];

const HOOKS: [&str; 2] = ["env", "scale"];

/// The scale command every node runs: logs `app|argument...` to `calls` in its working directory
/// (the node's), and on apply records the replicas in `replicas-<app>`; `--dry-run` is the test.
const SCALE: &str = r#"#!/bin/sh
printf '%s|' "$@" >> calls; echo >> calls
app="$1"; shift
case "$1" in
  --dry-run) exit 0;;
  --check) [ "$(cat "replicas-$app")" = "$2" ] || { echo "replicas-$app is not $2" >&2; exit 1; }; exit 0;;
esac
for a in "$@"; do case "$a" in --replicas=*) echo "${a#--replicas=}" > "replicas-$app";; esac; done
"#;

fn template(app: &str, nodes: &[&str], scale: &Path) -> String {
    let placement = if nodes.is_empty() {
        String::new()
    } else {
        format!("placement: {{ nodes: [{}] }}\n", nodes.join(", "))
    };
    let scale = scale.display();
    format!(
        r#"app: {app}
{placement}bootstrap: {{ resources: {{ replicas: 2 }} }}
dynamic_metadata:
  configuration_hooks:
    - {{ name: env, kind: env, path: {app}.env, retry: {{ attempts: 1 }}, vars: {{ REPLICAS: "{{replicas}}" }} }}
    - name: scale
      kind: command
      state_dir: state
      retry: {{ attempts: 1 }}
      test: {{ command: ["{scale}", {app}, --dry-run, "--replicas={{replicas}}"] }}
      apply: ["{scale}", {app}, "--replicas={{replicas}}"]
      check: ["{scale}", {app}, --check, "{{replicas}}"]
  validation_rules:
    - "resources.replicas >= 1 && resources.replicas <= 50"
"#
    )
}

/// One node: its working directory (the node's disk) and its applier process.
struct Node {
    name: &'static str,
    dir: PathBuf,
    allow: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn new(name: &'static str, root: &Path, templates: &[PathBuf]) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        for (app, nodes) in APPS {
            // Each app's env file exists on the nodes it is placed on, and only there.
            if nodes.contains(&name) {
                std::fs::write(dir.join(format!("{app}.env")), "REPLICAS=2\n").unwrap();
            }
        }
        // Granted everything every template asks, resolved on this node: what an app not
        // placed here would need is granted too, so only placement keeps it from being applied.
        let allow = allow_templates(templates, &dir, &root.join(format!("allow-{name}.yaml")));
        let log = root.join(format!("applier-{name}.log"));
        Node {
            name,
            dir,
            allow,
            log,
            child: None,
        }
    }

    /// `presage run applier --node NAME --allow FILE`, from the node's directory.
    fn start(&mut self, kafka: &KafkaArgs) {
        binary("presage-applier");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(binary("presage"))
            .args(["run", "applier", "--node", self.name, "--allow"])
            .arg(&self.allow)
            .kafka(kafka)
            .current_dir(&self.dir)
            .env("RUST_LOG", "info,presage_applier=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawning presage run applier");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(name)).ok()
    }

    /// Every command the node ran, one `app|arg|...|` line each, in order.
    fn calls(&self) -> Vec<String> {
        self.file("calls")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn directive(app: &str, target: i64, issued_at_ms: i64) -> ScalingDirective {
    ScalingDirective {
        event_id: event_id(&["node-local-test", app, &target.to_string()]),
        app: app.to_string(),
        template_version: "test".into(),
        resource: "replicas".into(),
        target,
        issued_at_ms,
        effective_at_ms: issued_at_ms,
        policy: "test".into(),
        reason: "sent by the test".into(),
        mode: "live".into(),
        ..Default::default()
    }
}

/// What this test expects a node-local applier's outcome id to be: computed here, from the
/// documented recipe, not through the applier's code.
fn node_of(outcome: &ApplyOutcome) -> Option<&'static str> {
    NODES.into_iter().find(|node| {
        outcome.event_id
            == event_id(&[
                "applied",
                &outcome.directive_id,
                &outcome.hook,
                "node",
                node,
            ])
    })
}

/// `presage.applied` as this test reads it: by (directive, node, hook), every payload seen.
#[derive(Default)]
struct Applied {
    seen: Vec<ApplyOutcome>,
}

impl Applied {
    fn keys(&self) -> BTreeMap<(String, String, String), Vec<&ApplyOutcome>> {
        let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for o in &self.seen {
            let node = node_of(o).unwrap_or("NOT A NODE'S ID").to_string();
            out.entry((o.directive_id.clone(), node, o.hook.clone()))
                .or_default()
                .push(o);
        }
        out
    }

    /// Reads until every expected (directive, node, hook) has an outcome.
    fn wait_for(
        &mut self,
        reader: &TopicReader,
        expected: &BTreeSet<(String, String, String)>,
        nodes: &[&Node],
    ) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            self.seen
                .extend(reader.poll::<ApplyOutcome>(Duration::from_millis(500)));
            let keys: BTreeSet<_> = self.keys().into_keys().collect();
            if expected.is_subset(&keys) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "missing outcomes {:?}\nseen {:?}\n{}",
                expected.difference(&keys).collect::<Vec<_>>(),
                keys,
                nodes
                    .iter()
                    .map(|n| format!("--- {}\n{}", n.name, tail(&n.log())))
                    .collect::<String>()
            );
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The (directive, node, hook) triples the directives of `apps` must produce on `nodes`.
fn expected_for(
    directives: &[ScalingDirective],
    nodes: &[&str],
) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for d in directives {
        let placed = APPS.iter().find(|(app, _)| *app == d.app).unwrap().1;
        for node in nodes.iter().filter(|n| placed.contains(n)) {
            for hook in HOOKS {
                out.insert((d.event_id.clone(), node.to_string(), hook.to_string()));
            }
        }
    }
    out
}

/// Waits until `node`'s log says it skipped `app` (a directive of an app not placed there).
fn wait_for_skip(node: &Node, app: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let said = |log: &str| {
        log.lines()
            .any(|l| l.contains("not served by this applier") && l.contains(app))
    };
    while !said(&node.log()) {
        assert!(
            Instant::now() < deadline,
            "{} never skipped {app}:\n{}",
            node.name,
            tail(&node.log())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn each_node_applies_exactly_its_apps_directives_and_publishes_its_own_outcomes() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let root = tempfile::tempdir().unwrap();
    let scale = root.path().join("scale");
    std::fs::write(&scale, SCALE).unwrap();
    std::fs::set_permissions(&scale, std::fs::Permissions::from_mode(0o755)).unwrap();
    let templates: Vec<PathBuf> = APPS
        .iter()
        .map(|(app, nodes)| {
            let path = root.path().join(format!("{app}.yaml"));
            std::fs::write(&path, template(app, nodes, &scale)).unwrap();
            path
        })
        .collect();
    publish_templates(kafka, &templates).unwrap();
    let mut a = Node::new("node-a", root.path(), &templates);
    let mut b = Node::new("node-b", root.path(), &templates);
    let applied_topic = kafka.topics().applied();
    let reader = TopicReader::open(kafka, &applied_topic);
    let mut applied = Applied::default();

    // Two directives per app, the second decided later: both are applied, in order.
    let t0 = presage_runner::dlq::now_ms();
    let first: Vec<ScalingDirective> = APPS
        .iter()
        .flat_map(|(app, _)| [directive(app, 4, t0), directive(app, 6, t0 + 1_000)])
        .collect();
    for d in &first {
        produce(kafka, &kafka.topics().directives(), d);
    }

    // node-a alone first.
    a.start(kafka);
    applied.wait_for(&reader, &expected_for(&first, &["node-a"]), &[&a, &b]);
    wait_for_skip(&a, "shop-b");
    wait_for_skip(&a, "central");

    // node-b starts after node-a's outcomes for shop-ab are on the topic, and reads them back
    // when it is assigned the partitions: they are node-a's, so it applies shop-ab itself.
    b.start(kafka);
    let expected = expected_for(&first, &NODES);
    applied.wait_for(&reader, &expected, &[&a, &b]);
    wait_for_skip(&b, "shop-a");
    wait_for_skip(&b, "central");

    // Exactly the expected outcomes: one per (directive, node, hook), every one applied, and
    // none for `central` (placed nowhere) or for an app on a node it is not placed on.
    let keys = applied.keys();
    assert_eq!(
        keys.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "outcomes by (directive, node, hook)"
    );
    for (key, outcomes) in &keys {
        for o in outcomes {
            assert_eq!(o.status, "applied", "{key:?}: {o:?}");
        }
        assert!(
            outcomes.windows(2).all(|w| w[0] == w[1]),
            "{key:?} published with two payloads: {outcomes:?}"
        );
    }
    // The planner matches outcomes by directive id and hook: the shared app's directive has one
    // outcome per node, with ids of their own.
    let shared = &first[5];
    assert_eq!((shared.app.as_str(), shared.target), ("shop-ab", 6));
    let ids: BTreeSet<&str> = applied
        .seen
        .iter()
        .filter(|o| o.directive_id == shared.event_id && o.hook == "env")
        .map(|o| o.event_id.as_str())
        .collect();
    assert_eq!(ids.len(), 2, "one env outcome per node: {ids:?}");

    // On disk: each node's files are its apps' and hold the newest target; the others' are
    // neither created nor touched.
    for node in [&a, &b] {
        for (app, placed) in APPS {
            let env = node.file(&format!("{app}.env"));
            let replicas = node.file(&format!("replicas-{app}"));
            if placed.contains(&node.name) {
                let env = env.unwrap_or_else(|| panic!("{} has no {app}.env", node.name));
                assert_eq!(env.trim(), "REPLICAS=6", "{} {app}.env", node.name);
                assert_eq!(
                    replicas.as_deref().map(str::trim),
                    Some("6"),
                    "{} {app}",
                    node.name
                );
            } else {
                assert_eq!(env, None, "{} wrote {app}.env", node.name);
                assert_eq!(replicas, None, "{} scaled {app}", node.name);
            }
        }
        // The command hook's flow for each of its apps' directives, in order, once each:
        // test, apply, check.
        let mut want = Vec::new();
        for (app, placed) in APPS.iter().filter(|(_, p)| p.contains(&node.name)) {
            let _ = placed;
            for target in [4, 6] {
                want.push(format!("{app}|--dry-run|--replicas={target}|"));
                want.push(format!("{app}|--replicas={target}|"));
                want.push(format!("{app}|--check|{target}|"));
            }
        }
        let mut calls = node.calls();
        calls.sort();
        want.sort();
        assert_eq!(calls, want, "commands run on {}", node.name);
    }

    // node-b is killed (SIGKILL) and started again: nothing it applied is applied again. Then
    // three later directives for the shared app, on both nodes: one applied, one breaking the
    // rules (rejected, nothing run), and one decided before the applied one but arriving after
    // it (superseded, nothing run): each node's own newest applied decision is what counts.
    b.kill();
    let before_b = b.calls().len();
    let before_a = a.calls().len();
    let later = vec![
        directive("shop-ab", 9, t0 + 2_000),
        directive("shop-ab", 80, t0 + 3_000),
        directive("shop-ab", 5, t0 + 1_500),
    ];
    b.start(kafka);
    for d in &later {
        produce(kafka, &kafka.topics().directives(), d);
    }
    let expected_later = expected_for(&later, &NODES);
    applied.wait_for(&reader, &expected_later, &[&a, &b]);
    let status_of_target = |target: i64| match target {
        9 => "applied",
        80 => "rejected",
        _ => "superseded",
    };
    let keys = applied.keys();
    for d in &later {
        for node in NODES {
            for hook in HOOKS {
                let key = (d.event_id.clone(), node.to_string(), hook.to_string());
                let outcome = keys[&key][0];
                assert_eq!(
                    outcome.status,
                    status_of_target(d.target),
                    "target {} on {node} at {hook}: {outcome:?}",
                    d.target
                );
            }
        }
    }
    for node in [&a, &b] {
        assert_eq!(
            node.file("shop-ab.env").unwrap().trim(),
            "REPLICAS=9",
            "{}",
            node.name
        );
        assert_eq!(node.file("replicas-shop-ab").unwrap().trim(), "9");
    }
    let new_b: Vec<String> = b.calls()[before_b..].to_vec();
    let new_a: Vec<String> = a.calls()[before_a..].to_vec();
    let flow = vec![
        "shop-ab|--dry-run|--replicas=9|".to_string(),
        "shop-ab|--replicas=9|".to_string(),
        "shop-ab|--check|9|".to_string(),
    ];
    assert_eq!(
        new_b, flow,
        "node-b after its restart ran only the applied directive's commands"
    );
    assert_eq!(new_a, flow);
    assert!(
        keys.values().all(|o| o.windows(2).all(|w| w[0] == w[1])),
        "an outcome republished with another payload after the restart"
    );
    assert_eq!(
        keys.len(),
        expected.len() + expected_later.len(),
        "outcomes: {:?}",
        keys.keys().collect::<Vec<_>>()
    );
}
