//! What the applier's crash tests share: the real `presage-applier` as a child process that a
//! test can SIGKILL, a broker with the scenario's template published and granted, live
//! directives, and a reader of `presage.applied` that keeps every copy of every outcome so a
//! test can prove each was published once.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use presage_events::{decode, event_id, ApplyOutcome, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, binary};
use presage_integration::topics::TopicReader;
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, KafkaChild};

/// The live file each scenario's hook starts from.
pub const ORIGINAL: &str = "resources:\n  replicas: 3\n  memory_mb: 1024\n";

/// The applier binary as a child process, its log appended to one file across restarts.
pub struct ApplierProcess {
    child: Child,
}

impl ApplierProcess {
    /// Logs to `log`, granted the allow-list `allow.yaml` beside it (see
    /// [`broker_with_template`]).
    pub fn start(kafka: &KafkaArgs, log: &Path) -> Self {
        let allow = log.parent().expect("log dir").join("allow.yaml");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = Command::new(binary("presage-applier"))
            .kafka(kafka)
            .env("PRESAGE_ALLOW", allow)
            .env("RUST_LOG", "info,presage=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawning presage-applier");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the applier to die by SIGKILL (its hook killed it).
    pub fn wait_killed(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
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

    /// SIGKILL, which must be delivered, and reap it.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL the applier");
        let _ = self.child.wait();
    }

    /// SIGKILL if still running, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ApplierProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An app whose one hook is a file hook on `dir/config.yaml` (holding [`ORIGINAL`]), with
/// replicas and memory_mb bootstrapped and a rule bounding replicas to 1..=50; returns the
/// config file and the template file written into `dir`.
pub fn file_hook_app(app: &str, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = dir.join("config.yaml");
    std::fs::write(&config, ORIGINAL).unwrap();
    let yaml = format!(
        "app: {app}\n\
         bootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    \
         - {{ name: cfg, kind: file, path: {config:?}, retry: {{ attempts: 1 }} }}\n  \
         validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n"
    );
    let template = dir.join(format!("{app}.yaml"));
    std::fs::write(&template, &yaml).unwrap();
    (config, template)
}

/// A broker with `template` published, its allow-list written to `dir/allow.yaml` (where
/// [`ApplierProcess::start`] finds it given a log in `dir`), and a kafka config whose killed
/// consumer leaves the group within seconds.
pub fn broker_with_template(template: &Path, dir: &Path) -> (TestBroker, KafkaArgs) {
    let broker = TestBroker::start();
    publish_templates(&broker.kafka, &[template.to_path_buf()]).expect("publish template");
    allow_templates(&[template.to_path_buf()], dir, &dir.join("allow.yaml"));
    let mut kafka = broker.kafka.clone();
    kafka.kafka_settings.push("session.timeout.ms=6000".into());
    (broker, kafka)
}

/// A live directive for `app`: `target` replicas, issued and effective at `issued_at_ms`.
pub fn live_directive(id: String, app: &str, target: i64, issued_at_ms: i64) -> ScalingDirective {
    ScalingDirective {
        event_id: id,
        app: app.into(),
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

/// `resources.replicas` of a live file's text.
pub fn replicas(text: &str) -> Option<i64> {
    let doc: yaml_serde::Value = yaml_serde::from_str(text).ok()?;
    doc["resources"]["replicas"].as_i64()
}

/// The id of the outcome of `directive` at `hook`.
pub fn outcome_id(directive: &ScalingDirective, hook: &str) -> String {
    event_id(&["applied", &directive.event_id, hook])
}

/// Every record of `presage.applied`, raw bytes by outcome id.
pub struct Outcomes {
    reader: TopicReader,
    pub by_id: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Outcomes {
    pub fn open(kafka: &KafkaArgs) -> Self {
        Self {
            reader: TopicReader::open(kafka, &kafka.topics().applied()),
            by_id: BTreeMap::new(),
        }
    }

    pub fn read(&mut self, wait: Duration) {
        for (bytes, partition, offset) in self.reader.poll_raw(wait) {
            let outcome: ApplyOutcome =
                decode(&bytes).unwrap_or_else(|e| panic!("applied {partition}@{offset}: {e}"));
            self.by_id.entry(outcome.event_id).or_default().push(bytes);
        }
    }

    /// Reads until every id in `ids` is there (false after `limit`).
    pub fn wait_for(&mut self, ids: &[String], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            self.read(Duration::from_millis(500));
            if ids.iter().all(|id| self.by_id.contains_key(id)) {
                return true;
            }
        }
        false
    }

    /// [`Outcomes::wait_for`], then reads two seconds more: anything still in flight, such as
    /// a second copy.
    pub fn wait_for_settled(&mut self, ids: &[String], limit: Duration) -> bool {
        let found = self.wait_for(ids, limit);
        if found {
            self.read(Duration::from_secs(2));
        }
        found
    }

    pub fn has(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn one(&self, id: &str) -> ApplyOutcome {
        decode(&self.by_id[id][0]).unwrap()
    }

    /// Each outcome id was published once: not again by the restarted applier, with the same
    /// bytes or with others.
    pub fn assert_each_published_once(&self) {
        for (id, copies) in &self.by_id {
            assert_eq!(
                copies.len(),
                1,
                "outcome {id} published {} times: {:?}",
                copies.len(),
                copies
                    .iter()
                    .map(|c| decode::<ApplyOutcome>(c).unwrap())
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Each id has one payload (a copy with other bytes would be a second outcome).
    pub fn assert_one_payload_each(&self) {
        for (id, copies) in &self.by_id {
            assert!(
                copies.iter().all(|c| c == &copies[0]),
                "outcome {id} published with {} different payloads: {:?}",
                copies.len(),
                copies
                    .iter()
                    .map(|c| decode::<ApplyOutcome>(c).unwrap())
                    .collect::<Vec<_>>()
            );
        }
    }
}
