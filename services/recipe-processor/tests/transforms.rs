//! Transforms: `delta` and `rate` of counters (resets included), `ratio` of two selectors (raw
//! values and counters), and `histogram_quantile` over cumulative `le` buckets.
//!
//! Counters are built from the real departures of 2013-01-07: each quarter's reading is the
//! running total of departures since 06:00 (see `common::departures_counter`).

mod common;

use common::*;
use presage_events::RawSample;
use presage_recipe_processor::RecipeOutput;

const APP: &str = "nyc";

/// `api.flights_total{airport}`: a departures counter per airport, 06:00..`to`, optionally
/// restarting from zero at `reset_at`.
fn counter(airport: &str, to: &str, reset_at: Option<i64>) -> Vec<RawSample> {
    departures_counter(&departures(airport, "06:00", to), reset_at)
        .into_iter()
        .map(|(ts, v)| raw(APP, "api", "flights_total", &[("airport", airport)], ts, v))
        .collect()
}

fn run(recipes: &[&str], samples: &[RawSample]) -> Vec<RecipeOutput> {
    let mut driver = Driver::new("v1", &template(APP, STRICT, recipes));
    driver.push_all(samples);
    driver.flush();
    driver.outputs
}

// ---------------------------------------------------------------- delta

/// ewr's counter restarts at 07:30. Readings:
/// 06:00 5, 06:15 13, 06:30 22, 06:45 24 | 07:00 32, 07:15 38, 07:30 3 (reset), 07:45 9 |
/// 08:00 14, 08:15 20, 08:30 30, 08:45 37 | 09:00 45
fn ewr_counter_with_reset() -> Vec<RawSample> {
    counter("ewr", "09:00", Some(at("07:30")))
}

#[test]
fn delta_is_the_counters_increase_inside_the_window() {
    let out = run(
        &["{ name: flights, from: api.flights_total, transform: delta, aggregate: sum, window: { tumble: 1h } }"],
        &ewr_counter_with_reset(),
    );
    // 13−5 + 22−13 + 24−22 = 19: the 06:00 reading has no predecessor inside the window
    assert_near(value(&out, "flights", at("06:00")), 19.0, "06:00 hour");
    // 38−32 = 6, then the drop 38 → 3 is a reset counting 3, then 9−3 = 6: 6+3+6 = 15
    // (the naive last − first would be 9 − 32 = −23)
    assert_near(
        value(&out, "flights", at("07:00")),
        15.0,
        "07:00 hour, with a reset",
    );
    // 20−14 + 30−20 + 37−30 = 23
    assert_near(value(&out, "flights", at("08:00")), 23.0, "08:00 hour");
    // [09:00, 10:00) holds the 09:00 reading alone: nothing to compare it with, increase 0
    assert_near(value(&out, "flights", at("09:00")), 0.0, "a lone reading");
    assert_eq!(window(&out, "flights", at("07:00"), &[]).sample_count, 4);
}

#[test]
fn delta_aggregates_the_increase_of_each_series() {
    // jfk's counter: 06:00 3, 06:15 9, 06:30 11, 06:45 15 | 07:00 22, 07:15 28, 07:30 31,
    // 07:45 36 | 08:00 48, 08:15 54, 08:30 59, 08:45 64
    let samples = merge(&[ewr_counter_with_reset(), counter("jfk", "08:45", None)]);
    let out = run(
        &["{ name: flights, from: api.flights_total, transform: delta, aggregate: sum, window: { tumble: 1h } }"],
        &samples,
    );
    // ewr 19 + jfk (6+2+4 = 12) = 31
    assert_near(value(&out, "flights", at("06:00")), 31.0, "06:00 hour");
    // ewr 15 + jfk (6+3+5 = 14) = 29
    assert_near(value(&out, "flights", at("07:00")), 29.0, "07:00 hour");
    // ewr 23 + jfk (6+5+5 = 16) = 39
    assert_near(value(&out, "flights", at("08:00")), 39.0, "08:00 hour");
    // 4 readings of each of the 2 series
    assert_eq!(window(&out, "flights", at("08:00"), &[]).sample_count, 8);
}

// ---------------------------------------------------------------- rate

