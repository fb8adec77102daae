//! Stage checkpoints in Kafka: `presage.checkpoints`, compacted, one record per (consumer group,
//! input topic, partition) holding the stage's restore metadata beside the offset it goes with.
//!
//! Kafka keeps a few bytes of metadata with every committed offset for this purpose, but not
//! every Kafka-protocol broker returns them (Nisshi 0.8 answers OffsetFetch with empty
//! metadata), so the runner keeps its own record, written and acknowledged *before* the offset
//! commit. Were the process to die between the two, the checkpoint is newer than the
//! committed offset; the stage then reads a few records it no longer needs and skips them.

use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::settings::KafkaArgs;
use crate::stage::Outgoing;

/// How many records back each step of the search for a key reads.
const SCAN_STEP: i64 = 5_000;

/// The record key of a stage partition's checkpoint.
pub fn checkpoint_key(group: &str, topic: &str, partition: i32) -> String {
    format!("{group}|{topic}|{partition}")
}

/// The record that stores a checkpoint: `offset=<n> <metadata>`.
pub fn checkpoint_record(topic: &str, key: &str, offset: i64, metadata: &str) -> Outgoing {
    Outgoing {
        topic: topic.to_string(),
        key: key.to_string(),
        event_id: format!("{key}@{offset}"),
        payload: format!("offset={offset} {metadata}").into_bytes(),
        timestamp_ms: None,
    }
}

/// Reads checkpoints back.
pub struct CheckpointReader {
    consumer: BaseConsumer,
    topic: String,
}

impl CheckpointReader {
    pub fn open(kafka: &KafkaArgs) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = kafka
            .client_config(&[
                ("group.id", "presage-checkpoint-reader"),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "false"),
            ])?
            .create()
            .context("creating checkpoint reader")?;
        Ok(Self {
            consumer,
            topic: kafka.topics().checkpoints(),
        })
    }

    /// The latest checkpoint stored under `key`: (offset, metadata). Searches back from the
    /// end of the topic, a step at a time, so a start costs a read of the recent tail only.
    pub fn latest(&self, key: &str) -> anyhow::Result<Option<(i64, String)>> {
        let timeout = Duration::from_secs(10);
        let (low, high) = self
            .consumer
            .fetch_watermarks(&self.topic, 0, timeout)
            .with_context(|| {
                format!("watermarks of {} (run `presage topics create`)", self.topic)
            })?;
        let mut end = high;
        while end > low {
            let start = (end - SCAN_STEP).max(low);
            if let Some(found) = self.last_in(key, start, end)? {
                return Ok(Some(found));
            }
            end = start;
        }
        Ok(None)
    }

    /// The last record with `key` in offsets `[start, end)`.
    fn last_in(&self, key: &str, start: i64, end: i64) -> anyhow::Result<Option<(i64, String)>> {
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&self.topic, 0, Offset::Offset(start))?;
        self.consumer.assign(&assignment)?;
        let mut found = None;
        let mut next = start;
        let deadline = Instant::now() + Duration::from_secs(30);
        while next < end {
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out reading {} from {start} to {end}",
                self.topic
            );
            // An error here is the client's news (often stale: queued while the broker was
            // away), not the end of the read: the deadline bounds a read that never progresses.
            let message = match self.consumer.poll(Duration::from_millis(200)) {
                None => continue,
                Some(Err(err)) => {
                    tracing::debug!(topic = %self.topic, error = %err, "checkpoint read: client error");
                    continue;
                }
                Some(Ok(message)) => message,
            };
            next = message.offset() + 1;
            if message.offset() >= end || message.key() != Some(key.as_bytes()) {
                continue;
            }
            found = message
                .payload()
                .and_then(|p| std::str::from_utf8(p).ok())
                .and_then(parse_record);
        }
        Ok(found)
    }
}

fn parse_record(text: &str) -> Option<(i64, String)> {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let offset = first.strip_prefix("offset=")?.parse().ok()?;
    Some((offset, rest.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_record_reads_back_as_its_offset_and_metadata() {
        let record = checkpoint_record(
            "presage.checkpoints",
            "g|t|2",
            41,
            "recipes/v1 watermark=9 next=50",
        );
        let text = String::from_utf8(record.payload).unwrap();
        assert_eq!(
            parse_record(&text),
            Some((41, "recipes/v1 watermark=9 next=50".to_string()))
        );
        assert_eq!(record.key, "g|t|2");
        assert_eq!(parse_record("garbage"), None);
    }
}
