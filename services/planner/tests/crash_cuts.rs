//! One id, one content, whatever the cut point of a crash. The planner holds no checkpoint: a
//! planner killed with SIGKILL restarts with what it reads back from `presage.directives` (every
//! directive it had published) and reads its input again from its last committed offset. These
//! tests cut a run at every input, commit at every earlier point, restart, and check that no
//! directive id was ever published with two different contents.

mod common;

use std::collections::HashMap;

use common::{demand, forecast, planner, run};
use presage_events::ScalingDirective;
use presage_planner::Planner;

/// A step-limited live policy (the ramp needs more than +2 per half-hour) and a shadow one.
const POLICIES: &[&str] = &[
    "{ resource: replicas, metric: mw, per_unit: 1000, use: mean, min: 1, max: 60, max_step_up: 2, max_step_down: 1 }",
    "{ resource: replicas, metric: mw, per_unit: 1500, use: upper, min: 1, max: 60, max_step_up: 3, shadow: true }",
];

/// Adds `directives` to everything published, failing on an id seen with another content.
fn publish(
    all: &mut HashMap<String, ScalingDirective>,
    directives: Vec<ScalingDirective>,
    at: &str,
) {
    for d in directives {
        if let Some(first) = all.get(&d.event_id) {
            assert_eq!(
                first, &d,
                "{at}: directive {} published with two contents",
                d.event_id
            );
        }
        all.insert(d.event_id.clone(), d);
    }
}

#[test]
fn a_restart_from_any_commit_never_publishes_an_id_with_a_second_content() {
    // Monday 2000-06-05 05:00–11:00: the morning ramp
    let trace = demand("2000-06-05T05:00:00Z", 12);
    let mut cuts = 0;
    for crash in 1..=trace.len() {
        for committed in 0..crash {
            let mut published = HashMap::new();
            // The first life: inputs 0..crash decided and published, then SIGKILL.
            let mut first = planner(POLICIES);
            let before: Vec<ScalingDirective> = (0..crash)
                .flat_map(|i| first.on_forecast(&forecast(&trace, i, 1)).unwrap())
                .collect();
            publish(&mut published, before.clone(), "first life");
            // The second life: read back what was published, then inputs from the commit on.
            let mut second = planner(POLICIES);
            for d in &before {
                second.remember_directive(d);
            }
            let at = format!("crash after input {crash}, committed up to {committed}");
            for i in committed..trace.len() {
                let decided = second.on_forecast(&forecast(&trace, i, 1)).unwrap();
                publish(&mut published, decided, &at);
            }
            cuts += 1;
        }
    }
    assert_eq!(cuts, 78);
}

#[test]
fn an_input_read_again_after_its_directive_was_read_back_is_not_decided_on_top_of_it() {
    let trace = demand("2000-06-05T05:00:00Z", 12);
    let all = run(&mut planner(POLICIES), &trace, 1);
    let limited = all
        .iter()
        .find(|d| d.mode == "live" && d.reason.contains("step up limited to +2"))
        .expect("the ramp hits the step limit");
    let input = (0..trace.len())
        .find(|&i| format!("f{i}") == limited.forecast_id)
        .unwrap();
    let mut restarted = planner(POLICIES);
    for d in all
        .iter()
        .filter(|d| d.issued_at_ms <= limited.issued_at_ms)
    {
        restarted.remember_directive(d);
    }
    let again = restarted.on_forecast(&forecast(&trace, input, 1)).unwrap();
    assert!(
        again.iter().all(|d| d.event_id != limited.event_id),
        "the step-limited directive was decided again: {again:?}"
    );
}

/// A planner that has decided the first forecasts of the ramp: the live target in force.
fn settled(trace: &[(i64, f64)], upto: usize) -> (Planner, ScalingDirective) {
    let mut p = planner(&[POLICIES[0]]);
    let live: Vec<ScalingDirective> = (0..upto)
        .flat_map(|i| p.on_forecast(&forecast(trace, i, 1)).unwrap())
        .collect();
    (p, live.last().cloned().expect("a directive"))
}

#[test]
fn a_failed_apply_makes_the_next_decision_issue_the_target_again_even_if_unchanged() {
    // Flat night-time demand: 01:00–03:00, no target changes after the first.
    let trace = demand("2000-06-05T01:00:00Z", 4);
    let (mut p, newest) = settled(&trace, 1);
    assert!(
        p.on_forecast(&forecast(&trace, 1, 1)).unwrap().is_empty(),
        "nothing changed"
    );

    p.on_outcome("grid", &newest.event_id, "failed");
    let again = p.on_forecast(&forecast(&trace, 2, 1)).unwrap();
    assert_eq!(again.len(), 1, "issued again after the failure");
    assert_eq!(again[0].target, newest.target);
    assert_eq!(again[0].previous_target, Some(newest.target));

    // Once issued again, the next unchanged decision is quiet again.
    assert!(p.on_forecast(&forecast(&trace, 3, 1)).unwrap().is_empty());
}

#[test]
fn outcomes_of_older_directives_and_successful_ones_change_nothing() {
    let trace = demand("2000-06-05T01:00:00Z", 4);
    let (mut p, newest) = settled(&trace, 1);
    p.on_outcome("grid", "some-older-directive", "failed");
    p.on_outcome("grid", &newest.event_id, "applied");
    p.on_outcome("other-app", &newest.event_id, "failed");
    assert!(p.on_forecast(&forecast(&trace, 1, 1)).unwrap().is_empty());
}

#[test]
fn a_read_back_failed_directive_is_issued_again_by_a_restarted_planner() {
    let trace = demand("2000-06-05T01:00:00Z", 3);
    let (_, newest) = settled(&trace, 1);
    let mut restarted = planner(&[POLICIES[0]]);
    restarted.remember_directive(&newest);
    restarted.on_outcome("grid", &newest.event_id, "rolled_back");
    let again = restarted.on_forecast(&forecast(&trace, 1, 1)).unwrap();
    assert_eq!(
        again.iter().map(|d| d.target).collect::<Vec<_>>(),
        vec![newest.target]
    );
}

#[test]
fn forgetting_an_app_drops_its_state() {
    let trace = demand("2000-06-05T05:00:00Z", 3);
    let (mut p, _) = settled(&trace, 2);
    p.forget_apps(["grid"]);
    let fresh = p.on_forecast(&forecast(&trace, 2, 1)).unwrap();
    assert_eq!(
        fresh[0].previous_target, None,
        "no target in force after forgetting"
    );
}
