//! The applier's side of plans, pure: which step of an app's pending plan is due, what it sets,
//! which plan supersedes which, the step's id, and which offset a pending plan holds.

use presage_applier::outcome::{outcome_id, resources_of};
use presage_applier::schedule::{
    read_back_span, step_directive, step_id, Hold, PendingPlans, CLOCK_SLACK_MS,
};
use presage_events::plan::schedule;
use presage_events::{PlannedStep, PlannedTarget, ResourceTarget, ScalingDirective};

const S: i64 = 1_000;

fn step(due_s: i64, replicas: i64) -> PlannedStep {
    PlannedStep {
        due_at_ms: due_s * S,
        effective_at_ms: (due_s + 60) * S,
        targets: vec![PlannedTarget {
            resource: "replicas".into(),
            target: replicas,
            forecast_value: replicas as f64 * 100.0,
        }],
    }
}

fn directive(app: &str, issued_s: i64, replicas: i64, plan: Vec<PlannedStep>) -> ScalingDirective {
    ScalingDirective {
        event_id: format!("{app}-{issued_s}"),
        app: app.into(),
        template_version: "v1".into(),
        resource: "replicas".into(),
        target: replicas,
        issued_at_ms: issued_s * S,
        effective_at_ms: issued_s * S,
        mode: "live".into(),
        lineage: vec!["forecast-1".into()],
        targets: vec![
            ResourceTarget {
                resource: "replicas".into(),
                target: replicas,
                ..Default::default()
            },
            ResourceTarget {
                resource: "memory_mb".into(),
                target: 512,
                ..Default::default()
            },
        ],
        plan,
        ..Default::default()
    }
}

fn replicas_of(step: &ScalingDirective) -> i64 {
    step.targets
        .iter()
        .find(|t| t.resource == "replicas")
        .map(|t| t.target)
        .unwrap()
}

/// Plans of partitions 0 and 1, both read to their end (as after a start with nothing held):
/// their steps fall due by the clock.
/// D1 of the two-policy cases: issued at 06:00, replicas 6 and memory 512, a plan of replicas 14
/// at 06:50.
fn replicas_6_memory_512_planning_replicas_14_at_0650() -> ScalingDirective {
    naming(
        6 * HOUR,
        &[("replicas", 6), ("memory_mb", 512)],
        vec![step(6 * HOUR + 50 * 60, 14)],
    )
}

fn caught_up_plans() -> PendingPlans {
    let mut plans = PendingPlans::default();
    plans.caught_up(0);
    plans.caught_up(1);
    plans
}

#[test]
fn no_step_is_due_before_its_time_and_each_is_handed_out_once_when_due() {
    let mut plans = caught_up_plans();
    let d = directive("shop", 0, 3, vec![step(10, 6), step(20, 9)]);
    assert!(plans.arrive(&d, 0, 7).pending);
    assert!(plans.due(9_999).is_empty());
    let first = plans.due(10 * S);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].due_at_ms, 10 * S);
    assert_eq!(replicas_of(&first[0].step), 6);
    assert!(first[0].skipped.is_empty());
    assert!(plans.due(15 * S).is_empty(), "handed out once");
    let second = plans.due(25 * S);
    assert_eq!(replicas_of(&second[0].step), 9);
    plans.confirm();
    assert!(plans.due(1_000 * S).is_empty());
    assert_eq!(
        plans.hold(0).map(|h| h.offset),
        None,
        "a carried-out plan holds nothing"
    );
}

#[test]
fn steps_overdue_together_are_one_application_of_the_latest_state() {
    let mut plans = caught_up_plans();
    let d = directive("shop", 0, 3, vec![step(10, 6), step(20, 9), step(30, 12)]);
    plans.arrive(&d, 0, 1);
    let due = plans.due(25 * S);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].due_at_ms, 20 * S);
    assert_eq!(due[0].skipped, vec![10 * S]);
    assert_eq!(replicas_of(&due[0].step), 9);
    assert_eq!(plans.next_due("shop"), Some(30 * S));
}

