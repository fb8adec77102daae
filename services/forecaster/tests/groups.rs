//! Recipes with `group_by`: each label combination of the output is its own series, forecast
//! with its labels; an algorithm holds at most `max_groups` groups per app and refuses (counts)
//! the windows of any group beyond them, evicting none; a restart that remembers the history
//! forecasts the same groups the same way.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use presage_events::{DerivedMetric, Forecast};
use presage_forecaster::Forecaster;
use presage_template::Template;

const ALGORITHM: &str =
    "horizon: 3h, models: [seasonal_naive, naive], seasonality: [1d], history: 4d, refit: 6h";

/// App `shop`, recipe `demand` grouped by `zone`, hourly windows.
fn grouped_template(extra: &str) -> Arc<Template> {
    let yaml = format!(
        "app: shop\ndynamic_metadata:\n  sources: [{{ id: g, kind: prometheus, url: \"http://x/metrics\" }}]\n  metric_recipes: [{{ name: demand, from: g.demand, aggregate: sum, group_by: [zone], window: {{ tumble: 1h }} }}]\n  prediction_algorithms:\n    - {{ target: demand, {ALGORITHM}{extra} }}\n"
    );
    Arc::new(presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}")))
}

fn forecaster(extra: &str) -> Forecaster {
    let mut f = Forecaster::new();
    f.set_template("v1", grouped_template(extra));
    f
}

fn zone(z: &str) -> BTreeMap<String, String> {
    [("zone".to_string(), z.to_string())].into()
}

/// The window of `zone` at `at_ms`; its id names the group, as the recipe-processor's do.
fn window(at_ms: i64, z: &str, value: f64) -> DerivedMetric {
    DerivedMetric {
        event_id: format!("d{at_ms}-{z}"),
        labels: zone(z),
        ..derived(at_ms, HOUR_MS, value)
    }
}

/// A daily shape of `level` (high by day, low at night), exact so seasonal naive repeats it.
fn daily(level: f64, hour: i64) -> f64 {
    level * (1.0 + ((hour % 24) as f64 / 24.0 * std::f64::consts::TAU).sin() * 0.5)
}

/// `days` of hourly windows of each zone in `zones` (level 100 × its index + 1), interleaved
/// as one partition delivers them.
fn windows(zones: &[&str], days: i64) -> Vec<DerivedMetric> {
    (0..24 * days)
        .flat_map(|h| {
            zones
                .iter()
                .enumerate()
                .map(move |(i, z)| window(h * HOUR_MS, z, daily(100.0 * (i + 1) as f64, h).round()))
        })
        .collect()
}

fn feed(f: &mut Forecaster, input: &[DerivedMetric]) -> Vec<Forecast> {
    input
        .iter()
        .flat_map(|d| f.on_derived(d).unwrap())
        .collect()
}

fn of<'a>(forecasts: &'a [Forecast], z: &str) -> Vec<&'a Forecast> {
    forecasts.iter().filter(|f| f.labels == zone(z)).collect()
}

#[test]
fn each_group_is_its_own_series_and_its_forecasts_carry_its_labels() {
    let mut f = forecaster("");
    let forecasts = feed(&mut f, &windows(&["eu", "us"], 6));
    assert_eq!(f.series_count(), 2);
    let (eu, us) = (of(&forecasts, "eu"), of(&forecasts, "us"));
    assert_eq!(
        eu.len() + us.len(),
        forecasts.len(),
        "every forecast names its group"
    );
    assert_eq!(eu.len(), us.len());
    assert!(eu.len() > 100);
    // the newest of each follows its own group's level (100 vs 200), not a mix of the two
    let (last_eu, last_us) = (eu.last().unwrap(), us.last().unwrap());
    assert_eq!(last_eu.issued_at_ms, last_us.issued_at_ms);
    assert_eq!(last_eu.model, "seasonal_naive");
    for (e, u) in last_eu.points.iter().zip(&last_us.points) {
        let hour = e.at_ms / HOUR_MS;
        assert!((e.point - daily(100.0, hour).round()).abs() < 1e-9, "{e:?}");
        assert!((u.point - daily(200.0, hour).round()).abs() < 1e-9, "{u:?}");
    }
    assert_ne!(last_eu.event_id, last_us.event_id);
    assert_eq!(f.groups_refused(), 0);
}

#[test]
fn groups_beyond_max_groups_are_refused_and_counted_and_none_is_evicted() {
    let mut f = forecaster(", max_groups: 2");
    let days = 3;
    let forecasts = feed(&mut f, &windows(&["eu", "us", "ap", "sa"], days));
    // the first two groups to arrive are held and forecast throughout
    assert!(!of(&forecasts, "eu").is_empty());
    assert_eq!(of(&forecasts, "eu").len(), of(&forecasts, "us").len());
    assert!(of(&forecasts, "ap").is_empty() && of(&forecasts, "sa").is_empty());
    assert_eq!(f.series_count(), 2);
    // every window of the two refused groups is counted
    assert_eq!(f.groups_refused(), 2 * 24 * days as u64);
    // an admitted group keeps being forecast after refusals (not evicted)
    let more = feed(&mut f, &[window(24 * days * HOUR_MS, "eu", 150.0)]);
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].labels, zone("eu"));
}

#[test]
fn an_unlabelled_output_is_not_a_group_and_never_refused() {
    let mut f = forecaster(", max_groups: 1");
    let mut input = windows(&["eu"], 2);
    input.extend((0..48).map(|h| derived(h * HOUR_MS, HOUR_MS, 5.0)));
    let forecasts = feed(&mut f, &input);
    assert_eq!(f.groups_refused(), 0);
    assert!(forecasts.iter().any(|f| f.labels.is_empty()));
    assert!(forecasts.iter().any(|f| f.labels == zone("eu")));
}

#[test]
fn a_restart_that_remembers_the_history_forecasts_every_group_the_same() {
    let input = windows(&["eu", "us", "ap"], 6);
    let mut uninterrupted = forecaster(", max_groups: 2");
    let all = feed(&mut uninterrupted, &input);
    let cut = 3 * (24 * 4 + 7);
    let mut restarted = forecaster(", max_groups: 2");
    let span = restarted.history_span_ms();
    let last_end = input[cut - 1].window_end_ms;
    for d in &input[..cut] {
        if d.window_end_ms >= last_end - span {
            restarted.remember(d);
        }
    }
    let after = feed(&mut restarted, &input[cut..]);
    let expected: Vec<&Forecast> = all.iter().filter(|f| f.issued_at_ms > last_end).collect();
    assert!(!after.is_empty());
    assert_eq!(after.len(), expected.len());
    for (got, want) in after.iter().zip(expected) {
        assert_eq!(got, want);
    }
    // the same two groups are held; the third is still refused
    assert!(of(&after, "ap").is_empty());
    assert!(!of(&after, "eu").is_empty() && !of(&after, "us").is_empty());
    assert!(restarted.groups_refused() > 0);
}

#[test]
fn forgetting_an_app_frees_its_groups() {
    let mut f = forecaster(", max_groups: 1");
    feed(&mut f, &windows(&["eu", "us"], 1));
    assert!(f.groups_refused() > 0);
    f.forget_apps(["shop"]);
    assert_eq!(f.series_count(), 0);
    let refused = f.groups_refused();
    // the partition came back: the first group to arrive now is held
    let forecasts = feed(&mut f, &windows(&["us"], 1));
    assert_eq!(f.groups_refused(), refused);
    assert!(!of(&forecasts, "us").is_empty());
}
