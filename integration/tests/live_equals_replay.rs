//! Live equals replay: the live pipeline on the broker (recipe-processor, forecaster, planner as
//! processes) and `presage backtest` over the same samples, from the CSV trace and from the raw
//! topic, issue the same directives: the same ids, the same targets.
//!
//! The samples are ten days of `taylor-demand.csv`, moved by whole weeks to end a week ago
//! (the broker's retention and the services' future-time checks work on record and event time).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_backtest::report::Report;
use presage_events::{RawSample, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::data::shared_data;
use presage_integration::services::{binary, Services};
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, Outgoing};
use presage_template::calendar::rfc3339;

const DAYS: usize = 10;
const WEEK_MS: i64 = 7 * 24 * 3_600_000;

const TEMPLATE: &str = r#"
app: grid-ew
bootstrap: { resources: { replicas: 16 } }
dynamic_metadata:
  sources:
    - { id: trace, kind: prometheus, url: "http://127.0.0.1:1/metrics", every: 30m }
  windowing: { allowed_lateness: 0s, idle_timeout: 2s }
  metric_recipes:
    - { name: demand_mw, from: trace.demand_mw, aggregate: avg, window: { tumble: 30m } }
  prediction_algorithms:
    - { target: demand_mw, horizon: 2h, models: [seasonal_naive, ets], seasonality: [1d],
        interval: 0.9, history: 7d, refit: 1d }
  scaling_policies:
    - { resource: replicas, metric: demand_mw, per_unit: 2000, use: upper, lead_time: 30m,
        provisioning_delay: 10m, min: 2, max: 40, max_step_up: 4, stabilization: { down: 1h } }
"#;

/// (id, mode, targets): what must match.
type Decision = (String, String, Vec<(String, i64)>);

/// Ten days of the trace, moved by whole weeks to end about a week ago, as a CSV file.
fn recent_trace(path: &Path) -> Vec<RawSample> {
    let file = std::fs::File::open(shared_data("taylor-demand.csv")).expect("trace");
    let mut trace = presage_backtest::read_csv(file, "taylor-demand.csv").expect("trace reads");
    trace.samples.truncate(DAYS * 48);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let last = trace.samples.last().expect("samples").event_time_ms;
    let shift = (now - last).div_euclid(WEEK_MS) * WEEK_MS - WEEK_MS;
    let mut csv = String::from("timestamp,app,metric,value\n");
    for s in &trace.samples {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            rfc3339(s.event_time_ms + shift),
            s.app,
            s.metric,
            s.value
        ));
    }
    std::fs::write(path, csv).expect("write trace");
    let file = std::fs::File::open(path).expect("trace");
    presage_backtest::read_csv(file, &path.display().to_string())
        .expect("moved trace reads")
        .samples
}

fn backtest(args: &[&str], workdir: &Path) -> Report {
    let json = workdir.join(format!("backtest-{}.json", args.len()));
    let output = Command::new(binary("presage"))
        .arg("backtest")
        .args(args)
        .args(["--json", json.to_str().unwrap()])
        .args(["--html", workdir.join("backtest.html").to_str().unwrap()])
        .current_dir(workdir)
        .output()
        .expect("presage backtest runs");
    assert!(
        output.status.success(),
        "presage backtest failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json parses")
}

/// Decisions in the order they were made, ties by id, each id once (a redelivered directive
/// has the same id): live and replay compared in the same order.
fn in_order<'a>(
    decisions: impl Iterator<Item = (i64, &'a str, &'a str, Vec<(String, i64)>)>,
) -> Vec<Decision> {
    let mut by_time: BTreeMap<(i64, String), Decision> = BTreeMap::new();
    for (at, id, mode, targets) in decisions {
        by_time.insert(
            (at, id.to_string()),
            (id.to_string(), mode.to_string(), targets),
        );
    }
    by_time.into_values().collect()
}

