//! What the planner's restart tests share: quarter-hourly departures moved to the recent past,
//! inputs produced to the broker in one batch, and the check that the live planner published
//! exactly what the uninterrupted core decided.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_events::{Event, ScalingDirective};
use presage_integration::data::{epoch_ms, trace_slice};
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::{load_published, publish_templates, LoadedTemplate};
use presage_runner::{KafkaArgs, Outgoing};

/// A quarter hour, the trace's window.
pub const STEP: i64 = 900_000;
const WEEK: i64 = 7 * 24 * 3_600_000;

/// `windows` quarter hours of departures and the start of each.
pub struct Trace {
    pub starts: Vec<i64>,
    pub values: Vec<f64>,
}

/// The first `windows` quarter hours of `nyc-departures-15m.csv` from 2013-03-04, moved by
/// whole weeks to start in the week before last.
pub fn trace(windows: usize) -> Trace {
    let values = trace_slice("nyc-departures-15m.csv", "2013-03-04T00:00:00Z", windows);
    let start = epoch_ms("2013-03-04T00:00:00Z");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let shift = (now - start).div_euclid(WEEK) * WEEK - WEEK;
    let starts = (0..windows)
        .map(|i| start + shift + i as i64 * STEP)
        .collect();
    Trace { starts, values }
}

/// Writes `yaml` to `dir/file`, publishes it, and loads it back as the planner will.
pub fn publish_template(kafka: &KafkaArgs, dir: &Path, file: &str, yaml: &str) -> LoadedTemplate {
    let template_path = dir.join(file);
    std::fs::write(&template_path, yaml).expect("write template");
    let published = publish_templates(kafka, &[template_path]).expect("publish template");
    load_published(&published[0]).expect("template loads")
}

/// Produces `events` to `topic` in order, in one batch (one producer, not one per record).
pub fn produce_all<E: Event>(kafka: &KafkaArgs, topic: &str, events: impl Iterator<Item = E>) {
    let batch: Vec<Outgoing> = events
        .map(|e| Outgoing::event(topic, &e).expect("encode"))
        .collect();
    Publisher::new(kafka)
        .expect("producer")
        .send_all(&batch)
        .expect("produce");
}

/// Directives by id, each as `content` states it; one id published twice (an input read again
/// after a kill) must say the same both times.
pub fn by_id<C: Clone + Debug + PartialEq>(
    directives: &[ScalingDirective],
    content: impl Fn(&ScalingDirective) -> C,
) -> BTreeMap<String, C> {
    let mut said = BTreeMap::new();
    for d in directives {
        let content = content(d);
        if let Some(earlier) = said.insert(d.event_id.clone(), content.clone()) {
            assert_eq!(
                earlier, content,
                "{} published with two contents",
                d.event_id
            );
        }
    }
    said
}

/// Reads `directives` into `seen` until every expected id is there (patience: 180 s), stops the
/// planner, and asserts that every expected directive was published, none with other content
/// and none unexpected.
pub fn assert_published_as_expected<C: Debug + PartialEq>(
    directives: &TopicReader,
    seen: &mut Vec<ScalingDirective>,
    services: &mut Services,
    expected: &BTreeMap<String, C>,
    by_id: impl Fn(&[ScalingDirective]) -> BTreeMap<String, C>,
) {
    let done = directives.wait_until(seen, Duration::from_secs(180), |d| {
        let ids: HashSet<&str> = d.iter().map(|d| d.event_id.as_str()).collect();
        expected.keys().all(|id| ids.contains(id.as_str()))
    });
    services.stop("planner");
    assert!(
        done,
        "{} of {} directives\n{}",
        by_id(seen).len(),
        expected.len(),
        services.logs()
    );
    let got = by_id(seen);
    let differing: Vec<_> = expected
        .iter()
        .filter(|(id, said)| got.get(*id) != Some(*said))
        .map(|(id, said)| (id, said, got.get(id)))
        .chain(
            got.iter()
                .filter(|(id, _)| !expected.contains_key(*id))
                .map(|(id, said)| (id, said, None)),
        )
        .collect();
    assert!(
        differing.is_empty(),
        "(id, expected, published): {differing:#?}\n{}",
        services.logs()
    );
}