#[test]
fn a_step_sets_every_target_in_force_at_its_due_time_decided_when_its_plan_was() {
    let d = directive("shop", 100, 3, vec![step(160, 6)]);
    let s = step_directive(&d, 160 * S);
    assert_eq!(s.event_id, step_id(&d.event_id, 160 * S));
    assert_eq!(s.issued_at_ms, d.issued_at_ms, "the plan's decision time");
    assert_eq!(s.effective_at_ms, 220 * S);
    assert_eq!(s.mode, "live");
    assert!(s.plan.is_empty(), "a step has no plan of its own");
    assert_eq!(s.lineage, vec!["shop-100".to_string(), "forecast-1".into()]);
    assert_eq!(
        s.targets
            .iter()
            .map(|t| (t.resource.as_str(), t.target))
            .collect::<Vec<_>>(),
        vec![("replicas", 6), ("memory_mb", 512)]
    );
    assert_eq!((s.resource.as_str(), s.target), ("replicas", 6));
    assert_eq!(resources_of(&s), vec!["replicas", "memory_mb"]);
    assert_eq!(s.forecast_value, 600.0);
    // What the backtest reads from the same directive at that instant.
    assert_eq!(d.target_at("replicas", 160 * S), Some(s.target));
}

#[test]
fn a_step_s_id_and_its_outcome_id_depend_only_on_the_directive_and_the_due_time() {
    let d = directive("shop", 0, 3, vec![step(10, 6), step(20, 9)]);
    assert_eq!(step_directive(&d, 10 * S), step_directive(&d, 10 * S));
    let ids = [
        step_id(&d.event_id, 10 * S),
        step_id(&d.event_id, 20 * S),
        step_id("shop-other", 10 * S),
        d.event_id.clone(),
    ];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
            assert_ne!(outcome_id(a, "cfg"), outcome_id(b, "cfg"));
        }
    }
}

#[test]
fn the_next_directive_supersedes_the_steps_not_yet_due_as_the_shared_schedule_says() {
    let mut plans = caught_up_plans();
    let first = directive("shop", 0, 3, vec![step(10, 6), step(90, 12)]);
    let second = directive("shop", 60, 5, vec![step(120, 7)]);
    plans.arrive(&first, 0, 1);
    let mut applied = vec![(0, 3)];
    for now_s in [10, 30] {
        for due in plans.due(now_s * S) {
            applied.push((due.due_at_ms / S, replicas_of(&due.step)));
        }
    }
    let arrival = plans.arrive(&second, 0, 2);
    applied.push((60, 5));
    let replaced = arrival.replaced.expect("the first plan was pending");
    assert_eq!(replaced.directive_id, "shop-0");
    assert_eq!(replaced.never_due, vec![90 * S]);
    for now_s in [90, 100, 120, 500] {
        for due in plans.due(now_s * S) {
            assert_eq!(due.plan_of, "shop-60", "only the newest plan's steps");
            applied.push((due.due_at_ms / S, replicas_of(&due.step)));
        }
    }
    let expected: Vec<(i64, i64)> = schedule([&first, &second], "replicas")
        .into_iter()
        .map(|c| (c.at_ms / S, c.target))
        .collect();
    assert_eq!(applied, expected);
}

#[test]
fn a_directive_issued_before_the_pending_plan_supersedes_nothing() {
    let mut plans = caught_up_plans();
    let newer = directive("shop", 60, 5, vec![step(120, 7)]);
    let older = directive("shop", 30, 4, vec![step(100, 99)]);
    plans.arrive(&newer, 0, 5);
    let arrival = plans.arrive(&older, 0, 6);
    assert_eq!(arrival.late_behind.as_deref(), Some("shop-60"));
    assert!(!arrival.pending);
    let due = plans.due(200 * S);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].plan_of, "shop-60");
    assert_eq!(plans.hold(0).map(|h| h.offset), Some(5));
}

#[test]
fn a_directive_without_a_plan_ends_the_pending_one_and_holds_nothing() {
    let mut plans = caught_up_plans();
    plans.arrive(&directive("shop", 0, 3, vec![step(10, 6)]), 0, 1);
    let arrival = plans.arrive(&directive("shop", 5, 4, vec![]), 0, 2);
    assert!(!arrival.pending);
    assert_eq!(arrival.replaced.unwrap().never_due, vec![10 * S]);
    assert!(plans.due(100 * S).is_empty());
    assert_eq!(plans.hold(0).map(|h| h.offset), None);
}

