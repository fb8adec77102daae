//! The recipe-processor killed with SIGKILL in the middle of a stream and started again: every
//! window is emitted, and a window emitted twice carries the same event id and the same value.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use presage_events::{event_id, DeadLetter, DerivedMetric, RawSample};
use presage_integration::broker::TestBroker;
use presage_integration::data::{epoch_ms, shared_data};
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::Outgoing;

const APP: &str = "airport-ewr";
const HOUR: i64 = 3_600_000;

const TEMPLATE: &str = r#"
app: airport-ewr
dynamic_metadata:
  sources:
    - { id: flights, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  # The test's samples are from 2013: the partition is never idle long enough to matter.
  windowing: { allowed_lateness: 0s, idle_timeout: 1h }
  metric_recipes:
    - { name: per_hour, from: flights.departures, aggregate: sum, window: { tumble: 1h } }
    - { name: two_hour_avg, from: flights.departures, aggregate: avg, window: { hop: { size: 2h, slide: 1h } } }
"#;

/// (epoch ms, departures) of Newark's first `rows` quarter-hours from 2013-01-07.
fn trace(rows: usize) -> Vec<(i64, f64)> {
    let mut reader = csv::Reader::from_path(shared_data("nyc-departures-15m.csv")).unwrap();
    let start = 1_357_516_800_000; // 2013-01-07T00:00:00Z
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[1] == APP)
        .map(|r| (epoch_ms(&r[0]), r[3].parse::<f64>().unwrap()))
        .filter(|(ts, _)| *ts >= start)
        .take(rows)
        .collect()
}

fn sample(ts: i64, value: f64) -> RawSample {
    RawSample {
        event_id: event_id(&["raw", APP, &ts.to_string()]),
        app: APP.into(),
        template_version: String::new(),
        source: "flights".into(),
        metric: "departures".into(),
        labels: BTreeMap::new(),
        value,
        event_time_ms: ts,
        lineage: "nyc-departures-15m.csv".into(),
    }
}

fn produce_all(publisher: &Publisher, topic: &str, rows: &[(i64, f64)]) {
    let records: Vec<Outgoing> = rows
        .iter()
        .map(|(ts, v)| Outgoing::event(topic, &sample(*ts, *v)).unwrap())
        .collect();
    publisher.send_all(&records).unwrap();
}

/// The windows an uninterrupted run must emit, computed straight from the trace: per hour the
/// sum, per two hours starting every hour the mean.
fn expected(rows: &[(i64, f64)]) -> BTreeMap<(String, i64), f64> {
    let mut per_hour: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (ts, v) in rows {
        per_hour
            .entry(ts - ts.rem_euclid(HOUR))
            .or_default()
            .push(*v);
    }
    let mut windows = BTreeMap::new();
    for (hour, values) in &per_hour {
        windows.insert(("per_hour".to_string(), *hour), values.iter().sum());
    }
    let first = *per_hour.keys().next().unwrap();
    let last = *per_hour.keys().next_back().unwrap();
    let mut start = first - HOUR;
    while start <= last {
        let values: Vec<f64> = [start, start + HOUR]
            .iter()
            .filter_map(|h| per_hour.get(h))
            .flatten()
            .copied()
            .collect();
        if !values.is_empty() {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            windows.insert(("two_hour_avg".to_string(), start), mean);
        }
        start += HOUR;
    }
    windows
}

