//! Template versions and determinism: a window keeps the recipe of the version it opened
//! under, windows opening after a change use the new recipes, none is lost or emitted twice;
//! the same input gives the same outputs, and event ids do not depend on the version.
//!
//! Input: airport-ewr departures per quarter, 2013-01-07 06:00..08:45:
//! 5, 8, 9, 2 | 8, 6, 3, 6 | 5, 6, 10, 7.

mod common;

use std::collections::BTreeMap;

use common::*;
use presage_events::RawSample;
use presage_recipe_processor::RecipeOutput;

const APP: &str = "nyc";

fn v1() -> std::sync::Arc<presage_template::Template> {
    template(
        APP,
        STRICT,
        &[
            "{ name: hourly, from: api.departures, aggregate: sum, window: { tumble: 1h } }",
            "{ name: hourly_min, from: api.departures, aggregate: min, window: { tumble: 1h } }",
            "{ name: rolling, from: api.departures, aggregate: sum, window: { hop: { size: 1h, slide: 30m } } }",
        ],
    )
}

/// v2 turns both sums into maxima and drops `hourly_min`.
fn v2() -> std::sync::Arc<presage_template::Template> {
    template(
        APP,
        STRICT,
        &[
            "{ name: hourly, from: api.departures, aggregate: max, window: { tumble: 1h } }",
            "{ name: rolling, from: api.departures, aggregate: max, window: { hop: { size: 1h, slide: 30m } } }",
        ],
    )
}

/// Feeds the samples, switching to v2 just before sample `switch`.
fn run_with_switch(samples: &[RawSample], switch: usize) -> Vec<RecipeOutput> {
    let mut driver = Driver::new("v1", &v1());
    for (i, s) in samples.iter().enumerate() {
        if i == switch {
            driver.processor.set_template("v2", v2()).unwrap();
        }
        driver.push(s);
    }
    if switch >= samples.len() {
        driver.processor.set_template("v2", v2()).unwrap();
    }
    driver.flush();
    driver.outputs
}

#[test]
fn windows_open_at_a_template_change_finish_under_the_old_recipe() {
    let samples = departure_samples(APP, "ewr", "06:00", "08:45");
    // v2 arrives after the 06:30 quarter, before 06:45 (index 3)
    let out = run_with_switch(&samples, 3);
    let windows = |recipe: &str| -> Vec<(i64, f64, String)> {
        of(&out, recipe)
            .iter()
            .map(|d| (d.window_start_ms, d.value, d.template_version.clone()))
            .collect()
    };
    let (one, two) = ("v1".to_string(), "v2".to_string());
    assert_eq!(
        windows("hourly"),
        vec![
            // opened under v1 at 06:00; 06:45 arrives after the change and still joins it:
            // sum 5+8+9+2 = 24
            (at("06:00"), 24.0, one.clone()),
            // opened under v2: max(8,6,3,6) = 8, max(5,6,10,7) = 10
            (at("07:00"), 8.0, two.clone()),
            (at("08:00"), 10.0, two.clone()),
        ]
    );
    // dropped by v2, but its open window completes: min(5,8,9,2) = 2, and none opens after
    assert_eq!(windows("hourly_min"), vec![(at("06:00"), 2.0, one.clone())]);
    assert_eq!(
        windows("rolling"),
        vec![
            (at("05:30"), 13.0, one.clone()), // 5+8, closed at 06:30 before the change
            (at("06:00"), 24.0, one.clone()), // 5+8+9+2
            (at("06:30"), 25.0, one.clone()), // opened by 06:30 under v1: 9+2+8+6
            (at("07:00"), 8.0, two.clone()),  // max(8,6,3,6)
            (at("07:30"), 6.0, two.clone()),  // max(3,6,5,6)
            (at("08:00"), 10.0, two.clone()), // max(5,6,10,7)
            (at("08:30"), 10.0, two.clone()), // max(10,7)
        ]
    );
}

/// Windows of `size` sliding by `slide` (minutes) from 05:00 that hold a sample of `samples`:
/// start → indexes of the samples inside.
fn windows_of(samples: &[RawSample], size: i64, slide: i64) -> BTreeMap<i64, Vec<usize>> {
    let mut windows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    let mut start = at("05:00");
    while start <= at("09:00") {
        for (i, s) in samples.iter().enumerate() {
            if s.event_time_ms >= start && s.event_time_ms < start + size * MINUTE {
                windows.entry(start).or_default().push(i);
            }
        }
        start += slide * MINUTE;
    }
    windows
}

