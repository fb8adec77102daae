//! The producing side of every service: an idempotent producer whose sends are awaited, so a
//! caller knows its output is durable before it commits the input that caused it.
//!
//! Two ways to send. [`Publisher::send_all`] fails on the first record the broker does not take
//! (for commands: `presage templates publish`). [`Publisher::send_reliably`] is what stages use:
//! it rides out a broker that is away (waiting and re-sending what was not acknowledged, with
//! backoff, until shutdown), and hands back, instead of failing, the records the broker will
//! never take because of their size, so the stage dead-letters them and goes on rather than
//! crash-looping on the same input. Either way records are queued in bounded chunks, so a batch
//! larger than the producer's queue waits for room instead of failing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::patience::{Backoff, QuietLog};
use crate::settings::KafkaArgs;
use crate::shutdown::Shutdown;
use crate::stage::Outgoing;

pub struct Publisher {
    producer: FutureProducer,
    /// Milliseconds `send_reliably` spent waiting for the broker since the last
    /// [`Publisher::take_waited_ms`].
    waited_ms: AtomicU64,
    /// Told `true` when a send starts waiting for the broker and `false` when it is
    /// acknowledged again: a loop blocked in a send is not ready (see `telemetry::health`).
    on_wait: std::sync::OnceLock<Box<dyn Fn(bool) + Send + Sync>>,
}

/// Settings every Presage producer starts from (the user may override them with `-X`).
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("message.timeout.ms", "30000"),
    ("linger.ms", "5"),
];

/// Records queued before their acknowledgements are awaited: far below librdkafka's default
/// queue (100,000 messages, 1 GiB), so one stage batch never fills it.
const CHUNK: usize = 5_000;

/// What became of one record in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Delivery {
    Acked,
    /// The broker (or the client, before sending) refused it for its size: sending it again
    /// cannot succeed.
    TooLarge(String),
    /// Anything else (timed out, broker away, leader moving): worth sending again.
    Retriable(String),
}

/// A record [`Publisher::send_reliably`] gave up on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Its index in the records given.
    pub index: usize,
    pub reason: String,
}

/// Why [`Publisher::send_reliably`] returned without every record acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Shutdown was requested while records were still unacknowledged: their inputs must not
    /// be committed (they will be read again).
    #[error("shutdown requested with {unacked} record(s) unacknowledged (last error: {last})")]
    Interrupted { unacked: usize, last: String },
    /// The producer can no longer be used (librdkafka's fatal error); the process must restart.
    #[error("the producer failed fatally: {0}")]
    Fatal(String),
}

impl Publisher {
    pub fn new(kafka: &KafkaArgs) -> anyhow::Result<Self> {
        Self::with_settings(kafka, &[])
    }

