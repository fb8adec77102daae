//! The forecaster core, fed derived metrics, publishes seasonal-naive forecasts on the recipe's
//! window grid once it has a season of history and one past error.

use std::sync::Arc;

use presage_events::DerivedMetric;
use presage_forecaster::{ForecastError, Forecaster};

fn forecaster(models: &str) -> Forecaster {
    let yaml = format!(
        "app: grid\ndynamic_metadata:\n  sources: [{{ id: g, kind: prometheus, url: \"http://x/metrics\" }}]\n  metric_recipes: [{{ name: demand, from: g.demand, window: {{ tumble: 1s }} }}]\n  prediction_algorithms:\n    - {{ target: demand, horizon: 2s, models: {models}, seasonality: [3s], interval: 0.9 }}\n"
    );
    let mut f = Forecaster::new();
    f.set_template(
        "v7",
        Arc::new(presage_template::parse(&yaml, "t.yaml").unwrap()),
    );
    f
}

fn derived(second: i64, value: f64) -> DerivedMetric {
    DerivedMetric {
        event_id: format!("d{second}"),
        app: "grid".into(),
        template_version: "v7".into(),
        recipe: "demand".into(),
        window_start_ms: second * 1000,
        window_end_ms: second * 1000 + 1000,
        value,
        sample_count: 1,
        labels: Default::default(),
        signals: Default::default(),
        raw_partition: 0,
        raw_first_offset: second,
        raw_last_offset: second,
        lineage: vec![],
    }
}

#[test]
fn forecasts_start_after_a_season_and_repeat_it() {
    let mut f = forecaster("[seasonal_naive]");
    let cycle = [10.0, 20.0, 30.0];
    let mut forecasts = Vec::new();
    for second in 0..7 {
        forecasts.push(
            f.on_derived(&derived(second, cycle[second as usize % 3]))
                .unwrap(),
        );
    }
    assert!(
        forecasts[..3].iter().all(Vec::is_empty),
        "no error to size an interval with yet"
    );
    let last = &forecasts[6][0];
    assert_eq!(last.model, "seasonal_naive");
    assert_eq!(last.metric, "demand");
    assert_eq!(last.template_version, "v7");
    assert_eq!((last.issued_at_ms, last.step_ms), (7_000, 1_000));
    assert_eq!(last.lineage, vec!["d6".to_string()]);
    let points: Vec<(i64, f64, f64, f64)> = last
        .points
        .iter()
        .map(|p| (p.at_ms, p.point, p.lower, p.upper))
        .collect();
    // 7 s and 8 s repeat 4 s and 5 s (20 and 30); the cycle is exact, so the interval is zero.
    assert_eq!(
        points,
        vec![(7_000, 20.0, 20.0, 20.0), (8_000, 30.0, 30.0, 30.0)]
    );
}

#[test]
fn the_interval_comes_from_the_past_seasonal_errors() {
    let mut f = forecaster("[seasonal_naive]");
    let values = [10.0, 20.0, 30.0, 14.0, 20.0, 30.0];
    let mut last = Vec::new();
    for (second, value) in values.iter().enumerate() {
        last = f.on_derived(&derived(second as i64, *value)).unwrap();
    }
    let point = &last[0].points[0];
    // errors |14−10| = 4, 0, 0 → 90% quantile 4
    assert_eq!((point.point, point.lower, point.upper), (14.0, 10.0, 18.0));
}

#[test]
fn models_not_built_yet_are_passed_over_for_the_next_listed() {
    let mut f = forecaster("[mstl, ets, seasonal_naive]");
    let mut last = Vec::new();
    for second in 0..5 {
        last = f.on_derived(&derived(second, 1.0)).unwrap();
    }
    assert_eq!(last[0].model, "seasonal_naive");
}

#[test]
fn the_same_history_gives_the_same_forecast_ids() {
    let run = || {
        let mut f = forecaster("[seasonal_naive]");
        (0..6)
            .flat_map(|s| f.on_derived(&derived(s, s as f64)).unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn an_unknown_app_is_an_error() {
    let mut f = forecaster("[seasonal_naive]");
    let mut stray = derived(0, 1.0);
    stray.app = "other".into();
    assert_eq!(
        f.on_derived(&stray),
        Err(ForecastError::UnknownApp("other".into()))
    );
}