fn replayed(report: &Report) -> Vec<Decision> {
    let decisions = in_order(report.directives.iter().map(|d| {
        let targets = d
            .targets
            .iter()
            .map(|t| (t.resource.clone(), t.target))
            .collect();
        (
            d.issued_at_ms,
            d.event_id.as_str(),
            d.mode.as_str(),
            targets,
        )
    }));
    assert_eq!(
        decisions.len(),
        report.directives.len(),
        "a replay repeats no id"
    );
    decisions
}

fn live(directives: &[ScalingDirective]) -> Vec<Decision> {
    in_order(directives.iter().map(|d| {
        let targets = d
            .targets
            .iter()
            .map(|t| (t.resource.clone(), t.target))
            .collect();
        (
            d.issued_at_ms,
            d.event_id.as_str(),
            d.mode.as_str(),
            targets,
        )
    }))
}

#[test]
fn the_live_pipeline_and_the_backtest_issue_the_same_directives() {
    let broker = TestBroker::start();
    let kafka: KafkaArgs = broker.kafka.clone();
    let workdir = tempfile::tempdir().expect("workdir");
    let template = workdir.path().join("grid-ew.yaml");
    std::fs::write(&template, TEMPLATE).expect("write template");
    let trace = workdir.path().join("trace.csv");
    let samples = recent_trace(&trace);
    let from = rfc3339(samples[0].event_time_ms);
    let to = rfc3339(samples.last().unwrap().event_time_ms + 1000);

    // The replay of the CSV trace, with no broker involved.
    let from_trace = backtest(
        &[
            "--template",
            template.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ],
        workdir.path(),
    );
    let expected = replayed(&from_trace);
    assert!(
        expected.len() >= 10,
        "too few directives to compare: {expected:?}"
    );

    // The same samples, live: produced to the raw topic stamped with their event time.
    publish_templates(&kafka, std::slice::from_ref(&template)).expect("publish template");
    let records: Vec<Outgoing> = samples
        .iter()
        .map(|s| {
            Outgoing::event(kafka.topics().raw(), s)
                .expect("encode")
                .at(s.event_time_ms)
        })
        .collect();
    Publisher::new(&kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce samples");
    let directives = TopicReader::open(&kafka, &kafka.topics().directives());
    let mut services = Services::new(&workdir.path().join("logs"));
    for service in ["recipe-processor", "forecaster", "planner"] {
        services.start(service, &kafka, workdir.path());
    }
    let mut seen: Vec<ScalingDirective> = Vec::new();
    let complete = directives.wait_until(&mut seen, Duration::from_secs(180), |d| {
        live(d).len() >= expected.len()
    });
    // Anything extra would come right after.
    std::thread::sleep(Duration::from_secs(3));
    seen.extend(directives.poll::<ScalingDirective>(Duration::from_millis(500)));
    let issued = live(&seen);
    let missing: Vec<(&Decision, String)> = expected
        .iter()
        .filter(|d| !issued.contains(d))
        .map(|d| {
            let at = from_trace
                .directives
                .iter()
                .find(|r| r.event_id == d.0)
                .map_or(0, |r| r.issued_at_ms);
            (d, rfc3339(at))
        })
        .collect();
    assert!(
        complete,
        "live issued {} of {} directives (trace {from} to {to}); not issued live: {missing:?}\n{}",
        issued.len(),
        expected.len(),
        services.logs()
    );
    assert_eq!(issued, expected, "live vs replay of the CSV trace");

    // The backtest reading the raw topic over the trace's time range gives them too.
    let mut args: Vec<String> = ["--template", template.to_str().unwrap(), "--from", &from]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.extend(["--to".to_string(), to.clone()]);
    args.extend(kafka.child_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let from_topic = backtest(&args, workdir.path());
    assert_eq!(from_topic.samples, samples.len() as u64);
    assert_eq!(replayed(&from_topic), expected, "replay of the raw topic");
    assert_eq!(from_topic.series, from_trace.series);
}
