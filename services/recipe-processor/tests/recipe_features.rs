//! What a recipe selects and what it emits: `group_by`, `filter`, selector label matchers,
//! joined signals, the `sql` escape hatch and metadata `fragments`.
//!
//! Input: departures per quarter of ewr, jfk and lga, 2013-01-07 06:00..08:45 (table in
//! `common`); per hour (ewr | jfk | lga): 06:00 24 | 15 | 23; 07:00 23 | 21 | 15;
//! 08:00 28 | 28 | 19.

mod common;

use common::*;
use presage_recipe_processor::RecipeOutput;
use serde_json::json;

const APP: &str = "nyc";

fn run(recipes: &[&str], samples: &[presage_events::RawSample]) -> Vec<RecipeOutput> {
    let mut driver = Driver::new("v1", &template(APP, STRICT, recipes));
    driver.push_all(samples);
    driver.flush();
    driver.outputs
}

fn three_airports() -> Vec<presage_events::RawSample> {
    interleaved(APP, &["ewr", "jfk", "lga"], "06:00", "08:45")
}

#[test]
fn group_by_emits_one_metric_per_label_value_carrying_that_label() {
    let out = run(
        &["{ name: hourly, from: api.departures, aggregate: sum, group_by: [airport], window: { tumble: 1h } }"],
        &three_airports(),
    );
    let expected = [
        // 5+8+9+2, 3+6+2+4, 3+9+2+9
        ("06:00", [("ewr", 24.0), ("jfk", 15.0), ("lga", 23.0)]),
        // 8+6+3+6, 7+6+3+5, 3+4+2+6
        ("07:00", [("ewr", 23.0), ("jfk", 21.0), ("lga", 15.0)]),
        // 5+6+10+7, 12+6+5+5, 5+6+3+5
        ("08:00", [("ewr", 28.0), ("jfk", 28.0), ("lga", 19.0)]),
    ];
    for (hour, groups) in expected {
        for (airport, sum) in groups {
            let d = window(&out, "hourly", at(hour), &[("airport", airport)]);
            assert_near(d.value, sum, &format!("{airport} {hour}"));
            assert_eq!(d.sample_count, 4, "{airport} {hour}: four quarters");
        }
    }
    // 3 hours × 3 airports, each its own event
    let mut ids: Vec<&str> = derived(&out).iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids.len(), 9);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 9, "each group's metric has its own event id");
}

#[test]
fn filter_keeps_only_samples_whose_value_and_labels_pass() {
    let out = run(
        &[
            r#"{ name: busy_sum, from: api.departures, filter: 'value >= 5 && labels.airport != "lga"', aggregate: sum, window: { tumble: 1h } }"#,
            r#"{ name: busy_count, from: api.departures, filter: 'value >= 5 && labels.airport != "lga"', aggregate: count, window: { tumble: 1h } }"#,
        ],
        &three_airports(),
    );
    // 06:00: ewr 5, 8, 9 (2 dropped), jfk 6 (3, 2, 4 dropped): 5+8+9+6 = 28 from 4 samples
    assert_near(value(&out, "busy_sum", at("06:00")), 28.0, "06:00 sum");
    assert_near(value(&out, "busy_count", at("06:00")), 4.0, "06:00 count");
    // 07:00: ewr 8, 6, 6 (3 dropped), jfk 7, 6, 5 (3 dropped): 20 + 18 = 38 from 6
    assert_near(value(&out, "busy_sum", at("07:00")), 38.0, "07:00 sum");
    assert_near(value(&out, "busy_count", at("07:00")), 6.0, "07:00 count");
    // 08:00: all of ewr 5, 6, 10, 7 and jfk 12, 6, 5, 5: 28 + 28 = 56 from 8
    assert_near(value(&out, "busy_sum", at("08:00")), 56.0, "08:00 sum");
    assert_eq!(window(&out, "busy_sum", at("08:00"), &[]).sample_count, 8);
}

#[test]
fn selector_regex_and_negative_matchers_pick_the_series() {
    let out = run(
        &[
            r#"{ name: jfk_lga, from: 'api.departures{airport=~"jfk|lga"}', aggregate: sum, window: { tumble: 1h } }"#,
            r#"{ name: not_jfk, from: 'api.departures{airport!="jfk"}', aggregate: sum, window: { tumble: 1h } }"#,
            // anchored like Prometheus: "j" alone matches no airport
            r#"{ name: just_j, from: 'api.departures{airport=~"j"}', aggregate: sum, window: { tumble: 1h } }"#,
        ],
        &three_airports(),
    );
    // jfk + lga: 15+23 = 38; 21+15 = 36; 28+19 = 47
    assert_near(value(&out, "jfk_lga", at("06:00")), 38.0, "jfk|lga 06:00");
    assert_near(value(&out, "jfk_lga", at("07:00")), 36.0, "jfk|lga 07:00");
    assert_near(value(&out, "jfk_lga", at("08:00")), 47.0, "jfk|lga 08:00");
    // ewr + lga: 24+23 = 47; 23+15 = 38; 28+19 = 47
    assert_near(value(&out, "not_jfk", at("06:00")), 47.0, "!=jfk 06:00");
    assert_near(value(&out, "not_jfk", at("07:00")), 38.0, "!=jfk 07:00");
    assert_near(value(&out, "not_jfk", at("08:00")), 47.0, "!=jfk 08:00");
    assert!(of(&out, "just_j").is_empty(), "{:?}", summary(&out));
}

