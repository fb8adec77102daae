//! The I/O edge that fills the dashboard's state: one consumer assigned every partition of the
//! five topics the dashboard shows, from the first record stamped within the span (offsets for
//! times: records carry their event time), then following them as they are written. It joins no
//! group and commits nothing, so it never disturbs the services.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use presage_events::{decode, ApplyOutcome, DeadLetter, DerivedMetric, Forecast, ScalingDirective};
use presage_runner::{KafkaArgs, Shutdown, Topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::state::{Event, State};
use super::view::FeedStatus;
use crate::scan;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Between attempts to assign, while the broker or the topics are not there.
const RETRY: Duration = Duration::from_secs(2);

/// The topics read, with how each record is decoded.
fn topics_read(topics: &Topics) -> [(String, Kind); 5] {
    [
        (topics.derived(), Kind::Derived),
        (topics.forecasts(), Kind::Forecast),
        (topics.directives(), Kind::Directive),
        (topics.applied(), Kind::Outcome),
        (topics.dlq(), Kind::DeadLetter),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Derived,
    Forecast,
    Directive,
    Outcome,
    DeadLetter,
}

fn event_of(kind: Kind, payload: &[u8]) -> Option<Event> {
    Some(match kind {
        Kind::Derived => Event::Derived(decode::<DerivedMetric>(payload).ok()?),
        Kind::Forecast => Event::Forecast(decode::<Forecast>(payload).ok()?),
        Kind::Directive => Event::Directive(decode::<ScalingDirective>(payload).ok()?),
        Kind::Outcome => Event::Outcome(decode::<ApplyOutcome>(payload).ok()?),
        Kind::DeadLetter => Event::DeadLetter(decode::<DeadLetter>(payload).ok()?),
    })
}

/// Shared between the feed thread and the HTTP server.
#[derive(Clone)]
pub struct Shared {
    pub state: Arc<Mutex<State>>,
    pub status: Arc<Mutex<FeedStatus>>,
    /// Explains running now (the server bounds them).
    pub explains: Arc<std::sync::atomic::AtomicUsize>,
}

/// Reads until `stop` is raised: assigns (retrying while the broker or the topics are away),
/// then folds every record into the state.
pub fn run(kafka: &KafkaArgs, shared: &Shared, stop: &Shutdown) {
    let topics = topics_read(&kafka.topics());
    let span_ms = shared.state.lock().map_or(0, |s| s.limits.span_ms);
    while !stop.requested() {
        let from_ms = now_ms().saturating_sub(span_ms);
        match assign(kafka, &topics, from_ms) {
            Ok(consumer) => {
                set_status(shared, "reading", None);
                read(&consumer, &topics, shared, stop);
                return;
            }
            Err(err) => {
                tracing::debug!(error = %format!("{err:#}"), "dashboard: waiting for the topics");
                set_status(shared, "waiting", Some(format!("{err:#}")));
                stop.sleep(RETRY);
            }
        }
    }
}

/// A consumer assigned every partition of every topic, each from its first record stamped at or
/// after `from_ms` (or its end, when there is none).
fn assign(
    kafka: &KafkaArgs,
    topics: &[(String, Kind)],
    from_ms: i64,
) -> anyhow::Result<BaseConsumer> {
    let consumer = scan::consumer(kafka, "dashboard")?;
    let mut times = TopicPartitionList::new();
    for (topic, _) in topics {
        for partition in scan::partitions(&consumer, topic)? {
            times.add_partition_offset(topic, partition, Offset::Offset(from_ms))?;
        }
    }
    let found = consumer
        .offsets_for_times(times, REQUEST_TIMEOUT)
        .context("looking up offsets by time")?;
    let mut assignment = TopicPartitionList::new();
    for element in found.elements() {
        element
            .error()
            .with_context(|| format!("offsets of {} {}", element.topic(), element.partition()))?;
        // No record stamped that late: the lookup answers with the end.
        let offset = match element.offset() {
            Offset::Offset(offset) if offset >= 0 => Offset::Offset(offset),
            _ => Offset::End,
        };
        assignment.add_partition_offset(element.topic(), element.partition(), offset)?;
    }
    consumer
        .assign(&assignment)
        .context("assigning the dashboard's topics")?;
    Ok(consumer)
}

fn read(consumer: &BaseConsumer, topics: &[(String, Kind)], shared: &Shared, stop: &Shutdown) {
    while !stop.requested() {
        match consumer.poll(Duration::from_millis(200)) {
            // Caught up with a partition: nothing to show, the next record will come.
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(err)) => {
                // librdkafka reconnects by itself; the page shows the problem meanwhile.
                set_status(shared, "reading", Some(err.to_string()));
                stop.sleep(Duration::from_millis(500));
            }
            Some(Ok(message)) => {
                let kind = topics
                    .iter()
                    .find(|(name, _)| name == message.topic())
                    .map(|(_, kind)| *kind);
                let event = kind
                    .zip(message.payload())
                    .and_then(|(kind, payload)| event_of(kind, payload));
                if let Ok(mut status) = shared.status.lock() {
                    status.records += 1;
                    status.error = None;
                }
                match event {
                    Some(event) => {
                        if let Ok(mut state) = shared.state.lock() {
                            state.fold_at(event, now_ms());
                        }
                    }
                    None => tracing::debug!(
                        topic = message.topic(),
                        partition = message.partition(),
                        offset = message.offset(),
                        "dashboard: a record this version cannot read"
                    ),
                }
            }
        }
    }
    let _ = consumer.unassign();
}

fn set_status(shared: &Shared, phase: &str, error: Option<String>) {
    if let Ok(mut status) = shared.status.lock() {
        status.phase = phase.to_string();
        status.error = error;
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_events::encode;

    #[test]
    fn a_record_is_read_as_its_topics_event_and_anything_else_is_skipped() {
        let forecast = Forecast {
            app: "shop".into(),
            metric: "rps".into(),
            ..Default::default()
        };
        let bytes = encode(&forecast).unwrap();
        assert_eq!(
            event_of(Kind::Forecast, &bytes),
            Some(Event::Forecast(forecast))
        );
        // A forecast written to the derived topic, garbage, nothing, a cut record.
        assert_eq!(event_of(Kind::Derived, &bytes), None);
        for payload in [&b"not an event"[..], b"", &bytes[..bytes.len() / 2]] {
            for kind in [
                Kind::Derived,
                Kind::Forecast,
                Kind::Directive,
                Kind::Outcome,
                Kind::DeadLetter,
            ] {
                assert_eq!(event_of(kind, payload), None, "{kind:?} {payload:?}");
            }
        }
    }
}
