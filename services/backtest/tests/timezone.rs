//! The baselines a backtest scores against hold the policy's scheduled floors on the template's
//! clock, as the live planner does: `0 7 * * 1-5` for 10h in Europe/London opens at 06:00 UTC
//! on the first Monday of British Summer Time.

use presage_backtest::baseline::{oracle, reactive};
use presage_backtest::capacity::Action;
use presage_backtest::report::DemandStep;
use presage_template::calendar::parse_timestamp;
use presage_template::{ScalingPolicy, Zone};

const HALF_HOUR: i64 = 1_800_000;

fn at(text: &str) -> i64 {
    parse_timestamp(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
}

fn policy() -> ScalingPolicy {
    let yaml = "app: a\ndynamic_metadata:\n  sources: [{ id: g, kind: prometheus, url: \"http://x/metrics\" }]\n  metric_recipes: [{ name: mw, from: g.mw, window: { tumble: 30m } }]\n  scaling_policies:\n    - { resource: replicas, metric: mw, per_unit: 2000, min: 1, max: 40, schedule: [{ cron: \"0 7 * * 1-5\", for: 10h, min: 30 }] }\n";
    let template = presage_template::parse(yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    template.dynamic_metadata.scaling_policies[0].clone()
}

/// A steady 10 GW (5 units) in half-hour windows through Monday 2026-03-30, 04:00 to 18:00 UTC.
fn demand() -> Vec<DemandStep> {
    (at("2026-03-30T04:00:00Z")..at("2026-03-30T18:00:00Z"))
        .step_by(HALF_HOUR as usize)
        .map(|start| DemandStep {
            start_ms: start,
            end_ms: start + HALF_HOUR,
            value: 10_000.0,
        })
        .collect()
}

/// The target in force at `t`.
fn target_at(actions: &[Action], t: &str) -> i64 {
    actions
        .iter()
        .rev()
        .find(|a| a.at_ms <= at(t))
        .unwrap_or_else(|| panic!("no action by {t}"))
        .target
}

#[test]
fn the_oracle_holds_the_floor_on_the_local_clock() {
    let london: Zone = "Europe/London".parse().unwrap();
    let actions = oracle(&policy(), london, &demand());
    assert_eq!(target_at(&actions, "2026-03-30T05:30:00Z"), 5);
    assert_eq!(target_at(&actions, "2026-03-30T06:00:00Z"), 30);
    assert_eq!(target_at(&actions, "2026-03-30T15:30:00Z"), 30);
    assert_eq!(target_at(&actions, "2026-03-30T16:00:00Z"), 5);
    // Read in UTC, the floor opens an hour later.
    let actions = oracle(&policy(), Zone::UTC, &demand());
    assert_eq!(target_at(&actions, "2026-03-30T06:00:00Z"), 5);
    assert_eq!(target_at(&actions, "2026-03-30T07:00:00Z"), 30);
}

#[test]
fn the_reactive_baseline_holds_the_floor_on_the_local_clock() {
    let london: Zone = "Europe/London".parse().unwrap();
    // Decided at each window's end: the window ending at 06:00 UTC is the first in the floor.
    let actions = reactive(&policy(), london, &demand());
    assert_eq!(target_at(&actions, "2026-03-30T05:30:00Z"), 5);
    assert_eq!(target_at(&actions, "2026-03-30T06:00:00Z"), 30);
    assert_eq!(target_at(&actions, "2026-03-30T15:30:00Z"), 30);
    let actions = reactive(&policy(), Zone::UTC, &demand());
    assert_eq!(target_at(&actions, "2026-03-30T06:30:00Z"), 5);
    assert_eq!(target_at(&actions, "2026-03-30T07:00:00Z"), 30);
}