#[test]
fn rate_is_each_series_increase_over_the_seconds_its_samples_span_summed_across_series() {
    let samples = merge(&[ewr_counter_with_reset(), counter("jfk", "08:45", None)]);
    let out = run(
        &["{ name: fps, from: api.flights_total, transform: rate, aggregate: sum, window: { tumble: 1h } }"],
        &samples,
    );
    // Each series spans 06:00..06:45 = 2700 s in its window.
    // ewr 19/2700 + jfk 12/2700 = 31/2700
    assert_near(value(&out, "fps", at("06:00")), 31.0 / 2700.0, "06:00 hour");
    // ewr 15/2700 (reset counted as its new value) + jfk 14/2700 = 29/2700
    assert_near(value(&out, "fps", at("07:00")), 29.0 / 2700.0, "07:00 hour");
    // ewr 23/2700 + jfk 16/2700 = 39/2700
    assert_near(value(&out, "fps", at("08:00")), 39.0 / 2700.0, "08:00 hour");
}

#[test]
fn rate_averages_per_series_rates_with_aggregate_avg() {
    let samples = merge(&[ewr_counter_with_reset(), counter("jfk", "08:45", None)]);
    let out = run(
        &["{ name: fps, from: api.flights_total, transform: rate, aggregate: avg, window: { tumble: 1h } }"],
        &samples,
    );
    // (19/2700 + 12/2700) / 2 = 15.5/2700
    assert_near(value(&out, "fps", at("06:00")), 15.5 / 2700.0, "06:00 hour");
}

#[test]
fn a_series_with_a_single_sample_in_the_window_has_no_rate() {
    let out = run(
        &["{ name: fps, from: api.flights_total, transform: rate, aggregate: sum, window: { tumble: 1h } }"],
        &ewr_counter_with_reset(),
    );
    // [09:00, 10:00) holds only the 09:00 reading (45): no time span, no rate, no output
    let hours: Vec<i64> = of(&out, "fps").iter().map(|d| d.window_start_ms).collect();
    assert_eq!(hours, vec![at("06:00"), at("07:00"), at("08:00")]);
    // the others: ewr alone, 19/2700, 15/2700, 23/2700
    assert_near(value(&out, "fps", at("07:00")), 15.0 / 2700.0, "07:00 hour");
}

// ---------------------------------------------------------------- ratio

/// Per hour (ewr | jfk | lga):  06:00 24 | 15 | 23 (total 62);  07:00 23 | 21 | 15 (59);
/// 08:00 28 | 28 | 19 (75).
fn three_airports() -> Vec<RawSample> {
    interleaved(APP, &["ewr", "jfk", "lga"], "06:00", "08:45")
}

#[test]
fn ratio_divides_the_aggregate_of_from_by_the_aggregate_of_over() {
    let out = run(
        &[
            r#"{ name: jfk_vs_ewr, from: 'api.departures{airport="jfk"}', transform: ratio, over: 'api.departures{airport="ewr"}', aggregate: sum, window: { tumble: 1h } }"#,
        ],
        &three_airports(),
    );
    // 15 / 24 = 0.625; 21 / 23; 28 / 28 = 1
    assert_near(value(&out, "jfk_vs_ewr", at("06:00")), 0.625, "06:00 hour");
    assert_near(
        value(&out, "jfk_vs_ewr", at("07:00")),
        21.0 / 23.0,
        "07:00 hour",
    );
    assert_near(value(&out, "jfk_vs_ewr", at("08:00")), 1.0, "08:00 hour");
}

#[test]
fn ratio_applies_the_aggregate_to_each_side() {
    // ewr 06:00 hour: 5, 8, 9, 2 (2 at 06:45 is last); jfk: 3, 6, 2, 4 (4 last)
    let aggregates = ["avg", "min", "max", "count", "last", "stddev", "p50"];
    let recipes: Vec<String> = aggregates
        .iter()
        .map(|a| {
            format!(
                r#"{{ name: ratio_{a}, from: 'api.departures{{airport="ewr"}}', transform: ratio, over: 'api.departures{{airport="jfk"}}', aggregate: {a}, window: {{ tumble: 1h }} }}"#
            )
        })
        .collect();
    let recipes: Vec<&str> = recipes.iter().map(String::as_str).collect();
    let out = run(
        &recipes,
        &interleaved(APP, &["ewr", "jfk"], "06:00", "06:45"),
    );
    let hour = at("06:00");
    // avg 6 / 3.75 = 1.6
    assert_near(value(&out, "ratio_avg", hour), 1.6, "avg");
    // min 2 / 2 = 1; max 9 / 6 = 1.5
    assert_near(value(&out, "ratio_min", hour), 1.0, "min");
    assert_near(value(&out, "ratio_max", hour), 1.5, "max");
    // count 4 / 4 = 1
    assert_near(value(&out, "ratio_count", hour), 1.0, "count");
    // last (06:45) 2 / 4 = 0.5
    assert_near(value(&out, "ratio_last", hour), 0.5, "last");
    // stddev √7.5 / √2.1875 (jfk: mean 3.75, (0.5625+5.0625+3.0625+0.0625)/4 = 2.1875)
    // = √(7.5/2.1875) = √3.4285714… = 1.8516401995451028
    assert_near(
        value(&out, "ratio_stddev", hour),
        1.851_640_199_545_102_8,
        "stddev",
    );
    // p50 (5+8)/2 = 6.5 / (3+4)/2 = 3.5 = 1.857142857…
    assert_near(value(&out, "ratio_p50", hour), 6.5 / 3.5, "p50");
}

