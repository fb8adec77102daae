//! The read-process-write loop every consuming service runs.
//!
//! Order of work for one record, which is what makes the pipeline effectively-once without
//! broker transactions: decode → drop if its event id was already handled → call the core →
//! produce the outputs and wait for the broker's acknowledgement → only then store the input's
//! offset (committed about every second and on shutdown). Records already fetched are taken in
//! batches of up to 500: their outputs are produced together and acknowledged together. A
//! crash before the commit replays the input; its outputs then carry the same deterministic ids
//! and the next stage drops them.
//!
//! A stage that holds inputs in memory (the recipe-processor's open windows) moves the committed
//! offset back to the oldest input it still needs, with a little metadata stored beside it
//! ([`Stage::checkpoint`]); a restarted stage gets that metadata back ([`Stage::restore`])
//! before its first record of the partition, and reads the held inputs again. A partition with
//! nothing to read again (read to its end with no record: a quiet stretch) is restored right
//! then, not at its next record, so a stage whose state moves with the wall clock (quiet
//! windows) resumes at once (see [`crate::restore`]). The first time a partition is read to its
//! end after its assignment, every record it held then has been through the stage, which is told
//! so ([`Stage::caught_up`]): `on_idle` may run between batches before that, while held inputs
//! are still being read again.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use anyhow::Context;
use presage_events::{decode, Event};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::Producer;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::checkpoints::{checkpoint_key, checkpoint_record, CheckpointReader};
use crate::dedupe::SeenIds;
use crate::dlq::{dead_letter, now_ms, oversized_output, DeadKind, Origin};
use crate::loop_metrics::LoopMetrics;
use crate::patience::{retry_until, QuietLog};
use crate::publisher::{Publisher, SendError};
use crate::rebalance::RevokeTracker;
use crate::restore::{resume_at_end, Restores};
use crate::settings::KafkaArgs;
use crate::shutdown::Shutdown;
use crate::stage::{Checkpoint, Outgoing, Stage};
use crate::templates::{TemplateBook, TemplateFeed};

/// How many recent event ids a stage remembers for de-duplication, per partition.
const SEEN_IDS: usize = 100_000;
/// At most this many records are processed before their outputs are produced and acknowledged.
const BATCH: usize = 500;
/// How often offsets are committed.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// How often an idle stage is told the time, to close windows of quiet partitions.
const IDLE_EVERY: Duration = Duration::from_millis(200);
/// How often librdkafka reports statistics (consumer lag per partition).
const STATISTICS_EVERY_MS: &str = "5000";

/// What became of one input record.
#[derive(Debug)]
enum Handled {
    Outputs(Vec<Outgoing>),
    Duplicate,
    Dead(DeadKind, String),
}

