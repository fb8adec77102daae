//! Rebuilding a stage's in-memory history from its own input topic on start.
//!
//! A stage that forecasts from the past (the forecaster) keeps bounded buffers of what it read.
//! They are not checkpointed: the input topic is the history. Before the stage joins its
//! consumer group, [`read_history`] reads, for every partition the group has committed, the
//! records from a span of event time before the committed offset up to it. The stage then
//! resumes at the committed offset with its buffers as they were.
//!
//! Time is found through record timestamps: the producer stamps each record with its event
//! time ([`crate::Outgoing::at`]), so the start is the first offset whose timestamp is at least
//! the newest processed record's timestamp minus the span (ListOffsets by time).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::settings::KafkaArgs;

/// How long a read may go without a record (or a position change) before it fails.
pub const NO_PROGRESS_LIMIT: Duration = Duration::from_secs(60);
/// Timeout of each metadata, offset and watermark request.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The offsets `[start, end)` of one partition that were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRange {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

/// What [`read_history`] read, for a log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryRead {
    /// Records handed to the callback.
    pub records: u64,
    /// One range per partition the group had committed past its log start.
    pub ranges: Vec<PartitionRange>,
}

impl HistoryRead {
    /// Partitions history was read from.
    pub fn partitions(&self) -> usize {
        self.ranges.len()
    }
}

impl fmt::Display for HistoryRead {
    /// `0:[120,264) 2:[0,17)`, or `-` when nothing was read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ranges.is_empty() {
            return f.write_str("-");
        }
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}:[{},{})", r.partition, r.start, r.end)?;
        }
        Ok(())
    }
}