#[test]
fn ratio_over_a_selector_that_includes_from_counts_from_in_the_denominator_too() {
    // jfk's share of all departures: jfk's samples match both selectors.
    let out = run(
        &[
            r#"{ name: jfk_share, from: 'api.departures{airport="jfk"}', transform: ratio, over: api.departures, aggregate: sum, window: { tumble: 1h } }"#,
        ],
        &three_airports(),
    );
    // 15 / 62 (not 15 / (24 + 23) = 15/47, which leaves jfk out of "all")
    assert_near(
        value(&out, "jfk_share", at("06:00")),
        15.0 / 62.0,
        "06:00 hour",
    );
    // 21 / 59
    assert_near(
        value(&out, "jfk_share", at("07:00")),
        21.0 / 59.0,
        "07:00 hour",
    );
    // 28 / 75
    assert_near(
        value(&out, "jfk_share", at("08:00")),
        28.0 / 75.0,
        "08:00 hour",
    );
}

#[test]
fn ratio_of_counters_compares_their_increases() {
    // Counters: ewr as in `ewr_counter_with_reset` (increases 19, 15, 23), jfk 12, 14, 16, and
    // lga (06:00 3, 06:15 12, 06:30 14, 06:45 23 | 07:00 26, 30, 32, 38 | 08:00 43, 49, 52, 57)
    // with increases 9+2+9 = 20, 4+2+6 = 12, 6+3+5 = 14.
    let samples = merge(&[
        ewr_counter_with_reset(),
        counter("jfk", "08:45", None),
        counter("lga", "08:45", None),
    ]);
    let out = run(
        &[
            r#"{ name: jfk_share, from: 'api.flights_total{airport="jfk"}', transform: ratio, over: api.flights_total, counter: true, aggregate: sum, window: { tumble: 1h } }"#,
        ],
        &samples,
    );
    // 12 / (12 + 19 + 20) = 12/51
    assert_near(
        value(&out, "jfk_share", at("06:00")),
        12.0 / 51.0,
        "06:00 hour",
    );
    // 14 / (14 + 15 + 12) = 14/41
    assert_near(
        value(&out, "jfk_share", at("07:00")),
        14.0 / 41.0,
        "07:00 hour",
    );
    // 16 / (16 + 23 + 14) = 16/53
    assert_near(
        value(&out, "jfk_share", at("08:00")),
        16.0 / 53.0,
        "08:00 hour",
    );
}

#[test]
fn ratio_of_disjoint_counters_uses_each_sides_increase() {
    let samples = merge(&[ewr_counter_with_reset(), counter("jfk", "08:45", None)]);
    let out = run(
        &[
            r#"{ name: jfk_vs_ewr, from: 'api.flights_total{airport="jfk"}', transform: ratio, over: 'api.flights_total{airport="ewr"}', counter: true, aggregate: sum, window: { tumble: 1h } }"#,
        ],
        &samples,
    );
    // 12 / 19; 14 / 15 (ewr's reset counted as its new value); 16 / 23
    assert_near(
        value(&out, "jfk_vs_ewr", at("06:00")),
        12.0 / 19.0,
        "06:00 hour",
    );
    assert_near(
        value(&out, "jfk_vs_ewr", at("07:00")),
        14.0 / 15.0,
        "07:00 hour",
    );
    assert_near(
        value(&out, "jfk_vs_ewr", at("08:00")),
        16.0 / 23.0,
        "08:00 hour",
    );
}

