//! Quiet windows (`absent: zero | unknown`): a business-hours service records nothing at night;
//! a recipe that says what that silence means has every window of its grid emitted, so the
//! forecaster and the planner hear from it on a clock. The same quiet windows, with the same ids
//! and values, come out whether the night passes live (the idle timeout advances event time with
//! the wall clock, with no window open), in a replay (the next morning's sample passes them), or
//! across a restart in the middle of it.
//!
//! Input: jfk departures per quarter on 2013-01-07 from 19:00 to 20:45 (trace values), then
//! nothing until a sample at 07:00 the next morning.

mod common;

use std::collections::BTreeMap;

use common::*;
use presage_events::{DerivedMetric, RawSample};
use presage_recipe_processor::processor::MAX_QUIET_WINDOWS;
use presage_recipe_processor::RecipeOutput;

const APP: &str = "shop";
const DAY: i64 = 24 * HOUR;
const QUARTER: i64 = 15 * MINUTE;

fn recipe(absent: &str) -> String {
    format!(
        "{{ name: rps, from: api.departures, aggregate: sum, window: {{ tumble: 15m }}{absent} }}"
    )
}

fn driver(absent: &str) -> Driver {
    let t = template(
        APP,
        "{ allowed_lateness: 0s, idle_timeout: 10m }",
        &[&recipe(absent)],
    );
    Driver::new("v1", &t)
}

fn evening() -> Vec<RawSample> {
    departure_samples(APP, "jfk", "19:00", "20:45")
}

fn morning() -> RawSample {
    raw(
        APP,
        "api",
        "departures",
        &[("airport", "jfk")],
        at("07:00") + DAY,
        7.0,
    )
}

/// The windows emitted, by start; none twice within one processor's life.
fn by_start(outputs: &[RecipeOutput]) -> BTreeMap<i64, DerivedMetric> {
    let mut found = BTreeMap::new();
    for d in derived(outputs) {
        assert!(
            found.insert(d.window_start_ms, d.clone()).is_none(),
            "emitted twice: {d:?}"
        );
    }
    found
}

/// The night's quarters, 21:00 to 06:45 (40 windows), none of which holds a sample.
fn night() -> Vec<i64> {
    (0..40).map(|i| at("21:00") + i * QUARTER).collect()
}

/// Value equality where NaN (the unknown marker) equals NaN.
fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

#[test]
fn with_absent_zero_the_next_morning_sample_emits_every_quiet_window_of_the_night_as_zero() {
    let mut d = driver(", absent: zero");
    d.push_all(&evening());
    d.push(&morning());
    let windows = by_start(&d.outputs);
    // the evening's quarters are the trace's; the night's are zeros with no sample
    assert_eq!(windows[&at("20:45")].sample_count, 1);
    for start in night() {
        let w = &windows[&start];
        assert_eq!(
            (w.value, w.sample_count),
            (0.0, 0),
            "quiet window at {start}"
        );
        assert_eq!(w.window_end_ms, start + QUARTER);
        assert!(w.lineage.is_empty() && w.raw_first_offset > w.raw_last_offset);
    }
    // the morning's window is still open; nothing before the first sample is invented
    assert!(!windows.contains_key(&(at("07:00") + DAY)));
    assert_eq!(windows.keys().next(), Some(&at("19:00")));
    assert_eq!(windows.len(), 8 + 40);
    // in time order, so a consumer that takes older windows as history sees the night in order
    let starts: Vec<i64> = derived(&d.outputs)
        .iter()
        .map(|w| w.window_start_ms)
        .collect();
    assert!(starts.windows(2).all(|p| p[0] < p[1]), "{starts:?}");
}

#[test]
fn with_absent_unknown_a_quiet_window_is_the_unknown_marker() {
    let mut d = driver(", absent: unknown");
    d.push_all(&evening());
    d.push(&morning());
    let windows = by_start(&d.outputs);
    for start in night() {
        let w = &windows[&start];
        assert!(w.value.is_nan() && w.sample_count == 0, "{w:?}");
        assert!(presage_template::is_unknown_window(w.value, w.sample_count));
    }
    assert!(!presage_template::is_unknown_window(
        windows[&at("20:45")].value,
        windows[&at("20:45")].sample_count
    ));
}

#[test]
fn without_absent_a_quiet_night_emits_nothing_as_before() {
    let mut d = driver("");
    d.push_all(&evening());
    d.push(&morning());
    let ticks: Vec<i64> = (1..=60).map(|i| at("07:00") + DAY + i * MINUTE).collect();
    for now in ticks {
        d.idle(now);
    }
    let windows = by_start(&d.outputs);
    assert_eq!(
        windows.len(),
        8 + 1,
        "the evening and the morning's window: {windows:?}"
    );
}

/// Idle ticks once a minute, `from` to `to` inclusive (wall clock).
fn tick(d: &mut Driver, from: i64, to: i64) {
    let mut now = from;
    while now <= to {
        d.idle(now);
        now += MINUTE;
    }
}

