//! Reading the evidence back with the chaos run's own reader: every record of a topic, by
//! assignment from the log start to the high watermark as it stands, and the config files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use presage_events::{decode, DeadLetter, Event, RawSample};
use presage_runner::KafkaArgs;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::reconcile::AppFiles;

const REQUEST: Duration = Duration::from_secs(10);

/// Every record of `topic` now in the log, decoded; undecodable ones are counted in the error.
pub fn read_all<E: Event>(kafka: &KafkaArgs, topic: &str) -> anyhow::Result<Vec<E>> {
    let mut events = Vec::new();
    let mut undecodable = 0;
    for payload in read_payloads(kafka, topic)? {
        match decode::<E>(&payload) {
            Ok(event) => events.push(event),
            Err(_) => undecodable += 1,
        }
    }
    if undecodable > 0 {
        return Err(anyhow!("{topic}: {undecodable} undecodable record(s)"));
    }
    Ok(events)
}

/// Ids of the raw samples the recipe-processor dead-lettered as late.
pub fn late_raw_ids(kafka: &KafkaArgs) -> anyhow::Result<BTreeSet<String>> {
    let letters: Vec<DeadLetter> = read_all(kafka, &kafka.topics().dlq())?;
    Ok(letters
        .iter()
        .filter(|l| l.kind == "late")
        .filter_map(|l| decode::<RawSample>(&l.payload).ok())
        .map(|s| s.event_id)
        .collect())
}

/// Dead letters by kind (for the report).
pub fn dead_letter_kinds(kafka: &KafkaArgs) -> anyhow::Result<BTreeMap<String, usize>> {
    let letters: Vec<DeadLetter> = read_all(kafka, &kafka.topics().dlq())?;
    let mut kinds = BTreeMap::new();
    for l in letters {
        *kinds.entry(format!("{}:{}", l.stage, l.kind)).or_default() += 1;
    }
    Ok(kinds)
}

/// The sum of the high watermarks of `topics`: it stops moving once the pipeline has drained.
pub fn log_ends(kafka: &KafkaArgs, topics: &[String]) -> anyhow::Result<i64> {
    let consumer = reader(kafka)?;
    let mut total = 0;
    for topic in topics {
        for partition in partitions(&consumer, topic)? {
            let (_, high) = consumer.fetch_watermarks(topic, partition, REQUEST)?;
            total += high;
        }
    }
    Ok(total)
}

fn read_payloads(kafka: &KafkaArgs, topic: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let consumer = reader(kafka)?;
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions(&consumer, topic)? {
        let (low, high) = consumer.fetch_watermarks(topic, partition, REQUEST)?;
        if high > low {
            ends.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
    }
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    consumer.assign(&assignment)?;
    let mut payloads = Vec::new();
    let mut last_progress = Instant::now();
    while !ends.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_progress = Instant::now();
                if let Some(end) = ends.get(&message.partition()).copied() {
                    payloads.push(message.payload().unwrap_or_default().to_vec());
                    if message.offset() + 1 >= end {
                        ends.remove(&message.partition());
                    }
                }
            }
            Some(Err(err)) => return Err(anyhow!("reading {topic}: {err}")),
            None => {
                if let Ok(positions) = consumer.position() {
                    for element in positions.elements_for_topic(topic) {
                        if let (Some(end), Offset::Offset(at)) =
                            (ends.get(&element.partition()), element.offset())
                        {
                            if at >= *end {
                                ends.remove(&element.partition());
                            }
                        }
                    }
                }
                if last_progress.elapsed() > Duration::from_secs(60) {
                    return Err(anyhow!("reading {topic}: no progress for 60 s"));
                }
            }
        }
    }
    Ok(payloads)
}

fn reader(kafka: &KafkaArgs) -> anyhow::Result<BaseConsumer> {
    kafka
        .client_config(&[
            ("group.id", "presage-chaos-reader"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "false"),
        ])?
        .create()
        .context("creating the chaos reader")
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST)
        .with_context(|| format!("metadata of {topic}"))?;
    Ok(metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

/// The replicas in an app's live configuration and its `.prev`, where they exist.
pub fn app_files(config: &Path) -> AppFiles {
    let prev = config.with_file_name(format!(
        "{}.prev",
        config.file_name().unwrap_or_default().to_string_lossy()
    ));
    AppFiles {
        live: config.exists().then(|| replicas_in(config)),
        prev: prev.exists().then(|| replicas_in(&prev)),
    }
}

fn replicas_in(path: &Path) -> Result<i64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).map_err(|e| e.to_string())?;
    doc.get("resources")
        .and_then(|r| r.get("replicas"))
        .and_then(yaml_serde::Value::as_i64)
        .ok_or_else(|| format!("no resources.replicas in {text:?}"))
}