pub fn run_stage<S: Stage>(
    kafka: &KafkaArgs,
    mut stage: S,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    kafka.check_settings()?;
    let name = stage.name();
    let input = stage.input_topic();
    let dlq_topic = kafka.topics().dlq();
    let metrics = LoopMetrics::new(name, &input, &dlq_topic);

    // A service started before its broker (or its topics) waits for them.
    let mut book = TemplateBook::default();
    let feed = match retry_until("reading the templates topic", shutdown, || {
        let feed = TemplateFeed::open(kafka, name)?;
        let mut read = TemplateBook::default();
        feed.read_to_end(&mut read)?;
        book = read;
        Ok(feed)
    }) {
        Ok(feed) => feed,
        Err(interrupted) => {
            tracing::info!(stage = name, %interrupted, "stopped before the broker answered");
            return Ok(());
        }
    };
    for loaded in book.all() {
        stage.on_template(loaded);
    }
    metrics.templates(book.len());
    tracing::info!(stage = name, templates = book.len(), input = %input, "stage starting");

    let group = format!("presage-{name}");
    let consumer: BaseConsumer<RevokeTracker> = kafka
        .client_config(&[
            ("group.id", group.as_str()),
            // Offsets are committed by hand: with the stage's checkpoint, not the last record.
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("statistics.interval.ms", STATISTICS_EVERY_MS),
            // A partition read to its end before any record is restored then (nothing to read
            // again: a quiet stretch), not at its next record, and settled for readiness.
            ("enable.partition.eof", "true"),
        ])?
        .create_with_context(RevokeTracker::reporting(name, metrics.health.clone()))
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
    publisher.report_waits(metrics.wait_reporter());
    let mut seen = PartitionSeen::default();
    let mut offsets = Offsets {
        group: group.clone(),
        checkpoints_topic: kafka.topics().checkpoints(),
        ..Offsets::default()
    };
    let mut restorer = Restorer {
        kafka,
        group: &group,
        input: &input,
        shutdown,
        metrics: &metrics,
        checkpoints: None,
    };
    let mut last_commit = Instant::now();
    let mut last_idle = Instant::now();
    let mut consumer_errors = QuietLog::every(Duration::from_secs(30));
    let mut broker = BrokerWatch::default();
    let out = Delivery {
        stage: name,
        publisher: &publisher,
        dlq_topic: &dlq_topic,
        shutdown,
        metrics: &metrics,
    };

    while !shutdown.requested() {
        let mut templates_changed = false;
        for loaded in feed.poll_new(&mut book) {
            stage.on_template(&loaded);
            templates_changed = true;
        }
        if templates_changed {
            metrics.templates(book.len());
        }
        metrics.broker(broker.away().is_some());
        // Before anything is emitted or committed for a partition we may no longer own.
        revoke(&consumer, &mut stage, &mut offsets, &mut seen);
        if let Some(away_ms) = broker.probe(&consumer, &input) {
            tracing::info!(stage = name, away_ms, "broker reachable again");
            stage.on_broker_back(away_ms);
        }
        // While the broker is away nothing can arrive: quiet is not idleness.
        if broker.away().is_none() && last_idle.elapsed() >= IDLE_EVERY {
            last_idle = Instant::now();
            match stage.on_idle(now_ms()) {
                Ok(outputs) if kafka.transactions && !outputs.is_empty() => {
                    let started = Instant::now();
                    let producer = publisher.producer();
                    producer.begin_transaction()?;
                    publisher.send_all(&outputs)?;
                    producer.commit_transaction(Duration::from_secs(30))?;
                    metrics.delivered(&outputs, started.elapsed());
                }
                Ok(outputs) => {
                    let delivered = out.deliver(&outputs)?;
                    broker.waited(&mut stage, publisher.take_waited_ms());
                    if !delivered {
                        break;
                    }
                }
                Err(err) => tracing::warn!(stage = name, error = %err, "idle tick failed"),
            }
        }
        if !kafka.transactions && last_commit.elapsed() >= COMMIT_EVERY {
            last_commit = Instant::now();
            offsets.commit(&consumer, &publisher, &stage, &input, CommitMode::Async)?;
        }
        let first = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Ok(message)) => {
                if let Some(away_ms) = broker.reached() {
                    stage.on_broker_back(away_ms);
                }
                message
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                revoke(&consumer, &mut stage, &mut offsets, &mut seen);
                at_end(
                    &consumer,
                    &mut stage,
                    &mut offsets,
                    &mut restorer,
                    partition,
                )?;
                continue;
            }
            Some(Err(err)) => {
                broker.error(&err);
                // A broker away makes this fire at every poll: one line per period.
                if consumer_errors.due() {
                    tracing::warn!(stage = name, error = %err, suppressed = consumer_errors.take_suppressed(), "consumer error");
                }
                continue;
            }
        };
        // A batch: the records already fetched (up to BATCH), processed in order, their
        // outputs produced together and acknowledged together, and only then their offsets
        // marked processed. Awaiting acks record by record would cap a stage at one broker
        // round trip per record.
        let mut batch_outputs: Vec<Outgoing> = Vec::new();
        let mut batch_positions: Vec<(i32, i64)> = Vec::new();
        // Partitions read to their end during the batch: handled once it is committed.
        let mut ended: Vec<i32> = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            // A rebalance runs inside poll, and librdkafka drops what was fetched for the old
            // assignment: the record in hand belongs to the new one. Forget what was revoked
            // (and the batch's progress on it) before touching the record.
            let revoked = revoke(&consumer, &mut stage, &mut offsets, &mut seen);
            batch_positions.retain(|(p, _)| !revoked.contains(p));
            let partition = message.partition();
            if offsets.restores.before_record(partition) {
                // Every stage rebuilds a partition's state before its first record: from its
                // checkpoint, or (stages that read their own output back) from the log.
                restorer.restore(&mut stage, partition, message.offset(), "first record")?;
            }
            let origin = Origin {
                topic: message.topic(),
                partition,
                offset: message.offset(),
                key: message.key(),
                payload: message.payload().unwrap_or_default(),
            };
            let started = Instant::now();
            let handled = handle(&mut stage, seen.of(partition), &message, &origin);
            metrics.record_in(started.elapsed());
            let outputs = match handled {
                Handled::Outputs(outputs) => outputs,
                Handled::Duplicate => {
                    metrics.duplicate();
                    tracing::debug!(
                        stage = name,
                        offset = message.offset(),
                        "duplicate event dropped"
                    );
                    Vec::new()
                }
                Handled::Dead(kind, reason) => {
                    tracing::warn!(stage = name, topic = message.topic(), partition, offset = message.offset(), kind = kind.as_str(), %reason, "record sent to dead-letter topic");
                    let letter = dead_letter(name, &origin, kind, &reason, now_ms());
                    vec![Outgoing::event(dlq_topic.clone(), &letter)?]
                }
            };
            if kafka.transactions {
                // One transaction per record: outputs, checkpoint and offset together.
                let checkpoint = stage.checkpoint(partition);
                let mut outputs = outputs;
                if let Some(c) = checkpoint.as_ref().filter(|c| !c.metadata.is_empty()) {
                    let key = checkpoint_key(&group, &input, partition);
                    outputs.push(checkpoint_record(
                        &offsets.checkpoints_topic,
                        &key,
                        c.offset,
                        &c.metadata,
                    ));
                }
                let started = Instant::now();
                commit_in_transaction(&publisher, &consumer, &message, checkpoint, &outputs)?;
                metrics.delivered(&outputs, started.elapsed());
            } else {
                batch_outputs.extend(outputs);
                batch_positions.push((partition, message.offset()));
            }
            if batch_positions.len() >= BATCH || shutdown.requested() {
                break;
            }
            next = match consumer.poll(Duration::ZERO) {
                Some(Ok(message)) => Some(message),
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                    ended.push(partition);
                    None
                }
                Some(Err(err)) => {
                    if consumer_errors.due() {
                        tracing::warn!(stage = name, error = %err, "consumer error");
                    }
                    None
                }
                None => None,
            };
        }
        let delivered = out.deliver(&batch_outputs)?;
        broker.waited(&mut stage, publisher.take_waited_ms());
        if !delivered {
            // Shutdown while the broker was away: these inputs stay uncommitted and are read
            // again by whoever owns their partitions next.
            break;
        }
        // Progress on a partition revoked meanwhile is not ours to commit: its next owner
        // resumes from the last checkpoint.
        let revoked = revoke(&consumer, &mut stage, &mut offsets, &mut seen);
        batch_positions.retain(|(p, _)| !revoked.contains(p));
        for (partition, offset) in batch_positions {
            offsets.processed.insert(partition, offset + 1);
        }
        for partition in ended {
            at_end(
                &consumer,
                &mut stage,
                &mut offsets,
                &mut restorer,
                partition,
            )?;
        }
    }

    tracing::info!(stage = name, "shutting down: committing offsets");
    consumer_errors.take_suppressed();
    if !kafka.transactions {
        offsets.commit(&consumer, &publisher, &stage, &input, CommitMode::Sync)?;
    }
    publisher.flush();
    Ok(())
}

