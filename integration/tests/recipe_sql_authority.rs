//! Recipe SQL is a query and nothing else, end to end: a template whose `sql` is
//! `COPY … TO '<file>'` (or a table over a local file), written straight to the templates topic
//! past `presage templates publish`'s own validation, is refused by the running
//! recipe-processor with the sql's file:line:column. It writes no file, and the other apps'
//! recipes run as before.

use std::collections::BTreeMap;
use std::time::Duration;

use presage_events::{event_id, DerivedMetric, RawSample, TemplateVersion};
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::{produce, TopicReader};
use presage_runner::publisher::Publisher;
use presage_runner::Outgoing;

const MINUTE: i64 = 60_000;
/// 2026-01-01T00:00:00Z: far from the wall clock, so nothing closes for idleness.
const T0: i64 = 1_767_225_600_000;

fn template(app: &str, sql: &str) -> String {
    format!(
        "app: {app}\n\
         dynamic_metadata:\n\
         \x20 sources:\n\
         \x20   - {{ id: api, kind: prometheus, url: \"http://127.0.0.1:1/metrics\" }}\n\
         \x20 windowing: {{ allowed_lateness: 0s, idle_timeout: 1h }}\n\
         \x20 metric_recipes:\n\
         \x20   - name: spread\n\
         \x20     from: api.requests\n\
         \x20     sql: \"{sql}\"\n\
         \x20     window: {{ tumble: 1m }}\n"
    )
}

/// The event `presage templates publish` would send, without the validation it does first.
fn unvalidated(app: &str, body: String) -> TemplateVersion {
    let version = presage_template::version_of(&body);
    TemplateVersion {
        event_id: event_id(&["template", app, &version]),
        app: app.into(),
        template_version: version,
        source_path: format!("{app}.yaml"),
        body,
        published_at_ms: T0,
        lineage: "test".into(),
    }
}

fn sample(app: &str, minute: i64) -> RawSample {
    let ts = T0 + minute * MINUTE;
    RawSample {
        event_id: event_id(&["raw", app, &ts.to_string()]),
        app: app.into(),
        template_version: String::new(),
        source: "api".into(),
        metric: "requests".into(),
        labels: BTreeMap::new(),
        value: minute as f64,
        event_time_ms: ts,
        lineage: "test".into(),
    }
}

#[test]
fn a_hostile_recipe_sql_from_the_templates_topic_is_refused_and_writes_nothing() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("written-by-copy.csv");
    let secret = dir.path().join("secret.csv");
    std::fs::write(&secret, "app,value\ncanary-51e2,1\n").expect("secret");

    let good = "SELECT app, window_start, max(value) - min(value) AS value, count(*) AS n \
                FROM samples GROUP BY app, window_start";
    let copy = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        target.display()
    );
    let external = format!(
        "CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '{}'",
        secret.display()
    );
    for (app, sql) in [("good", good), ("copier", &copy), ("reader", &external)] {
        produce(
            &kafka,
            &topics.templates(),
            &unvalidated(app, template(app, sql)),
        );
    }

    let mut services = Services::new(&dir.path().join("logs"));
    services.start("recipe-processor", &kafka, dir.path());
    let publisher = Publisher::new(&kafka).expect("publisher");
    let records: Vec<Outgoing> = ["good", "copier", "reader"]
        .iter()
        .flat_map(|app| (0..4).map(move |m| sample(app, m)))
        .map(|s| Outgoing::event(topics.raw(), &s).expect("encode"))
        .collect();
    publisher.send_all(&records).expect("samples");

    // The good app's first windows close (its minutes 0..2 are each followed by a later sample).
    let derived = TopicReader::open(&kafka, &topics.derived());
    let mut seen: Vec<DerivedMetric> = Vec::new();
    assert!(
        derived.wait_until(&mut seen, Duration::from_secs(90), |seen| seen
            .iter()
            .filter(|d| d.app == "good")
            .count()
            >= 3),
        "the good app's windows did not close\n{}",
        services.logs()
    );
    assert!(
        seen.iter().all(|d| d.app == "good"),
        "a refused template produced output: {seen:?}"
    );

    // The refusal names the first character of the sql (line 9, column 13: inside the quotes).
    let logs = services.log_of("recipe-processor");
    assert!(logs.contains("skipping unusable template"), "{logs}");
    for (at, says) in [
        ("copier.yaml:9:13", "is a COPY statement"),
        ("reader.yaml:9:13", "is a CREATE statement"),
    ] {
        let refusal = logs.find(at).map(|i| &logs[i..(i + 200).min(logs.len())]);
        assert!(
            refusal.is_some_and(|r| r.contains(says)),
            "no refusal at {at} saying {says:?} in\n{logs}"
        );
    }
    assert!(!target.exists(), "COPY wrote {}", target.display());
    assert!(
        !logs.contains("canary-51e2"),
        "the secret file was read into the logs"
    );
}
