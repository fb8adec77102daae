//! Plans (`plan: { ahead }`): a directive schedules the targets its forecast's path needs after
//! the lead instant. On real demand (England and Wales, half-hourly, `../shared/data`) with
//! "perfect" forecasts, a plan made at midnight equals what the planner would have decided at
//! each later half hour from the same path: same instants, same targets, through stabilization,
//! step limits, cooldown, floors and max. A newer forecast supersedes it; steps that fell due
//! before it count as the target in force.

mod common;

use std::sync::Arc;

use common::{demand, forecast, observed};
use presage_events::plan::{schedule, TargetChange};
use presage_events::ScalingDirective;
use presage_planner::Planner;
use presage_template::Template;

const HOUR: i64 = 3_600_000;

/// The test app with a 24h forecast of `mw`, so a plan can reach 12h ahead.
fn template(policies: &[&str]) -> Template {
    let mut yaml = String::from(
        "app: grid\ndynamic_metadata:\n  sources: [{ id: g, kind: prometheus, url: \"http://x/metrics\" }]\n  metric_recipes: [{ name: mw, from: g.mw, window: { tumble: 30m } }]\n  prediction_algorithms: [{ target: mw, horizon: 24h, models: [naive] }]\n  scaling_policies:\n",
    );
    for p in policies {
        yaml.push_str(&format!("    - {p}\n"));
    }
    presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn planner(policies: &[&str]) -> Planner {
    let mut planner = Planner::new();
    planner.set_template("v1", Arc::new(template(policies)));
    planner
}

fn with_plan(policy: &str, ahead: &str) -> String {
    format!(
        "{}, plan: {{ ahead: {ahead} }} }}",
        policy.trim_end_matches('}').trim_end()
    )
}

/// Every change of `resource` from `directives`, up to `until_ms`.
fn changes(directives: &[ScalingDirective], resource: &str, until_ms: i64) -> Vec<TargetChange> {
    schedule(directives, resource)
        .into_iter()
        .filter(|c| c.at_ms <= until_ms)
        .collect()
}

/// A plan from one forecast at `trace[0]` against decisions at every half hour after it on the
/// same path (forecasts cut from the same trace), for `ahead` hours.
fn plan_against_every_window(
    policy: &str,
    start: &str,
    ahead_h: i64,
) -> (Vec<TargetChange>, Vec<TargetChange>, Vec<ScalingDirective>) {
    let trace = demand(start, 96);
    let mut planned = planner(&[&with_plan(policy, &format!("{ahead_h}h"))]);
    let one = planned.on_forecast(&forecast(&trace, 0, 48)).unwrap();
    assert_eq!(one.len(), 1, "{one:?}");
    let mut every = planner(&[policy]);
    let windows: Vec<ScalingDirective> = (0..(ahead_h as usize * 2))
        .flat_map(|i| every.on_forecast(&forecast(&trace, i, 48)).unwrap())
        .collect();
    // the plan's last instant is due `lead` before issue + ahead
    let lead = 30 * 60_000;
    let until = trace[0].0 + ahead_h * HOUR - lead;
    (
        changes(&one, "replicas", until),
        changes(&windows, "replicas", until),
        one,
    )
}

const MEAN: &str =
    "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, lead_time: 30m, min: 1, max: 40 }";

#[test]
fn a_ramp_is_planned_a_lead_ahead_of_each_instant_exactly_as_later_decisions_would_set_it() {
    // Monday 2000-06-05 from 00:00: the night's trough, then the morning ramp to ~36 GW
    let (plan, every, one) = plan_against_every_window(MEAN, "2000-06-05T00:00:00Z", 12);
    assert_eq!(plan, every);
    let d = &one[0];
    assert!(
        d.plan.len() >= 5,
        "a morning ramp takes several steps: {:?}",
        d.plan
    );
    let trace = demand("2000-06-05T00:00:00Z", 48);
    for step in &d.plan {
        assert_eq!(
            step.due_at_ms,
            step.effective_at_ms - 30 * 60_000,
            "{step:?}"
        );
        let value = trace
            .iter()
            .find(|(at, _)| *at == step.effective_at_ms)
            .unwrap()
            .1;
        assert_eq!(step.targets.len(), 1);
        assert_eq!(
            step.targets[0].target,
            (value / 2000.0).ceil() as i64,
            "{step:?}"
        );
        assert_eq!(step.targets[0].forecast_value, value);
    }
    // steps only where the target changes
    let mut previous = d.target;
    for step in &d.plan {
        assert_ne!(step.targets[0].target, previous, "{:?}", d.plan);
        previous = step.targets[0].target;
    }
    // the morning's highest target is due half an hour before the demand that needs it
    let peak = d.plan.iter().max_by_key(|s| s.targets[0].target).unwrap();
    assert!(peak.targets[0].target >= 17, "{peak:?}");
    assert!(d.reason.contains("plan replicas"), "{}", d.reason);
}

#[test]
fn the_falling_side_obeys_stabilization_step_limits_and_cooldown() {
    // Monday evening 16:00 to Tuesday 04:00: demand falls from the evening peak
    let policy = "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, lead_time: 30m, min: 1, max: 40, stabilization: { down: 2h }, max_step_down: 1, cooldown: 1h }";
    let (plan, every, one) = plan_against_every_window(policy, "2000-06-05T16:00:00Z", 12);
    assert_eq!(plan, every);
    let downs: Vec<&TargetChange> = plan
        .windows(2)
        .filter(|w| w[1].target < w[0].target)
        .map(|w| &w[1])
        .collect();
    assert!(downs.len() >= 3, "{plan:?}");
    for w in plan.windows(2) {
        assert!(
            w[0].target - w[1].target <= 1,
            "one unit down at a time: {plan:?}"
        );
        if w[1].target < w[0].target {
            assert!(w[1].at_ms - w[0].at_ms >= HOUR, "cooldown: {plan:?}");
        }
    }
    // without the limits the plan falls faster: the limits were applied, not skipped
    let (fast, _, _) = plan_against_every_window(MEAN, "2000-06-05T16:00:00Z", 12);
    assert!(
        fast.last().unwrap().target < plan.last().unwrap().target,
        "{fast:?} vs {plan:?}"
    );
    assert!(one[0]
        .plan
        .iter()
        .all(|s| s.due_at_ms > one[0].issued_at_ms));
}

#[test]
fn floors_and_max_hold_along_the_plan() {
    // a floor of 30 from 07:00 for 2h (UTC), and max 16
    let policy = "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, lead_time: 30m, min: 1, max: 16, schedule: [{ cron: \"0 7 * * *\", for: 2h, min: 30 }] }";
    let policy = policy.replace("min: 30", "min: 16");
    let (plan, every, _) = plan_against_every_window(&policy, "2000-06-05T00:00:00Z", 12);
    assert_eq!(plan, every);
    assert!(plan.iter().all(|c| c.target <= 16), "{plan:?}");
    let seven = demand("2000-06-05T07:00:00Z", 1)[0].0;
    let at = |t: i64| plan.iter().rev().find(|c| c.at_ms <= t).unwrap().target;
    assert_eq!(at(seven), 16, "the floor is in force from 07:00: {plan:?}");
    assert_eq!(at(seven + 2 * HOUR - 1), 16);
}

#[test]
fn no_step_and_no_new_directive_when_nothing_changes() {
    // 20 GW a unit: the whole night and morning need 1 or 2 units; with min 2 nothing changes
    let policy = "{ resource: replicas, metric: mw, per_unit: 20000, use: mean, lead_time: 30m, min: 2, max: 40, plan: { ahead: 6h } }";
    let trace = demand("2000-06-05T00:00:00Z", 60);
    let mut p = planner(&[policy]);
    let first = p.on_forecast(&forecast(&trace, 0, 48)).unwrap();
    assert_eq!(first.len(), 1);
    assert!(first[0].plan.is_empty(), "{:?}", first[0].plan);
    assert!(!first[0].reason.contains("plan"), "{}", first[0].reason);
    for i in 1..6 {
        assert!(p.on_forecast(&forecast(&trace, i, 48)).unwrap().is_empty());
    }
}

#[test]
fn a_newer_forecast_supersedes_the_plan_and_counts_the_steps_already_due() {
    let trace = demand("2000-06-05T04:00:00Z", 96);
    let policy = with_plan(MEAN, "12h");
    let mut p = planner(&[&policy]);
    let first = p.on_forecast(&forecast(&trace, 0, 48)).unwrap().remove(0);
    // the forecaster is out for three hours of the ramp; the next forecast comes at 07:00
    let seven = 6;
    let next = p.on_forecast(&forecast(&trace, seven, 48)).unwrap();
    let in_force = first.target_at("replicas", trace[seven].0).unwrap();
    assert_ne!(
        in_force, first.target,
        "the ramp moved the target meanwhile"
    );
    // the same path, but the 07:00 plan reaches three hours further than the first: a new
    // directive, whose previous target is the one the first plan's steps put in force
    {
        let d = next
            .first()
            .expect("a directive for the plan that reaches further");
        assert_eq!(d.previous_target, Some(in_force), "{}", d.reason);
        let both = [first.clone(), d.clone()];
        let changes = schedule(&both, "replicas");
        assert!(changes
            .iter()
            .all(|c| c.at_ms < trace[seven].0 || c.at_ms >= d.issued_at_ms));
        // nothing of the first plan after the second directive
        for c in changes.iter().filter(|c| c.at_ms > d.issued_at_ms) {
            assert!(
                d.plan.iter().any(|s| s.due_at_ms == c.at_ms),
                "{c:?} not from {:?}",
                d.plan
            );
        }
    }
    // a different path at 07:00 (demand halved): a new directive, whose plan replaces the old
    let mut halved = forecast(&trace, seven, 48);
    halved.event_id = "halved".into();
    for point in &mut halved.points {
        point.point /= 2.0;
        point.lower /= 2.0;
        point.upper /= 2.0;
    }
    let mut q = planner(&[&policy]);
    let first = q.on_forecast(&forecast(&trace, 0, 48)).unwrap().remove(0);
    let second = q.on_forecast(&halved).unwrap().remove(0);
    assert_eq!(
        second.previous_target,
        first.target_at("replicas", second.issued_at_ms)
    );
    let changes = schedule([&first, &second], "replicas");
    let after: Vec<i64> = changes
        .iter()
        .filter(|c| c.at_ms > second.issued_at_ms)
        .map(|c| c.at_ms)
        .collect();
    let second_steps: Vec<i64> = second.plan.iter().map(|s| s.due_at_ms).collect();
    assert!(
        after.iter().all(|a| second_steps.contains(a)),
        "{after:?} vs {second_steps:?}"
    );
}

#[test]
fn a_restarted_planner_reads_the_plan_back_and_decides_as_the_uninterrupted_one() {
    let trace = demand("2000-06-05T02:00:00Z", 96);
    let policy = with_plan(MEAN, "8h");
    let mut live = planner(&[&policy]);
    let mut published = Vec::new();
    // forecasts every two hours: steps fall due between them
    for i in (0..24).step_by(4) {
        let decided = live.on_forecast(&forecast(&trace, i, 48)).unwrap();
        published.extend(decided.clone());
        // a planner restarted now reads back what was published and takes the next forecast
        let mut restarted = planner(&[&policy]);
        for d in &published {
            restarted.remember_directive(d);
        }
        let mut uninterrupted = clone_by_replay(&policy, &trace, i);
        let a = uninterrupted
            .on_forecast(&forecast(&trace, i + 4, 48))
            .unwrap();
        let b = restarted.on_forecast(&forecast(&trace, i + 4, 48)).unwrap();
        assert_eq!(a, b, "after the forecast at {i}");
    }
    assert!(published.iter().any(|d| !d.plan.is_empty()));
}

/// A planner that took the same forecasts (every 4th window up to `upto`) as the live one.
fn clone_by_replay(policy: &str, trace: &[(i64, f64)], upto: usize) -> Planner {
    let mut p = planner(&[policy]);
    for i in (0..=upto).step_by(4) {
        p.on_forecast(&forecast(trace, i, 48)).unwrap();
    }
    p
}

#[test]
fn resources_decided_together_share_one_step_per_instant() {
    let trace = demand("2000-06-05T00:00:00Z", 60);
    let mut p = planner(&[
        &with_plan(MEAN, "12h"),
        "{ resource: memory_mb, metric: mw, per_unit: 10, use: mean, lead_time: 30m, min: 1, max: 100000, plan: { ahead: 12h } }",
    ]);
    let d = p.on_forecast(&forecast(&trace, 0, 48)).unwrap().remove(0);
    let mut dues: Vec<i64> = d.plan.iter().map(|s| s.due_at_ms).collect();
    dues.dedup();
    assert_eq!(
        dues.len(),
        d.plan.len(),
        "one step per instant: {:?}",
        d.plan
    );
    assert!(d.plan.iter().any(|s| s.targets.len() == 2), "{:?}", d.plan);
    for resource in ["replicas", "memory_mb"] {
        let mut previous = d.target_at(resource, d.issued_at_ms).unwrap();
        for step in &d.plan {
            if let Some(t) = step.targets.iter().find(|t| t.resource == resource) {
                assert_ne!(t.target, previous, "{resource} listed without a change");
                previous = t.target;
            }
        }
    }
}

#[test]
fn an_slo_record_pairs_each_window_with_the_plan_point_that_provisioned_it() {
    // forecasts only every two hours; between them the plan's steps set the target, so the
    // windows they provisioned are scored against the plan's points
    let trace = demand("2000-06-05T00:00:00Z", 150);
    let slo = "{ resource: replicas, metric: mw, per_unit: 2000, lead_time: 30m, min: 1, max: 40, target: { under_provisioned: 5%, window: 1d } }";
    let run = |policy: &str| {
        let mut p = planner(&[policy]);
        let mut published = Vec::new();
        for i in 0..100 {
            p.on_observed(&observed(&trace, i)).unwrap();
            if i % 4 == 0 {
                published.extend(p.on_forecast(&forecast(&trace, i, 48)).unwrap());
            }
        }
        (p.record_entries().0, published.pop().expect("directives"))
    };
    let (points_single, single) = run(slo);
    let (points_planned, planned) = run(&with_plan(slo, "12h"));
    eprintln!(
        "{points_single} {points_planned}\n{}\n{}",
        single.reason, planned.reason
    );
    // one point a forecast without a plan; every window up to 12h ahead with one
    assert!(points_single <= 26, "{points_single}");
    assert!(
        points_planned >= 4 * points_single - 8,
        "{points_planned} vs {points_single}"
    );
    // a day of windows, each paired: enough for a calibrated 5% (19 needed); without the
    // plan's points, 12 a day are not
    assert!(
        planned.reason.contains("conformal quantile of"),
        "{}",
        planned.reason
    );
    assert!(
        !single.reason.contains("conformal quantile of"),
        "{}",
        single.reason
    );
}