/// `partition` was read to its end. If no record came before (nothing to replay: a quiet
/// partition) its state is restored now, at the offset the group resumes from, instead of at
/// its next record: a restarted stage in a quiet stretch has its state (the recipe-processor its
/// idle clock) at once. Everything before that offset was processed by an earlier owner, so it
/// is this loop's progress too: the stage's checkpoint is committed from now on as if a record
/// had been read (the recipe-processor's watermark moves on through the night). Either way the
/// partition is settled for readiness, and, the first time since its assignment, the stage is
/// told it has caught up ([`Stage::caught_up`]): this end is handled only once the records
/// before it went through the stage (after the batch they came in).
fn at_end<S: Stage>(
    consumer: &BaseConsumer<RevokeTracker>,
    stage: &mut S,
    offsets: &mut Offsets,
    restorer: &mut Restorer<'_>,
    partition: i32,
) -> anyhow::Result<()> {
    if offsets
        .restores
        .at_end(partition, consumer.context().holds(partition))
    {
        let resume = restorer.resume_at_end(consumer, partition)?;
        restorer.restore(stage, partition, resume, "end of partition")?;
        offsets.processed.insert(partition, resume);
    }
    // The records up to this end were handed to the stage before it was reported here.
    if offsets
        .restores
        .caught_up(partition, consumer.context().holds(partition))
    {
        tracing::info!(stage = stage.name(), partition, "partition caught up");
        stage.caught_up(partition);
    }
    restorer.metrics.health.settled(partition);
    Ok(())
}

