//! Plans carried out by the real `presage-applier` on a real broker, through a real file hook,
//! across SIGKILL: a directive's steps are applied when they fall due (by the wall clock), by
//! whichever applier process is running then; each step's outcome appears on `presage.applied`
//! exactly once; a directive sent before a step is due supersedes it, even when the applier
//! was dead in between. Reconciled from the outside: the test's own reader of
//! `presage.applied` and the live file.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::applier::{
    broker_with_template, file_hook_app, live_directive, outcome_id, replicas, ApplierProcess,
    Outcomes,
};
use presage_events::{decode, event_id, PlannedStep, PlannedTarget, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::topics::{produce, TopicReader};
use presage_runner::KafkaArgs;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// Plenty, however slow the machine: every wait polls until this.
const PATIENCE: Duration = Duration::from_secs(180);

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
        let (config, template) = file_hook_app(app, dir.path());
        let (broker, kafka) = broker_with_template(&template, dir.path());
        Self {
            app: app.into(),
            dir,
            config,
            _broker: broker,
            kafka,
        }
    }

    fn start_applier(&self) -> ApplierProcess {
        ApplierProcess::start(&self.kafka, &self.dir.path().join("applier.log"))
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
        let id = event_id(&["plan-test", &self.app, name]);
        ScalingDirective {
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
            ..live_directive(id, &self.app, target, issued_at_ms)
        }
    }

    fn live_replicas(&self) -> Option<i64> {
        replicas(&std::fs::read_to_string(&self.config).ok()?)
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
    outcome_id(directive, "cfg")
}

/// The outcome id of the step of `directive` due at `due_at_ms`, at hook `cfg`: from the
/// directive id and the due time only.
fn step_outcome(directive: &ScalingDirective, due_at_ms: i64) -> String {
    let step = event_id(&["plan-step", &directive.event_id, &due_at_ms.to_string()]);
    event_id(&["applied", &step, "cfg"])
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
        outcomes.wait_for(&[issued_outcome(&warm_up)], PATIENCE),
        "the applier never applied the warm-up directive\n{}",
        scenario.logs()
    );
    applier
}

/// A plan pending at a serving applier: the scenario, its outcomes, the applier, the directive
/// and the due times of its two steps.
type PendingPlan = (
    Scenario,
    Outcomes,
    ApplierProcess,
    ScalingDirective,
    (i64, i64),
);

/// Starts a serving applier for `app` and sends it a directive issued now for 4 replicas, with
/// steps to 7 and 11 replicas `after.0` and `after.1` ms later; returns once the directive's
/// issued target is applied.
fn plan_pending(app: &str, after: (i64, i64)) -> PendingPlan {
    let scenario = Scenario::new(app);
    let mut outcomes = Outcomes::open(&scenario.kafka);
    let applier = started_and_serving(&scenario, &mut outcomes);
    let t0 = now_ms();
    let due = (t0 + after.0, t0 + after.1);
    let plan = scenario.directive("plan", 4, t0, &[(due.0, 7), (due.1, 11)]);
    scenario.send(&plan);
    assert!(
        outcomes.wait_for(&[issued_outcome(&plan)], PATIENCE),
        "the directive's issued target was never applied\n{}",
        scenario.logs()
    );
    (scenario, outcomes, applier, plan, due)
}

#[test]
fn a_plan_s_steps_are_applied_when_due_by_the_applier_restarted_after_sigkill_each_outcome_once() {
    // Issued now: 4 replicas, 7 from +40 s, 11 from +50 s (far enough that a loaded machine
    // still kills the applier before the first step is due).
    let (scenario, mut outcomes, mut applier, plan, (due_1, due_2)) =
        plan_pending("plan-crash", (40_000, 50_000));
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
        outcomes.wait_for(&ids, PATIENCE),
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
    // Issued now: 4 replicas, 7 from +25 s, 11 from +35 s.
    let (scenario, mut outcomes, mut applier, plan, (due_1, due_2)) =
        plan_pending("plan-superseded", (25_000, 35_000));
    let (offset, committed) = committed_after_settling(&scenario.kafka, &plan);
    assert_eq!(committed, offset, "the pending plan holds its directive");
    applier.sigkill();

    // Decided while the applier was dead, before either step falls due: stamped so by
    // construction, so however long the restart takes, the plan's steps are superseded.
    let newer = scenario.directive("newer", 6, plan.issued_at_ms + 1_000, &[]);
    scenario.send(&newer);
    let _applier = scenario.start_applier();
    assert!(
        outcomes.wait_for(&[issued_outcome(&newer)], PATIENCE),
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
        outcomes.wait_for(&[step_outcome(&marker, issued + 2_000)], PATIENCE),
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
