//! A planner restarted from its published directives (as the shell does when it is assigned a
//! partition: every directive read back, oldest first) decides exactly as the planner that ran
//! on, when its policies plan: the plan in force is what the directives carry (its steps), and
//! what a step leaves behind once due (its recommendation in the stabilization history, whether
//! the target is held at max) is derived from the step's value and target on both sides.
//!
//! Real demand (England and Wales, half-hourly, `../shared/data/taylor-demand.csv`), "perfect"
//! forecasts cut from it every two hours, 24h long, a plan 12h ahead; the policy's max is below
//! the daily peak (held at max every day) and its stabilization windows (1h up, 90m down) span
//! plan steps between forecasts. (They are shorter than the two hours between forecasts: the
//! immediate decisions' recommendations, including those of decisions that published nothing,
//! are not in the directives, so no restart can read those back.)

use std::sync::Arc;

use presage_events::{Forecast, ForecastPoint, ScalingDirective};
use presage_planner::Planner;
use presage_template::{calendar, Template};

const STEP: i64 = 1_800_000;
/// Half hours between forecasts (two hours).
const EVERY: usize = 4;
const HORIZON: usize = 48;

const POLICY: &str =
    "{ resource: replicas, metric: mw, per_unit: 1000, use: mean, lead_time: 30m, \
     min: 1, max: 32, stabilization: { up: 1h, down: 90m }, max_step_down: 3, \
     plan: { ahead: 12h } }";

/// Demand (MW) from `start` for `count` half hours.
fn demand(start: &str, count: usize) -> Vec<(i64, f64)> {
    let path = format!(
        "{}/../../../shared/data/taylor-demand.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let from = calendar::parse_timestamp(start).unwrap();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let at = calendar::parse_timestamp(cols[0])?;
            (at >= from).then(|| (at, cols[3].parse().unwrap()))
        })
        .take(count)
        .collect()
}

fn template(policy: &str) -> Template {
    let yaml = format!(
        "app: grid\ndynamic_metadata:\n  sources: [{{ id: g, kind: prometheus, url: \"http://x/metrics\" }}]\n  metric_recipes: [{{ name: mw, from: g.mw, window: {{ tumble: 30m }} }}]\n  prediction_algorithms: [{{ target: mw, horizon: 24h, models: [naive] }}]\n  scaling_policies:\n    - {policy}\n"
    );
    presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn planner(policy: &str) -> Planner {
    let mut planner = Planner::new();
    planner.set_template("v1", Arc::new(template(policy)));
    planner
}

/// The forecast issued at `trace[i]`: the next `HORIZON` half hours as they came, ±5%.
fn forecast(trace: &[(i64, f64)], i: usize) -> Forecast {
    Forecast {
        event_id: format!("f{i}"),
        app: "grid".into(),
        template_version: "v1".into(),
        metric: "mw".into(),
        model: "mstl".into(),
        issued_at_ms: trace[i].0,
        step_ms: STEP,
        interval_level: 0.9,
        points: trace[i..(i + HORIZON).min(trace.len())]
            .iter()
            .map(|(at_ms, v)| ForecastPoint {
                at_ms: *at_ms,
                point: *v,
                lower: v * 0.95,
                upper: v * 1.05,
            })
            .collect(),
        lineage: vec![format!("d{i}")],
        score: Some(0.42),
        ..Default::default()
    }
}

/// The indices of the trace a forecast is issued at.
fn forecast_indices(trace: &[(i64, f64)]) -> Vec<usize> {
    (0..trace.len() - HORIZON / 2).step_by(EVERY).collect()
}

#[test]
fn a_planner_restarted_from_its_directives_publishes_exactly_what_the_uninterrupted_one_does() {
    // Monday to Friday of a June week: 4 days of forecasts, each reaching 24h on
    let trace = demand("2000-06-05T00:00:00Z", 5 * 48);
    let indices = forecast_indices(&trace);
    let mut uninterrupted = planner(POLICY);
    let all: Vec<ScalingDirective> = indices
        .iter()
        .flat_map(|i| uninterrupted.on_forecast(&forecast(&trace, *i)).unwrap())
        .collect();

    // What the run exercises: plans with steps, max held (and left) by directives and by plan
    // steps, stabilization shaping the plans.
    assert!(all.len() >= 12, "{} directives", all.len());
    assert!(all.iter().filter(|d| !d.plan.is_empty()).count() >= 8);
    assert!(all.iter().any(|d| d.targets[0].at_max));
    assert!(all.iter().any(|d| !d.targets[0].at_max && d.target < 32));
    assert!(all
        .iter()
        .flat_map(|d| &d.plan)
        .any(|s| s.targets.iter().any(|t| t.target == 32)));
    let unstabilized = POLICY.replace("stabilization: { up: 1h, down: 90m }, ", "");
    let mut without = planner(&unstabilized);
    let without: Vec<ScalingDirective> = indices
        .iter()
        .flat_map(|i| without.on_forecast(&forecast(&trace, *i)).unwrap())
        .collect();
    assert_ne!(
        all.iter().map(|d| &d.plan).collect::<Vec<_>>(),
        without.iter().map(|d| &d.plan).collect::<Vec<_>>(),
        "stabilization changed no plan"
    );

    // Restarted after each forecast in turn: reads back what was published before the cut,
    // then takes the forecasts from the cut on.
    for (n, cut) in indices.iter().enumerate().skip(1) {
        let cut_ms = trace[*cut].0;
        let mut restarted = planner(POLICY);
        for d in all.iter().filter(|d| d.issued_at_ms < cut_ms) {
            restarted.remember_directive(d);
        }
        let after: Vec<ScalingDirective> = indices[n..]
            .iter()
            .flat_map(|i| restarted.on_forecast(&forecast(&trace, *i)).unwrap())
            .collect();
        let expected: Vec<&ScalingDirective> =
            all.iter().filter(|d| d.issued_at_ms >= cut_ms).collect();
        let ids = |ds: &[&ScalingDirective]| -> Vec<String> {
            ds.iter().map(|d| d.event_id.clone()).collect()
        };
        assert_eq!(
            ids(&after.iter().collect::<Vec<_>>()),
            ids(&expected),
            "restarted at forecast {cut}: other directives"
        );
        for (got, want) in after.iter().zip(expected) {
            // ids, targets (with previous target and held-at-max), plans, reasons: all of it
            assert_eq!(got, want, "restarted at forecast {cut}");
        }
    }
}