/// What restoring a partition's state needs: where the stage's checkpoints are kept, and the
/// loop's readiness to hold while it rebuilds.
struct Restorer<'a> {
    kafka: &'a KafkaArgs,
    group: &'a str,
    input: &'a str,
    shutdown: &'a Shutdown,
    metrics: &'a LoopMetrics,
    checkpoints: Option<CheckpointReader>,
}

impl Restorer<'_> {
    /// Hands the stage `partition`'s last checkpoint ("" for a stage that keeps none, or
    /// none yet) and the offset reading resumes from; `at` says what made it due, for the log.
    /// Waits for the broker if it is away: a stage restored without its checkpoint would
    /// publish other contents under ids already published.
    fn restore<S: Stage>(
        &mut self,
        stage: &mut S,
        partition: i32,
        resume_offset: i64,
        at: &'static str,
    ) -> anyhow::Result<()> {
        let rebuilding = self.metrics.health.rebuilding();
        let mut metadata = String::new();
        if stage.keeps_checkpoints() {
            let key = checkpoint_key(self.group, self.input, partition);
            let kafka = self.kafka;
            let checkpoints = &mut self.checkpoints;
            metadata = retry_until("reading a stage checkpoint", self.shutdown, || {
                if checkpoints.is_none() {
                    *checkpoints = Some(CheckpointReader::open(kafka)?);
                }
                let reader = checkpoints.as_ref().expect("opened above");
                match reader.latest(&key) {
                    Ok(found) => Ok(found.map(|(_, metadata)| metadata).unwrap_or_default()),
                    Err(err) => {
                        // A fresh reader next time: this one's queue may hold errors from
                        // while the broker was away.
                        *checkpoints = None;
                        Err(err.context(format!("reading the checkpoint of {key}")))
                    }
                }
            })?;
        }
        tracing::info!(stage = stage.name(), partition, offset = resume_offset, at, %metadata, "resuming partition");
        stage.restore(partition, &metadata, resume_offset);
        self.metrics.health.settled(partition);
        drop(rebuilding);
        Ok(())
    }

    /// Where `partition`, read to its end with no record, resumes: see [`resume_at_end`]. The
    /// consumer's position says nothing until a record is consumed, so the group's committed
    /// offset and the log's first offset are asked of the broker (waiting for it if away).
    fn resume_at_end(
        &self,
        consumer: &BaseConsumer<RevokeTracker>,
        partition: i32,
    ) -> anyhow::Result<i64> {
        let timeout = Duration::from_secs(10);
        let topic = self.input;
        let resume = retry_until("reading where a partition resumes", self.shutdown, || {
            let mut asked = TopicPartitionList::new();
            asked.add_partition(topic, partition);
            let committed = consumer
                .committed_offsets(asked, timeout)
                .with_context(|| format!("committed offset of {topic} partition {partition}"))?
                .find_partition(topic, partition)
                .and_then(|element| match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                });
            let (low, _) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .with_context(|| format!("watermarks of {topic} partition {partition}"))?;
            Ok(resume_at_end(committed, low))
        })?;
        Ok(resume)
    }
}

