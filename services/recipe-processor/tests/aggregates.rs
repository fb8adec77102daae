//! Aggregates over 1-hour tumbling windows of real departures: avg, min, max, sum, count, last
//! (by event time), stddev (population) and exact percentiles.
//!
//! Input: airport-ewr departures per quarter, 2013-01-07 06:00..08:45:
//! `[06:00,07:00)` = 5, 8, 9, 2; `[07:00,08:00)` = 8, 6, 3, 6; `[08:00,09:00)` = 5, 6, 10, 7.

mod common;

use common::*;
use presage_recipe_processor::RecipeOutput;

const APP: &str = "nyc";

/// Every aggregate over the same three hours of ewr departures, all windows closed.
fn hourly(aggregates: &[&str]) -> Vec<RecipeOutput> {
    let recipes: Vec<String> = aggregates
        .iter()
        .map(|a| {
            format!(
                "{{ name: hourly_{a}, from: api.departures, aggregate: {a}, window: {{ tumble: 1h }} }}"
            )
        })
        .collect();
    let recipes: Vec<&str> = recipes.iter().map(String::as_str).collect();
    let mut driver = Driver::new("v1", &template(APP, STRICT, &recipes));
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "08:45"));
    driver.flush();
    driver.outputs
}

fn assert_hours(outputs: &[RecipeOutput], recipe: &str, expected: [f64; 3]) {
    assert_hours_within(outputs, recipe, expected, 0.0);
}

/// `tolerance` 0 means "equal up to f64 rounding".
fn assert_hours_within(outputs: &[RecipeOutput], recipe: &str, expected: [f64; 3], tolerance: f64) {
    let windows = of(outputs, recipe);
    let starts: Vec<i64> = windows.iter().map(|d| d.window_start_ms).collect();
    assert_eq!(
        starts,
        vec![at("06:00"), at("07:00"), at("08:00")],
        "{recipe}: one window per hour"
    );
    for (d, expected) in windows.iter().zip(expected) {
        let what = format!("{recipe} @ {}", d.window_start_ms);
        if tolerance == 0.0 {
            assert_near(d.value, expected, &what);
        } else {
            assert!(
                (d.value - expected).abs() <= tolerance,
                "{what}: got {}, expected {expected} ± {tolerance}",
                d.value
            );
        }
    }
}

#[test]
fn avg_is_the_mean_of_the_samples_in_the_window() {
    let out = hourly(&["avg"]);
    // 24 / 4 = 6; 23 / 4 = 5.75; 28 / 4 = 7
    assert_hours(&out, "hourly_avg", [6.0, 5.75, 7.0]);
}

#[test]
fn min_and_max_are_the_extremes_of_the_window() {
    let out = hourly(&["min", "max"]);
    // min(5,8,9,2) = 2; min(8,6,3,6) = 3; min(5,6,10,7) = 5
    assert_hours(&out, "hourly_min", [2.0, 3.0, 5.0]);
    // max(5,8,9,2) = 9; max(8,6,3,6) = 8; max(5,6,10,7) = 10
    assert_hours(&out, "hourly_max", [9.0, 8.0, 10.0]);
}

#[test]
fn sum_and_count_add_and_count_the_samples_of_the_window() {
    let out = hourly(&["sum", "count"]);
    // 5+8+9+2 = 24; 8+6+3+6 = 23; 5+6+10+7 = 28
    assert_hours(&out, "hourly_sum", [24.0, 23.0, 28.0]);
    // four quarters an hour
    assert_hours(&out, "hourly_count", [4.0, 4.0, 4.0]);
}

#[test]
fn stddev_is_the_population_standard_deviation() {
    let out = hourly(&["stddev"]);
    // mean 6: (1+4+9+16)/4 = 7.5 → √7.5 = 2.7386127875258306
    // mean 5.75: (5.0625+0.0625+7.5625+0.0625)/4 = 3.1875 → √3.1875 = 1.7853571071357126
    // mean 7: (4+1+9+0)/4 = 3.5 → √3.5 = 1.8708286933869707
    assert_hours(
        &out,
        "hourly_stddev",
        [
            2.738_612_787_525_830_6,
            1.785_357_107_135_712_6,
            1.870_828_693_386_970_7,
        ],
    );
}

