//! What the consumer's client tells the loop between polls: which partitions the group took
//! away, that an assignment arrived, and (from librdkafka's statistics) each partition's lag.
//!
//! A stage that keeps per-partition state must drop it when a partition is revoked: if the
//! partition comes back later, another instance may have processed it meanwhile, and the stage
//! must restore from the checkpoint again instead of trusting what it held.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use crate::telemetry::{labels, telemetry, LoopHealth};

/// Records revoked partitions for the run loop to act on between records.
#[derive(Default)]
pub struct RevokeTracker {
    revoked: Mutex<Vec<i32>>,
    /// The loop's readiness and name, when it reports them.
    watched: Option<(&'static str, Arc<LoopHealth>)>,
    /// Partitions held now: statistics gathered before a revoke but delivered after it must
    /// not bring back the lag series the revoke removed.
    assigned: Mutex<HashSet<i32>>,
}

impl RevokeTracker {
    /// A tracker that also marks `health` joined at each assignment and exports consumer lag
    /// under `stage`.
    pub fn reporting(stage: &'static str, health: Arc<LoopHealth>) -> Self {
        Self {
            revoked: Mutex::default(),
            watched: Some((stage, health)),
            assigned: Mutex::default(),
        }
    }

    /// Whether `partition` is assigned to this consumer now.
    pub fn holds(&self, partition: i32) -> bool {
        self.assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&partition)
    }

    /// The partitions revoked since the last call.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ClientContext for RevokeTracker {
    /// librdkafka reports every partition end (`enable.partition.eof`, which readiness uses)
    /// as an error event too; the run loop acts on it from `poll`, so it is not logged as an
    /// error here. Every other error is logged as the default context does.
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::trace!(%reason, "partition read to its end");
            return;
        }
        tracing::error!("librdkafka: {}: {}", error, reason);
    }

    /// Lag per assigned partition; -1 (not known yet) is left out.
    fn stats(&self, statistics: Statistics) {
        let Some((stage, _)) = &self.watched else {
            return;
        };
        let lag = &telemetry().metrics.consumer_lag;
        let assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
        for (topic, detail) in &statistics.topics {
            for (partition, p) in &detail.partitions {
                if *partition < 0 || p.consumer_lag < 0 || !assigned.contains(partition) {
                    continue;
                }
                let series = labels([
                    ("stage", stage),
                    ("topic", topic),
                    ("partition", &partition.to_string()),
                ]);
                lag.get_or_create(&series).set(p.consumer_lag as f64);
            }
        }
    }
}

impl ConsumerContext for RevokeTracker {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(?partitions, "partitions revoked");
            {
                let mut assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
                for partition in &partitions {
                    assigned.remove(partition);
                }
            }
            if let Some((stage, health)) = &self.watched {
                health.revoked(partitions.iter().copied());
                let lag = &telemetry().metrics.consumer_lag;
                for element in list.elements() {
                    lag.remove(&labels([
                        ("stage", stage),
                        ("topic", element.topic()),
                        ("partition", &element.partition().to_string()),
                    ]));
                }
            }
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(partitions);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
            self.assigned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(partitions.iter().copied());
            if let Some((_, health)) = &self.watched {
                health.assigned(partitions);
            }
        }
    }
}