/// Drops what is held for partitions the group took away: the stage's state, the offsets to
/// commit, and the de-duplication memory (if a partition comes back, its records from the
/// checkpoint on must reach the stage again, not be dropped as already seen).
fn revoke<S: Stage>(
    consumer: &BaseConsumer<RevokeTracker>,
    stage: &mut S,
    offsets: &mut Offsets,
    seen: &mut PartitionSeen,
) -> Vec<i32> {
    let revoked = consumer.context().take_revoked();
    for &partition in &revoked {
        stage.forget(partition);
        seen.forget(partition);
        offsets.restores.forget(partition);
        offsets.processed.remove(&partition);
        offsets.committed.remove(&partition);
    }
    revoked
}

/// Whether the broker is reachable, from the consumer's errors and records, and how long it
/// was away: the stage is told when it is back (see [`Stage::on_broker_back`]).
#[derive(Default)]
struct BrokerWatch {
    away_since: Option<Instant>,
    last_probe: Option<Instant>,
}

impl BrokerWatch {
    fn away(&self) -> Option<Instant> {
        self.away_since
    }

    /// A consumer error: the broker is away if the client says every connection is down.
    fn error(&mut self, err: &rdkafka::error::KafkaError) {
        use rdkafka::types::RDKafkaErrorCode::{AllBrokersDown, BrokerTransportFailure};
        if matches!(
            err.rdkafka_error_code(),
            Some(AllBrokersDown | BrokerTransportFailure)
        ) {
            self.away_since.get_or_insert_with(Instant::now);
        }
    }

    /// A record arrived: if the broker was away, how long.
    fn reached(&mut self) -> Option<i64> {
        self.away_since
            .take()
            .map(|since| since.elapsed().as_millis() as i64)
    }

    /// While away, asks the broker for the input topic's metadata at most once a second; if it
    /// answers, how long it was away. Nothing may arrive for a while after an outage (quiet
    /// partitions), so a record is not the only sign that it is back.
    fn probe(&mut self, consumer: &BaseConsumer<RevokeTracker>, topic: &str) -> Option<i64> {
        self.away_since?;
        if self
            .last_probe
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return None;
        }
        self.last_probe = Some(Instant::now());
        consumer
            .fetch_metadata(Some(topic), Duration::from_millis(500))
            .ok()
            .and_then(|_| self.reached())
    }

    /// `send_reliably` waited `waited_ms` for the broker: the stage is told, unless the
    /// consumer already saw the outage (then its end is reported once, by `reached`/`probe`).
    fn waited<S: Stage>(&self, stage: &mut S, waited_ms: i64) {
        if waited_ms > 0 && self.away_since.is_none() {
            stage.on_broker_back(waited_ms);
        }
    }
}

/// The ids seen, per partition: a revoked partition's are dropped (if it comes back, its
/// records from the checkpoint on must reach the stage again), the others' are kept. An app's
/// events all travel on one partition, so a duplicate is always on the partition of its first.
#[derive(Default)]
struct PartitionSeen(HashMap<i32, SeenIds>);