#[test]
fn a_recipe_processor_killed_mid_stream_emits_every_window_and_repeats_none_differently() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().unwrap();
    let template = workdir.path().join("airport.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    publish_templates(&kafka, &[template]).unwrap();
    let derived_topic = TopicReader::open(&kafka, &topics.derived());
    let publisher = Publisher::new(&kafka).unwrap();

    // Four days of quarter-hours, then one sample a day later to close every window.
    let mut rows = trace(4 * 96);
    let closing = (rows.last().unwrap().0 + 24 * HOUR, 0.0);
    let want = expected(&rows);
    rows.push(closing);

    // A killed member leaves the group only when its session times out: keep that short so
    // the restarted processor gets its partitions back within seconds.
    let mut service_kafka = kafka.clone();
    service_kafka
        .kafka_settings
        .push("session.timeout.ms=6000".into());
    let mut services = Services::new(&workdir.path().join("logs"));
    services.start("recipe-processor", &service_kafka, workdir.path());
    // The stream keeps flowing, a few samples every 50 ms, while the processor is killed and
    // started again: the kill lands between offset commits, with windows open.
    let raw_topic = topics.raw();
    let producer = std::thread::spawn(move || {
        for chunk in rows.chunks(4) {
            produce_all(&publisher, &raw_topic, chunk);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut seen: Vec<DerivedMetric> = Vec::new();
    let started = derived_topic.wait_until(&mut seen, Duration::from_secs(60), |s| s.len() >= 30);
    assert!(started, "no windows before the kill\n{}", services.logs());
    // Past at least one offset commit, so the restart resumes from a checkpoint.
    std::thread::sleep(Duration::from_millis(1500));
    services.kill("recipe-processor");
    let emitted_before_kill = seen.len();
    std::thread::sleep(Duration::from_millis(500));
    services.start("recipe-processor", &service_kafka, workdir.path());
    producer.join().unwrap();
    let complete = derived_topic.wait_until(&mut seen, Duration::from_secs(90), |s| {
        want.keys().all(|(recipe, start)| {
            s.iter()
                .any(|d| &d.recipe == recipe && d.window_start_ms == *start)
        })
    });
    // Whatever is still in flight.
    seen.extend(derived_topic.poll::<DerivedMetric>(Duration::from_secs(2)));

    let mut by_id: HashMap<&str, Vec<&DerivedMetric>> = HashMap::new();
    for d in &seen {
        by_id.entry(d.event_id.as_str()).or_default().push(d);
    }
    let repeated = by_id.values().filter(|copies| copies.len() > 1).count();
    eprintln!(
        "{emitted_before_kill} windows before the kill; {} in all, {} distinct, {repeated} emitted twice",
        seen.len(),
        by_id.len()
    );
    assert!(
        emitted_before_kill < want.len(),
        "the kill came after the whole stream"
    );
    assert!(
        complete,
        "windows missing after the restart\n{}",
        services.logs()
    );
    for copies in by_id.values() {
        let first = copies[0];
        for copy in &copies[1..] {
            assert_eq!(
                (copy.window_start_ms, copy.value, copy.sample_count),
                (first.window_start_ms, first.value, first.sample_count),
                "a window emitted twice must be the same window: {} {}",
                first.recipe,
                first.window_start_ms
            );
        }
    }
    for ((recipe, start), value) in &want {
        let got = seen
            .iter()
            .find(|d| &d.recipe == recipe && d.window_start_ms == *start)
            .unwrap();
        assert!(
            (got.value - value).abs() < 1e-9,
            "{recipe} at {start}: {} emitted, {value} in the trace",
            got.value
        );
    }

    // A sample for an hour long closed is late: dead-lettered as such, not merged.
    let dlq = TopicReader::open(&kafka, &topics.dlq());
    let publisher = Publisher::new(&kafka).unwrap();
    let first_hour = *want.keys().next().map(|(_, start)| start).unwrap();
    produce_all(&publisher, &topics.raw(), &[(first_hour + 1, 99.0)]);
    let mut letters: Vec<DeadLetter> = Vec::new();
    let late = dlq.wait_until(&mut letters, Duration::from_secs(30), |l| {
        l.iter().any(|d| d.kind == "late")
    });
    assert!(
        late,
        "no late dead letter: {letters:?}\n{}",
        services.logs()
    );
    let letter = letters.iter().find(|d| d.kind == "late").unwrap();
    assert_eq!(letter.stage, "recipe-processor");
    assert!(letter.reason.contains("late"), "{}", letter.reason);

    let distinct_windows: std::collections::HashSet<(&str, i64)> = seen
        .iter()
        .map(|d| (d.recipe.as_str(), d.window_start_ms))
        .collect();
    assert_eq!(distinct_windows.len(), by_id.len(), "one id per window");
}