#[test]
fn a_summed_ratio_whose_numerator_has_no_sample_in_the_window_is_zero() {
    let out = run(
        &[
            r#"{ name: none_of_all, from: 'api.departures{airport="sfo"}', transform: ratio, over: 'api.departures', aggregate: sum, window: { tumble: 1h } }"#,
            r#"{ name: avg_none, from: 'api.departures{airport="sfo"}', transform: ratio, over: 'api.departures', aggregate: avg, window: { tumble: 1h } }"#,
        ],
        &three_airports(),
    );
    // No sfo sample at all: 0 / (24 + 15 + 23) = 0 for the 06:00 hour, and every hour after.
    assert_near(value(&out, "none_of_all", at("06:00")), 0.0, "06:00 hour");
    assert!(of(&out, "none_of_all").iter().all(|d| d.value == 0.0));
    // The average of no sample is unknown, not 0: nothing is emitted.
    assert!(of(&out, "avg_none").is_empty());
}

#[test]
fn ratio_over_a_zero_denominator_emits_nothing() {
    // The night of 2013-01-07: no departure anywhere from 02:00 to 04:30; ewr's first flight is
    // at 04:45 (1); jfk has none before 05:30.
    let samples = interleaved(APP, &["ewr", "jfk", "lga"], "02:00", "04:45");
    let out = run(
        &[
            r#"{ name: jfk_vs_ewr, from: 'api.departures{airport="jfk"}', transform: ratio, over: 'api.departures{airport="ewr"}', aggregate: sum, window: { tumble: 1h } }"#,
        ],
        &samples,
    );
    // 02:00 and 03:00: 0 / 0 → no output; 04:00: jfk 0 / ewr (0+0+0+1) = 0
    let hours: Vec<(i64, f64)> = of(&out, "jfk_vs_ewr")
        .iter()
        .map(|d| (d.window_start_ms, d.value))
        .collect();
    assert_eq!(hours, vec![(at("04:00"), 0.0)]);
}

// ---------------------------------------------------------------- histogram_quantile

/// A histogram of departures per quarter (`le` = 2, 5, 10, +Inf) for `airport`, observing each
/// quarter's departures from 05:00 to 08:45, scraped just before (at the quarter) and one
/// minute after each observation from 06:00 on. The scrapes before 06:00 are not sent, so the
/// counters do not start at zero (05:00..05:45 observed: ewr 0,1,0,7; jfk 0,0,2,3).
fn histogram(airport: &str) -> Vec<RawSample> {
    const BOUNDS: [(&str, f64); 4] = [
        ("2", 2.0),
        ("5", 5.0),
        ("10", 10.0),
        ("+Inf", f64::INFINITY),
    ];
    let mut counts = [0.0; 4];
    let mut samples = Vec::new();
    for (ts, departures) in departures(airport, "05:00", "08:45") {
        let mut scrape = |at_ms: i64, counts: &[f64; 4]| {
            if at_ms >= at("06:00") {
                for ((le, _), count) in BOUNDS.iter().zip(counts) {
                    samples.push(raw(
                        APP,
                        "api",
                        "per_quarter_bucket",
                        &[("airport", airport), ("le", le)],
                        at_ms,
                        *count,
                    ));
                }
            }
        };
        scrape(ts, &counts);
        for ((_, bound), count) in BOUNDS.iter().zip(counts.iter_mut()) {
            if departures <= *bound {
                *count += 1.0;
            }
        }
        scrape(ts + MINUTE, &counts);
    }
    samples
}

fn quantiles() -> Vec<RecipeOutput> {
    let recipes: Vec<String> = [("q20", 0.2), ("q40", 0.4), ("q95", 0.95)]
        .iter()
        .map(|(name, q)| {
            format!(
                "{{ name: {name}, from: api.per_quarter_bucket, transform: histogram_quantile, quantile: {q}, group_by: [airport], window: {{ tumble: 1h }} }}"
            )
        })
        .collect();
    let recipes: Vec<&str> = recipes.iter().map(String::as_str).collect();
    run(&recipes, &merge(&[histogram("ewr"), histogram("jfk")]))
}

