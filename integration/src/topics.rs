//! Reading and writing topics from a test, outside any consumer group.

use std::time::{Duration, Instant};

use presage_events::{decode, Event};
use presage_runner::publisher::Publisher;
use presage_runner::{KafkaArgs, Outgoing};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

/// A reader of every partition of one topic from its beginning.
pub struct TopicReader {
    consumer: BaseConsumer,
    pub topic: String,
}

impl TopicReader {
    pub fn open(kafka: &KafkaArgs, topic: &str) -> Self {
        let consumer: BaseConsumer = kafka
            .client_config(&[
                ("group.id", "presage-test-reader"),
                ("enable.auto.commit", "false"),
            ])
            .expect("config")
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Beginning)
                    .expect("partition");
            }
        }
        consumer.assign(&assignment).expect("assign");
        Self {
            consumer,
            topic: topic.to_string(),
        }
    }

    /// Raw records that arrived within `wait`.
    pub fn poll_raw(&self, wait: Duration) -> Vec<(Vec<u8>, i32, i64)> {
        let deadline = Instant::now() + wait;
        let mut records = Vec::new();
        while Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => records.push((
                    m.payload().unwrap_or_default().to_vec(),
                    m.partition(),
                    m.offset(),
                )),
                Some(Err(e)) => panic!("reading {}: {e}", self.topic),
                None => {
                    if !records.is_empty() {
                        break;
                    }
                }
            }
        }
        records
    }

    /// Decoded events that arrived within `wait`; an undecodable record fails the test.
    pub fn poll<E: Event>(&self, wait: Duration) -> Vec<E> {
        self.poll_raw(wait)
            .into_iter()
            .map(|(bytes, p, o)| {
                decode::<E>(&bytes).unwrap_or_else(|e| panic!("{} {p}@{o}: {e}", self.topic))
            })
            .collect()
    }

    /// Keeps reading until `found` accepts what has been read so far, or `limit` passes.
    pub fn wait_until<E: Event>(
        &self,
        seen: &mut Vec<E>,
        limit: Duration,
        mut found: impl FnMut(&[E]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            seen.extend(self.poll::<E>(Duration::from_millis(500)));
            if found(seen) {
                return true;
            }
        }
        false
    }
}

/// Produces raw bytes (for malformed-record tests) or events.
pub fn produce_raw(kafka: &KafkaArgs, topic: &str, key: &str, payload: &[u8]) {
    let publisher = Publisher::new(kafka).expect("producer");
    publisher
        .send_all(&[Outgoing {
            topic: topic.to_string(),
            key: key.to_string(),
            event_id: "raw-test-record".into(),
            payload: payload.to_vec(),
            timestamp_ms: None,
        }])
        .expect("produce");
}

pub fn produce<E: Event>(kafka: &KafkaArgs, topic: &str, event: &E) {
    let publisher = Publisher::new(kafka).expect("producer");
    publisher
        .send_all(&[Outgoing::event(topic, event).expect("encode")])
        .expect("produce");
}

/// Creates every topic of the topology, retrying while the broker is still starting; fails
/// with the last error after `patience`.
pub fn create_topology(kafka: &KafkaArgs, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        match presage_runner::admin::create_topics(
            kafka,
            &presage_runner::Topology::default_topology(),
        ) {
            Ok(_) => return Ok(()),
            Err(err) if Instant::now() >= deadline => {
                return Err(err.context(format!("creating topics (tried for {patience:?})")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// The topology created and one template, written to `dir/<file>`, published: what a test
/// needs before it starts a service.
pub fn set_up_with_template(kafka: &KafkaArgs, dir: &std::path::Path, file: &str, text: &str) {
    create_topology(kafka, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e:#}"));
    let template = dir.join(file);
    std::fs::write(&template, text).expect("writing the template");
    presage_runner::templates::publish_templates(kafka, &[template])
        .expect("publishing the template");
}