/// Reads back the recent past of `topic` as consumer group `group` left it: for each partition
/// with a committed offset C past the log start, the records whose event time (record
/// timestamp) is within `span_ms` of record C-1's, up to C (exclusive), each payload handed to
/// `on_record` in offset order per partition. Partitions without a commit are skipped: the
/// stage reads them from the beginning anyway.
///
/// Reads by assignment, outside the group: it neither joins the group nor commits. Fails if a
/// read makes no progress for [`NO_PROGRESS_LIMIT`].
pub fn read_history(
    kafka: &KafkaArgs,
    topic: &str,
    group: &str,
    span_ms: i64,
    on_record: impl FnMut(&[u8]),
) -> anyhow::Result<HistoryRead> {
    let consumer = reader(kafka, group)?;
    let partitions = partitions_of(&consumer, topic)?;

    // Where the group stands on each partition.
    let mut asked = TopicPartitionList::new();
    for &partition in &partitions {
        asked.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(asked, REQUEST_TIMEOUT)
        .with_context(|| format!("reading the committed offsets of group {group} on {topic}"))?;
    // partition → (low watermark, committed offset)
    let mut bounds: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for element in committed.elements_for_topic(topic) {
        let Offset::Offset(committed) = element.offset() else {
            continue; // nothing committed: nothing to rebuild
        };
        let partition = element.partition();
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
        let end = committed.min(high);
        if end > low {
            bounds.insert(partition, (low, end));
        }
    }
    drop(consumer);
    read_span(kafka, group, topic, &bounds, span_ms, on_record)
}

/// Reads the recent past of `topic` as it stands: for each partition, the records whose
/// timestamp is within `span_ms` of its newest record's, to its end. For a service that rebuilds
/// state from what it wrote itself (the planner, from its directives).
pub fn read_recent(
    kafka: &KafkaArgs,
    topic: &str,
    span_ms: i64,
    on_record: impl FnMut(&[u8]),
) -> anyhow::Result<HistoryRead> {
    let group = "presage-recent-reader";
    let consumer = reader(kafka, group)?;
    let mut bounds: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for partition in partitions_of(&consumer, topic)? {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
        if high > low {
            bounds.insert(partition, (low, high));
        }
    }
    drop(consumer);
    read_span(kafka, group, topic, &bounds, span_ms, on_record)
}

/// [`read_history`] for one partition, up to `before` (the offset a stage resumes from when the
/// group assigns it the partition): the records whose event time is within `span_ms` of record
/// `before - 1`'s. What a stage that forecasts from the past rebuilds on assignment.
pub fn read_partition_history(
    kafka: &KafkaArgs,
    topic: &str,
    partition: i32,
    before: i64,
    span_ms: i64,
    on_record: impl FnMut(&[u8]),
) -> anyhow::Result<HistoryRead> {
    read_one_partition(kafka, topic, partition, Some(before), span_ms, on_record)
}

/// [`read_recent`] for one partition: what a stage rebuilds when the group assigns it that
/// partition of its input (the planner's directives, the applier's outcomes). Topics keyed by
/// app id share their partition count and partitioner, so partition `p` of the stage's output
/// holds the apps of partition `p` of its input.
pub fn read_partition_recent(
    kafka: &KafkaArgs,
    topic: &str,
    partition: i32,
    span_ms: i64,
    on_record: impl FnMut(&[u8]),
) -> anyhow::Result<HistoryRead> {
    read_one_partition(kafka, topic, partition, None, span_ms, on_record)
}

/// One partition's records within `span_ms` of the last one before `before` (or of its newest).
fn read_one_partition(
    kafka: &KafkaArgs,
    topic: &str,
    partition: i32,
    before: Option<i64>,
    span_ms: i64,
    on_record: impl FnMut(&[u8]),
) -> anyhow::Result<HistoryRead> {
    let group = "presage-partition-reader";
    let consumer = reader(kafka, group)?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
        .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
    drop(consumer);
    let end = before.map_or(high, |before| before.min(high));
    let mut bounds: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    if end > low {
        bounds.insert(partition, (low, end));
    }
    read_span(kafka, group, topic, &bounds, span_ms, on_record)
}

/// Reads, for each partition's `[low, end)`, the records from `span_ms` before record `end-1`'s
/// timestamp up to `end`.
fn read_span(
    kafka: &KafkaArgs,
    group: &str,
    topic: &str,
    bounds: &BTreeMap<i32, (i64, i64)>,
    span_ms: i64,
    mut on_record: impl FnMut(&[u8]),
) -> anyhow::Result<HistoryRead> {
    if bounds.is_empty() {
        return Ok(HistoryRead::default());
    }
    let consumer = reader(kafka, group)?;

    // The event time of the last record processed on each partition.
    let mut newest: BTreeMap<i32, i64> = BTreeMap::new();
    let last_records: Vec<PartitionRange> = bounds
        .iter()
        .map(|(&partition, &(_, end))| PartitionRange {
            partition,
            start: end - 1,
            end,
        })
        .collect();
    read_ranges(&consumer, topic, &last_records, |message| {
        if let Some(ms) = message.timestamp().to_millis() {
            newest.insert(message.partition(), ms);
        }
    })
    .context("reading the last record of each partition")?;
    drop(consumer);

    // From there, `span_ms` back in event time. A lookup that finds nothing (or a span reaching
    // before the epoch, or a record without timestamp) reads from the log start: the stage's
    // buffers are bounded, so reading too much costs time, not memory.
    let mut times = TopicPartitionList::new();
    for (&partition, &ts) in &newest {
        let from = ts.saturating_sub(span_ms.max(0));
        // Negative "timestamps" mean latest (-1) and earliest (-2) to ListOffsets.
        if from > 0 {
            times.add_partition_offset(topic, partition, Offset::Offset(from))?;
        }
    }
    let mut starts: BTreeMap<i32, i64> = BTreeMap::new();
    if times.count() > 0 {
        let consumer = reader(kafka, group)?;
        let found = consumer
            .offsets_for_times(times, REQUEST_TIMEOUT)
            .with_context(|| format!("looking up {topic} offsets by time"))?;
        for element in found.elements_for_topic(topic) {
            if let (Ok(()), Offset::Offset(offset)) = (element.error(), element.offset()) {
                starts.insert(element.partition(), offset);
            }
        }
    }
    let ranges: Vec<PartitionRange> = bounds
        .iter()
        .map(|(&partition, &(low, end))| {
            let start = starts
                .get(&partition)
                .copied()
                .filter(|s| *s < end)
                .map_or(low, |s| s.max(low));
            PartitionRange {
                partition,
                start,
                end,
            }
        })
        .collect();

    // A fresh consumer: nothing fetched for the first read can reach this one.
    let consumer = reader(kafka, group)?;
    let mut records = 0u64;
    read_ranges(&consumer, topic, &ranges, |message| {
        if let Some(payload) = message.payload() {
            records += 1;
            on_record(payload);
        }
    })
    .with_context(|| format!("reading the recent past of {topic}"))?;
    Ok(HistoryRead { records, ranges })
}

/// A consumer that only reads by assignment: the group id is there so the group's committed
/// offsets can be asked for, never to join it or commit.
pub(crate) fn reader(kafka: &KafkaArgs, group: &str) -> anyhow::Result<BaseConsumer> {
    kafka
        .client_config(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            // A start deleted by retention meanwhile: read from the new log start.
            ("auto.offset.reset", "earliest"),
        ])?
        .create()
        .context("creating history reader")
}

