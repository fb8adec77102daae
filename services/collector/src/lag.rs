//! `kafka_lag` sources: how far a consumer group is behind, per topic and partition: the
//! partition's end (high watermark) minus the group's committed offset. Read from the cluster
//! the collector runs on, with its own Kafka settings. Reading a group's committed offsets is an
//! OffsetFetch: the client never subscribes, never joins the group and never commits, so the
//! group it watches is not disturbed (and nothing here is an authority a template could abuse:
//! no command, path or URL).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use presage_runner::KafkaArgs;
use presage_template::model::metric_names::CONSUMER_LAG;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::samples::Reading;

/// A partition's lag: its end minus the committed offset; with nothing committed yet, every
/// record it holds (end minus start). Never negative (a commit can run ahead of a stale end).
pub fn lag(committed: Option<i64>, low: i64, high: i64) -> i64 {
    match committed {
        Some(offset) => (high - offset).max(0),
        None => (high - low).max(0),
    }
}

/// Why a lag read gave no readings.
#[derive(Debug)]
pub enum LagFailure {
    /// More partitions than the collector reads in one source (its `--max-scrape-series`):
    /// refused before the per-partition requests, as an oversized Prometheus page is.
    TooManyPartitions {
        partitions: usize,
        max: usize,
    },
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for LagFailure {
    fn from(err: anyhow::Error) -> Self {
        LagFailure::Failed(err)
    }
}

/// One offsets client per group watched, kept between reads.
pub struct LagReader {
    kafka: KafkaArgs,
    clients: HashMap<String, BaseConsumer>,
}

impl LagReader {
    pub fn new(kafka: KafkaArgs) -> Self {
        Self {
            kafka,
            clients: HashMap::new(),
        }
    }

    /// `consumer_lag` per partition of `topics` for `group`, labelled group, topic, partition;
    /// at most `max_partitions` of them.
    pub fn read(
        &mut self,
        group: &str,
        topics: &[String],
        timeout: Duration,
        now_ms: i64,
        max_partitions: usize,
    ) -> Result<Vec<Reading>, LagFailure> {
        let client = self.client(group)?;
        // One metadata request for the lot: one topic by name, several from the whole cluster.
        let only = match topics {
            [one] => Some(one.as_str()),
            _ => None,
        };
        let metadata = client
            .fetch_metadata(only, timeout)
            .context("reading the topics' partitions")?;
        let mut partitions = TopicPartitionList::new();
        for topic in topics {
            let found = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                .with_context(|| format!("topic {topic} does not exist"))?;
            for partition in found.partitions() {
                partitions.add_partition(topic, partition.id());
            }
        }
        if partitions.count() > max_partitions {
            return Err(LagFailure::TooManyPartitions {
                partitions: partitions.count(),
                max: max_partitions,
            });
        }
        let committed = client
            .committed_offsets(partitions.clone(), timeout)
            .with_context(|| format!("reading the committed offsets of group {group}"))?;
        let mut readings = Vec::with_capacity(partitions.count());
        for element in committed.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            let (low, high) = client
                .fetch_watermarks(topic, partition, timeout)
                .with_context(|| format!("reading the end of {topic}/{partition}"))?;
            let committed = match element.offset() {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            };
            readings.push(Reading {
                metric: CONSUMER_LAG.to_string(),
                labels: BTreeMap::from([
                    ("group".to_string(), group.to_string()),
                    ("topic".to_string(), topic.to_string()),
                    ("partition".to_string(), partition.to_string()),
                ]),
                value: lag(committed, low, high) as f64,
                at_ms: now_ms,
            });
        }
        Ok(readings)
    }

    fn client(&mut self, group: &str) -> anyhow::Result<&BaseConsumer> {
        if !self.clients.contains_key(group) {
            let client: BaseConsumer = self
                .kafka
                .client_config(&[
                    ("group.id", group),
                    // Never subscribed, so never a member; and never a committer either.
                    ("enable.auto.commit", "false"),
                ])?
                .create()
                .with_context(|| format!("creating an offsets client for group {group}"))?;
            self.clients.insert(group.to_string(), client);
        }
        Ok(&self.clients[group])
    }
}

#[cfg(test)]
mod tests {
    use super::lag;

    #[test]
    fn lag_is_the_end_minus_the_committed_offset() {
        assert_eq!(lag(Some(40), 0, 100), 60);
        assert_eq!(lag(Some(100), 0, 100), 0);
    }

    #[test]
    fn with_nothing_committed_every_record_held_is_lag() {
        assert_eq!(lag(None, 30, 100), 70, "records before 30 were deleted");
    }

    #[test]
    fn a_commit_ahead_of_a_stale_end_is_no_lag_not_a_negative_one() {
        assert_eq!(lag(Some(105), 0, 100), 0);
    }
}
