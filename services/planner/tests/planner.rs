//! Scaling policies on forecasts cut from real demand (England and Wales, half-hourly, from
//! `../shared/data/taylor-demand.csv`). Forecasts here are "perfect": each point is the demand
//! that actually followed, with bounds of ±5%, so every expected target is the trace's value over
//! `per_unit`, worked out by hand in the comments.

mod common;

use common::{demand, forecast, observed, planner, run, target_at};
use std::sync::Arc;

use presage_events::ScalingDirective;
use presage_planner::PlanError;

fn first_time_at_or_above(directives: &[ScalingDirective], target: i64) -> i64 {
    directives
        .iter()
        .find(|d| d.target >= target)
        .map(|d| d.issued_at_ms)
        .unwrap()
}

#[test]
fn lead_time_moves_the_scale_up_earlier_by_exactly_the_lead() {
    // Monday 2000-06-05 05:00–11:00: the morning ramp from about 22 GW to 36 GW
    let trace = demand("2000-06-05T05:00:00Z", 12);
    let now = run(
        &mut planner(&[
            "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40 }",
        ]),
        &trace,
        6,
    );
    let ahead = run(
        &mut planner(&["{ resource: replicas, metric: mw, per_unit: 2000, use: mean, lead_time: 1h, min: 1, max: 40 }"]),
        &trace,
        6,
    );
    // without a lead the target is ceil(demand now / 2000); with 1h it is that of an hour later
    for (i, (at, v)) in trace.iter().enumerate().take(10) {
        assert_eq!(target_at(&now, *at), (v / 2000.0).ceil() as i64);
        assert_eq!(
            target_at(&ahead, *at),
            (trace[i + 2].1 / 2000.0).ceil() as i64
        );
    }
    let peak = now.iter().map(|d| d.target).max().unwrap();
    assert_eq!(
        first_time_at_or_above(&now, peak) - first_time_at_or_above(&ahead, peak),
        3_600_000
    );
}

#[test]
fn quantiles_are_read_from_the_interval() {
    // p95 of a 90% interval is its upper bound; p50 is the mean
    let trace = demand("2000-06-05T09:00:00Z", 1);
    let v = trace[0].1;
    let p95 = run(
        &mut planner(&[
            "{ resource: replicas, metric: mw, per_unit: 1000, use: p95, min: 1, max: 100 }",
        ]),
        &trace,
        1,
    );
    let p50 = run(
        &mut planner(&[
            "{ resource: replicas, metric: mw, per_unit: 1000, use: p50, min: 1, max: 100 }",
        ]),
        &trace,
        1,
    );
    assert!(
        (p95[0].forecast_value - v * 1.05).abs() < 1e-6 * v,
        "{}",
        p95[0].forecast_value
    );
    assert!((p50[0].forecast_value - v).abs() < 1e-6 * v);
}

#[test]
fn step_limits_bound_each_change() {
    // 05:00 demand 22262 MW? the first target is free; later ones move at most +2 / −1
    let trace = demand("2000-06-05T05:00:00Z", 12);
    let directives = run(
        &mut planner(&["{ resource: replicas, metric: mw, per_unit: 1000, use: mean, min: 1, max: 60, max_step_up: 2, max_step_down: 1 }"]),
        &trace,
        1,
    );
    assert_eq!(directives[0].target, (trace[0].1 / 1000.0).ceil() as i64);
    for pair in directives.windows(2) {
        let change = pair[1].target - pair[0].target;
        assert!((-1..=2).contains(&change), "{change}: {}", pair[1].reason);
        assert_eq!(pair[1].previous_target, Some(pair[0].target));
    }
    // the ramp needs more than +2 per half-hour somewhere: the limit shows in the reason
    assert!(directives
        .iter()
        .any(|d| d.reason.contains("step up limited to +2")));
}

#[test]
fn stabilization_stops_flapping_on_a_noisy_series() {
    // Demand in a flat stretch of the night with per_unit chosen so the need hovers around a
    // boundary: without stabilization the target flaps, with a 2h down window it does not.
    let trace = demand("2000-06-06T00:00:00Z", 16);
    let changes = |directives: &[ScalingDirective]| directives.len() - 1;
    let flappy = run(
        &mut planner(&[
            "{ resource: replicas, metric: mw, per_unit: 500, use: mean, min: 1, max: 100 }",
        ]),
        &trace,
        1,
    );
    let calm = run(
        &mut planner(&["{ resource: replicas, metric: mw, per_unit: 500, use: mean, min: 1, max: 100, stabilization: { down: 2h } }"]),
        &trace,
        1,
    );
    let downs = |directives: &[ScalingDirective]| {
        directives
            .windows(2)
            .filter(|w| w[1].target < w[0].target)
            .count()
    };
    assert!(
        downs(&flappy) >= 2,
        "the night should flap: {:?}",
        flappy.iter().map(|d| d.target).collect::<Vec<_>>()
    );
    assert!(changes(&calm) < changes(&flappy));
    // HPA: a scale-down takes the highest recommendation of the last 2h
    for d in &calm {
        if d.previous_target.is_some_and(|p| d.target < p) {
            let highest = trace
                .iter()
                .filter(|(at, _)| (d.issued_at_ms - 7_200_000..=d.issued_at_ms).contains(at))
                .map(|(_, v)| (v / 500.0).ceil() as i64)
                .max()
                .unwrap();
            assert_eq!(d.target, highest, "{}", d.reason);
        }
    }
}

