//! Scheduled floors follow the template's `timezone`: `0 7 * * 1-5` for 10h holds capacity from
//! 07:00 to 17:00 on the local clock, on both sides of a daylight-saving change, while a
//! template without a zone keeps reading it in UTC.

mod common;

use std::sync::Arc;

use common::{run, target_at, template, STEP};
use presage_events::ScalingDirective;
use presage_planner::{scheduled_floor, Planner};
use presage_template::calendar::parse_timestamp;
use presage_template::{ScalingPolicy, Zone};

const HOUR: i64 = 3_600_000;
const POLICY: &str = "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40, schedule: [{ cron: \"0 7 * * 1-5\", for: 10h, min: 30 }] }";

fn at(text: &str) -> i64 {
    parse_timestamp(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
}

/// A steady 10 GW (5 units without a floor) every half hour from `from` to `to`.
fn steady(from: &str, to: &str) -> Vec<(i64, f64)> {
    (at(from)..=at(to))
        .step_by(STEP as usize)
        .map(|t| (t, 10_000.0))
        .collect()
}

/// The target in force at each instant: the newest directive issued at or before it.
fn targets(timezone: Option<&str>, from: &str, to: &str) -> impl Fn(&str) -> i64 {
    let mut planner = Planner::new();
    planner.set_template("v1", Arc::new(template(timezone, &[POLICY])));
    let directives: Vec<ScalingDirective> = run(&mut planner, &steady(from, to), 1);
    move |t: &str| target_at(&directives, at(t))
}

#[test]
fn a_london_floor_opens_at_seven_local_before_and_after_the_clocks_go_forward() {
    // British Summer Time began on Sunday 2026-03-29.
    let target = targets(
        Some("Europe/London"),
        "2026-03-27T05:00:00Z",
        "2026-03-30T18:00:00Z",
    );
    // Friday, GMT: 07:00-17:00 local is 07:00-17:00 UTC.
    assert_eq!(target("2026-03-27T06:30:00Z"), 5);
    assert_eq!(target("2026-03-27T07:00:00Z"), 30);
    assert_eq!(target("2026-03-27T16:30:00Z"), 30);
    assert_eq!(target("2026-03-27T17:00:00Z"), 5);
    // Monday, BST: 07:00-17:00 local is 06:00-16:00 UTC.
    assert_eq!(target("2026-03-30T05:30:00Z"), 5);
    assert_eq!(target("2026-03-30T06:00:00Z"), 30);
    assert_eq!(target("2026-03-30T15:30:00Z"), 30);
    assert_eq!(target("2026-03-30T16:00:00Z"), 5);
}

#[test]
fn a_new_york_floor_opens_at_seven_local_before_and_after_the_clocks_go_back() {
    // Eastern Daylight Time ended on Sunday 2026-11-01.
    let target = targets(
        Some("America/New_York"),
        "2026-10-30T09:00:00Z",
        "2026-11-02T23:00:00Z",
    );
    // Friday, EDT: 07:00-17:00 local is 11:00-21:00 UTC.
    assert_eq!(target("2026-10-30T10:30:00Z"), 5);
    assert_eq!(target("2026-10-30T11:00:00Z"), 30);
    assert_eq!(target("2026-10-30T20:30:00Z"), 30);
    assert_eq!(target("2026-10-30T21:00:00Z"), 5);
    // Monday, EST: 12:00-22:00 UTC.
    assert_eq!(target("2026-11-02T11:30:00Z"), 5);
    assert_eq!(target("2026-11-02T12:00:00Z"), 30);
    assert_eq!(target("2026-11-02T21:30:00Z"), 30);
    assert_eq!(target("2026-11-02T22:00:00Z"), 5);
}

#[test]
fn without_a_zone_the_floor_keeps_utc_hours_through_the_change() {
    let target = targets(None, "2026-03-27T05:00:00Z", "2026-03-30T18:00:00Z");
    assert_eq!(target("2026-03-27T07:00:00Z"), 30);
    assert_eq!(target("2026-03-30T06:30:00Z"), 5);
    assert_eq!(target("2026-03-30T07:00:00Z"), 30);
    assert_eq!(target("2026-03-30T16:30:00Z"), 30);
    assert_eq!(target("2026-03-30T17:00:00Z"), 5);
}

#[test]
fn the_floor_in_force_is_read_on_the_zone_given() {
    let policy: &ScalingPolicy = &template(None, &[POLICY]).dynamic_metadata.scaling_policies[0];
    let london: Zone = "Europe/London".parse().unwrap();
    let monday_six = at("2026-03-30T06:00:00Z");
    assert_eq!(scheduled_floor(policy, london, monday_six), Some(30.0));
    assert_eq!(scheduled_floor(policy, Zone::UTC, monday_six), None);
    assert_eq!(
        scheduled_floor(policy, london, monday_six + 10 * HOUR),
        None
    );
    // Sunday, the first day of BST: no floor on a weekend in any zone.
    assert_eq!(
        scheduled_floor(policy, london, at("2026-03-29T08:00:00Z")),
        None
    );
}
