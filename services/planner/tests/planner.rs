//! The planner core turns a forecast into directives for every policy tracking its metric.

use std::sync::Arc;

use presage_events::{Forecast, ForecastPoint};
use presage_planner::{PlanError, Planner};

fn planner() -> Planner {
    let yaml = "app: shop\ndynamic_metadata:\n  sources: [{ id: api, kind: prometheus, url: \"http://x/metrics\" }]\n  metric_recipes: [{ name: rps, from: api.rps, window: { tumble: 1m } }, { name: cpu, from: api.cpu, window: { tumble: 1m } }]\n  scaling_policies:\n    - { resource: replicas, metric: rps, per_unit: 100, use: upper, lead_time: 2m, min: 2, max: 20 }\n    - { resource: memory_mb, metric: rps, per_unit: 0.5, use: point, min: 512, max: 8192 }\n    - { resource: nodes, metric: cpu, per_unit: 1, min: 1, max: 5 }\n";
    let mut p = Planner::new();
    p.set_template(
        "v3",
        Arc::new(presage_template::parse(yaml, "t.yaml").unwrap()),
    );
    p
}

fn forecast(id: &str, issued_at_ms: i64, values: &[f64]) -> Forecast {
    Forecast {
        event_id: id.into(),
        app: "shop".into(),
        template_version: "v3".into(),
        metric: "rps".into(),
        model: "seasonal_naive".into(),
        issued_at_ms,
        step_ms: 60_000,
        interval_level: 0.9,
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| ForecastPoint {
                at_ms: issued_at_ms + (i as i64 + 1) * 60_000,
                point: *v,
                lower: v - 10.0,
                upper: v + 10.0,
            })
            .collect(),
        lineage: vec!["derived-1".into()],
        fitted_at_ms: issued_at_ms - 60_000,
        score: Some(0.9),
        candidates: Vec::new(),
        cold_start: false,
        interval_method: "model".into(),
        periods_ms: Vec::new(),
        history_points: 100,
        filled_points: 0,
    }
}

#[test]
fn every_policy_on_the_metric_states_its_target_with_its_reasons() {
    let mut p = planner();
    let directives = p
        .on_forecast(&forecast("f1", 0, &[300.0, 640.0, 900.0]))
        .unwrap();
    assert_eq!(directives.len(), 2, "the cpu policy does not track rps");
    let replicas = &directives[0];
    assert_eq!(
        (replicas.resource.as_str(), replicas.target),
        ("replicas", 7)
    ); // upper 650 at 2m
    assert_eq!(replicas.effective_at_ms, 120_000);
    assert_eq!(replicas.previous_target, None);
    assert_eq!(replicas.template_version, "v3");
    assert_eq!(
        replicas.lineage,
        vec!["f1".to_string(), "derived-1".to_string()]
    );
    assert!(
        replicas.reason.contains("seasonal_naive"),
        "{}",
        replicas.reason
    );
    let memory = &directives[1];
    assert_eq!(
        (memory.resource.as_str(), memory.target),
        ("memory_mb", 600)
    ); // point 300 at 1m / 0.5
}

#[test]
fn an_unchanged_target_yields_no_new_directive_and_a_change_names_the_previous_one() {
    let mut p = planner();
    p.on_forecast(&forecast("f1", 0, &[300.0, 640.0])).unwrap();
    let same = p
        .on_forecast(&forecast("f2", 60_000, &[300.0, 640.0]))
        .unwrap();
    assert!(same.is_empty(), "{same:?}");
    let up = p
        .on_forecast(&forecast("f3", 120_000, &[300.0, 1_290.0]))
        .unwrap();
    let replicas = up.iter().find(|d| d.resource == "replicas").unwrap();
    assert_eq!((replicas.target, replicas.previous_target), (13, Some(7)));
}

#[test]
fn directive_ids_follow_from_the_forecast() {
    let a = planner()
        .on_forecast(&forecast("f1", 0, &[300.0, 640.0]))
        .unwrap();
    let b = planner()
        .on_forecast(&forecast("f1", 0, &[300.0, 640.0]))
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a[0].event_id, a[1].event_id);
}

#[test]
fn an_unknown_app_is_an_error() {
    let mut stray = forecast("f1", 0, &[1.0]);
    stray.app = "nobody".into();
    assert_eq!(
        planner().on_forecast(&stray),
        Err(PlanError::UnknownApp("nobody".into()))
    );
}
