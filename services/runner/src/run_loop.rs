//! The read-process-write loop every consuming service runs.
//!
//! Order of work for one record, which is what makes the pipeline effectively-once without
//! broker transactions: decode → drop if its event id was already handled → call the core →
//! produce the outputs and wait for the broker's acknowledgement → only then store the input's
//! offset (committed in the background and on shutdown). A crash before the store replays the
//! input; its outputs then carry the same deterministic ids and the next stage drops them.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use anyhow::Context;
use presage_events::{decode, Event};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::Producer;
use rdkafka::{Message, TopicPartitionList};

use crate::dedupe::SeenIds;
use crate::dlq::{dead_letter, now_ms, Origin};
use crate::publisher::Publisher;
use crate::settings::KafkaArgs;
use crate::shutdown::Shutdown;
use crate::stage::{Outgoing, Stage};
use crate::templates::{TemplateBook, TemplateFeed};

/// How many recent event ids a stage remembers for de-duplication.
const SEEN_IDS: usize = 200_000;

/// What became of one input record.
#[derive(Debug)]
enum Handled {
    Outputs(Vec<Outgoing>),
    Duplicate,
    Dead(String),
}

pub fn run_stage<S: Stage>(
    kafka: &KafkaArgs,
    mut stage: S,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let name = stage.name();
    let input = stage.input_topic();
    let dlq_topic = kafka.topics().dlq();

    let feed = TemplateFeed::open(kafka, name)?;
    let mut book = TemplateBook::default();
    feed.read_to_end(&mut book)?;
    for loaded in book.all() {
        stage.on_template(loaded);
    }
    tracing::info!(stage = name, templates = book.len(), input = %input, "stage starting");

    let group = format!("presage-{name}");
    let consumer: BaseConsumer = kafka
        .client_config(&[
            ("group.id", group.as_str()),
            ("enable.auto.commit", "true"),
            ("enable.auto.offset.store", "false"),
            ("auto.commit.interval.ms", "1000"),
            ("auto.offset.reset", "earliest"),
        ])?
        .create()
        .context("creating consumer")?;
    consumer
        .subscribe(&[&input])
        .with_context(|| format!("subscribing to {input}"))?;

    let transactional_id = format!("presage-{name}-{}", std::process::id());
    let publisher = if kafka.transactions {
        let publisher =
            Publisher::with_settings(kafka, &[("transactional.id", transactional_id.as_str())])?;
        publisher
            .producer()
            .init_transactions(Duration::from_secs(30))
            .context("initialising transactions (does the broker support them?)")?;
        publisher
    } else {
        Publisher::new(kafka)?
    };
    let mut seen = SeenIds::new(SEEN_IDS);

    while !shutdown.requested() {
        for loaded in feed.poll_new(&mut book) {
            stage.on_template(&loaded);
        }
        let message = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                tracing::warn!(stage = name, error = %err, "consumer error");
                continue;
            }
        };
        let outputs = match handle(&mut stage, &mut seen, &message) {
            Handled::Outputs(outputs) => outputs,
            Handled::Duplicate => {
                tracing::debug!(
                    stage = name,
                    offset = message.offset(),
                    "duplicate event dropped"
                );
                Vec::new()
            }
            Handled::Dead(reason) => {
                tracing::warn!(stage = name, topic = message.topic(), partition = message.partition(), offset = message.offset(), %reason, "record sent to dead-letter topic");
                let origin = Origin {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key(),
                    payload: message.payload().unwrap_or_default(),
                };
                let letter = dead_letter(name, &origin, &reason, now_ms());
                vec![Outgoing::event(dlq_topic.clone(), &letter)?]
            }
        };
        if kafka.transactions {
            commit_in_transaction(&publisher, &consumer, &message, &outputs)?;
        } else {
            publisher.send_all(&outputs)?;
            consumer
                .store_offset_from_message(&message)
                .context("storing offset")?;
        }
    }

    tracing::info!(stage = name, "shutting down: committing offsets");
    if !kafka.transactions {
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is reported as an error by librdkafka.
            tracing::debug!(stage = name, error = %err, "final commit");
        }
    }
    publisher.flush();
    Ok(())
}

fn handle<S: Stage>(stage: &mut S, seen: &mut SeenIds, message: &BorrowedMessage<'_>) -> Handled {
    let Some(payload) = message.payload() else {
        return Handled::Dead("record has no payload".into());
    };
    let event = match decode::<S::Input>(payload) {
        Ok(event) => event,
        Err(err) => return Handled::Dead(format!("cannot decode as {}: {err}", S::Input::NAME)),
    };
    if !seen.first_time(event.event_id()) {
        return Handled::Duplicate;
    }
    // A panic in a core must not crash-loop the service on the same record.
    match catch_unwind(AssertUnwindSafe(|| stage.on_event(event))) {
        Ok(Ok(outputs)) => Handled::Outputs(outputs),
        Ok(Err(err)) => Handled::Dead(format!("cannot process: {err}")),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Handled::Dead(format!("stage panicked: {what}"))
        }
    }
}

/// Output and input offset in one transaction, for brokers that have transactions.
fn commit_in_transaction(
    publisher: &Publisher,
    consumer: &BaseConsumer,
    message: &BorrowedMessage<'_>,
    outputs: &[Outgoing],
) -> anyhow::Result<()> {
    let producer = publisher.producer();
    let timeout = Duration::from_secs(30);
    producer.begin_transaction()?;
    publisher.send_all(outputs)?;
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(
        message.topic(),
        message.partition(),
        rdkafka::Offset::Offset(message.offset() + 1),
    )?;
    let group = consumer
        .group_metadata()
        .context("consumer has no group metadata")?;
    producer.send_offsets_to_transaction(&offsets, &group, timeout)?;
    producer.commit_transaction(timeout)?;
    Ok(())
}