pub(crate) fn partitions_of(consumer: &BaseConsumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .with_context(|| format!("reading metadata of {topic}"))?;
    let mut partitions = Vec::new();
    for meta_topic in metadata.topics() {
        if let Some(err) = meta_topic.error() {
            return Err(anyhow!(
                "topic {topic}: {err:?} (run `presage topics create`)"
            ));
        }
        partitions.extend(meta_topic.partitions().iter().map(|p| p.id()));
    }
    Ok(partitions)
}

/// Reads every `[start, end)` range (one per partition), calling `each` for every record in
/// it. A partition is done at its range's last offset, or when the consumer's position has
/// passed it (offsets missing at the end: compaction, transaction markers).
pub(crate) fn read_ranges(
    consumer: &BaseConsumer,
    topic: &str,
    ranges: &[PartitionRange],
    mut each: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
) -> anyhow::Result<()> {
    let mut pending: BTreeMap<i32, PartitionRange> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for range in ranges.iter().filter(|r| r.start < r.end) {
        assignment.add_partition_offset(topic, range.partition, Offset::Offset(range.start))?;
        pending.insert(range.partition, *range);
    }
    if pending.is_empty() {
        return Ok(());
    }
    consumer
        .assign(&assignment)
        .with_context(|| format!("assigning {topic}"))?;
    let mut last_progress = Instant::now();
    while !pending.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let partition = message.partition();
                let Some(range) = pending.get(&partition).copied() else {
                    continue;
                };
                last_progress = Instant::now();
                let offset = message.offset();
                if offset >= range.start && offset < range.end {
                    each(&message);
                }
                if offset + 1 >= range.end {
                    pending.remove(&partition);
                }
            }
            Some(Err(err)) => {
                tracing::warn!(%topic, error = %err, "error while reading history");
            }
            None => {
                // Nothing fetched: perhaps the rest of a range has no records.
                if let Ok(positions) = consumer.position() {
                    for element in positions.elements_for_topic(topic) {
                        let partition = element.partition();
                        if let (Some(range), Offset::Offset(position)) =
                            (pending.get(&partition), element.offset())
                        {
                            if position >= range.end {
                                pending.remove(&partition);
                            }
                        }
                    }
                }
            }
        }
        if !pending.is_empty() && last_progress.elapsed() > NO_PROGRESS_LIMIT {
            let waiting: Vec<String> = pending
                .values()
                .map(|r| format!("{}:[{},{})", r.partition, r.start, r.end))
                .collect();
            return Err(anyhow!(
                "no record of {topic} arrived for {} s while reading partitions {} (is the broker reachable?)",
                NO_PROGRESS_LIMIT.as_secs(),
                waiting.join(" ")
            ));
        }
    }
    let _ = consumer.unassign();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_read_lists_its_ranges() {
        let read = HistoryRead {
            records: 3,
            ranges: vec![
                PartitionRange {
                    partition: 0,
                    start: 120,
                    end: 264,
                },
                PartitionRange {
                    partition: 2,
                    start: 0,
                    end: 17,
                },
            ],
        };
        assert_eq!(read.to_string(), "0:[120,264) 2:[0,17)");
        assert_eq!(read.partitions(), 2);
        assert_eq!(HistoryRead::default().to_string(), "-");
    }
}