    pub fn with_settings(kafka: &KafkaArgs, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut defaults = PRODUCER_DEFAULTS.to_vec();
        defaults.extend_from_slice(extra);
        let producer = kafka
            .client_config(&defaults)?
            .create()
            .context("creating Kafka producer")?;
        Ok(Self {
            producer,
            waited_ms: AtomicU64::new(0),
            on_wait: std::sync::OnceLock::new(),
        })
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    /// Produces every record and waits until the broker has acknowledged all of them; the
    /// first record it did not take is the error.
    pub fn send_all(&self, records: &[Outgoing]) -> anyhow::Result<()> {
        let all: Vec<usize> = (0..records.len()).collect();
        for (index, delivery) in self.attempt(records, &all) {
            match delivery {
                Delivery::Acked => {}
                Delivery::TooLarge(err) | Delivery::Retriable(err) => {
                    let record = &records[index];
                    return Err(anyhow!(
                        "delivering {} to {}: {err}",
                        record.event_id,
                        record.topic
                    ));
                }
            }
        }
        Ok(())
    }

    /// Produces every record, re-sending what was not acknowledged (in the original order)
    /// with backoff for as long as the broker is away, until all are acknowledged. Records
    /// refused for their size are returned, not retried. Event ids are deterministic and
    /// consumers drop ids they have seen, so a record acknowledged but reported lost (an ack
    /// that timed out) and sent again is harmless.
    pub fn send_reliably(
        &self,
        records: &[Outgoing],
        shutdown: &Shutdown,
    ) -> Result<Vec<Refused>, SendError> {
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut refused = Vec::new();
        let mut backoff = Backoff::for_broker();
        let mut log = QuietLog::every(Duration::from_secs(30));
        let started = Instant::now();
        loop {
            let mut last = String::new();
            let mut again = Vec::new();
            for (index, delivery) in self.attempt(records, &pending) {
                match delivery {
                    Delivery::Acked => {}
                    Delivery::TooLarge(reason) => refused.push(Refused { index, reason }),
                    Delivery::Retriable(reason) => {
                        last = reason;
                        again.push(index);
                    }
                }
            }
            if again.is_empty() {
                if backoff.failures() > 0 {
                    self.waiting(false);
                    self.waited_ms
                        .fetch_add(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                    tracing::info!(
                        attempts = backoff.failures() + 1,
                        records = records.len(),
                        "outputs acknowledged after the broker came back"
                    );
                }
                refused.sort_by_key(|r| r.index);
                return Ok(refused);
            }
            if let Some((code, reason)) = self.producer.client().fatal_error() {
                return Err(SendError::Fatal(format!("{code:?}: {reason}")));
            }
            if shutdown.requested() {
                return Err(SendError::Interrupted {
                    unacked: again.len(),
                    last,
                });
            }
            if backoff.failures() == 0 {
                self.waiting(true);
            }
            let delay = backoff.next_delay();
            if log.due() {
                tracing::warn!(unacked = again.len(), error = %last, failures = backoff.failures(), retry_in_ms = delay.as_millis() as u64, "outputs not acknowledged; waiting for the broker");
            }
            shutdown.sleep(delay);
            pending = again;
        }
    }

    /// `report(true)` when a send starts waiting for the broker, `report(false)` when it is
    /// acknowledged again. Set once; later calls are ignored.
    pub fn report_waits(&self, report: Box<dyn Fn(bool) + Send + Sync>) {
        let _ = self.on_wait.set(report);
    }

    fn waiting(&self, waiting: bool) {
        if let Some(report) = self.on_wait.get() {
            report(waiting);
        }
    }

    /// One try at the records at `indices`, in bounded chunks: each chunk is queued, then its
    /// acknowledgements awaited. Every index gets exactly one [`Delivery`].
    fn attempt(&self, records: &[Outgoing], indices: &[usize]) -> Vec<(usize, Delivery)> {
        let mut results = Vec::with_capacity(indices.len());
        for chunk in indices.chunks(CHUNK) {
            let mut in_flight: Vec<(usize, DeliveryFuture)> = Vec::with_capacity(chunk.len());
            for &index in chunk {
                match self.queue(&records[index], &in_flight) {
                    Ok(delivery) => in_flight.push((index, delivery)),
                    Err(err) => results.push((index, classify(&err))),
                }
            }
            for (index, delivery) in in_flight {
                let outcome = match futures_executor::block_on(delivery) {
                    Ok(Ok(_)) => Delivery::Acked,
                    Ok(Err((err, _))) => classify(&err),
                    Err(_) => Delivery::Retriable("the producer dropped the record".into()),
                };
                results.push((index, outcome));
            }
        }
        results
    }

    /// Queues one record; when the producer's queue is full, serves delivery reports until
    /// there is room (the futures in `in_flight` keep their results) and tries again.
    fn queue(
        &self,
        record: &Outgoing,
        in_flight: &[(usize, DeliveryFuture)],
    ) -> Result<DeliveryFuture, KafkaError> {
        let mut waited = 0;
        loop {
            let headers = OwnedHeaders::new().insert(Header {
                key: "presage-event-id",
                value: Some(record.event_id.as_bytes()),
            });
            let mut future_record = FutureRecord::to(&record.topic)
                .key(&record.key)
                .payload(&record.payload)
                .headers(headers);
            if let Some(ms) = record.timestamp_ms {
                future_record = future_record.timestamp(ms);
            }
            match self.producer.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if waited < 600 =>
                {
                    waited += 1;
                    // Serve delivery reports so the queue drains, then try again.
                    self.producer.poll(Duration::from_millis(100));
                    if in_flight.is_empty() {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    /// How long `send_reliably` waited for the broker (ms) since the last call: time the
    /// broker was away, for [`crate::Stage::on_broker_back`].
    pub fn take_waited_ms(&self) -> i64 {
        self.waited_ms.swap(0, Ordering::Relaxed) as i64
    }

    pub fn flush(&self) {
        let _ = self.producer.flush(Duration::from_secs(10));
    }
}

/// Size refusals are final; every other failure may pass on another try.
fn classify(err: &KafkaError) -> Delivery {
    match err.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::MessageBatchTooLarge
            | RDKafkaErrorCode::InvalidRecord,
        ) => Delivery::TooLarge(err.to_string()),
        _ => Delivery::Retriable(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_refusals_are_final_and_other_failures_are_retried() {
        let too_large = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        assert!(matches!(classify(&too_large), Delivery::TooLarge(_)));
        let batch = KafkaError::MessageProduction(RDKafkaErrorCode::MessageBatchTooLarge);
        assert!(matches!(classify(&batch), Delivery::TooLarge(_)));
        let timed_out = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert!(matches!(classify(&timed_out), Delivery::Retriable(_)));
        let down = KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown);
        assert!(matches!(classify(&down), Delivery::Retriable(_)));
    }
}
