//! A broker that goes away and comes back costs time, not data. The recipe-processor runs
//! against a local broker that is stopped in the middle of a stream (for longer than the
//! producer's delivery timeout, so outputs fail and must be sent again) and started again on the
//! same data and port: the service never exits, and every window of the stream is in
//! `presage.metrics.derived` exactly once by id, with one content per id. A service started
//! before its broker waits for it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use presage_events::{event_id, DerivedMetric, RawSample};
use presage_integration::data::trace_slice;
use presage_integration::services::Services;
use presage_integration::topics::{set_up_with_template, TopicReader};
use presage_runner::broker::{find_nisshi, free_port, LocalBroker};
use presage_runner::publisher::Publisher;
use presage_runner::{KafkaArgs, Outgoing};

const APP: &str = "grid-ew";
const HALF_HOUR: i64 = 1_800_000;
const HOUR: i64 = 3_600_000;

const TEMPLATE: &str = r#"
app: grid-ew
dynamic_metadata:
  sources:
    - { id: grid, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  # The samples arrive all at once: the partition is never idle long enough to matter.
  windowing: { allowed_lateness: 0s, idle_timeout: 1h }
  metric_recipes:
    - { name: hourly_mw, from: grid.demand_mw, aggregate: sum, window: { tumble: 1h } }
"#;

/// England and Wales demand, half-hourly from 2000-06-05, replayed from three days ago: (epoch
/// ms, MW). Recent times, because records are stamped with event time and a restarted broker's
/// retention sweep deletes records older than the topic's retention (7 days for raw samples).
fn demand(count: usize) -> Vec<(i64, f64)> {
    let now = presage_runner::dlq::now_ms();
    let start = now - now.rem_euclid(HOUR) - 3 * 24 * HOUR;
    trace_slice("taylor-demand.csv", "2000-06-05T00:00:00Z", count)
        .into_iter()
        .enumerate()
        .map(|(i, mw)| (start + i as i64 * HALF_HOUR, mw))
        .collect()
}

fn produce(kafka: &KafkaArgs, rows: &[(i64, f64)]) {
    let topic = kafka.topics().raw();
    let records: Vec<Outgoing> = rows
        .iter()
        .map(|(ts, mw)| {
            let sample = RawSample {
                event_id: event_id(&["raw", APP, &ts.to_string()]),
                app: APP.into(),
                template_version: String::new(),
                source: "grid".into(),
                metric: "demand_mw".into(),
                labels: BTreeMap::new(),
                value: *mw,
                event_time_ms: *ts,
                lineage: "taylor-demand.csv".into(),
            };
            Outgoing::event(topic.clone(), &sample).unwrap()
        })
        .collect();
    Publisher::new(kafka).unwrap().send_all(&records).unwrap();
}

/// Every hour's sum, from the trace itself.
fn expected(rows: &[(i64, f64)]) -> BTreeMap<i64, f64> {
    let mut hours = BTreeMap::new();
    for (ts, mw) in rows {
        *hours.entry(ts - ts.rem_euclid(HOUR)).or_insert(0.0) += mw;
    }
    hours
}

fn set_up(kafka: &KafkaArgs, dir: &Path) {
    set_up_with(kafka, dir, TEMPLATE);
}

fn set_up_with(kafka: &KafkaArgs, dir: &Path, template_text: &str) {
    set_up_with_template(kafka, dir, "grid.yaml", template_text);
}

/// Settings that make an outage bite quickly: deliveries time out after 3 s (so outputs fail
/// and are sent again) and a member's session after 6 s.
fn impatient(kafka: &KafkaArgs) -> KafkaArgs {
    let mut kafka = kafka.clone();
    kafka.kafka_settings.extend([
        "message.timeout.ms=3000".to_string(),
        "session.timeout.ms=6000".to_string(),
    ]);
    kafka
}

/// Reads derived windows until every expected hour is there; asserts one content per id and
/// the trace's sums.
fn assert_every_window_once(kafka: &KafkaArgs, want: &BTreeMap<i64, f64>, services: &Services) {
    let reader = TopicReader::open(kafka, &kafka.topics().derived());
    let mut seen: Vec<DerivedMetric> = Vec::new();
    let complete = reader.wait_until(&mut seen, Duration::from_secs(120), |s| {
        want.keys()
            .all(|h| s.iter().any(|d| d.window_start_ms == *h))
    });
    seen.extend(reader.poll::<DerivedMetric>(Duration::from_secs(2)));
    let missing: Vec<&i64> = want
        .keys()
        .filter(|h| !seen.iter().any(|d| d.window_start_ms == **h))
        .collect();
    assert!(
        complete,
        "{} of {} windows missing after the outage (first: {:?}); {} read\n{}",
        missing.len(),
        want.len(),
        missing.first(),
        seen.len(),
        services.logs()
    );
    let mut by_id: HashMap<&str, &DerivedMetric> = HashMap::new();
    for d in &seen {
        if let Some(first) = by_id.insert(d.event_id.as_str(), d) {
            assert_eq!(
                (first.window_start_ms, first.value, first.sample_count),
                (d.window_start_ms, d.value, d.sample_count),
                "id {} published with two contents",
                d.event_id
            );
        }
    }
    for (hour, sum) in want {
        let got = seen.iter().find(|d| d.window_start_ms == *hour).unwrap();
        assert!(
            (got.value - sum).abs() < 1e-6,
            "hour {hour}: {} vs {sum}",
            got.value
        );
    }
    let distinct: std::collections::HashSet<i64> = seen.iter().map(|d| d.window_start_ms).collect();
    assert_eq!(distinct.len(), by_id.len(), "one id per window");
}

#[test]
fn a_stage_rides_out_a_broker_outage_longer_than_its_delivery_timeout() {
    let nisshi = find_nisshi().expect("the local broker (cargo xtask install-broker)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("broker");
    let port = free_port().unwrap();
    let mut broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    let kafka = KafkaArgs::for_brokers(broker.bootstrap());
    set_up(&kafka, dir.path());

    // Two days of half-hours, then a sample a day later to close every window.
    let mut rows = demand(96);
    let want = expected(&rows);
    rows.push((rows.last().unwrap().0 + 24 * HOUR, 0.0));
    let (before, after) = rows.split_at(40);

    let mut services = Services::new(&dir.path().join("logs"));
    services.start("recipe-processor", &impatient(&kafka), dir.path());
    produce(&kafka, before);
    let reader = TopicReader::open(&kafka, &kafka.topics().derived());
    let mut seen: Vec<DerivedMetric> = Vec::new();
    assert!(
        reader.wait_until(&mut seen, Duration::from_secs(60), |s| s.len() >= 5),
        "no windows before the outage\n{}",
        services.logs()
    );
    drop(reader);

    // The broker goes away for four delivery timeouts.
    broker.stop();
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(
        services.exit_status("recipe-processor"),
        None,
        "the stage exited while the broker was away\n{}",
        services.logs()
    );
    let mut broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    produce(&kafka, after);

    assert_every_window_once(&kafka, &want, &services);
    assert_eq!(services.exit_status("recipe-processor"), None);
    broker.stop();
}

#[test]
fn a_stage_started_before_its_broker_waits_for_it() {
    let nisshi = find_nisshi().expect("the local broker (cargo xtask install-broker)");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let kafka = KafkaArgs::for_brokers(format!("127.0.0.1:{port}"));
    let mut services = Services::new(&dir.path().join("logs"));
    services.start("recipe-processor", &impatient(&kafka), dir.path());
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        services.exit_status("recipe-processor"),
        None,
        "the stage gave up before its broker started\n{}",
        services.logs()
    );

    let mut broker = LocalBroker::start(&nisshi, &dir.path().join("broker"), port).unwrap();
    set_up(&kafka, dir.path());
    // Samples of an app whose template a stage has not read yet are dead-lettered: wait until
    // the waiting stage has read it, as an operator publishes templates before traffic.
    wait_for_template(&services);
    let mut rows = demand(24);
    let want = expected(&rows);
    rows.push((rows.last().unwrap().0 + 24 * HOUR, 0.0));
    produce(&kafka, &rows);
    assert_every_window_once(&kafka, &want, &services);
    broker.stop();
}

/// Ten-second windows closed by a six-second idle timeout, no lateness: live traffic.
const LIVE_TEMPLATE: &str = r#"
app: grid-ew
dynamic_metadata:
  sources:
    - { id: grid, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  windowing: { allowed_lateness: 0s, idle_timeout: 6s }
  metric_recipes:
    - { name: ten_second_mw, from: grid.demand_mw, aggregate: sum, window: { tumble: 10s } }
"#;

#[test]
fn time_the_broker_is_away_does_not_close_windows_as_idle() {
    let nisshi = find_nisshi().expect("the local broker (cargo xtask install-broker)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("broker");
    let port = free_port().unwrap();
    let mut broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    let kafka = KafkaArgs::for_brokers(broker.bootstrap());
    set_up_with(&kafka, dir.path(), LIVE_TEMPLATE);
    let mut services = Services::new(&dir.path().join("logs"));
    services.start("recipe-processor", &impatient(&kafka), dir.path());
    wait_for_template(&services);

    // A sample a second, stamped with the wall clock, as a collector scrapes; real demand.
    let values = trace_slice("taylor-demand.csv", "2000-06-05T00:00:00Z", 40);
    let second = |i: usize| presage_runner::dlq::now_ms() / 1000 * 1000 + i as i64;
    let mut rows: Vec<(i64, f64)> = Vec::new();
    for value in values.iter().take(5) {
        let row = (second(0), *value);
        produce(&kafka, &[row]);
        rows.push(row);
        std::thread::sleep(Duration::from_secs(1));
    }
    // The broker goes away for 15 s, more than twice the idle timeout. The collector spools
    // what it reads meanwhile; here the test keeps those samples and sends them afterwards.
    broker.stop();
    let mut spooled = Vec::new();
    for value in values.iter().skip(5).take(15) {
        spooled.push((second(0), *value));
        std::thread::sleep(Duration::from_secs(1));
    }
    let _broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    produce(&kafka, &spooled);
    rows.extend(spooled);

    // Every sample is in its window, none was late: the windows waited out the outage.
    let mut want: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for (ts, value) in &rows {
        let entry = want.entry(ts - ts.rem_euclid(10_000)).or_default();
        entry.0 += value;
        entry.1 += 1;
    }
    let reader = TopicReader::open(&kafka, &kafka.topics().derived());
    let mut seen: Vec<DerivedMetric> = Vec::new();
    // The last window closes when the partition has been quiet for the idle timeout.
    let complete = reader.wait_until(&mut seen, Duration::from_secs(90), |s| {
        want.keys()
            .all(|start| s.iter().any(|d| d.window_start_ms == *start))
    });
    let dlq = TopicReader::open(&kafka, &kafka.topics().dlq());
    let letters: Vec<presage_events::DeadLetter> = dlq.poll(Duration::from_secs(3));
    assert!(
        letters.iter().all(|l| l.kind != "late"),
        "samples sent after the outage were late: {:?}\n{}",
        letters.iter().map(|l| &l.reason).collect::<Vec<_>>(),
        services.logs()
    );
    assert!(complete, "windows missing: {seen:?}\n{}", services.logs());
    for (start, (sum, count)) in &want {
        let got = seen.iter().find(|d| d.window_start_ms == *start).unwrap();
        assert_eq!(
            (got.sample_count, (got.value - sum).abs() < 1e-6),
            (*count, true),
            "window {start}: {} samples, {} (want {count}, {sum})",
            got.sample_count,
            got.value
        );
    }
}

/// Waits until the recipe-processor has read its template (samples of an app whose template a
/// stage has not read yet are dead-lettered).
fn wait_for_template(services: &Services) {
    let log = services.log_dir.join("recipe-processor.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("template loaded")
    {
        assert!(
            Instant::now() < deadline,
            "the template never reached the recipe-processor\n{}",
            services.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
