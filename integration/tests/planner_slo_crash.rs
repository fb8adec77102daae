//! A policy with an SLO (`target: { under_provisioned: 5% }`) and a reactive side holds a record
//! of recent forecasts and observed windows in memory only. The real `presage-planner`, killed
//! with SIGKILL in the middle of its decisions and started again, reads that record back from
//! `presage.metrics.derived` and `presage.forecasts` and decides exactly as a planner that never
//! stopped: every directive (id, target, and a reason that counts the record's windows) is the
//! uninterrupted core's.
//!
//! Demand is Newark's departures per quarter hour (`nyc-departures-15m.csv`, from 2013-03-04),
//! moved to the recent past by whole weeks; forecasts are the same quarter hour a day earlier
//! with too-narrow bounds, so the chosen headroom is the record's, not the interval's.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::planner_replay::{
    assert_published_as_expected, produce_all, publish_template, trace, Trace, STEP,
};
use presage_events::{DerivedMetric, Forecast, ForecastPoint, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_planner::Planner;
use presage_runner::KafkaArgs;

const DAY: usize = 96;
/// A day to start the forecast, then three of decisions; the planner is killed in the second.
const WINDOWS: usize = 4 * DAY;
const STOP: usize = 2 * DAY + 40;

const TEMPLATE: &str = r#"
app: ewr
dynamic_metadata:
  sources:
    - { id: f, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  metric_recipes:
    - { name: departures, from: f.departures, window: { tumble: 15m } }
  scaling_policies:
    - { resource: gates, metric: departures, per_unit: 1, min: 0, max: 500, target: { under_provisioned: 5%, window: 1d }, reactive: { headroom: 10% } }
"#;

fn window(t: &Trace, version: &str, i: usize) -> DerivedMetric {
    DerivedMetric {
        event_id: format!("slo-crash-d{i}"),
        app: "ewr".into(),
        template_version: version.into(),
        recipe: "departures".into(),
        window_start_ms: t.starts[i],
        window_end_ms: t.starts[i] + STEP,
        value: t.values[i],
        sample_count: 1,
        ..Default::default()
    }
}

/// Issued at the end of window `i`, for window `i + 1`: its value a day earlier, ±(10% + 1).
fn forecast(t: &Trace, version: &str, i: usize) -> Forecast {
    let at_ms = t.starts[i + 1];
    let mean = t.values[i + 1 - DAY];
    let half = 0.1 * mean + 1.0;
    Forecast {
        event_id: format!("slo-crash-f{i}"),
        app: "ewr".into(),
        template_version: version.into(),
        metric: "departures".into(),
        model: "seasonal_naive".into(),
        issued_at_ms: at_ms,
        step_ms: STEP,
        interval_level: 0.9,
        points: vec![ForecastPoint {
            at_ms,
            point: mean,
            lower: (mean - half).max(0.0),
            upper: mean + half,
        }],
        score: Some(0.8),
        ..Default::default()
    }
}

/// Waits until the planner's observed loop has read (and committed past) every window on the
/// derived topic. The uninterrupted core sees each window before the forecast made at its end;
/// the live planner's two loops are separate consumers, so without this wait a loaded machine
/// can hand the forecasts loop a forecast before the observed loop has read its window, and
/// the reactive side and the record would see less than the core did (the ordering caveat the
/// README states for the live planner, not a crash effect).
fn wait_until_observed(kafka: &KafkaArgs, services: &Services) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let topic = kafka.topics().derived();
    // Only OffsetFetch: this consumer never subscribes, so it never joins the planner's group.
    let reader: BaseConsumer = kafka
        .client_config(&[
            ("group.id", "presage-planner-observed"),
            ("enable.auto.commit", "false"),
        ])
        .expect("config")
        .create()
        .expect("consumer");
    let timeout = Duration::from_secs(10);
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let partitions = reader
            .fetch_metadata(Some(&topic), timeout)
            .ok()
            .and_then(|m| m.topics().first().map(|t| t.partitions().len()))
            .unwrap_or(0) as i32;
        let mut wanted = TopicPartitionList::new();
        for p in 0..partitions {
            wanted.add_partition(&topic, p);
        }
        let caught_up = partitions > 0
            && reader
                .committed_offsets(wanted, timeout)
                .is_ok_and(|committed| {
                    (0..partitions).all(|p| {
                        let high = reader
                            .fetch_watermarks(&topic, p, timeout)
                            .map_or(i64::MAX, |(_, high)| high);
                        let at = match committed.find_partition(&topic, p).map(|e| e.offset()) {
                            Some(Offset::Offset(at)) => at,
                            _ => 0,
                        };
                        at >= high
                    })
                });
        if caught_up {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the planner's observed loop did not read the derived topic to its end\n{}",
            services.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

type Said = BTreeMap<String, (i64, String)>;

/// Directives by id; one id published twice (an input read again after the kill) must say the
/// same both times.
fn by_id(directives: &[ScalingDirective]) -> Said {
    common::planner_replay::by_id(directives, |d| (d.target, d.reason.clone()))
}

#[test]
fn a_planner_killed_mid_decision_rebuilds_its_slo_record_and_decides_as_if_never_stopped() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let workdir = tempfile::tempdir().expect("workdir");
    let loaded = publish_template(&kafka, workdir.path(), "ewr.yaml", TEMPLATE);
    let version = loaded.version.clone();
    let t = trace(WINDOWS);

    // What a planner that never stopped publishes, the live order: a window, then the forecast
    // made at its end.
    let mut uninterrupted = Planner::new();
    uninterrupted.set_template(&version, Arc::clone(&loaded.template));
    let mut expected = Vec::new();
    for i in DAY..WINDOWS - 1 {
        expected.extend(uninterrupted.on_observed(&window(&t, &version, i)).unwrap());
        expected.extend(
            uninterrupted
                .on_forecast(&forecast(&t, &version, i))
                .unwrap(),
        );
    }
    let expected = by_id(&expected);
    assert!(expected.len() > 50, "{} directives", expected.len());
    assert!(
        expected
            .values()
            // a day's windows that ended before the decision
            .any(|(_, reason)| reason.contains("conformal quantile of 95 recent windows")),
        "the record fills its day: {expected:#?}"
    );
    let before_stop = (DAY..STOP)
        .filter(|i| expected.contains_key(&directive_of(&expected, *i)))
        .count();

    let directives = TopicReader::open(&kafka, &kafka.topics().directives());
    let mut services = Services::new(&workdir.path().join("logs"));
    // Each part's windows reach the topic before its forecasts, as the forecaster makes them.
    produce_all(
        &kafka,
        &kafka.topics().derived(),
        (DAY..STOP).map(|i| window(&t, &version, i)),
    );
    services.start("planner", &kafka, workdir.path());
    wait_until_observed(&kafka, &services);
    produce_all(
        &kafka,
        &kafka.topics().forecasts(),
        (DAY..STOP).map(|i| forecast(&t, &version, i)),
    );
    let mut seen: Vec<ScalingDirective> = Vec::new();
    let halfway = (before_stop / 2).max(1);
    assert!(
        directives.wait_until(&mut seen, Duration::from_secs(120), |d| d.len() >= halfway),
        "first run: {} of {halfway} directives\n{}",
        seen.len(),
        services.logs()
    );
    services.kill("planner");

    produce_all(
        &kafka,
        &kafka.topics().derived(),
        (STOP..WINDOWS - 1).map(|i| window(&t, &version, i)),
    );
    services.start("planner", &kafka, workdir.path());
    wait_until_observed(&kafka, &services);
    produce_all(
        &kafka,
        &kafka.topics().forecasts(),
        (STOP..WINDOWS - 1).map(|i| forecast(&t, &version, i)),
    );
    assert_published_as_expected(&directives, &mut seen, &mut services, &expected, by_id);
    let log = services.log_of("planner");
    let rebuilt = rebuilds_by_partition(&log);
    assert!(
        !rebuilt.is_empty() && rebuilt.values().all(|starts| *starts == 2),
        "each start rebuilds the record of every partition it holds, once: {rebuilt:?}\n{log}"
    );
}

/// How many times the planner's log says it rebuilt each partition's SLO record.
fn rebuilds_by_partition(log: &str) -> std::collections::BTreeMap<String, usize> {
    let mut rebuilt = std::collections::BTreeMap::new();
    for line in log.lines().map(without_colours) {
        let Some(fields) = line.split("SLO and reactive records rebuilt").nth(1) else {
            continue;
        };
        let partition = fields
            .split_whitespace()
            .find_map(|field| field.strip_prefix("partition="))
            .unwrap_or_else(|| panic!("a rebuild without its partition: {line}"));
        *rebuilt.entry(partition.to_string()).or_insert(0) += 1;
    }
    rebuilt
}

/// The line without its terminal colour codes (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for code in chars.by_ref() {
                if code == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The id the directive decided on forecast `i` would have (if one was published).
fn directive_of(expected: &Said, i: usize) -> String {
    let id = presage_events::event_id(&["directive", &format!("slo-crash-f{i}"), "live"]);
    if expected.contains_key(&id) {
        id
    } else {
        String::new()
    }
}