#[test]
fn percentiles_interpolate_linearly_between_the_closest_ranks() {
    let out = hourly(&["p50", "p95"]);
    // sorted 2,5,8,9: rank 0.5×3 = 1.5 → 5 + 0.5×(8−5) = 6.5
    // sorted 3,6,6,8: rank 1.5 → 6 + 0.5×(6−6) = 6
    // sorted 5,6,7,10: rank 1.5 → 6 + 0.5×(7−6) = 6.5
    assert_hours(&out, "hourly_p50", [6.5, 6.0, 6.5]);
    // rank 0.95×3 = 2.85: 8 + 0.85×(9−8) = 8.85; 6 + 0.85×(8−6) = 7.7; 7 + 0.85×(10−7) = 9.55
    // DataFusion's percentile_cont truncates the interpolation weight to 6 decimals (and
    // 0.95×3 is 2.8499999999999996 in f64), so it answers 8.849999: allow 1e-6 × the gap
    // between the two ranks (≤ 3 here, so 1e-5). Nearest-rank or unweighted answers (9, 8, 8.5) fail.
    assert_hours_within(&out, "hourly_p95", [8.85, 7.7, 9.55], 1e-5);
}

#[test]
fn last_is_the_value_with_the_newest_event_time_not_the_last_to_arrive() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: latest, from: api.departures, aggregate: last, window: { tumble: 1h } }"],
        ),
    );
    let hour = departure_samples(APP, "ewr", "06:00", "06:45");
    // Arrival order 06:00, 06:45, 06:15, 06:30: the 06:30 reading (9) arrives last, but the
    // 06:45 reading (2) is the newest in event time.
    for i in [0, 3, 1, 2] {
        driver.push(&hour[i]);
    }
    driver.flush();
    assert_near(value(&driver.outputs, "latest", at("06:00")), 2.0, "last");
}

#[test]
fn a_window_reports_its_bounds_and_how_many_samples_it_used() {
    let out = hourly(&["sum"]);
    let second = window(&out, "hourly_sum", at("07:00"), &[]);
    // [07:00, 08:00): the 07:00 reading opens it, the 08:00 reading belongs to the next hour
    assert_eq!(second.window_end_ms, at("08:00"));
    assert_eq!(second.window_end_ms - second.window_start_ms, HOUR);
    assert_eq!(second.sample_count, 4); // 07:00, 07:15, 07:30, 07:45
    assert_eq!(second.app, APP);
    assert_eq!(second.template_version, "v1");
    // offsets FIRST_OFFSET + 0..=11 in trace order: the second hour is offsets +4..=+7
    assert_eq!(
        (second.raw_first_offset, second.raw_last_offset),
        (FIRST_OFFSET + 4, FIRST_OFFSET + 7)
    );
    assert_eq!(second.raw_partition, 0);
}

#[test]
fn every_aggregate_plans_with_every_transform() {
    // The validator accepts any aggregate with any transform but histogram_quantile, so each
    // combination must compile and plan (its values are checked in transforms.rs).
    let aggregates = [
        "avg", "min", "max", "sum", "count", "last", "stddev", "p50", "p99.9",
    ];
    let transforms = [
        ("plain", ""),
        ("delta", "transform: delta,"),
        ("rate", "transform: rate,"),
        (
            "ratio",
            r#"transform: ratio, over: 'api.departures{airport="jfk"}',"#,
        ),
        (
            "ratio_counter",
            r#"transform: ratio, over: 'api.departures{airport="jfk"}', counter: true,"#,
        ),
    ];
    let mut failed = Vec::new();
    for (t, transform) in transforms {
        for a in aggregates {
            let name = format!("{t}_{}", a.replace('.', "_"));
            let recipe = format!(
                "{{ name: {name}, from: 'api.departures{{airport=\"ewr\"}}', {transform} aggregate: {a}, window: {{ tumble: 1h }} }}"
            );
            let mut processor = presage_recipe_processor::RecipeProcessor::new().unwrap();
            if let Err(e) = processor.set_template("v1", template(APP, STRICT, &[&recipe])) {
                failed.push(e.to_string());
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
