//! Reading topics by assignment, outside any consumer group: the commands that look at topics
//! (`tail`, `explain`) join no group and commit nothing, so they never disturb the services.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use presage_runner::KafkaArgs;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

const METADATA_WAIT: Duration = Duration::from_secs(10);

/// A consumer that is only ever assigned partitions. librdkafka wants a group id even so; it is
/// never joined and nothing is committed to it. It reports each partition's end
/// (`KafkaError::PartitionEOF`, which followers skip), and an offset deleted by retention
/// meanwhile reads on from the new log start.
pub fn consumer(kafka: &KafkaArgs, role: &str) -> anyhow::Result<BaseConsumer> {
    kafka
        .client_config(&[
            ("group.id", &format!("presage-cli-{role}")),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
        ])?
        .create()
        .with_context(|| format!("creating a consumer for {role}"))
}

/// The partitions of `topic`; a missing topic says how to create it.
pub fn partitions(consumer: &BaseConsumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_WAIT)
        .with_context(|| format!("reading metadata of {topic}"))?;
    let mut ids = Vec::new();
    for meta in metadata.topics() {
        if let Some(err) = meta.error() {
            bail!("topic {topic}: {err:?} (run `presage topics create`)");
        }
        ids.extend(meta.partitions().iter().map(|p| p.id()));
    }
    if ids.is_empty() {
        bail!("topic {topic} has no partitions (run `presage topics create`)");
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Assigns every partition of `topic` to `consumer`: from the beginning, or from the end each
/// partition has now (read here, so whatever is written after this returns will be read).
pub fn assign_all(
    consumer: &BaseConsumer,
    topic: &str,
    from_beginning: bool,
) -> anyhow::Result<()> {
    let mut assignment = TopicPartitionList::new();
    for partition in partitions(consumer, topic)? {
        let offset = if from_beginning {
            Offset::Beginning
        } else {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, METADATA_WAIT)
                .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
            Offset::Offset(high)
        };
        assignment.add_partition_offset(topic, partition, offset)?;
    }
    consumer
        .assign(&assignment)
        .with_context(|| format!("assigning {topic}"))
}

/// Low and high watermark of each partition of `topic`.
pub fn watermarks(kafka: &KafkaArgs, topic: &str) -> anyhow::Result<BTreeMap<i32, (i64, i64)>> {
    let consumer = consumer(kafka, "watermarks")?;
    partitions(&consumer, topic)?
        .into_iter()
        .map(|partition| {
            let marks = consumer
                .fetch_watermarks(topic, partition, METADATA_WAIT)
                .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
            Ok((partition, marks))
        })
        .collect()
}

/// One record of a scan.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub partition: i32,
    pub offset: i64,
    pub payload: Option<&'a [u8]>,
}

/// Reads every partition of `topic` from its beginning to the end it had when the scan began,
/// handing each record to `visit`, which returns `false` to stop early. Returns how many
/// records were read. Fails if the end is not reached within `limit`.
pub fn scan_to_end(
    kafka: &KafkaArgs,
    topic: &str,
    limit: Duration,
    mut visit: impl FnMut(Record<'_>) -> bool,
) -> anyhow::Result<u64> {
    let consumer = consumer(kafka, "scan")?;
    let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions(&consumer, topic)? {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, METADATA_WAIT)
            .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
        if high > low {
            pending.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
    }
    if pending.is_empty() {
        return Ok(0);
    }
    consumer
        .assign(&assignment)
        .with_context(|| format!("assigning {topic}"))?;
    // A limit too large for the clock (`--timeout` of years) means no deadline.
    let deadline = Instant::now().checked_add(limit);
    let mut read = 0u64;
    while !pending.is_empty() {
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(anyhow!(
                "timed out after {}s reading {topic} to its end ({read} records read)",
                limit.as_secs()
            ));
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                pending.remove(&partition);
            }
            Some(Err(err)) => return Err(err).with_context(|| format!("reading {topic}")),
            Some(Ok(message)) => {
                read += 1;
                let (partition, offset) = (message.partition(), message.offset());
                if pending
                    .get(&partition)
                    .is_some_and(|high| offset + 1 >= *high)
                {
                    pending.remove(&partition);
                }
                let record = Record {
                    partition,
                    offset,
                    payload: message.payload(),
                };
                if !visit(record) {
                    break;
                }
            }
        }
    }
    Ok(read)
}
