//! Plans on a real broker: the real `presage-planner`, given a template whose policy has
//! `plan: { ahead: 12h }` and forecasts with a 12-hour path every two hours, publishes
//! directives whose plans schedule the day's ramps; killed with SIGKILL in the middle and
//! started again, it reads its directives (and their plans) back and publishes exactly what a
//! planner that never stopped publishes: the same ids, targets, previous targets (which count
//! the plan steps that fell due between forecasts) and plans.
//!
//! Demand is departures per quarter hour (`nyc-departures-15m.csv`, from 2013-03-04), moved to
//! the recent past by whole weeks; each forecast's path is the same quarter hours a day earlier.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::planner_replay::{
    assert_published_as_expected, produce_all, publish_template, trace, Trace, STEP,
};
use presage_events::{Forecast, ForecastPoint, PlannedStep, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_planner::Planner;

const DAY: usize = 96;
/// A day of history for the paths, then two days of forecasts every 8 windows (2 hours).
const WINDOWS: usize = 3 * DAY + 48;
const EVERY: usize = 8;
const PATH: usize = 48;

const TEMPLATE: &str = r#"
app: jfk
dynamic_metadata:
  sources:
    - { id: f, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  metric_recipes:
    - { name: departures, from: f.departures, window: { tumble: 15m } }
  prediction_algorithms:
    - { target: departures, horizon: 12h, models: [seasonal_naive], seasonality: [1d] }
  scaling_policies:
    - { resource: gates, metric: departures, per_unit: 2, use: mean, lead_time: 15m, min: 1, max: 60, max_step_down: 3, plan: { ahead: 12h } }
"#;

/// Issued at the start of window `i`: the next 12 hours, each the same quarter hour a day
/// earlier, ±10%.
fn forecast(t: &Trace, version: &str, i: usize) -> Forecast {
    let points = (i..i + PATH)
        .map(|j| {
            let mean = t.values[j - DAY];
            ForecastPoint {
                at_ms: t.starts[j],
                point: mean,
                lower: mean * 0.9,
                upper: mean * 1.1,
            }
        })
        .collect();
    Forecast {
        event_id: format!("plan-f{i}"),
        app: "jfk".into(),
        template_version: version.into(),
        metric: "departures".into(),
        model: "seasonal_naive".into(),
        issued_at_ms: t.starts[i],
        step_ms: STEP,
        interval_level: 0.9,
        points,
        score: Some(0.8),
        ..Default::default()
    }
}

fn forecasts(t: &Trace, version: &str, from: usize, to: usize) -> Vec<Forecast> {
    (from..to)
        .filter(|i| (i - DAY).is_multiple_of(EVERY))
        .map(|i| forecast(t, version, i))
        .collect()
}

type Said = BTreeMap<String, (i64, Option<i64>, Vec<PlannedStep>)>;

/// Directives by id; one id published twice (a forecast read again after the kill) must say
/// the same both times.
fn by_id(directives: &[ScalingDirective]) -> Said {
    common::planner_replay::by_id(directives, |d| {
        (d.target, d.previous_target, d.plan.clone())
    })
}

#[test]
fn the_planner_publishes_plans_and_a_restart_in_between_changes_none() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let workdir = tempfile::tempdir().expect("workdir");
    let loaded = publish_template(&kafka, workdir.path(), "jfk.yaml", TEMPLATE);
    let version = loaded.version.clone();
    let t = trace(WINDOWS);
    let last = WINDOWS - PATH;
    let stop = DAY + 2 * DAY / 3;

    let mut uninterrupted = Planner::new();
    uninterrupted.set_template(&version, Arc::clone(&loaded.template));
    let mut expected = Vec::new();
    for f in forecasts(&t, &version, DAY, last) {
        expected.extend(uninterrupted.on_forecast(&f).unwrap());
    }
    // The plans say something: steps due between forecasts, so the next directive's previous
    // target is a plan's, not the last directive's own target.
    assert!(expected
        .iter()
        .all(|d| d.plan.iter().all(|s| s.due_at_ms > d.issued_at_ms)));
    assert!(expected.iter().filter(|d| d.plan.len() >= 3).count() > 10);
    let moved_by_plans = expected
        .windows(2)
        .filter(|w| w[1].previous_target != Some(w[0].target))
        .count();
    assert!(
        moved_by_plans > 5,
        "{moved_by_plans} directives after a plan's steps"
    );
    let before_stop = expected
        .iter()
        .filter(|d| d.issued_at_ms < t.starts[stop])
        .count();
    let expected = by_id(&expected);

    let directives = TopicReader::open(&kafka, &kafka.topics().directives());
    let mut services = Services::new(&workdir.path().join("logs"));
    services.start("planner", &kafka, workdir.path());
    produce_all(
        &kafka,
        &kafka.topics().forecasts(),
        forecasts(&t, &version, DAY, stop).into_iter(),
    );
    let mut seen: Vec<ScalingDirective> = Vec::new();
    assert!(
        directives.wait_until(&mut seen, Duration::from_secs(120), |d| d.len()
            >= before_stop),
        "first run: {} of {before_stop} directives\n{}",
        seen.len(),
        services.logs()
    );
    services.kill("planner");
    services.start("planner", &kafka, workdir.path());
    produce_all(
        &kafka,
        &kafka.topics().forecasts(),
        forecasts(&t, &version, stop, last).into_iter(),
    );
    assert_published_as_expected(&directives, &mut seen, &mut services, &expected, by_id);
}
