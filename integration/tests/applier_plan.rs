//! Plans carried out by the real `presage-applier` on a real broker, through a real file hook,
//! across SIGKILL: a directive's steps are applied when they fall due (by the wall clock), by
//! whichever applier process is running then; each step's outcome appears on `presage.applied`
//! exactly once; a directive sent before a step is due supersedes it, even when the applier
//! was dead in between. Reconciled from the outside: the test's own reader of
//! `presage.applied` and the live file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use presage_events::{
    decode, event_id, ApplyOutcome, PlannedStep, PlannedTarget, ScalingDirective,
};
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, binary};
use presage_integration::topics::{produce, TopicReader};
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, KafkaChild};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const ORIGINAL: &str = "resources:\n  replicas: 3\n  memory_mb: 1024\n";
/// Plenty, however slow the machine: every wait polls until this.
const PATIENCE: Duration = Duration::from_secs(180);

/// The applier binary as a child process, its log appended to one file across restarts.
struct ApplierProcess {
    child: Child,
}

impl ApplierProcess {
    fn start(kafka: &KafkaArgs, dir: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("applier.log"))
            .expect("log file");
        let child = Command::new(binary("presage-applier"))
            .kafka(kafka)
            .env("PRESAGE_ALLOW", dir.join("allow.yaml"))
            .env("RUST_LOG", "info,presage=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawning presage-applier");
        Self { child }
    }

    /// SIGKILL, and reap it.
    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL the applier");
        let _ = self.child.wait();
    }
}

impl Drop for ApplierProcess {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// One app whose hook `cfg` writes `config.yaml` in the test's directory, on its own broker.
struct Scenario {
    app: String,
    dir: tempfile::TempDir,
    config: PathBuf,
    _broker: TestBroker,
    kafka: KafkaArgs,
}

impl Scenario {
    fn new(app: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, ORIGINAL).unwrap();
        let yaml = format!(
            "app: {app}\n\
             bootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
             dynamic_metadata:\n  configuration_hooks:\n    \
             - {{ name: cfg, kind: file, path: {config:?}, retry: {{ attempts: 1 }} }}\n  \
             validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n"
        );
        let template = dir.path().join(format!("{app}.yaml"));
        std::fs::write(&template, &yaml).unwrap();
        let broker = TestBroker::start();
        publish_templates(&broker.kafka, std::slice::from_ref(&template)).expect("template");
        allow_templates(&[template], dir.path(), &dir.path().join("allow.yaml"));
        let mut kafka = broker.kafka.clone();
        // A killed consumer leaves the group within seconds.
        kafka.kafka_settings.push("session.timeout.ms=6000".into());
        Self {
            app: app.into(),
            dir,
            config,
            _broker: broker,
            kafka,
        }
    }

    fn start_applier(&self) -> ApplierProcess {
        ApplierProcess::start(&self.kafka, self.dir.path())
    }

    fn send(&self, directive: &ScalingDirective) {
        produce(&self.kafka, &self.kafka.topics().directives(), directive);
    }

    /// A live directive for `target` replicas issued at `issued_at_ms`, with `plan`: (due time,
    /// replicas) steps.
    fn directive(
        &self,
        name: &str,
        target: i64,
        issued_at_ms: i64,
        plan: &[(i64, i64)],
    ) -> ScalingDirective {
        ScalingDirective {
            event_id: event_id(&["plan-test", &self.app, name]),
            app: self.app.clone(),
            template_version: "test".into(),
            resource: "replicas".into(),
            target,
            issued_at_ms,
            effective_at_ms: issued_at_ms,
            policy: "test".into(),
            reason: "sent by the test".into(),
            mode: "live".into(),
            plan: plan
                .iter()
                .map(|&(due_at_ms, replicas)| PlannedStep {
                    due_at_ms,
                    effective_at_ms: due_at_ms + 60_000,
                    targets: vec![PlannedTarget {
                        resource: "replicas".into(),
                        target: replicas,
                        forecast_value: 0.0,
                    }],
                })
                .collect(),
            ..Default::default()
        }
    }