#[test]
fn a_pending_plan_holds_its_directive_s_offset_until_its_last_step_is_acknowledged() {
    let mut plans = caught_up_plans();
    plans.arrive(&directive("a", 0, 3, vec![step(10, 6)]), 0, 40);
    plans.arrive(&directive("b", 0, 3, vec![step(20, 6)]), 0, 41);
    plans.arrive(&directive("c", 0, 3, vec![step(30, 6)]), 1, 9);
    assert_eq!(plans.hold(0).map(|h| h.offset), Some(40));
    assert_eq!(plans.hold(1).map(|h| h.offset), Some(9));
    assert_eq!(plans.hold(2).map(|h| h.offset), None);
    assert_eq!(plans.due(10 * S).len(), 1);
    // Handed out, not yet known to be on the topic: still held.
    assert_eq!(plans.hold(0).map(|h| h.offset), Some(40));
    plans.confirm();
    assert_eq!(plans.hold(0).map(|h| h.offset), Some(41));
    assert_eq!(plans.forget_partition(0), vec!["b".to_string()]);
    assert_eq!(plans.hold(0).map(|h| h.offset), None);
    assert_eq!(plans.hold(1).map(|h| h.offset), Some(9));
}

#[test]
fn a_step_due_before_its_directive_was_issued_is_not_carried_out() {
    let mut plans = caught_up_plans();
    let d = directive("shop", 100, 3, vec![step(50, 99), step(160, 6)]);
    plans.arrive(&d, 0, 1);
    let due = plans.due(i64::MAX);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].due_at_ms, 160 * S);
    assert!(
        due[0].skipped.is_empty(),
        "the step before the issue is no step"
    );
}

#[test]
fn a_hold_says_since_when_so_a_restart_reads_outcomes_back_that_far() {
    let mut plans = caught_up_plans();
    plans.arrive(&directive("a", 500, 3, vec![step(900, 6)]), 0, 40);
    plans.arrive(&directive("b", 300, 3, vec![step(900, 6)]), 0, 41);
    let hold = plans.hold(0).unwrap();
    assert_eq!(
        hold,
        Hold {
            offset: 40,
            since_ms: 300 * S
        }
    );
    assert_eq!(Hold::parse(&hold.metadata()), Some(hold));
    assert_eq!(Hold::parse(""), None);
    assert_eq!(Hold::parse("plan-hold offset=x since=1"), None);

    let hour = 3_600_000;
    let default = 6 * hour;
    let since = hold.since_ms;
    // Restarted a day after the plan was issued, resuming at the held directive.
    let now = since + 24 * hour;
    assert_eq!(
        read_back_span(&hold.metadata(), 40, now, default),
        24 * hour + CLOCK_SLACK_MS
    );
    // Soon after: the default span already reaches back past the hold.
    assert_eq!(
        read_back_span(&hold.metadata(), 40, since + hour, default),
        default
    );
    // The hold was released since (the group resumes further on): the default.
    assert_eq!(read_back_span(&hold.metadata(), 45, now, default), default);
    assert_eq!(read_back_span("", 40, now, default), default);
}

