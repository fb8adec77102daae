//! A node-local collector (`presage run collector --node node-a`, the real binary) beside a
//! central one (no `--node`) on one broker. Apps placed on node-a, on node-b and nowhere: the
//! node-local collector reads only node-a's app, stamping `node=node-a` on every sample,
//! including its `cgroup` source (the cgroup v2 of a process this test starts, by its pid
//! file); the central collector reads only the app placed nowhere, with no `node` label; no one
//! reads node-b's app.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use presage_events::RawSample;
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, binary};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, KafkaChild};
use presage_template::metric_names as names;

fn template(app: &str, placement: &str, extra_source: &str) -> String {
    format!(
        r#"app: {app}
{placement}dynamic_metadata:
  sources:
    - {{ id: clock, kind: calendar, every: 1s }}
{extra_source}  metric_recipes:
    - {{ name: hour, from: clock.hour_of_day, aggregate: max, window: {{ tumble: 5s }} }}
"#
    )
}

/// A collector process, killed when dropped.
struct Collector(Child);

impl Collector {
    fn start(kafka: &KafkaArgs, node: Option<&str>, allow: &Path, dir: &Path, log: &Path) -> Self {
        binary("presage-collector");
        std::fs::create_dir_all(dir).unwrap();
        let log = std::fs::File::create(log).unwrap();
        let mut command = Command::new(binary("presage"));
        command.args(["run", "collector", "--allow"]).arg(allow);
        if let Some(node) = node {
            command.args(["--node", node]);
        }
        let child = command
            .kafka(kafka)
            .current_dir(dir)
            .env("RUST_LOG", "info,presage=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawning presage run collector");
        Collector(child)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The application whose cgroup is read: a process that does nothing, its pid in a file.
struct App {
    child: Child,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(dir: &Path) -> String {
    ["node-a.log", "central.log"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            format!(
                "--- {name}\n{}\n",
                lines[lines.len().saturating_sub(30)..].join("\n")
            )
        })
        .collect()
}

#[test]
fn a_node_local_collector_reads_only_its_node_s_apps_and_stamps_its_node_on_every_sample() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();

    let pid_file = dir.join("web-a.pid");
    let app = App {
        child: Command::new("sleep").arg("600").spawn().unwrap(),
    };
    std::fs::write(&pid_file, format!("{}\n", app.child.id())).unwrap();
    let cgroup_source = format!(
        "    - {{ id: proc, kind: cgroup, every: 1s, cgroup: {{ pid_file: {:?} }} }}\n",
        pid_file.display().to_string()
    );
    let templates: Vec<PathBuf> = [
        (
            "web-a",
            template("web-a", "placement: { nodes: [node-a] }\n", &cgroup_source),
        ),
        (
            "web-b",
            template("web-b", "placement: { nodes: [node-b] }\n", ""),
        ),
        ("web-central", template("web-central", "", "")),
    ]
    .into_iter()
    .map(|(app, text)| {
        let path = dir.join(format!("{app}.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    })
    .collect();
    publish_templates(kafka, &templates).unwrap();
    // The pid file is granted (`paths`), as an operator would grant it.
    let allow = allow_templates(&templates, dir, &dir.join("allow.yaml"));

    let raw = TopicReader::open(kafka, &kafka.topics().raw());
    let _node_a = Collector::start(
        kafka,
        Some("node-a"),
        &allow,
        &dir.join("node-a"),
        &dir.join("node-a.log"),
    );
    let _central = Collector::start(
        kafka,
        None,
        &allow,
        &dir.join("central"),
        &dir.join("central.log"),
    );

    // Until web-a has three reads of its calendar, its cgroup CPU share (the second cgroup
    // read on), and web-central has been read too.
    let mut seen: Vec<RawSample> = Vec::new();
    let done = |seen: &[RawSample]| {
        let reads_of = |app: &str, source: &str| {
            seen.iter()
                .filter(|s| s.app == app && s.source == source)
                .map(|s| s.event_time_ms)
                .collect::<BTreeSet<_>>()
                .len()
        };
        reads_of("web-a", "clock") >= 3
            && reads_of("web-central", "clock") >= 3
            && seen
                .iter()
                .any(|s| s.app == "web-a" && s.metric == names::CPU_UTILIZATION)
    };
    assert!(
        raw.wait_until(&mut seen, Duration::from_secs(180), |s| done(s)),
        "not every app was read: {:?}\n{}",
        seen.iter()
            .map(|s| (&s.app, &s.source, &s.metric))
            .collect::<BTreeSet<_>>(),
        logs(dir)
    );

    // Nobody reads node-b's app: the node-local collector is on node-a, and the central one
    // reads only apps placed nowhere. (Every source is read each loop, so three rounds of the
    // others would have carried it.)
    let apps: BTreeSet<&str> = seen.iter().map(|s| s.app.as_str()).collect();
    assert_eq!(apps, BTreeSet::from(["web-a", "web-central"]));
    for sample in &seen {
        let node = sample.labels.get("node").map(String::as_str);
        match sample.app.as_str() {
            "web-a" => assert_eq!(node, Some("node-a"), "{sample:?}"),
            _ => assert_eq!(
                node, None,
                "the central collector stamps no node: {sample:?}"
            ),
        }
    }

    // The cgroup source's readings: its own metrics, within physical bounds.
    let cgroup: BTreeMap<&str, f64> = seen
        .iter()
        .filter(|s| s.source == "proc")
        .map(|s| (s.metric.as_str(), s.value))
        .collect();
    for (metric, value) in &cgroup {
        assert!(names::CGROUP.contains(metric), "{metric}");
        assert!(value.is_finite() && *value >= 0.0, "{metric} = {value}");
    }
    let share = cgroup[names::CPU_UTILIZATION];
    assert!(share <= 1.0, "cpu_utilization {share}");
    assert!(
        cgroup.contains_key(names::NETWORK_RECEIVE_BYTES_TOTAL),
        "the process's network namespace is read: {cgroup:?}"
    );
    if let (Some(used), Some(limit)) = (
        cgroup.get(names::MEMORY_USED_BYTES),
        cgroup.get(names::MEMORY_LIMIT_BYTES),
    ) {
        assert!(used <= limit, "memory {used} of {limit}");
    }
}
