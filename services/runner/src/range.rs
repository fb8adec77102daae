//! Reading one span of event time from a topic, every partition.
//!
//! Where [`crate::history`] reads back what a consumer group has processed, [`read_time_range`]
//! reads what happened between two instants, whoever consumed it: for looking at, replaying or
//! exporting a window of the past. Time is found through record timestamps, as there: the
//! producer stamps each record with its event time ([`crate::Outgoing::at`]), so each
//! partition's bounds are found by ListOffsets by time, and records outside them are not fetched.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::history::{
    partitions_of, read_ranges, reader, HistoryRead, PartitionRange, REQUEST_TIMEOUT,
};
use crate::settings::KafkaArgs;

/// The group id of the reader's consumer. It reads by assignment: the group is never joined and
/// nothing is committed under it.
const GROUP: &str = "presage-range-reader";

/// Reads every record of `topic` whose record timestamp is in `[from_ms, to_ms)`, every
/// partition, by assignment (no consumer group, nothing committed). Per partition the start is
/// the first offset with timestamp >= `from_ms` (ListOffsets by time) and the end is the first
/// offset with timestamp >= `to_ms` (or the high watermark when there is none). Records inside
/// `[start, end)` whose own timestamp is outside `[from_ms, to_ms)` (timestamps need not be
/// monotonic) are skipped, and so are records without a timestamp and empty payloads
/// (tombstones: nothing to read). Calls `on_record(partition, offset, payload)` in offset order
/// per partition.
///
/// The ranges returned are those of the partitions that had records between their bounds. Fails
/// if the topic does not exist, or if a read makes no progress for
/// [`crate::history::NO_PROGRESS_LIMIT`].
pub fn read_time_range(
    kafka: &KafkaArgs,
    topic: &str,
    from_ms: i64,
    to_ms: i64,
    mut on_record: impl FnMut(i32, i64, &[u8]),
) -> anyhow::Result<HistoryRead> {
    let consumer = reader(kafka, GROUP)?;
    let partitions = partitions_of(&consumer, topic)?;
    if partitions.is_empty() {
        return Err(anyhow!(
            "topic {topic} not found (run `presage topics create`)"
        ));
    }
    if from_ms >= to_ms {
        return Ok(HistoryRead::default());
    }
    let ranges = ranges_between(&consumer, topic, &partitions, from_ms, to_ms)
        .with_context(|| format!("finding the offsets of {topic} from {from_ms} to {to_ms} ms"))?;
    let mut records = 0u64;
    read_ranges(&consumer, topic, &ranges, |message| {
        if let Some(payload) = payload_within(message, from_ms, to_ms) {
            records += 1;
            on_record(message.partition(), message.offset(), payload);
        }
    })
    .with_context(|| format!("reading {topic} from {from_ms} to {to_ms} ms"))?;
    let ranges = ranges.into_iter().filter(|r| r.start < r.end).collect();
    Ok(HistoryRead { records, ranges })
}

/// The payload of `message` if it is stamped within `[from_ms, to_ms)` and not empty.
fn payload_within<'a>(
    message: &'a BorrowedMessage<'_>,
    from_ms: i64,
    to_ms: i64,
) -> Option<&'a [u8]> {
    let ms = message.timestamp().to_millis()?;
    if ms < from_ms || ms >= to_ms {
        return None;
    }
    message.payload().filter(|payload| !payload.is_empty())
}

/// Per partition, `[first offset stamped >= from_ms, first offset stamped >= to_ms)`, an end
/// with no record stamped that late being the high watermark. Either bound is kept within the
/// watermarks, which are asked for last so that they cover every offset the lookups found.
fn ranges_between(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<Vec<PartitionRange>> {
    let starts = first_offsets_at(consumer, topic, partitions, from_ms)?;
    let ends = first_offsets_at(consumer, topic, partitions, to_ms)?;
    let mut ranges = Vec::with_capacity(partitions.len());
    for &partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
        let start = starts.get(&partition).map_or(high, |&s| s.clamp(low, high));
        let end = ends.get(&partition).map_or(high, |&e| e.clamp(start, high));
        ranges.push(PartitionRange {
            partition,
            start,
            end,
        });
    }
    Ok(ranges)
}

/// The first offset of each partition whose record is stamped `ms` or later (ListOffsets by
/// time). A partition with no such record is left out.
fn first_offsets_at(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    ms: i64,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    // Negative "timestamps" mean latest (-1) and earliest (-2) to ListOffsets. No record is
    // stamped before the epoch, so the first one stamped at or after it answers for them.
    let ms = ms.max(0);
    let mut times = TopicPartitionList::new();
    for &partition in partitions {
        times.add_partition_offset(topic, partition, Offset::Offset(ms))?;
    }
    let found = consumer
        .offsets_for_times(times, REQUEST_TIMEOUT)
        .with_context(|| format!("looking up {topic} offsets at {ms} ms"))?;
    let mut offsets = BTreeMap::new();
    for element in found.elements_for_topic(topic) {
        let partition = element.partition();
        element
            .error()
            .with_context(|| format!("looking up {topic} partition {partition} at {ms} ms"))?;
        // No record stamped that late: the lookup answers with the end (-1).
        if let Offset::Offset(offset) = element.offset() {
            offsets.insert(partition, offset);
        }
    }
    Ok(offsets)
}