#[test]
fn plans_of_different_apps_are_carried_out_side_by_side() {
    let mut plans = caught_up_plans();
    plans.arrive(&directive("b", 0, 3, vec![step(10, 6)]), 0, 1);
    plans.arrive(&directive("a", 0, 3, vec![step(10, 8)]), 0, 2);
    let due = plans.due(10 * S);
    assert_eq!(
        due.iter().map(|d| d.step.app.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
}

/// A template whose one hook writes `path` (a real file), replicas between 1 and 50.
fn file_template(path: &std::path::Path) -> presage_template::Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {{ name: cfg, kind: file, path: {path:?} }}\n  \
         validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n"
    );
    presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn live_replicas(path: &std::path::Path) -> i64 {
    let doc: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["resources"]["replicas"].as_i64().unwrap()
}

#[test]
fn a_step_applied_before_a_lagging_directive_issued_earlier_does_not_make_it_look_old() {
    use presage_applier::hooks::{Applier, Granted};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.yaml");
    std::fs::write(&path, "resources:\n  replicas: 3\n  memory_mb: 1024\n").unwrap();
    let t = file_template(&path);
    let mut applier = Applier::new(Granted::covering(&t));
    let plan = directive("shop", 0, 4, vec![step(10, 6), step(30, 9)]);
    let mut plans = caught_up_plans();

    let issued = applier.apply_directive(&t, &plan, 0);
    assert_eq!(issued[0].status, "applied");
    plans.arrive(&plan, 0, 1);
    let due = plans.due(10 * S);
    let step_outcome = applier.apply_directive(&t, &due[0].step, 10 * S);
    assert_eq!(step_outcome[0].status, "applied", "{step_outcome:?}");
    assert_eq!(
        step_outcome[0].event_id,
        outcome_id(&due[0].step.event_id, "cfg")
    );
    assert_eq!(step_outcome[0].decided_at_ms, 0, "decided with its plan");
    assert_eq!(live_replicas(&path), 6);

    // Issued at 8 s (before the step fell due), delivered at 12 s: it still applies.
    let lagging = directive("shop", 8, 5, vec![]);
    assert_eq!(
        applier.newer_applied("shop", &resources_of(&lagging), lagging.issued_at_ms),
        None
    );
    let outcome = applier.apply_directive(&t, &lagging, 12 * S);
    assert_eq!(outcome[0].status, "applied", "{outcome:?}");
    let arrival = plans.arrive(&lagging, 0, 2);
    assert_eq!(arrival.replaced.unwrap().never_due, vec![30 * S]);
    assert!(
        plans.due(40 * S).is_empty(),
        "the step at 30 s never happens"
    );
    assert_eq!(live_replicas(&path), 5);

    // The plan's own step, read again after a restart, is found superseded by the newer one.
    assert_eq!(
        applier.newer_applied("shop", &resources_of(&due[0].step), plan.issued_at_ms),
        Some(8 * S)
    );
    // And applying the same step again (a replay) records nothing new.
    assert!(applier.apply_directive(&t, &due[0].step, 50 * S).is_empty());
}

const HOUR: i64 = 3_600;

/// A directive naming only the resources given (as a policy of its own would), with `plan`.
fn naming(issued_s: i64, targets: &[(&str, i64)], plan: Vec<PlannedStep>) -> ScalingDirective {
    let (resource, target) = targets[0];
    ScalingDirective {
        resource: resource.into(),
        target,
        targets: targets
            .iter()
            .map(|(resource, target)| ResourceTarget {
                resource: resource.to_string(),
                target: *target,
                ..Default::default()
            })
            .collect(),
        ..directive("shop", issued_s, target, plan)
    }
}

/// Each resource's changes as a sequence of settings makes them: the instant a setting is in
/// force from (a directive's issue, a step's due time) and the targets it writes; a later
/// setting at the same instant replaces an earlier one and repeats are no change, as in
/// [`schedule`].
fn changes_of(settings: &[(i64, Vec<(String, i64)>)], resource: &str) -> Vec<(i64, i64)> {
    let mut changes: Vec<(i64, i64)> = Vec::new();
    for (at_ms, targets) in settings {
        let Some((_, target)) = targets.iter().find(|(r, _)| r == resource) else {
            continue;
        };
        if changes.last().is_some_and(|(at, _)| at == at_ms) {
            changes.pop();
        }
        if changes.last().is_none_or(|(_, last)| last != target) {
            changes.push((*at_ms, *target));
        }
    }
    changes
}

fn scheduled(directives: &[&ScalingDirective], resource: &str) -> Vec<(i64, i64)> {
    schedule(directives.iter().copied(), resource)
        .into_iter()
        .map(|c| (c.at_ms, c.target))
        .collect()
}

/// The settings carried out change replicas and memory exactly when, and to what, the shared
/// schedule of `directives` says.
fn assert_settings_follow_the_schedule(
    settings: &[(i64, Vec<(String, i64)>)],
    directives: &[&ScalingDirective],
) {
    for resource in ["replicas", "memory_mb"] {
        assert_eq!(
            changes_of(settings, resource),
            scheduled(directives, resource),
            "{resource}"
        );
    }
}

fn targets_of(d: &ScalingDirective) -> Vec<(String, i64)> {
    d.targets
        .iter()
        .map(|t| (t.resource.clone(), t.target))
        .collect()
}

/// What the directive loop does with a batch of live directives arriving at `now_ms`: for each,
/// the pending plan's step due by its issue first, then the directive, then its plan pending;
/// then the idle ticks. The settings, each with the instant it is in force from.
fn carry_out_batch(
    plans: &mut PendingPlans,
    batch: &[&ScalingDirective],
    ticks_ms: &[i64],
) -> Vec<(i64, Vec<(String, i64)>)> {
    let mut settings = Vec::new();
    for (offset, d) in batch.iter().enumerate() {
        if let Some(due) = plans.due_before(d) {
            settings.push((due.due_at_ms, targets_of(&due.step)));
        }
        settings.push((d.issued_at_ms, targets_of(d)));
        plans.arrive(d, 0, offset as i64);
    }
    for now_ms in ticks_ms {
        for due in plans.due(*now_ms) {
            settings.push((due.due_at_ms, targets_of(&due.step)));
        }
    }
    settings
}

#[test]
fn a_step_overdue_when_the_next_directive_arrives_is_carried_out_if_that_directive_does_not_name_its_resource(
) {
    // Two policies: D1 (06:00) sets replicas 6 and memory 512 and plans replicas 14 at 06:50;
    // D2 (07:00) names memory only. Both arrive at 07:05 in one batch (the applier was down).
    let d1 = replicas_6_memory_512_planning_replicas_14_at_0650();
    let d2 = naming(7 * HOUR, &[("memory_mb", 1024)], vec![]);
    let mut plans = caught_up_plans();
    let settings = carry_out_batch(&mut plans, &[&d1, &d2], &[7 * HOUR * S + 5 * 60 * S]);
    assert_settings_follow_the_schedule(&settings, &[&d1, &d2]);
    assert_eq!(
        changes_of(&settings, "replicas").last(),
        Some(&((6 * HOUR + 50 * 60) * S, 14)),
        "the planned 14 is in force, as the planner believes"
    );
    assert_eq!(plans.hold(0), None, "nothing left pending");
}

#[test]
fn a_step_due_at_the_next_directive_s_issue_takes_effect_and_the_directive_overrides_what_it_names()
{
    let d1 = naming(
        0,
        &[("replicas", 6), ("memory_mb", 512)],
        vec![PlannedStep {
            targets: vec![
                PlannedTarget {
                    resource: "replicas".into(),
                    target: 14,
                    forecast_value: 0.0,
                },
                PlannedTarget {
                    resource: "memory_mb".into(),
                    target: 768,
                    forecast_value: 0.0,
                },
            ],
            ..step(HOUR, 14)
        }],
    );
    let d2 = naming(HOUR, &[("replicas", 9)], vec![step(2 * HOUR, 11)]);
    let mut plans = caught_up_plans();
    let settings = carry_out_batch(&mut plans, &[&d1, &d2], &[3 * HOUR * S]);
    assert_settings_follow_the_schedule(&settings, &[&d1, &d2]);
    // Memory follows the step (768), replicas the directive (9), then D2's own plan (11).
    assert_eq!(
        changes_of(&settings, "memory_mb"),
        vec![(0, 512), (HOUR * S, 768)]
    );
    assert_eq!(
        changes_of(&settings, "replicas"),
        vec![(0, 6), (HOUR * S, 9), (2 * HOUR * S, 11)]
    );
}

#[test]
fn only_steps_due_after_the_next_directive_s_issue_are_superseded() {
    let mut plans = caught_up_plans();
    let d1 = directive("shop", 0, 3, vec![step(10, 6), step(20, 9), step(90, 12)]);
    let d2 = directive("shop", 30, 5, vec![]);
    plans.arrive(&d1, 0, 1);
    let due = plans
        .due_before(&d2)
        .expect("steps at 10 and 20 s were due by 30 s");
    assert_eq!((due.due_at_ms, due.skipped.clone()), (20 * S, vec![10 * S]));
    let arrival = plans.arrive(&d2, 0, 2);
    assert_eq!(arrival.replaced.unwrap().never_due, vec![90 * S]);
    // A directive issued before the pending plan takes nothing from it.
    let mut plans = caught_up_plans();
    plans.arrive(&d2, 0, 1);
    let d3 = directive("shop", 40, 4, vec![step(50, 8)]);
    plans.arrive(&d3, 0, 2);
    assert!(plans
        .due_before(&directive("shop", 35, 7, vec![]))
        .is_none());
    assert_eq!(plans.next_due("shop"), Some(50 * S));
}

#[test]
fn a_step_due_further_ahead_than_the_shared_bound_is_never_carried_out_nor_held() {
    use presage_events::plan::MAX_AHEAD_MS;
    let mut plans = caught_up_plans();
    let years = directive("shop", 0, 3, vec![step(20 * 365 * 24 * HOUR, 50)]);
    assert!(!plans.arrive(&years, 0, 1).pending);
    assert_eq!(plans.hold(0), None, "a malformed plan holds no offset");
    assert!(plans.due(i64::MAX).is_empty());

    let at_bound = directive("shop", 10, 3, vec![step(10 + MAX_AHEAD_MS / S, 6)]);
    let beyond = directive("other", 10, 3, vec![step(10 + MAX_AHEAD_MS / S + 1, 6)]);
    assert!(plans.arrive(&at_bound, 0, 2).pending);
    assert!(!plans.arrive(&beyond, 0, 3).pending);
    assert_eq!(plans.hold(0).map(|h| h.offset), Some(2));
    assert_eq!(
        presage_applier::schedule::carried_dues(&beyond),
        Vec::<i64>::new()
    );
    assert_eq!(beyond.next_due_after(0), None, "the shared semantics agree");
}

fn live_memory(path: &std::path::Path) -> i64 {
    let doc: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["resources"]["memory_mb"].as_i64().unwrap()
}

#[test]
fn a_real_file_follows_the_shared_schedule_when_a_plan_and_the_next_directive_arrive_late_together()
{
    use presage_applier::hooks::{Applier, Granted};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.yaml");
    std::fs::write(&path, "resources:\n  replicas: 3\n  memory_mb: 1024\n").unwrap();
    let t = file_template(&path);
    let mut applier = Applier::new(Granted::covering(&t));
    let d1 = replicas_6_memory_512_planning_replicas_14_at_0650();
    let d2 = naming(7 * HOUR, &[("memory_mb", 2048)], vec![]);
    let now = (7 * HOUR + 5 * 60) * S;
    let mut plans = caught_up_plans();
    // The file after each application, with the instant the setting is in force from.
    let mut settings: Vec<(i64, Vec<(String, i64)>)> = Vec::new();
    let mut file_at = |at_ms: i64| {
        settings.push((
            at_ms,
            vec![
                ("replicas".to_string(), live_replicas(&path)),
                ("memory_mb".to_string(), live_memory(&path)),
            ],
        ))
    };
    for (offset, d) in [&d1, &d2].into_iter().enumerate() {
        if let Some(due) = plans.due_before(d) {
            let outcomes = applier.apply_directive(&t, &due.step, now);
            assert_eq!(outcomes[0].status, "applied", "{outcomes:?}");
            file_at(due.due_at_ms);
        }
        let outcomes = applier.apply_directive(&t, d, now);
        assert_eq!(outcomes[0].status, "applied", "{outcomes:?}");
        file_at(d.issued_at_ms);
        plans.arrive(d, 0, offset as i64);
    }
    assert!(plans.due(i64::MAX).is_empty());
    assert_settings_follow_the_schedule(&settings, &[&d1, &d2]);
    assert_eq!((live_replicas(&path), live_memory(&path)), (14, 2048));
}

#[test]
fn a_step_of_a_partition_not_caught_up_is_withheld_even_when_due_and_handed_out_once_it_is() {
    // A restarted applier reads its held directives again: partition 2 not yet to its end.
    let mut plans = PendingPlans::default();
    plans.caught_up(0);
    plans.arrive(&directive("shop", 0, 3, vec![step(10, 6)]), 2, 40);
    plans.arrive(&directive("blog", 0, 3, vec![step(10, 8)]), 0, 7);
    let due = plans.due(100 * S);
    assert_eq!(
        due.iter().map(|d| d.plan_of.as_str()).collect::<Vec<_>>(),
        vec!["blog-0"],
        "only the caught-up partition's step"
    );
    assert!(plans.due(200 * S).is_empty(), "still withheld");
    assert_eq!(
        plans.hold(2).map(|h| h.offset),
        Some(40),
        "a withheld step keeps its directive held"
    );
    plans.caught_up(2);
    let due = plans.due(200 * S);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].plan_of, "shop-0");
    assert_eq!(due[0].due_at_ms, 10 * S);
    assert_eq!(replicas_of(&due[0].step), 6);
}