#[test]
fn a_scheduled_floor_holds_capacity_through_its_window() {
    // weekdays from 08:00 for 10h at least 30 units, whatever the forecast says
    let trace = demand("2000-06-05T06:00:00Z", 28); // Monday 06:00 to 19:30
    let directives = run(
        &mut planner(&["{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40, schedule: [{ cron: \"0 8 * * MON-FRI\", for: 10h, min: 30 }] }"]),
        &trace,
        1,
    );
    let in_force = |at: i64| target_at(&directives, at);
    let hour = |h: i64| trace[0].0 + (h - 6) * 3_600_000;
    // 07:30: demand / 2000 rounded up, no floor yet
    assert_eq!(
        in_force(hour(7) + 1_800_000),
        (trace[3].1 / 2000.0).ceil() as i64
    );
    // 08:00 to 17:30: at least 30
    for h in 8..18 {
        assert!(in_force(hour(h)) >= 30, "{h}:00");
    }
    // 18:00: the window closed; back to the demand
    assert_eq!(in_force(hour(18)), (trace[24].1 / 2000.0).ceil() as i64);
    assert!(directives
        .iter()
        .any(|d| d.reason.contains("scheduled floor 30")));
}

#[test]
fn several_resources_are_combined_into_one_directive_and_max_is_held_and_marked() {
    let trace = demand("2000-06-05T12:00:00Z", 1);
    let v = trace[0].1;
    let mut p = planner(&[
        "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 10 }",
        "{ resource: memory_mb, metric: mw, per_unit: 10, use: mean, min: 512, max: 8192 }",
    ]);
    let directives = run(&mut p, &trace, 1);
    assert_eq!(directives.len(), 1);
    let d = &directives[0];
    assert_eq!(d.mode, "live");
    assert_eq!(d.targets.len(), 2);
    // replicas: ceil(v / 2000) is more than 10 → held at 10 and marked
    assert!((v / 2000.0).ceil() > 10.0);
    assert_eq!(
        (
            d.targets[0].resource.as_str(),
            d.targets[0].target,
            d.targets[0].at_max
        ),
        ("replicas", 10, true)
    );
    assert!(
        d.targets[0].reason.contains("held at max 10"),
        "{}",
        d.targets[0].reason
    );
    // memory: ceil(v / 10) MB
    assert_eq!(d.targets[1].target, ((v / 10.0).ceil() as i64).min(8192));
    assert_eq!((d.resource.as_str(), d.target), ("replicas", 10));
    assert_eq!(
        (d.forecast_id.as_str(), d.model.as_str(), d.model_score),
        ("f0", "mstl", Some(0.42))
    );
    assert_eq!(d.lineage, vec!["f0".to_string(), "d0".to_string()]);
}

#[test]
fn shadow_policies_publish_their_own_directives_with_mode_shadow() {
    let trace = demand("2000-06-05T05:00:00Z", 4);
    let mut p = planner(&[
        "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40 }",
        "{ resource: replicas, metric: mw, per_unit: 1500, use: upper, min: 1, max: 40, shadow: true }",
    ]);
    let directives = run(&mut p, &trace, 1);
    let live: Vec<_> = directives.iter().filter(|d| d.mode == "live").collect();
    let shadow: Vec<_> = directives.iter().filter(|d| d.mode == "shadow").collect();
    assert_eq!(live[0].target, (trace[0].1 / 2000.0).ceil() as i64);
    assert_eq!(shadow[0].target, (trace[0].1 * 1.05 / 1500.0).ceil() as i64);
    assert_ne!(live[0].event_id, shadow[0].event_id);
    // the live decisions are what they would be without the shadow policy
    let alone = run(
        &mut planner(&[
            "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40 }",
        ]),
        &trace,
        1,
    );
    assert_eq!(live.len(), alone.len());
    for (a, b) in live.iter().zip(&alone) {
        assert_eq!(
            (a.event_id.as_str(), a.target),
            (b.event_id.as_str(), b.target)
        );
    }
}