    fn live_replicas(&self) -> Option<i64> {
        let text = std::fs::read_to_string(&self.config).ok()?;
        let doc: yaml_serde::Value = yaml_serde::from_str(&text).ok()?;
        doc["resources"]["replicas"].as_i64()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("applier.log")).unwrap_or_default()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The outcome id of the directive's own (issued) targets at hook `cfg`.
fn issued_outcome(directive: &ScalingDirective) -> String {
    event_id(&["applied", &directive.event_id, "cfg"])
}

/// The outcome id of the step of `directive` due at `due_at_ms`, at hook `cfg`: from the
/// directive id and the due time only.
fn step_outcome(directive: &ScalingDirective, due_at_ms: i64) -> String {
    let step = event_id(&["plan-step", &directive.event_id, &due_at_ms.to_string()]);
    event_id(&["applied", &step, "cfg"])
}

/// Every record of `presage.applied`, raw bytes by outcome id.
struct Outcomes {
    reader: TopicReader,
    by_id: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Outcomes {
    fn open(kafka: &KafkaArgs) -> Self {
        Self {
            reader: TopicReader::open(kafka, &kafka.topics().applied()),
            by_id: BTreeMap::new(),
        }
    }

    fn read(&mut self, wait: Duration) {
        for (bytes, partition, offset) in self.reader.poll_raw(wait) {
            let outcome: ApplyOutcome =
                decode(&bytes).unwrap_or_else(|e| panic!("applied {partition}@{offset}: {e}"));
            self.by_id.entry(outcome.event_id).or_default().push(bytes);
        }
    }

    /// Reads until every id in `ids` is there (false after [`PATIENCE`]).
    fn wait_for(&mut self, ids: &[String]) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            self.read(Duration::from_millis(500));
            if ids.iter().all(|id| self.by_id.contains_key(id)) {
                return true;
            }
        }
        false
    }

