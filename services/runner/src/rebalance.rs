//! What the consumer's client tells the loop between polls: which partitions the group took
//! away, that an assignment arrived, and (from librdkafka's statistics) each partition's lag.
//!
//! A stage that keeps per-partition state must drop it when a partition is revoked: if the
//! partition comes back later, another instance may have processed it meanwhile, and the stage
//! must restore from the checkpoint again instead of trusting what it held.

use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;

use crate::telemetry::{labels, telemetry, LoopHealth};

/// Records revoked partitions for the run loop to act on between records.
#[derive(Default)]
pub struct RevokeTracker {
    revoked: Mutex<Vec<i32>>,
    /// The loop's readiness and name, when it reports them.
    watched: Option<(&'static str, Arc<LoopHealth>)>,
}

impl RevokeTracker {
    /// A tracker that also marks `health` joined at each assignment and exports consumer lag
    /// under `stage`.
    pub fn reporting(stage: &'static str, health: Arc<LoopHealth>) -> Self {
        Self {
            revoked: Mutex::default(),
            watched: Some((stage, health)),
        }
    }

    /// The partitions revoked since the last call.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ClientContext for RevokeTracker {
    /// Lag per assigned partition; -1 (not known yet) is left out.
    fn stats(&self, statistics: Statistics) {
        let Some((stage, _)) = &self.watched else {
            return;
        };
        let lag = &telemetry().metrics.consumer_lag;
        for (topic, detail) in &statistics.topics {
            for (partition, p) in &detail.partitions {
                if *partition < 0 || p.consumer_lag < 0 {
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
            if let Some((stage, _)) = &self.watched {
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
        if let (Rebalance::Assign(_), Some((_, health))) = (rebalance, &self.watched) {
            health.joined();
        }
    }
}