#[test]
fn directive_ids_are_stable_across_a_restart() {
    let trace = demand("2000-06-05T05:00:00Z", 8);
    let policy = "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40 }";
    let first = run(&mut planner(&[policy]), &trace, 1);
    let again = run(&mut planner(&[policy]), &trace, 1);
    assert_eq!(first, again);
    assert!(first.len() > 2);
}

#[test]
fn an_unknown_app_is_an_error() {
    let trace = demand("2000-06-05T05:00:00Z", 1);
    let mut stray = forecast(&trace, 0, 1);
    stray.app = "nobody".into();
    assert_eq!(
        planner(&[]).on_forecast(&stray),
        Err(PlanError::UnknownApp("nobody".into()))
    );
}

const WITH_FALLBACK: &str = "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40, fallback: { stale_after: 40m, max_score: 1.5, headroom: 0.2 } }";

#[test]
fn without_any_forecast_the_observed_metric_with_headroom_decides_and_says_so() {
    let trace = demand("2000-06-05T09:00:00Z", 3);
    let mut p = planner(&[WITH_FALLBACK]);
    // a planner that just started waits stale_after (40m) of observations for a forecast
    assert!(p.on_observed(&observed(&trace, 0)).unwrap().is_empty());
    assert!(p.on_observed(&observed(&trace, 1)).unwrap().is_empty());
    let directives = p.on_observed(&observed(&trace, 2)).unwrap();
    assert_eq!(directives.len(), 1);
    let d = &directives[0];
    // ceil(v × 1.2 / 2000)
    assert_eq!(d.target, (trace[2].1 * 1.2 / 2000.0).ceil() as i64);
    assert!(d.fallback);
    assert!(
        d.reason.contains("fell back (no forecast yet)"),
        "{}",
        d.reason
    );
    assert!(d.targets[0].policy.ends_with("fallback:reactive"));
    assert_eq!(d.lineage, vec!["d2".to_string()]);
}

#[test]
fn a_fresh_forecast_leaves_the_observed_metric_alone_and_a_stale_one_falls_back() {
    let trace = demand("2000-06-05T06:00:00Z", 6);
    let mut p = planner(&[WITH_FALLBACK]);
    // a forecast issued at 06:00 (the end of the 05:30 window), then only observations
    assert_eq!(p.on_forecast(&forecast(&trace, 0, 1)).unwrap().len(), 1);
    // the 06:00 and 06:30 windows start 0 and 30 minutes after it: within stale_after 40m
    assert!(p.on_observed(&observed(&trace, 0)).unwrap().is_empty());
    assert!(p.on_observed(&observed(&trace, 1)).unwrap().is_empty());
    // the 07:00 window starts 60 minutes after it: stale
    let stale = p.on_observed(&observed(&trace, 2)).unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].fallback);
    assert!(
        stale[0]
            .reason
            .contains("forecast stale: last issued 3600s ago"),
        "{}",
        stale[0].reason
    );
    assert_eq!(stale[0].target, (trace[2].1 * 1.2 / 2000.0).ceil() as i64);
}

#[test]
fn a_forecast_whose_model_scored_badly_is_not_acted_on_and_the_fallback_decides() {
    let trace = demand("2000-06-05T06:00:00Z", 2);
    let mut p = planner(&[WITH_FALLBACK]);
    let mut bad = forecast(&trace, 0, 1);
    bad.score = Some(2.3);
    assert!(p.on_forecast(&bad).unwrap().is_empty());
    let fallback = p.on_observed(&observed(&trace, 0)).unwrap();
    assert_eq!(fallback.len(), 1, "{fallback:?}");
    assert!(fallback[0].fallback);
    assert_eq!(
        fallback[0].target,
        (trace[0].1 * 1.2 / 2000.0).ceil() as i64
    );
    assert!(
        fallback[0]
            .reason
            .contains("not trusted: MASE 2.30 over 1.5"),
        "{}",
        fallback[0].reason
    );
}