    fn has(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    fn one(&self, id: &str) -> ApplyOutcome {
        decode(&self.by_id[id][0]).unwrap()
    }

    /// Each outcome id was published once: not again by the restarted applier, with the same
    /// bytes or with others.
    fn assert_each_published_once(&self) {
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
}

/// Where `directive` is on the directives topic: (partition, offset).
fn position_of(kafka: &KafkaArgs, directive: &ScalingDirective) -> (i32, i64) {
    let reader = TopicReader::open(kafka, &kafka.topics().directives());
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        for (bytes, partition, offset) in reader.poll_raw(Duration::from_millis(500)) {
            if decode::<ScalingDirective>(&bytes).is_ok_and(|d| d.event_id == directive.event_id) {
                return (partition, offset);
            }
        }
    }
    panic!("directive {} not found on the topic", directive.event_id)
}

/// The offset the applier's consumer group committed on `partition` of the directives topic.
fn committed(kafka: &KafkaArgs, partition: i32) -> Option<i64> {
    let consumer: BaseConsumer = kafka
        .client_config(&[
            ("group.id", "presage-applier"),
            ("enable.auto.commit", "false"),
        ])
        .expect("config")
        .create()
        .expect("consumer");
    let mut asked = TopicPartitionList::new();
    asked.add_partition(&kafka.topics().directives(), partition);
    let found = consumer
        .committed_offsets(asked, Duration::from_secs(10))
        .ok()?;
    let element = found.elements().into_iter().next()?;
    match element.offset() {
        Offset::Offset(offset) => Some(offset),
        _ => None,
    }
}

/// Waits until the applier has committed up to `directive` (commits run every second), then a
/// few seconds more, and says where the commit stands: a plan still pending holds its
/// directive's offset, so a restart reads it again.
fn committed_after_settling(kafka: &KafkaArgs, directive: &ScalingDirective) -> (i64, i64) {
    let (partition, offset) = position_of(kafka, directive);
    let deadline = Instant::now() + PATIENCE;
    while committed(kafka, partition).is_none_or(|c| c < offset) {
        assert!(
            Instant::now() < deadline,
            "the applier never committed up to the directive"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(3));
    (offset, committed(kafka, partition).expect("committed"))
}

/// Starts the applier and waits until it applies a first directive without a plan: from then
/// on it owns the app's partition and the clock of the scenario starts.
fn started_and_serving(scenario: &Scenario, outcomes: &mut Outcomes) -> ApplierProcess {
    let applier = scenario.start_applier();
    let warm_up = scenario.directive("warm-up", 2, now_ms(), &[]);
    scenario.send(&warm_up);
    assert!(
        outcomes.wait_for(&[issued_outcome(&warm_up)]),
        "the applier never applied the warm-up directive\n{}",
        scenario.logs()
    );
    applier
}

#[test]
fn a_plan_s_steps_are_applied_when_due_by_the_applier_restarted_after_sigkill_each_outcome_once() {
    let scenario = Scenario::new("plan-crash");
    let mut outcomes = Outcomes::open(&scenario.kafka);
    let mut applier = started_and_serving(&scenario, &mut outcomes);

    // Issued now: 4 replicas, 7 from +40 s, 11 from +50 s (far enough that a loaded machine
    // still kills the applier before the first step is due).
    let t0 = now_ms();
    let (due_1, due_2) = (t0 + 40_000, t0 + 50_000);
    let plan = scenario.directive("plan", 4, t0, &[(due_1, 7), (due_2, 11)]);
    scenario.send(&plan);
    assert!(
        outcomes.wait_for(&[issued_outcome(&plan)]),
        "the directive's issued target was never applied\n{}",
        scenario.logs()
    );
    let (offset, committed) = committed_after_settling(&scenario.kafka, &plan);
    assert_eq!(
        committed, offset,
        "the pending plan holds its directive uncommitted"
    );
    applier.sigkill();
    let killed_at = now_ms();
    outcomes.read(Duration::from_secs(1));
    assert_eq!(outcomes.one(&issued_outcome(&plan)).status, "applied");
    // What the kill interrupted: the steps not yet carried out (both, unless the machine took
    // forty seconds to get here).
    let outstanding: Vec<(i64, i64)> = [(due_1, 7), (due_2, 11)]
        .into_iter()
        .filter(|(due, _)| !outcomes.has(&step_outcome(&plan, *due)))
        .collect();
    assert!(
        !outstanding.is_empty(),
        "every step was applied before the kill at {killed_at}: nothing left to prove"
    );
    if outstanding.len() == 2 {
        assert_eq!(
            scenario.live_replicas(),
            Some(4),
            "only the issued target so far"
        );
    }

    let _applier = scenario.start_applier();
    let ids: Vec<String> = outstanding
        .iter()
        .map(|(due, _)| step_outcome(&plan, *due))
        .collect();
    assert!(
        outcomes.wait_for(&ids),
        "the restarted applier did not carry out the plan: {:?}\n{}",
        outcomes.by_id.keys().collect::<Vec<_>>(),
        scenario.logs()
    );
    // Anything the restarted applier would publish again (a replayed issued target, a step
    // twice) has time to show up.
    outcomes.read(Duration::from_secs(5));
    outcomes.assert_each_published_once();
    for (due, replicas) in &outstanding {
        let step = outcomes.one(&step_outcome(&plan, *due));
        assert_eq!(step.status, "applied", "{step:?}");
        assert!(
            step.applied_at_ms >= *due,
            "step due at {due} applied early at {}",
            step.applied_at_ms
        );
        assert_eq!(
            step.decided_at_ms, plan.issued_at_ms,
            "decided with its plan"
        );
        assert_eq!(step.resources, vec!["replicas".to_string()]);
        assert!(
            step.lineage.contains(&plan.event_id),
            "the step names its directive: {:?}",
            step.lineage
        );
        assert!(*replicas > 4);
    }
    assert!(
        outcomes.one(&step_outcome(&plan, due_2)).applied_at_ms
            >= outcomes.one(&issued_outcome(&plan)).applied_at_ms
    );
    assert_eq!(scenario.live_replicas(), Some(11), "the last step's target");
    assert_eq!(
        scenario.logs().matches("plan pending").count(),
        2,
        "the plan was known to the killed applier and again to the restarted one\n{}",
        scenario.logs()
    );
}

#[test]
fn a_directive_sent_while_the_applier_is_dead_supersedes_the_plan_s_steps_not_yet_due() {
    let scenario = Scenario::new("plan-superseded");
    let mut outcomes = Outcomes::open(&scenario.kafka);
    let mut applier = started_and_serving(&scenario, &mut outcomes);

    let t0 = now_ms();
    let (due_1, due_2) = (t0 + 25_000, t0 + 35_000);
    let plan = scenario.directive("plan", 4, t0, &[(due_1, 7), (due_2, 11)]);
    scenario.send(&plan);
    assert!(
        outcomes.wait_for(&[issued_outcome(&plan)]),
        "the directive's issued target was never applied\n{}",
        scenario.logs()
    );
    let (offset, committed) = committed_after_settling(&scenario.kafka, &plan);
    assert_eq!(committed, offset, "the pending plan holds its directive");
    applier.sigkill();

    // Decided while the applier was dead, before either step falls due: stamped so by
    // construction, so however long the restart takes, the plan's steps are superseded.
    let newer = scenario.directive("newer", 6, t0 + 1_000, &[]);
    scenario.send(&newer);
    let _applier = scenario.start_applier();
    assert!(
        outcomes.wait_for(&[issued_outcome(&newer)]),
        "the newer directive was never applied\n{}",
        scenario.logs()
    );
    assert_eq!(outcomes.one(&issued_outcome(&newer)).status, "applied");

    // Past both due times, a third directive whose own step falls due 2 s later: once its
    // step is applied, the idle clock has passed the first plan's due times too.
    while now_ms() < due_2 + 1_000 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let issued = now_ms();
    let marker = scenario.directive("marker", 6, issued, &[(issued + 2_000, 8)]);
    scenario.send(&marker);
    assert!(
        outcomes.wait_for(&[step_outcome(&marker, issued + 2_000)]),
        "the marker's step was never applied\n{}",
        scenario.logs()
    );
    outcomes.read(Duration::from_secs(3));
    for due in [due_1, due_2] {
        assert!(
            !outcomes.has(&step_outcome(&plan, due)),
            "the superseded step due at {due} was applied: {:?}",
            outcomes.one(&step_outcome(&plan, due))
        );
    }
    outcomes.assert_each_published_once();
    assert_eq!(scenario.live_replicas(), Some(8), "the marker's step");
    assert!(
        scenario.logs().contains("plan superseded"),
        "the superseded steps are logged\n{}",
        scenario.logs()
    );
}