#[test]
fn live_the_wall_clock_emits_the_quiet_windows_with_nothing_open_and_the_ids_of_a_replay() {
    for absent in [", absent: zero", ", absent: unknown"] {
        let mut replay = driver(absent);
        replay.push_all(&evening());
        replay.push(&morning());

        let mut live = driver(absent);
        live.push_all(&evening());
        // by 03:00 the windows up to 02:45 (closing at 02:50 + 10 min idle) have come out
        tick(&mut live, at("20:46"), at("03:00") + DAY);
        let by_three = by_start(&live.outputs);
        assert!(by_three.contains_key(&(at("02:30") + DAY)), "{absent}");
        assert!(!by_three.contains_key(&(at("03:00") + DAY)), "{absent}");
        assert_eq!(live.processor.open_windows(), 0, "nothing open all night");
        tick(&mut live, at("03:01") + DAY, at("06:59") + DAY);
        live.push(&morning());

        let (a, b) = (by_start(&replay.outputs), by_start(&live.outputs));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{absent}"
        );
        for (start, w) in &a {
            let l = &b[start];
            assert_eq!(w.event_id, l.event_id, "{absent} {start}");
            assert!(same_value(w.value, l.value), "{absent} {start}");
            assert_eq!(w.sample_count, l.sample_count);
        }
    }
}

#[test]
fn a_restart_during_the_quiet_night_loses_no_quiet_window_and_repeats_none_differently() {
    for absent in [", absent: zero", ", absent: unknown"] {
        let mut uninterrupted = driver(absent);
        uninterrupted.push_all(&evening());
        uninterrupted.push(&morning());
        let expected = by_start(&uninterrupted.outputs);

        // Two ways the night ends after the restart: the wall clock runs on, or the morning's
        // sample comes at once.
        for clock_runs_on in [true, false] {
            let mut before = driver(absent);
            before.push_all(&evening());
            tick(&mut before, at("20:46"), at("01:00") + DAY);
            let (offset, metadata) = before.processor.checkpoint(0).expect("a checkpoint");

            let mut after = driver(absent);
            after.processor.restore(0, &metadata, offset);
            after.next_offset = offset;
            if clock_runs_on {
                tick(&mut after, at("01:05") + DAY, at("06:59") + DAY);
                let seen = by_start(&after.outputs);
                assert!(
                    seen.contains_key(&(at("05:00") + DAY)),
                    "{absent}: the restored app's clock runs with nothing to read"
                );
            }
            after.push(&morning());

            let mut union: BTreeMap<i64, DerivedMetric> = BTreeMap::new();
            for life in [&before, &after] {
                for (start, w) in by_start(&life.outputs) {
                    if let Some(seen) = union.get(&start) {
                        assert_eq!(seen.event_id, w.event_id, "{absent} {start}");
                        assert!(
                            same_value(seen.value, w.value),
                            "{absent} {start}: emitted again differently"
                        );
                    }
                    union.insert(start, w);
                }
            }
            assert_eq!(
                union.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{absent}, clock runs on: {clock_runs_on}"
            );
            for (start, w) in &expected {
                assert_eq!(union[start].event_id, w.event_id);
                assert!(same_value(union[start].value, w.value));
            }
        }
    }
}

#[test]
fn a_jump_over_a_long_quiet_stretch_emits_at_most_the_bound_the_newest() {
    let t = template(
        APP,
        "{ allowed_lateness: 0s, idle_timeout: 10m }",
        &["{ name: rps, from: api.departures, aggregate: sum, window: { tumble: 1m }, absent: zero }"],
    );
    let mut d = Driver::new("v1", &t);
    let first = raw(APP, "api", "departures", &[], at("12:00"), 1.0);
    // 100 days later (144,000 one-minute windows), received in a replay (no wall clock)
    let later = raw(APP, "api", "departures", &[], at("12:00") + 100 * DAY, 2.0);
    d.push_at(&first, 1, 0);
    d.push_at(&later, 2, 0);
    let windows = by_start(&d.outputs);
    // the first sample's window, then the newest quiet ones ending where the later sample's begins
    let quiet: Vec<&DerivedMetric> = windows.values().filter(|w| w.sample_count == 0).collect();
    assert_eq!(quiet.len() as i64, MAX_QUIET_WINDOWS);
    assert_eq!(quiet.last().unwrap().window_end_ms, at("12:00") + 100 * DAY);
    assert_eq!(
        quiet.first().unwrap().window_start_ms,
        at("12:00") + 100 * DAY - MAX_QUIET_WINDOWS * MINUTE
    );
    assert_eq!(windows.len() as i64, MAX_QUIET_WINDOWS + 1);
}

#[test]
fn a_window_whose_samples_the_filter_drops_all_is_quiet_too() {
    let t = template(
        APP,
        "{ allowed_lateness: 0s, idle_timeout: 10m }",
        &["{ name: rps, from: api.departures, filter: 'value > 5', aggregate: sum, window: { tumble: 15m }, absent: zero }"],
    );
    let mut d = Driver::new("v1", &t);
    // jfk 06:00-07:00 is 3, 6, 2, 4: the filter keeps only the 6 (06:15)
    let samples: Vec<RawSample> = [3.0, 6.0, 2.0, 4.0, 7.0]
        .iter()
        .enumerate()
        .map(|(i, v)| {
            raw(
                APP,
                "api",
                "departures",
                &[],
                at("06:00") + i as i64 * QUARTER,
                *v,
            )
        })
        .collect();
    d.push_all(&samples);
    let windows = by_start(&d.outputs);
    assert_eq!(
        (
            windows[&at("06:15")].value,
            windows[&at("06:15")].sample_count
        ),
        (6.0, 1)
    );
    for start in [at("06:00"), at("06:30"), at("06:45")] {
        let w = &windows[&start];
        assert_eq!((w.value, w.sample_count), (0.0, 0), "{w:?}");
    }
    assert_eq!(windows.len(), 4, "07:00 still open");
}