#[test]
fn a_reordered_template_keeps_each_policy_with_its_own_state() {
    let trace = demand("2000-06-05T06:00:00Z", 2);
    let live = "{ resource: replicas, metric: mw, per_unit: 100, use: mean, min: 1, max: 1000, max_step_down: 1 }";
    let shadow = "{ resource: replicas, metric: mw, per_unit: 10, use: mean, min: 1, max: 10000, shadow: true }";
    let mut p = planner(&[live, shadow]);
    let first = run(&mut p, &trace[..1], 1);
    let live_target = first.iter().find(|d| d.mode == "live").unwrap().target;
    // the same policies in the other order: the live one remembers its own target
    let reordered = presage_template::parse(
        &format!(
            "app: grid\ndynamic_metadata:\n  sources: [{{ id: g, kind: prometheus, url: \"http://x/metrics\" }}]\n  metric_recipes: [{{ name: mw, from: g.mw, window: {{ tumble: 30m }} }}]\n  scaling_policies:\n    - {shadow}\n    - {live}\n"
        ),
        "t.yaml",
    )
    .unwrap();
    p.set_template("v2", Arc::new(reordered));
    let next = p.on_forecast(&forecast(&trace, 1, 1)).unwrap();
    let live_next = next.iter().find(|d| d.mode == "live").unwrap();
    assert_eq!(live_next.previous_target, Some(live_target));
    assert_eq!(live_next.target, (trace[1].1 / 100.0).ceil() as i64);
}

#[test]
fn a_scheduled_floor_lasts_its_window_even_with_a_long_down_stabilization() {
    // floor 40 from 08:00 for 1h, down window 2h: at 09:00 the floor is gone and the 2h of
    // history holds only recommendations from demand (never the floor)
    let trace = demand("2000-06-05T07:00:00Z", 8);
    let directives = run(
        &mut planner(&["{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 60, stabilization: { down: 2h }, schedule: [{ cron: \"0 8 * * *\", for: 1h, min: 40 }] }"]),
        &trace,
        1,
    );
    let at_sample = |i: usize| target_at(&directives, trace[i].0);
    assert_eq!(at_sample(2), 40, "08:00");
    assert_eq!(at_sample(3), 40, "08:30");
    // 09:00: the highest recommendation of the last 2h, from demand alone
    let highest = trace[..=4]
        .iter()
        .map(|(_, v)| (v / 2000.0).ceil() as i64)
        .max()
        .unwrap();
    assert_eq!(at_sample(4), highest);
    assert!(highest < 40);
}

#[test]
fn a_restarted_planner_that_read_back_its_directives_keeps_step_limits_and_cooldown() {
    let trace = demand("2000-06-05T05:00:00Z", 12);
    let policy = "{ resource: replicas, metric: mw, per_unit: 1000, use: mean, min: 1, max: 60, max_step_up: 2, max_step_down: 1, cooldown: 2h }";
    let mut uninterrupted = planner(&[policy]);
    let all = run(&mut uninterrupted, &trace, 1);
    // restart after 6 forecasts: the new planner reads back the directives published so far
    let cut = 6;
    let before: Vec<&ScalingDirective> = all
        .iter()
        .filter(|d| d.issued_at_ms < trace[cut].0)
        .collect();
    let mut restarted = planner(&[policy]);
    for d in &before {
        restarted.remember_directive(d);
    }
    let after: Vec<ScalingDirective> = (cut..trace.len())
        .flat_map(|i| restarted.on_forecast(&forecast(&trace, i, 1)).unwrap())
        .collect();
    let expected: Vec<&ScalingDirective> = all
        .iter()
        .filter(|d| d.issued_at_ms >= trace[cut].0)
        .collect();
    assert_eq!(after.len(), expected.len());
    for (got, want) in after.iter().zip(expected) {
        assert_eq!(
            (got.event_id.as_str(), got.target, got.previous_target),
            (want.event_id.as_str(), want.target, want.previous_target)
        );
    }
    // a planner that forgot would jump straight to the demand on its first forecast
    let mut amnesiac = planner(&[policy]);
    let fresh = amnesiac.on_forecast(&forecast(&trace, cut, 1)).unwrap();
    assert_eq!(fresh[0].previous_target, None);
}

/// Spans longer than `i64::MAX` milliseconds parse (they fit the template's u64), and every
/// place the planner adds or subtracts them saturates: no overflow panic, no span turned
/// negative (a floor that never opens, a lead time pointing into the past).
#[test]
fn spans_longer_than_event_time_can_hold_saturate_instead_of_wrapping() {
    let forever = "200000000000d"; // about 1.7e19 ms: more than i64::MAX
    let mut planner = planner(&[&format!(
        "{{ resource: replicas, metric: mw, per_unit: 2000, lead_time: {forever}, min: 1, max: 40, \
           cooldown: {forever}, stabilization: {{ up: {forever}, down: {forever} }}, \
           schedule: [{{ cron: \"* * * * *\", for: {forever}, min: 30 }}] }}"
    )]);
    let trace = demand("2000-06-05T00:00:00Z", 8);
    let directives = run(&mut planner, &trace, 4);
    assert!(!directives.is_empty());
    // The floor opened every minute lasts for ever: it holds every target at 30 or above.
    assert!(
        directives.iter().all(|d| d.target >= 30),
        "{:?}",
        directives.iter().map(|d| d.target).collect::<Vec<_>>()
    );
}