#[test]
fn histogram_quantile_interpolates_linearly_inside_the_bucket_holding_the_rank() {
    let out = quantiles();
    let ewr = [("airport", "ewr")];
    // ewr 06:00 hour observes 5, 8, 9, 2: bucket increases le2 1, le5 2, le10 4, +Inf 4.
    // q 0.4: rank 1.6 falls in le5 (2 ≥ 1.6): 2 + (5−2)×(1.6−1)/(2−1) = 3.8
    assert_near(
        window(&out, "q40", at("06:00"), &ewr).value,
        3.8,
        "ewr q40 06:00",
    );
    // q 0.95: rank 3.8 falls in le10: 5 + (10−5)×(3.8−2)/(4−2) = 9.5
    assert_near(
        window(&out, "q95", at("06:00"), &ewr).value,
        9.5,
        "ewr q95 06:00",
    );
    // ewr 07:00 hour observes 8, 6, 3, 6: le2 0, le5 1, le10 4, +Inf 4.
    // q 0.2: rank 0.8 in le5: 2 + 3×(0.8−0)/(1−0) = 4.4
    assert_near(
        window(&out, "q20", at("07:00"), &ewr).value,
        4.4,
        "ewr q20 07:00",
    );
    // q 0.4: rank 1.6 in le10: 5 + 5×(1.6−1)/(4−1) = 6
    assert_near(
        window(&out, "q40", at("07:00"), &ewr).value,
        6.0,
        "ewr q40 07:00",
    );
    // q 0.95: rank 3.8 in le10: 5 + 5×(3.8−1)/(4−1) = 9.666…
    assert_near(
        window(&out, "q95", at("07:00"), &ewr).value,
        5.0 + 5.0 * 2.8 / 3.0,
        "ewr q95 07:00",
    );
}

#[test]
fn histogram_quantile_in_the_lowest_bucket_interpolates_from_zero() {
    let out = quantiles();
    // ewr 06:00 hour: le2 holds 1 of 4. q 0.2: rank 0.8 in le2: 0 + 2×0.8/1 = 1.6
    let q20 = window(&out, "q20", at("06:00"), &[("airport", "ewr")]);
    assert_near(q20.value, 1.6, "ewr q20 06:00");
    // 4 quarters × 2 scrapes × 4 buckets
    assert_eq!(q20.sample_count, 32);
}

#[test]
fn histogram_quantile_in_the_inf_bucket_is_the_highest_finite_bound() {
    let out = quantiles();
    let jfk = [("airport", "jfk")];
    // jfk 08:00 hour observes 12, 6, 5, 5: le2 0, le5 2, le10 3, +Inf 4.
    // q 0.95: rank 3.8 > 3 falls in +Inf → the highest finite bound, 10
    assert_near(
        window(&out, "q95", at("08:00"), &jfk).value,
        10.0,
        "jfk q95 08:00",
    );
    // q 0.2: rank 0.8 in le5: 2 + 3×0.8/2 = 3.2; q 0.4: rank 1.6: 2 + 3×1.6/2 = 4.4
    assert_near(
        window(&out, "q20", at("08:00"), &jfk).value,
        3.2,
        "jfk q20 08:00",
    );
    assert_near(
        window(&out, "q40", at("08:00"), &jfk).value,
        4.4,
        "jfk q40 08:00",
    );
}

#[test]
fn a_bucket_whose_le_is_not_a_number_is_left_out_not_fatal_to_the_window() {
    let recipe = "{ name: q40, from: api.per_quarter_bucket, transform: histogram_quantile, quantile: 0.4, group_by: [airport], window: { tumble: 1h } }";
    let clean = run(&[recipe], &histogram("ewr"));
    // The same histogram with a broken exporter's bucket beside each scrape.
    let mut broken = histogram("ewr");
    let garbage: Vec<RawSample> = broken
        .iter()
        .filter(|s| s.labels.get("le").map(String::as_str) == Some("+Inf"))
        .map(|s| {
            let mut bad = s.clone();
            bad.labels.insert("le".into(), "lots".into());
            bad.event_id = format!("{}-bad", s.event_id);
            bad
        })
        .collect();
    broken.extend(garbage);
    broken.sort_by_key(|s| s.event_time_ms);
    let with_garbage = run(&[recipe], &broken);
    let values = |out: &[RecipeOutput]| -> Vec<(i64, f64)> {
        of(out, "q40")
            .iter()
            .map(|d| (d.window_start_ms, d.value))
            .collect()
    };
    assert!(!values(&clean).is_empty());
    assert_eq!(values(&with_garbage), values(&clean));
}
