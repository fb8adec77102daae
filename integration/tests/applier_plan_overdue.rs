//! A plan step overdue when the next directive arrives, carried out by the real
//! `presage-applier` on a real broker through a real file hook: the applier is SIGKILLed, a
//! plan's directive (replicas 6, then 14 at a due time) and the next directive, which names only
//! `memory_mb` (another policy's resource), are both sent while it is dead, with the step falling
//! due between them. The restarted applier reads both in one batch; as
//! `presage_events::plan::schedule` says, the step takes effect (replicas 14, which the planner
//! believes in force and will not restate) and the next directive only sets memory. Without
//! carrying out the overdue step before the next directive, replicas stay at 6.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::applier::{
    broker_with_template, file_hook_app, live_directive, outcome_id, replicas, ApplierProcess,
    Outcomes,
};
use presage_events::plan::schedule;
use presage_events::{event_id, PlannedStep, PlannedTarget, ResourceTarget, ScalingDirective};
use presage_integration::topics::produce;

/// Plenty, however slow the machine: every wait polls until this.
const PATIENCE: Duration = Duration::from_secs(180);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn memory_mb(text: &str) -> Option<i64> {
    let doc: yaml_serde::Value = yaml_serde::from_str(text).ok()?;
    doc["resources"]["memory_mb"].as_i64()
}

#[test]
fn a_step_due_before_the_next_directive_is_applied_though_both_arrive_together_after_a_restart() {
    let app = "overdue";
    let dir = tempfile::tempdir().unwrap();
    let (config, template) = file_hook_app(app, dir.path());
    let (_broker, kafka) = broker_with_template(&template, dir.path());
    let log = dir.path().join("applier.log");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let send = |d: &ScalingDirective| produce(&kafka, &kafka.topics().directives(), d);
    let mut outcomes = Outcomes::open(&kafka);

    // A first applier joins the group and owns the app's partition, then dies.
    let mut applier = ApplierProcess::start(&kafka, &log);
    let t0 = now_ms();
    let warm_up = live_directive(event_id(&["overdue-test", "warm-up"]), app, 2, t0);
    send(&warm_up);
    assert!(
        outcomes.wait_for(&[outcome_id(&warm_up, "cfg")], PATIENCE),
        "the applier never applied the warm-up directive\n{}",
        logs()
    );
    applier.sigkill();

    // While it is dead: the plan (issued t0+1: 6 replicas, 14 from t0+2) and the next directive
    // (issued t0+3, memory only). All three instants are past when the applier comes back.
    let due = t0 + 2;
    let plan = ScalingDirective {
        plan: vec![PlannedStep {
            due_at_ms: due,
            effective_at_ms: due + 60_000,
            targets: vec![PlannedTarget {
                resource: "replicas".into(),
                target: 14,
                forecast_value: 0.0,
            }],
        }],
        ..live_directive(event_id(&["overdue-test", "plan"]), app, 6, t0 + 1)
    };
    let memory_only = ScalingDirective {
        resource: "memory_mb".into(),
        target: 2048,
        targets: vec![ResourceTarget {
            resource: "memory_mb".into(),
            target: 2048,
            policy: "memory".into(),
            ..Default::default()
        }],
        ..live_directive(event_id(&["overdue-test", "memory"]), app, 2048, t0 + 3)
    };
    send(&plan);
    send(&memory_only);

    let _applier = ApplierProcess::start(&kafka, &log);
    let step = event_id(&["plan-step", &plan.event_id, &due.to_string()]);
    let step_outcome = event_id(&["applied", &step, "cfg"]);
    let expected = [
        outcome_id(&plan, "cfg"),
        step_outcome.clone(),
        outcome_id(&memory_only, "cfg"),
    ];
    assert!(
        outcomes.wait_for_settled(&expected, PATIENCE),
        "missing outcomes {:?}\n{}",
        expected
            .iter()
            .filter(|id| !outcomes.has(id))
            .collect::<Vec<_>>(),
        logs()
    );
    for id in &expected {
        assert_eq!(outcomes.one(id).status, "applied", "{id}\n{}", logs());
    }
    outcomes.assert_each_published_once();

    // The live file is what the shared schedule has in force after the last change.
    let text = std::fs::read_to_string(&config).unwrap();
    let in_force = |resource: &str| {
        schedule([&warm_up, &plan, &memory_only], resource)
            .last()
            .map(|change| change.target)
    };
    assert_eq!(in_force("replicas"), Some(14));
    assert_eq!(replicas(&text), in_force("replicas"), "{text}\n{}", logs());
    assert_eq!(
        memory_mb(&text),
        in_force("memory_mb"),
        "{text}\n{}",
        logs()
    );
}