#[test]
fn at_any_switch_point_every_window_is_emitted_once_under_the_version_it_opened_in() {
    let samples = departure_samples(APP, "ewr", "06:00", "08:45");
    for switch in 0..=samples.len() {
        let out = run_with_switch(&samples, switch);
        for (recipe, size, slide) in [("hourly", 60, 60), ("rolling", 60, 30)] {
            let expected = windows_of(&samples, size, slide);
            let emitted = of(&out, recipe);
            let starts: Vec<i64> = emitted.iter().map(|d| d.window_start_ms).collect();
            assert_eq!(
                starts,
                expected.keys().copied().collect::<Vec<_>>(),
                "{recipe}, switch before sample {switch}: each window exactly once"
            );
            for d in emitted {
                let inside = &expected[&d.window_start_ms];
                // A window opens with its first sample: before the switch → v1 (sum), else v2 (max).
                let values = inside.iter().map(|&i| samples[i].value);
                let (version, value) = if inside[0] < switch {
                    ("v1", values.sum::<f64>())
                } else {
                    ("v2", values.fold(f64::MIN, f64::max))
                };
                assert_eq!(
                    (d.template_version.as_str(), d.value),
                    (version, value),
                    "{recipe} @ {}, switch before sample {switch}",
                    d.window_start_ms
                );
            }
        }
        let dropped = of(&out, "hourly_min");
        // hourly_min only has the windows opened before the switch
        let opened: Vec<i64> = windows_of(&samples, 60, 60)
            .into_iter()
            .filter(|(_, inside)| inside[0] < switch)
            .map(|(start, _)| start)
            .collect();
        assert_eq!(
            dropped
                .iter()
                .map(|d| d.window_start_ms)
                .collect::<Vec<_>>(),
            opened,
            "hourly_min, switch before sample {switch}"
        );
        assert!(late(&out).is_empty(), "switch before sample {switch}");
    }
}

#[test]
fn changing_a_recipes_window_size_loses_no_sample_and_reuses_no_event_id() {
    let half_hour = template(
        APP,
        STRICT,
        &["{ name: traffic, from: api.departures, aggregate: sum, window: { tumble: 30m } }"],
    );
    let hour = template(
        APP,
        STRICT,
        &["{ name: traffic, from: api.departures, aggregate: sum, window: { tumble: 1h } }"],
    );
    let mut driver = Driver::new("v1", &half_hour);
    let samples = departure_samples(APP, "ewr", "06:00", "08:45");
    for (i, s) in samples.iter().enumerate() {
        if i == 2 {
            // after 06:15: [06:00, 06:30) is open under the 30-minute recipe
            driver.processor.set_template("v2", hour.clone()).unwrap();
        }
        driver.push(s);
    }
    driver.flush();
    let out = &driver.outputs;
    // All samples arrive in order: none is late, whatever the version.
    assert!(late(out).is_empty(), "{:?}\n{:?}", late(out), summary(out));
    let mut ids: Vec<&str> = derived(out).iter().map(|d| d.event_id.as_str()).collect();
    let emitted = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        emitted,
        "two different windows under one event id: {:?}",
        summary(out)
    );
    // every departure is counted in exactly one window of `traffic`: 5+8+…+7 = 75
    let total: f64 = of(out, "traffic").iter().map(|d| d.value).sum();
    assert_near(total, 75.0, "departures counted");
}

/// A template using most features at once.
fn rich(app: &str) -> std::sync::Arc<presage_template::Template> {
    template(
        app,
        "{ allowed_lateness: 15m, idle_timeout: 10m }",
        &[
            "{ name: hourly, from: api.departures, aggregate: sum, group_by: [airport], window: { tumble: 1h } }",
            "{ name: rolling_p50, from: api.departures, aggregate: p50, window: { hop: { size: 1h, slide: 30m } } }",
            r#"{ name: jfk_vs_ewr, from: 'api.departures{airport="jfk"}', transform: ratio, over: 'api.departures{airport="ewr"}', aggregate: sum, window: { tumble: 1h } }"#,
            r#"{ name: threads, from: api.departures, aggregate: sum, window: { tumble: 1h }, join: [ { signal: wx.temp, as: temp } ], fragments: { format: json, set: ["config.worker_threads = clamp(ceil(threads / 4), 2, 32)"] } }"#,
        ],
    )
}

fn rich_input() -> Vec<RawSample> {
    merge(&[
        temperature_samples(APP, "ewr", "06:00", "09:00"),
        interleaved(APP, &["ewr", "jfk", "lga"], "06:00", "08:45"),
    ])
}

fn run_rich(version: &str) -> Vec<RecipeOutput> {
    let mut driver = Driver::new(version, &rich(APP));
    driver.push_all(&rich_input());
    driver.flush();
    driver.outputs
}

#[test]
fn the_same_input_gives_the_same_outputs_and_event_ids() {
    let first = run_rich("v1");
    let second = run_rich("v1");
    // 3 hours × 3 airports + 7 rolling + 3 ratio + 3 threads, and 3 fragments
    assert_eq!(
        derived(&first).len(),
        9 + 7 + 3 + 3,
        "{:?}",
        summary(&first)
    );
    assert_eq!(fragments(&first).len(), 3);
    assert_eq!(first, second);
}

#[test]
fn event_ids_do_not_depend_on_the_template_version() {
    let old = run_rich("0123456789abcdef");
    let new = run_rich("fedcba9876543210");
    let ids = |outputs: &[RecipeOutput]| -> Vec<String> {
        derived(outputs)
            .iter()
            .map(|d| d.event_id.clone())
            .chain(fragments(outputs).iter().map(|f| f.event_id.clone()))
            .collect()
    };
    assert_eq!(ids(&old), ids(&new));
    assert!(derived(&new)
        .iter()
        .all(|d| d.template_version == "fedcba9876543210"));
    // distinct windows have distinct ids
    let mut unique = ids(&old);
    let all = unique.len();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all);
}