#[test]
fn a_directive_handed_over_without_a_partition_falls_due_by_the_clock_at_once() {
    // nothing is read again without a partition, so there is nothing to catch up with
    let mut plans = PendingPlans::default();
    plans.arrive(&directive("shop", 0, 3, vec![step(10, 6)]), -1, i64::MAX);
    assert_eq!(plans.due(100 * S).len(), 1);
    // while a held partition's plan waits for its partition to catch up
    plans.arrive(&directive("cart", 0, 3, vec![step(10, 6)]), 0, 1);
    assert!(plans.due(100 * S).is_empty());
}

#[test]
fn a_partition_revoked_and_assigned_again_catches_up_again_before_its_steps_fall_due() {
    let mut plans = caught_up_plans();
    let d = directive("shop", 0, 3, vec![step(10, 6)]);
    plans.arrive(&d, 0, 1);
    assert_eq!(plans.forget_partition(0), vec!["shop".to_string()]);
    plans.arrive(&d, 0, 1);
    assert!(
        plans.due(100 * S).is_empty(),
        "read again, not yet to its end"
    );
    plans.caught_up(0);
    assert_eq!(plans.due(100 * S).len(), 1);
}

#[test]
fn a_superseding_directive_read_before_the_partition_caught_up_cancels_the_step_as_the_shared_schedule_says(
) {
    // D1 (06:00) sets replicas 6 and memory 512 and plans replicas 14 at 06:50; D2 (06:30),
    // of another policy, names memory only, and was issued before the step fell due: the step
    // never takes effect. The applier restarts at 07:05 and reads D1 again (held), with the
    // clock ticking between batches, then D2, then reaches the partition's end.
    let d1 = replicas_6_memory_512_planning_replicas_14_at_0650();
    let d2 = naming(6 * HOUR + 30 * 60, &[("memory_mb", 1024)], vec![]);
    let now = (7 * HOUR + 5 * 60) * S;
    let mut plans = PendingPlans::default();
    let mut settings = carry_out_batch(&mut plans, &[&d1], &[now]);
    if let Some(due) = plans.due_before(&d2) {
        settings.push((due.due_at_ms, targets_of(&due.step)));
    }
    settings.push((d2.issued_at_ms, targets_of(&d2)));
    let arrival = plans.arrive(&d2, 0, 1);
    assert_eq!(
        arrival.replaced.map(|r| r.never_due),
        Some(vec![(6 * HOUR + 50 * 60) * S]),
        "the step was still pending when D2 was read, and D2 cancelled it"
    );
    plans.caught_up(0);
    for due in plans.due(now + S) {
        settings.push((due.due_at_ms, targets_of(&due.step)));
    }
    assert_settings_follow_the_schedule(&settings, &[&d1, &d2]);
    assert_eq!(
        changes_of(&settings, "replicas"),
        vec![(6 * HOUR * S, 6)],
        "replicas stays at D1's 6: the step is never applied"
    );
    assert_eq!(plans.hold(0), None, "nothing left pending");
}