impl PartitionSeen {
    fn of(&mut self, partition: i32) -> &mut SeenIds {
        self.0
            .entry(partition)
            .or_insert_with(|| SeenIds::new(SEEN_IDS))
    }

    fn forget(&mut self, partition: i32) {
        self.0.remove(&partition);
    }
}

/// Where a stage's outputs go, and what it does when the broker cannot take them.
struct Delivery<'a> {
    stage: &'static str,
    publisher: &'a Publisher,
    dlq_topic: &'a str,
    shutdown: &'a Shutdown,
    metrics: &'a LoopMetrics,
}

impl Delivery<'_> {
    /// Produces `outputs` until every one is acknowledged, riding out a broker that is away.
    /// An output refused for its size becomes a dead letter (so its input can be committed
    /// and the stage does not crash-loop on it). `Ok(false)`: shutdown came first, and the
    /// caller must not commit the inputs of these outputs. `Err`: the producer is unusable.
    fn deliver(&self, outputs: &[Outgoing]) -> anyhow::Result<bool> {
        if outputs.is_empty() {
            return Ok(true);
        }
        let started = Instant::now();
        let refused = match self.publisher.send_reliably(outputs, self.shutdown) {
            Ok(refused) => refused,
            Err(SendError::Interrupted { unacked, last }) => {
                tracing::warn!(stage = self.stage, unacked, error = %last, "shutdown before the broker took every output; their inputs stay uncommitted");
                return Ok(false);
            }
            Err(fatal) => return Err(fatal.into()),
        };
        let refused_at: HashSet<usize> = refused.iter().map(|r| r.index).collect();
        let acknowledged = outputs
            .iter()
            .enumerate()
            .filter(|(index, _)| !refused_at.contains(index))
            .map(|(_, output)| output);
        self.metrics.delivered(acknowledged, started.elapsed());
        if refused.is_empty() {
            return Ok(true);
        }
        let mut letters = Vec::with_capacity(refused.len());
        for refusal in &refused {
            let record = &outputs[refusal.index];
            tracing::warn!(stage = self.stage, topic = %record.topic, event_id = %record.event_id, bytes = record.payload.len(), reason = %refusal.reason, "output refused for its size: sent to the dead-letter topic");
            let letter = oversized_output(self.stage, record, &refusal.reason, now_ms());
            letters.push(Outgoing::event(self.dlq_topic.to_string(), &letter)?);
        }
        let started = Instant::now();
        match self.publisher.send_reliably(&letters, self.shutdown) {
            Ok(still) if still.is_empty() => {
                self.metrics.delivered(&letters, started.elapsed());
                Ok(true)
            }
            Ok(still) => Err(anyhow::anyhow!(
                "{} dead letter(s) of oversized outputs refused too: {}",
                still.len(),
                still[0].reason
            )),
            Err(SendError::Interrupted { .. }) => Ok(false),
            Err(fatal) => Err(fatal.into()),
        }
    }
}

/// Per partition: the offset after the last record processed, and what was last committed.
#[derive(Default)]
struct Offsets {
    group: String,
    checkpoints_topic: String,
    processed: HashMap<i32, i64>,
    committed: HashMap<i32, Checkpoint>,
    restores: Restores,
}

