//! What the planner's tests share: real demand (England and Wales, half-hourly, from
//! `../shared/data/taylor-demand.csv`), a planner over one template, and "perfect" forecasts cut
//! from the trace (each point the demand that actually followed, bounds ±5%).

#![allow(dead_code)] // each test file uses its own part

use std::sync::Arc;

use presage_events::{DerivedMetric, Forecast, ForecastPoint, ScalingDirective};
use presage_planner::Planner;
use presage_template::{calendar, Template};

pub const STEP: i64 = 1_800_000;

/// Demand (MW) from `start` for `count` half-hours.
pub fn demand(start: &str, count: usize) -> Vec<(i64, f64)> {
    shared_series("taylor-demand.csv", None, start, count)
}

/// `count` samples of one app (or of every row, `None`) of a `../shared/data` trace in the
/// long format (`timestamp,app,metric,value`), from `start`.
pub fn shared_series(file: &str, app: Option<&str>, start: &str, count: usize) -> Vec<(i64, f64)> {
    let path = format!("{}/../../../shared/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let from = calendar::parse_timestamp(start).unwrap();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            if app.is_some_and(|app| cols[1] != app) {
                return None;
            }
            let at = calendar::parse_timestamp(cols[0])?;
            (at >= from).then(|| (at, cols[3].parse().unwrap()))
        })
        .take(count)
        .collect()
}

/// The test app's template (one half-hourly recipe `mw`) with these scaling policies, on
/// `timezone` when given.
pub fn template(timezone: Option<&str>, policies: &[&str]) -> Template {
    let mut yaml = String::from("app: grid\n");
    if let Some(zone) = timezone {
        yaml.push_str(&format!("timezone: {zone}\n"));
    }
    yaml.push_str(
        "dynamic_metadata:\n  sources: [{ id: g, kind: prometheus, url: \"http://x/metrics\" }]\n  metric_recipes: [{ name: mw, from: g.mw, window: { tumble: 30m } }]\n  scaling_policies:\n",
    );
    for p in policies {
        yaml.push_str(&format!("    - {p}\n"));
    }
    presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// A planner over `template(None, policies)`.
pub fn planner(policies: &[&str]) -> Planner {
    let mut planner = Planner::new();
    planner.set_template("v1", Arc::new(template(None, policies)));
    planner
}

/// The observed half-hour `trace[i]` as the recipe-processor derives it (one sample).
pub fn observed(trace: &[(i64, f64)], i: usize) -> DerivedMetric {
    DerivedMetric {
        event_id: format!("d{i}"),
        app: "grid".into(),
        template_version: "v1".into(),
        recipe: "mw".into(),
        window_start_ms: trace[i].0,
        window_end_ms: trace[i].0 + STEP,
        value: trace[i].1,
        sample_count: 1,
        ..Default::default()
    }
}

/// The target in force at `at_ms`: that of the newest directive issued at or before it.
#[track_caller]
pub fn target_at(directives: &[ScalingDirective], at_ms: i64) -> i64 {
    directives
        .iter()
        .rev()
        .find(|d| d.issued_at_ms <= at_ms)
        .unwrap_or_else(|| panic!("no directive by {at_ms}"))
        .target
}

/// The forecast issued at `trace[i]`'s time: its points are the next `horizon` half-hours of the
/// trace (the first is the window now starting), with ±5% bounds.
pub fn forecast(trace: &[(i64, f64)], i: usize, horizon: usize) -> Forecast {
    let issued_at_ms = trace[i].0;
    Forecast {
        event_id: format!("f{i}"),
        app: "grid".into(),
        template_version: "v1".into(),
        metric: "mw".into(),
        model: "mstl".into(),
        issued_at_ms,
        step_ms: STEP,
        interval_level: 0.9,
        points: trace[i..(i + horizon).min(trace.len())]
            .iter()
            .map(|(at_ms, v)| ForecastPoint {
                at_ms: *at_ms,
                point: *v,
                lower: v * 0.95,
                upper: v * 1.05,
            })
            .collect(),
        lineage: vec![format!("d{i}")],
        fitted_at_ms: issued_at_ms - STEP,
        score: Some(0.42),
        cold_start: false,
        interval_method: "conformal".into(),
        ..Default::default()
    }
}

/// Runs every forecast of the trace through the planner; the directives in order.
pub fn run(planner: &mut Planner, trace: &[(i64, f64)], horizon: usize) -> Vec<ScalingDirective> {
    (0..trace.len())
        .flat_map(|i| planner.on_forecast(&forecast(trace, i, horizon)).unwrap())
        .collect()
}
