//! The spool's sender: a thread that drains the spool to Kafka in order, removing records only
//! once the broker has acknowledged them. While the broker is away it waits and retries with
//! backoff (`Publisher::send_reliably`) and never gives up; the reading loop goes on spooling
//! meanwhile. Drops the spool counted are reported to the dead-letter topic before the backlog.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use presage_runner::dlq::{now_ms, oversized_output};
use presage_runner::publisher::{Publisher, SendError};
use presage_runner::{KafkaArgs, Outgoing, Shutdown};

use crate::spool::{Spool, Spooled};
use crate::{report, spooled};

/// Records per send: large enough to drain a backlog quickly, small enough that a batch
/// evicted while it is being sent is a small share of a full spool.
const BATCH_RECORDS: usize = 1_000;
const BATCH_BYTES: u64 = 1 << 20;
/// How long an empty spool is left alone: the extra delay a sample sees in normal operation.
const IDLE: Duration = Duration::from_millis(20);

pub struct Sender {
    pub spool: Arc<Mutex<Spool>>,
    pub kafka: KafkaArgs,
    pub shutdown: Shutdown,
}

enum Round {
    Sent,
    Idle,
    Stopped,
}

impl Sender {
    /// Drains the spool until shutdown. Returns an error only when the spool itself fails (a
    /// disk error); a broker that is away is waited for.
    pub fn run(self) -> anyhow::Result<()> {
        let mut publisher = Publisher::new(&self.kafka)?;
        loop {
            match self.round(&publisher) {
                Ok(Round::Sent) => {}
                Ok(Round::Idle) => self.shutdown.sleep(IDLE),
                Ok(Round::Stopped) => return Ok(()),
                Err(Failure::Producer(reason)) => {
                    // librdkafka's idempotent producer can fail for good (e.g. a broker that
                    // lost its producer state); a new producer starts clean, and the spool
                    // still holds everything not acknowledged.
                    tracing::warn!(error = %reason, "producer failed; starting a new one");
                    self.shutdown.sleep(Duration::from_secs(1));
                    publisher = Publisher::new(&self.kafka)?;
                }
                Err(Failure::Spool(err)) => return Err(err),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Spool> {
        self.spool
            .lock()
            .expect("the spool lock (a thread panicked holding it)")
    }

    fn round(&self, publisher: &Publisher) -> Result<Round, Failure> {
        if !self.report_overflow(publisher)? {
            return Ok(Round::Stopped);
        }
        let batch = self
            .lock()
            .peek(BATCH_RECORDS, BATCH_BYTES)
            .context("reading the spool")?;
        if batch.is_empty() {
            return Ok(if self.shutdown.requested() {
                Round::Stopped
            } else {
                Round::Idle
            });
        }
        let records = decode(&batch);
        let refused = match publisher.send_reliably(&records, &self.shutdown) {
            Ok(refused) => refused,
            Err(SendError::Interrupted { .. }) => return Ok(Round::Stopped),
            Err(SendError::Fatal(reason)) => return Err(Failure::Producer(reason)),
        };
        for refusal in &refused {
            let letter = oversized_output(
                report::STAGE,
                &records[refusal.index],
                &refusal.reason,
                now_ms(),
            );
            let dlq = self.kafka.topics().dlq();
            let record = Outgoing::event(dlq.clone(), &letter).context("encoding a dead letter")?;
            match publisher.send_reliably(std::slice::from_ref(&record), &self.shutdown) {
                Ok(_) => presage_runner::telemetry::count_delivered(report::STAGE, &dlq, [&record]),
                Err(SendError::Interrupted { .. }) => return Ok(Round::Stopped),
                Err(SendError::Fatal(reason)) => return Err(Failure::Producer(reason)),
            }
        }
        let topics = self.kafka.topics();
        let refused_at: std::collections::HashSet<usize> =
            refused.iter().map(|r| r.index).collect();
        presage_runner::telemetry::count_delivered(
            report::STAGE,
            &topics.dlq(),
            records
                .iter()
                .enumerate()
                .filter(|(index, _)| !refused_at.contains(index))
                .map(|(_, record)| record),
        );
        let mut spool = self.lock();
        spool.ack(&batch).context("acknowledging in the spool")?;
        crate::watch::spool(&spool);
        tracing::debug!(
            records = batch.len(),
            pending = spool.pending(),
            "spooled samples delivered"
        );
        Ok(Round::Sent)
    }

    /// Delivers the report of the spool's drops, if there are any; false if shutdown came first
    /// (the report stays in the spool's state for the next run).
    fn report_overflow(&self, publisher: &Publisher) -> Result<bool, Failure> {
        let Some(overflow) = self
            .lock()
            .seal_overflow()
            .context("sealing the drop count")?
        else {
            return Ok(true);
        };
        let max_bytes = self.lock().limits().max_bytes;
        let topics = self.kafka.topics();
        let letter = report::dead_letter(&overflow, &topics.raw(), max_bytes);
        let record = Outgoing::event(topics.dlq(), &letter).context("encoding the drop report")?;
        match publisher.send_reliably(std::slice::from_ref(&record), &self.shutdown) {
            Ok(_) => {
                presage_runner::telemetry::count_delivered(report::STAGE, &topics.dlq(), [&record])
            }
            Err(SendError::Interrupted { .. }) => return Ok(false),
            Err(SendError::Fatal(reason)) => return Err(Failure::Producer(reason)),
        }
        self.lock()
            .overflow_reported()
            .context("recording the drop report")?;
        tracing::warn!(
            dropped_records = overflow.records,
            dropped_bytes = overflow.bytes,
            event_id = %letter.event_id,
            "reported samples the full spool dropped to the dead-letter topic"
        );
        Ok(true)
    }
}

enum Failure {
    Producer(String),
    Spool(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Spool(err)
    }
}

/// The records to produce. CRCs guard the spool, so a record that does not decode was written
/// by another version of the collector; it cannot be sent and must not block the rest.
fn decode(batch: &[Spooled]) -> Vec<Outgoing> {
    batch
        .iter()
        .filter_map(|record| match spooled::decode(&record.bytes) {
            Ok(outgoing) => Some(outgoing),
            Err(err) => {
                tracing::error!(seq = record.seq, error = %err, "skipping a spooled record this collector cannot read");
                None
            }
        })
        .collect()
}
