//! The recipe-processor, fed raw samples, closes event-time windows and runs the compiled
//! DataFusion SQL over each one.

use std::collections::BTreeMap;
use std::sync::Arc;

use presage_events::RawSample;
use presage_recipe_processor::{RecipeError, RecipeOutput, RecipeProcessor};

fn processor(recipes: &str) -> RecipeProcessor {
    let yaml = format!(
        "app: shop\ndynamic_metadata:\n  sources:\n    - {{ id: api, kind: prometheus, url: \"http://127.0.0.1:1/metrics\" }}\n  metric_recipes:\n{recipes}"
    );
    let template = presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut processor = RecipeProcessor::new().unwrap();
    processor.set_template("v1", Arc::new(template));
    processor
}

fn sample(metric: &str, at_ms: i64, value: f64, labels: &[(&str, &str)]) -> RawSample {
    RawSample {
        event_id: format!("{metric}@{at_ms}{labels:?}"),
        app: "shop".into(),
        template_version: "v1".into(),
        source: "api".into(),
        metric: metric.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        value,
        event_time_ms: at_ms,
        lineage: "test".into(),
    }
}

fn feed(processor: &mut RecipeProcessor, samples: &[RawSample]) -> Vec<RecipeOutput> {
    samples
        .iter()
        .flat_map(|s| processor.on_raw(s).unwrap())
        .collect()
}

fn derived(outputs: &[RecipeOutput]) -> Vec<(i64, i64, f64, i64)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RecipeOutput::Derived(d) => {
                Some((d.window_start_ms, d.window_end_ms, d.value, d.sample_count))
            }
            RecipeOutput::Fragment(_) => None,
        })
        .collect()
}

#[test]
fn a_tumbling_average_is_emitted_when_the_watermark_passes_the_window_end() {
    let mut p =
        processor("    - { name: load, from: api.load, aggregate: avg, window: { tumble: 1s } }\n");
    let early = feed(
        &mut p,
        &[
            sample("load", 100, 10.0, &[]),
            sample("load", 500, 20.0, &[]),
        ],
    );
    assert!(early.is_empty(), "the window is still open");
    let closed = feed(&mut p, &[sample("load", 1_200, 99.0, &[])]);
    assert_eq!(derived(&closed), vec![(0, 1_000, 15.0, 2)]);
    let RecipeOutput::Derived(metric) = &closed[0] else {
        panic!()
    };
    assert_eq!(metric.recipe, "load");
    assert!(metric.sql.contains("avg(value)"), "{}", metric.sql);
    assert_eq!(
        metric.lineage,
        vec!["load@100[]".to_string(), "load@500[]".to_string()]
    );
    assert_eq!(metric.template_version, "v1");
}

#[test]
fn a_hopping_window_counts_each_sample_in_every_window_that_holds_it() {
    let mut p = processor("    - { name: load, from: api.load, aggregate: avg, window: { hop: { size: 2s, slide: 1s } } }\n");
    let out = feed(
        &mut p,
        &[
            sample("load", 500, 1.0, &[]),
            sample("load", 1_500, 3.0, &[]),
            sample("load", 2_500, 5.0, &[]),
        ],
    );
    assert_eq!(
        derived(&out),
        vec![(-1_000, 1_000, 1.0, 1), (0, 2_000, 2.0, 2)]
    );
}

#[test]
fn rate_is_the_per_second_increase_of_each_counter_with_resets_counted_from_zero() {
    let mut p = processor("    - { name: rps, from: api.requests_total, transform: rate, aggregate: sum, window: { tumble: 1m } }\n");
    let out = feed(
        &mut p,
        &[
            // series a: +60 then +60 → 120 in the minute
            sample("requests_total", 0, 100.0, &[("pod", "a")]),
            sample("requests_total", 30_000, 160.0, &[("pod", "a")]),
            sample("requests_total", 59_000, 220.0, &[("pod", "a")]),
            // series b: +50, then a reset to 10 → 60
            sample("requests_total", 0, 100.0, &[("pod", "b")]),
            sample("requests_total", 20_000, 150.0, &[("pod", "b")]),
            sample("requests_total", 40_000, 10.0, &[("pod", "b")]),
            sample("requests_total", 61_000, 0.0, &[("pod", "a")]),
        ],
    );
    let rows = derived(&out);
    assert_eq!(rows.len(), 1);
    assert!((rows[0].2 - (120.0 + 60.0) / 60.0).abs() < 1e-9, "{rows:?}");
}

