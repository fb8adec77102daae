//! The recipe-processor binary against a real broker: samples that are not finite numbers,
//! have too many labels, or are new series past a recipe's series limit (default limits) are
//! dead-lettered each with its own kind and a reason, and the window keeps every other sample.

use std::collections::BTreeMap;
use std::time::Duration;

use presage_events::{event_id, DeadLetter, DerivedMetric, RawSample};
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::Outgoing;

const APP: &str = "shop";
const HOUR: i64 = 3_600_000;
/// 2013-01-07T06:00:00Z: long past, so no sample is ahead of the clock.
const SIX: i64 = 1_357_538_400_000;
/// The default series limit of one recipe.
const RECIPE_LIMIT: usize = 5_000;

const TEMPLATE: &str = r#"
app: shop
dynamic_metadata:
  sources:
    - { id: api, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  windowing: { allowed_lateness: 0s, idle_timeout: 1h }
  metric_recipes:
    - { name: requests, from: api.requests, aggregate: sum, window: { tumble: 1h } }
"#;

fn sample(labels: &[(String, String)], ts: i64, value: f64, n: usize) -> RawSample {
    RawSample {
        event_id: event_id(&["test", &n.to_string()]),
        app: APP.into(),
        template_version: String::new(),
        source: "api".into(),
        metric: "requests".into(),
        labels: labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        value,
        event_time_ms: ts,
        lineage: "recipe_limits".into(),
    }
}

fn series(id: usize) -> Vec<(String, String)> {
    vec![("id".to_string(), id.to_string())]
}

#[test]
fn refused_samples_are_dead_lettered_by_kind_and_the_window_keeps_the_rest() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().unwrap();
    let template = workdir.path().join("shop.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    publish_templates(&kafka, &[template]).unwrap();
    let derived = TopicReader::open(&kafka, &topics.derived());
    let dlq = TopicReader::open(&kafka, &topics.dlq());
    let mut services = Services::new(&workdir.path().join("logs"));
    services.start("recipe-processor", &kafka, workdir.path());

    // One hour: the recipe's limit of series, one sample each; ten more new series; a NaN
    // and an infinity of known series; a sample with 65 labels. Then one sample an hour
    // later closes the hour.
    let mut samples = Vec::new();
    for id in 0..RECIPE_LIMIT + 10 {
        samples.push(sample(&series(id), SIX + id as i64, 1.0, samples.len()));
    }
    samples.push(sample(
        &series(0),
        SIX + 10 * 60_000,
        f64::NAN,
        samples.len(),
    ));
    samples.push(sample(
        &series(1),
        SIX + 11 * 60_000,
        f64::INFINITY,
        samples.len(),
    ));
    let many: Vec<(String, String)> = (0..65).map(|i| (format!("l{i}"), "x".into())).collect();
    samples.push(sample(&many, SIX + 12 * 60_000, 1.0, samples.len()));
    samples.push(sample(&series(0), SIX + HOUR, 1.0, samples.len()));
    let publisher = Publisher::new(&kafka).unwrap();
    let records: Vec<Outgoing> = samples
        .iter()
        .map(|s| Outgoing::event(topics.raw(), s).unwrap())
        .collect();
    publisher.send_all(&records).unwrap();

    let mut windows: Vec<DerivedMetric> = Vec::new();
    let closed = derived.wait_until(&mut windows, Duration::from_secs(90), |w| !w.is_empty());
    assert!(closed, "the hour never closed\n{}", services.logs());
    let mut letters: Vec<DeadLetter> = Vec::new();
    dlq.wait_until(&mut letters, Duration::from_secs(30), |l| l.len() >= 13);
    // The refusals are counted in the log, once per interval (10 s) rather than once each.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !services
        .log_of("recipe-processor")
        .contains("samples refused and dead-lettered")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    services.stop("recipe-processor");
    let logs = services.log_of("recipe-processor");
    let counted = logs
        .lines()
        .find(|l| l.contains("samples refused and dead-lettered") && l.contains("series_limit"))
        .unwrap_or_else(|| panic!("no count of refused series in the log\n{logs}"));
    // Without the terminal's colour codes around field names.
    let plain: String = counted
        .split('\u{1b}')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once('m').map_or("", |(_, rest)| rest)
            }
        })
        .collect();
    assert!(plain.contains("samples=10 "), "{plain}");
    assert!(plain.contains("series_held=5000"), "{plain}");

    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0].window_start_ms, SIX);
    // Every finite sample of the first 5,000 series, one each.
    assert_eq!(windows[0].value, RECIPE_LIMIT as f64);
    assert_eq!(windows[0].sample_count, RECIPE_LIMIT as i64);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for letter in &letters {
        assert_eq!(letter.stage, "recipe-processor");
        assert_eq!(letter.source_topic, topics.raw());
        *kinds.entry(letter.kind.as_str()).or_default() += 1;
    }
    assert_eq!(
        kinds,
        BTreeMap::from([("label_limit", 1), ("non_finite", 2), ("series_limit", 10)]),
        "{letters:#?}"
    );
    let reason = |kind: &str| {
        letters
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.reason.clone())
            .unwrap()
    };
    assert!(
        reason("series_limit")
            .contains("recipe requests already has 5000 series, its limit is 5000"),
        "{}",
        reason("series_limit")
    );
    assert!(
        reason("non_finite").contains("is not a finite number"),
        "{}",
        reason("non_finite")
    );
    assert!(
        reason("label_limit").contains("65 labels, more than the 64"),
        "{}",
        reason("label_limit")
    );
}
