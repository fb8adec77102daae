//! The planner stopped and started again reads back the directives it published, so the target
//! in force, step limits and cooldown hold across the restart: its directives after the restart
//! equal those of one planner that never stopped.
//!
//! Forecasts are "perfect" ones cut from the Monday morning ramp of `taylor-demand.csv` (each
//! point is the demand that followed), moved to the recent past by whole weeks, produced to
//! `presage.forecasts`, and decided by the real `presage-planner`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_events::{Forecast, ForecastPoint, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::data::{epoch_ms, trace_slice};
use presage_integration::services::Services;
use presage_integration::topics::{produce, TopicReader};
use presage_planner::Planner;
use presage_runner::templates::{load_published, publish_templates};

const STEP: i64 = 1_800_000;
const WEEK: i64 = 7 * 24 * 3_600_000;
const BEFORE_STOP: usize = 6;
const AFTER_STOP: usize = 6;

const TEMPLATE: &str = r#"
app: grid
dynamic_metadata:
  sources:
    - { id: g, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  metric_recipes:
    - { name: mw, from: g.mw, window: { tumble: 30m } }
  scaling_policies:
    - { resource: replicas, metric: mw, per_unit: 1000, use: mean, min: 1, max: 60, max_step_up: 2, max_step_down: 1, cooldown: 2h }
"#;

fn forecasts(version: &str) -> Vec<Forecast> {
    let demand = trace_slice(
        "taylor-demand.csv",
        "2000-06-05T05:00:00Z",
        BEFORE_STOP + AFTER_STOP,
    );
    let start = epoch_ms("2000-06-05T05:00:00Z");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let shift = (now - start).div_euclid(WEEK) * WEEK - WEEK;
    (0..demand.len())
        .map(|i| {
            let issued_at_ms = start + shift + i as i64 * STEP;
            Forecast {
                event_id: format!("restart-forecast-{i}"),
                app: "grid".into(),
                template_version: version.into(),
                metric: "mw".into(),
                model: "mstl".into(),
                issued_at_ms,
                step_ms: STEP,
                interval_level: 0.9,
                points: vec![ForecastPoint {
                    at_ms: issued_at_ms,
                    point: demand[i],
                    lower: demand[i] * 0.95,
                    upper: demand[i] * 1.05,
                }],
                score: Some(0.5),
                ..Default::default()
            }
        })
        .collect()
}

fn key(d: &ScalingDirective) -> (String, i64, Option<i64>) {
    (d.event_id.clone(), d.target, d.previous_target)
}

#[test]
fn a_restarted_planner_reads_back_its_directives_and_decides_as_if_never_stopped() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let workdir = tempfile::tempdir().expect("workdir");
    let template_path = workdir.path().join("grid.yaml");
    std::fs::write(&template_path, TEMPLATE).expect("write template");
    let published = publish_templates(&kafka, &[template_path]).expect("publish template");
    let loaded = load_published(&published[0]).expect("template loads");
    let all = forecasts(&loaded.version);
    let (before, after) = all.split_at(BEFORE_STOP);

    let mut uninterrupted = Planner::new();
    uninterrupted.set_template(&loaded.version, Arc::clone(&loaded.template));
    let expected: Vec<ScalingDirective> = all
        .iter()
        .flat_map(|f| uninterrupted.on_forecast(f).unwrap())
        .collect();
    let expected_after: Vec<_> = expected
        .iter()
        .filter(|d| d.issued_at_ms >= after[0].issued_at_ms)
        .map(key)
        .collect();
    assert!(!expected_after.is_empty());
    let mut amnesiac = Planner::new();
    amnesiac.set_template(&loaded.version, Arc::clone(&loaded.template));
    let forgetful = amnesiac.on_forecast(&after[0]).unwrap();
    assert_ne!(
        forgetful.first().map(key),
        expected_after.first().cloned(),
        "a planner without its directives must decide differently, or this test proves nothing"
    );

    let directives = TopicReader::open(&kafka, &kafka.topics().directives());
    let mut services = Services::new(&workdir.path().join("logs"));
    for f in before {
        produce(&kafka, &kafka.topics().forecasts(), f);
    }
    services.start("planner", &kafka, workdir.path());
    let mut first_run: Vec<ScalingDirective> = Vec::new();
    let before_count = expected.len() - expected_after.len();
    assert!(
        directives.wait_until(&mut first_run, Duration::from_secs(60), |d| d.len()
            >= before_count),
        "first run: {} of {before_count} directives\n{}",
        first_run.len(),
        services.logs()
    );
    services.stop("planner");

    for f in after {
        produce(&kafka, &kafka.topics().forecasts(), f);
    }
    services.start("planner", &kafka, workdir.path());
    let mut second_run: Vec<ScalingDirective> = Vec::new();
    let done = directives.wait_until(&mut second_run, Duration::from_secs(60), |d| {
        d.len() >= expected_after.len()
    });
    services.stop("planner");
    assert!(
        done,
        "after the restart: {second_run:?}\n{}",
        services.logs()
    );
    let got: Vec<_> = second_run.iter().map(key).collect();
    assert_eq!(got, expected_after, "{}", services.logs());
    assert!(
        services.log_of("planner").contains("directives read back"),
        "{}",
        services.logs()
    );
}