#[test]
fn p95_comes_from_datafusion_percentiles() {
    let mut p = processor(
        "    - { name: p95, from: api.latency_ms, aggregate: p95, window: { tumble: 10s } }\n",
    );
    let mut samples: Vec<RawSample> = (1..=100)
        .map(|i| sample("latency_ms", i * 10, i as f64, &[]))
        .collect();
    samples.push(sample("latency_ms", 10_000, 0.0, &[]));
    let rows = derived(&feed(&mut p, &samples));
    assert_eq!(rows.len(), 1);
    assert!(
        (94.0..=96.0).contains(&rows[0].2),
        "p95 of 1..=100 was {}",
        rows[0].2
    );
    assert_eq!(rows[0].3, 100);
}

#[test]
fn a_late_sample_is_counted_and_never_reopens_a_closed_window() {
    let mut p = processor("    - { name: load, from: api.load, window: { tumble: 1s } }\n");
    feed(
        &mut p,
        &[
            sample("load", 100, 1.0, &[]),
            sample("load", 1_100, 2.0, &[]),
        ],
    );
    let late = feed(&mut p, &[sample("load", 900, 50.0, &[])]);
    assert!(late.is_empty());
    assert_eq!(p.late_samples("shop", "load"), 1);
}

#[test]
fn samples_of_other_metrics_or_labels_are_ignored() {
    let mut p = processor(
        "    - { name: load, from: api.load, filter: { region: eu }, window: { tumble: 1s } }\n",
    );
    let out = feed(
        &mut p,
        &[
            sample("load", 100, 1.0, &[("region", "eu")]),
            sample("load", 200, 1_000.0, &[("region", "us")]),
            sample("other", 300, 1_000.0, &[("region", "eu")]),
            sample("load", 1_100, 0.0, &[("region", "eu")]),
        ],
    );
    assert_eq!(derived(&out), vec![(0, 1_000, 1.0, 1)]);
}

#[test]
fn a_recipe_with_a_fragment_also_emits_its_value_as_json() {
    let mut p =
        processor("    - { name: load, from: api.load, window: { tumble: 1s }, fragment: json }\n");
    let out = feed(
        &mut p,
        &[
            sample("load", 100, 4.0, &[]),
            sample("load", 1_100, 0.0, &[]),
        ],
    );
    let fragment = out
        .iter()
        .find_map(|o| match o {
            RecipeOutput::Fragment(f) => Some(f.clone()),
            RecipeOutput::Derived(_) => None,
        })
        .expect("a fragment");
    assert_eq!(fragment.format, "json");
    let body: serde_json::Value = serde_json::from_str(&fragment.body).unwrap();
    assert_eq!(body["load"], 4.0);
    assert_eq!(body["window_end_ms"], 1_000);
}

#[test]
fn the_same_samples_give_the_same_events_with_the_same_ids() {
    let recipes = "    - { name: load, from: api.load, window: { tumble: 1s } }\n";
    let samples = [
        sample("load", 100, 1.0, &[]),
        sample("load", 700, 3.0, &[]),
        sample("load", 2_100, 0.0, &[]),
    ];
    let first = feed(&mut processor(recipes), &samples);
    let second = feed(&mut processor(recipes), &samples);
    assert!(!first.is_empty());
    assert_eq!(first, second);
}

#[test]
fn a_sample_for_an_unknown_app_is_an_error_not_a_silent_drop() {
    let mut p = processor("    - { name: load, from: api.load, window: { tumble: 1s } }\n");
    let mut stray = sample("load", 100, 1.0, &[]);
    stray.app = "nobody".into();
    assert!(matches!(p.on_raw(&stray), Err(RecipeError::UnknownApp(app)) if app == "nobody"));
}

#[test]
fn an_absurd_timestamp_is_handled_without_overflow() {
    let mut p = processor("    - { name: load, from: api.load, window: { tumble: 1s } }\n");
    feed(&mut p, &[sample("load", 100, 1.0, &[])]);
    // A sample from the end of time closes the open window instead of panicking; its own
    // window's end saturates at the largest time there is.
    let out = feed(&mut p, &[sample("load", i64::MAX, 2.0, &[])]);
    let last_start = i64::MAX - i64::MAX % 1_000;
    assert_eq!(
        derived(&out),
        vec![(0, 1_000, 1.0, 1), (last_start, i64::MAX, 2.0, 1)]
    );
}
