//! The producing side of every service: an idempotent producer whose sends are awaited, so a
//! caller knows its output is durable before it commits the input that caused it.

use std::time::Duration;

use anyhow::{anyhow, Context};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::settings::KafkaArgs;
use crate::stage::Outgoing;

pub struct Publisher {
    producer: FutureProducer,
}

/// Settings every Presage producer starts from (the user may override them with `-X`).
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("message.timeout.ms", "30000"),
    ("linger.ms", "5"),
];

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
        Ok(Self { producer })
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    /// Produces every record and waits until the broker has acknowledged all of them.
    pub fn send_all(&self, records: &[Outgoing]) -> anyhow::Result<()> {
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
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
            let delivery = self
                .producer
                .send_result(future_record)
                .map_err(|(err, _)| anyhow!("queueing record for {}: {err}", record.topic))?;
            pending.push((record, delivery));
        }
        for (record, delivery) in pending {
            match futures_executor::block_on(delivery) {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => {
                    return Err(anyhow!(
                        "delivering {} to {}: {err}",
                        record.event_id,
                        record.topic
                    ))
                }
                Err(_) => return Err(anyhow!("producer dropped record {}", record.event_id)),
            }
        }
        Ok(())
    }

    pub fn flush(&self) {
        let _ = self.producer.flush(Duration::from_secs(10));
    }
}