#[test]
fn a_joined_signal_is_its_newest_value_before_the_window_end() {
    // ewr departures 05:00..08:45 and ewr temperatures 06:00..09:00 in event-time order.
    let samples = merge(&[
        temperature_samples(APP, "ewr", "06:00", "09:00"),
        departure_samples(APP, "ewr", "05:00", "08:45"),
    ]);
    let out = run(
        &["{ name: hourly, from: api.departures, aggregate: sum, window: { tumble: 1h }, join: [ { signal: wx.temp, as: temp } ] }"],
        &samples,
    );
    // [06:00, 07:00): the 06:00 reading, 35.96; the 07:00 reading (37.94) is at the end, not before
    let six = window(&out, "hourly", at("06:00"), &[]);
    assert_eq!(six.signals.get("temp"), Some(&35.96), "{six:?}");
    assert_near(six.value, 24.0, "06:00 sum"); // the joined signal is not a departure
                                               // [07:00, 08:00) → 37.94; [08:00, 09:00) → 39.92
    assert_eq!(
        window(&out, "hourly", at("07:00"), &[]).signals.get("temp"),
        Some(&37.94)
    );
    assert_eq!(
        window(&out, "hourly", at("08:00"), &[]).signals.get("temp"),
        Some(&39.92)
    );
    // [05:00, 06:00) ends before the first reading: emitted (0+1+0+7 = 8) with no signal
    let five = window(&out, "hourly", at("05:00"), &[]);
    assert_near(five.value, 8.0, "05:00 sum");
    assert!(five.signals.is_empty(), "{five:?}");
}

#[test]
fn sql_replaces_the_generated_query() {
    let out = run(
        &["{ name: spread, from: api.departures, sql: 'SELECT app, window_start, max(value) - min(value) AS value, count(*) AS n FROM samples GROUP BY app, window_start', window: { tumble: 1h } }"],
        &departure_samples(APP, "ewr", "06:00", "08:45"),
    );
    // 9−2 = 7; 8−3 = 5; 10−5 = 5
    assert_near(value(&out, "spread", at("06:00")), 7.0, "06:00");
    assert_near(value(&out, "spread", at("07:00")), 5.0, "07:00");
    assert_near(value(&out, "spread", at("08:00")), 5.0, "08:00");
    assert_eq!(window(&out, "spread", at("08:00"), &[]).sample_count, 4);
}

#[test]
fn fragments_render_the_assignments_as_a_nested_json_document() {
    let out = run(
        &[
            r#"{ name: per_hour, from: api.departures, aggregate: sum, window: { tumble: 1h }, fragments: { format: json, set: ["config.worker_threads = clamp(ceil(per_hour / 4), 2, 32)", "config.cache_mb = clamp(value * 10, 64, 256)"] } }"#,
        ],
        &departure_samples(APP, "ewr", "06:00", "08:45"),
    );
    let fragments = fragments(&out);
    let metrics = of(&out, "per_hour");
    assert_eq!(fragments.len(), 3, "one fragment per window");
    let expected = [
        // 24: ceil(6) = 6 threads; 240 MB
        json!({"config": {"worker_threads": 6, "cache_mb": 240}}),
        // 23: ceil(5.75) = 6; 230
        json!({"config": {"worker_threads": 6, "cache_mb": 230}}),
        // 28: ceil(7) = 7; 280 clamped to 256
        json!({"config": {"worker_threads": 7, "cache_mb": 256}}),
    ];
    for ((fragment, metric), expected) in fragments.iter().zip(&metrics).zip(expected) {
        assert_eq!(fragment.format, "json");
        let body: serde_json::Value = serde_json::from_str(&fragment.body)
            .unwrap_or_else(|e| panic!("body {:?}: {e}", fragment.body));
        assert_eq!(body, expected, "window {}", metric.window_start_ms);
        assert_eq!(fragment.recipe, "per_hour");
        assert_eq!(fragment.app, APP);
        assert_eq!(fragment.window_end_ms, metric.window_end_ms);
        assert_eq!(fragment.lineage, vec![metric.event_id.clone()]);
        assert_ne!(fragment.event_id, metric.event_id);
    }
}

#[test]
fn fragments_in_yaml_read_join_aliases_and_the_sample_count() {
    let samples = merge(&[
        temperature_samples(APP, "ewr", "06:00", "09:00"),
        interleaved(APP, &["ewr", "jfk", "lga"], "06:00", "08:45"),
    ]);
    let out = run(
        &[
            r#"{ name: all_airports, from: api.departures, aggregate: sum, window: { tumble: 1h }, join: [ { signal: wx.temp, as: temp } ], fragments: { format: yaml, set: ["config.worker_threads = clamp(ceil(all_airports / 4), 2, 32)", "config.outside_f = round(temp)", "resources.scrapes = n"] } }"#,
        ],
        &samples,
    );
    let bodies: Vec<serde_json::Value> = fragments(&out)
        .iter()
        .map(|f| {
            assert_eq!(f.format, "yaml");
            yaml_serde::from_str(&f.body).unwrap_or_else(|e| panic!("body {:?}: {e}", f.body))
        })
        .collect();
    assert_eq!(
        bodies,
        vec![
            // 62 → ceil(15.5) = 16; 35.96 → 36; 3 airports × 4 quarters
            json!({"config": {"worker_threads": 16, "outside_f": 36}, "resources": {"scrapes": 12}}),
            // 59 → ceil(14.75) = 15; 37.94 → 38
            json!({"config": {"worker_threads": 15, "outside_f": 38}, "resources": {"scrapes": 12}}),
            // 75 → ceil(18.75) = 19; 39.92 → 40
            json!({"config": {"worker_threads": 19, "outside_f": 40}, "resources": {"scrapes": 12}}),
        ]
    );
}