impl Offsets {
    /// Commits, for every partition with progress, the stage's checkpoint (never beyond what
    /// was processed). Failures are logged: the next commit covers the same ground.
    fn commit<S: Stage>(
        &mut self,
        consumer: &BaseConsumer<RevokeTracker>,
        publisher: &Publisher,
        stage: &S,
        topic: &str,
        mode: CommitMode,
    ) -> anyhow::Result<()> {
        let mut list = TopicPartitionList::new();
        let mut changed = Vec::new();
        for (&partition, &processed) in &self.processed {
            let checkpoint = match stage.checkpoint(partition) {
                Some(c) => Checkpoint {
                    offset: c.offset.min(processed),
                    metadata: c.metadata,
                },
                None => Checkpoint {
                    offset: processed,
                    metadata: String::new(),
                },
            };
            if self.committed.get(&partition) == Some(&checkpoint) {
                continue;
            }
            let mut element = list.add_partition(topic, partition);
            if element
                .set_offset(rdkafka::Offset::Offset(checkpoint.offset))
                .is_err()
            {
                continue;
            }
            changed.push((partition, checkpoint));
        }
        if changed.is_empty() {
            return Ok(());
        }
        // The stage's restore metadata first, acknowledged, then the offsets it goes with.
        let records: Vec<Outgoing> = changed
            .iter()
            .filter(|(_, c)| !c.metadata.is_empty())
            .map(|(partition, c)| {
                let key = checkpoint_key(&self.group, topic, *partition);
                checkpoint_record(&self.checkpoints_topic, &key, c.offset, &c.metadata)
            })
            .collect();
        if let Err(err) = publisher.send_all(&records) {
            // The broker is away: commit nothing now (the offsets go with these checkpoints);
            // the next commit covers the same ground.
            tracing::warn!(stage = stage.name(), error = %format!("{err:#}"), "writing stage checkpoints failed; commit skipped");
            return Ok(());
        }
        match consumer.commit(&list, mode) {
            Ok(()) => self.committed.extend(changed),
            Err(err) => tracing::warn!(stage = stage.name(), error = %err, "offset commit failed"),
        }
        Ok(())
    }
}

fn handle<S: Stage>(
    stage: &mut S,
    seen: &mut SeenIds,
    message: &BorrowedMessage<'_>,
    origin: &Origin<'_>,
) -> Handled {
    let Some(payload) = message.payload() else {
        return Handled::Dead(DeadKind::Undecodable, "record has no payload".into());
    };
    let event = match decode::<S::Input>(payload) {
        Ok(event) => event,
        Err(err) => {
            return Handled::Dead(
                DeadKind::Undecodable,
                format!("cannot decode as {}: {err}", S::Input::NAME),
            )
        }
    };
    if !seen.first_time(event.event_id()) {
        return Handled::Duplicate;
    }
    // A panic in a core must not crash-loop the service on the same record.
    match catch_unwind(AssertUnwindSafe(|| stage.on_event_at(event, origin))) {
        Ok(Ok(outputs)) => Handled::Outputs(outputs),
        Ok(Err(err)) => Handled::Dead(DeadKind::Unprocessable, format!("cannot process: {err}")),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Handled::Dead(DeadKind::Unprocessable, format!("stage panicked: {what}"))
        }
    }
}

/// Output and input offset in one transaction, for brokers that have transactions.
fn commit_in_transaction(
    publisher: &Publisher,
    consumer: &BaseConsumer<RevokeTracker>,
    message: &BorrowedMessage<'_>,
    checkpoint: Option<Checkpoint>,
    outputs: &[Outgoing],
) -> anyhow::Result<()> {
    let producer = publisher.producer();
    let timeout = Duration::from_secs(30);
    producer.begin_transaction()?;
    publisher.send_all(outputs)?;
    let next = message.offset() + 1;
    let (offset, metadata) = match checkpoint {
        Some(c) => (c.offset.min(next), c.metadata),
        None => (next, String::new()),
    };
    let mut offsets = TopicPartitionList::new();
    let mut element = offsets.add_partition(message.topic(), message.partition());
    element.set_offset(rdkafka::Offset::Offset(offset))?;
    element.set_metadata(metadata);
    let group = consumer
        .group_metadata()
        .context("consumer has no group metadata")?;
    producer.send_offsets_to_transaction(&offsets, &group, timeout)?;
    producer.commit_transaction(timeout)?;
    Ok(())
}
