//! Which partitions the group took away. A stage that keeps per-partition state must drop it
//! when a partition is revoked: if the partition comes back later, another instance may have
//! processed it meanwhile, and the stage must restore from the checkpoint again instead of
//! trusting what it held.

use std::sync::Mutex;

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::ClientContext;

/// Records revoked partitions for the run loop to act on between records.
#[derive(Default)]
pub struct RevokeTracker {
    revoked: Mutex<Vec<i32>>,
}

impl RevokeTracker {
    /// The partitions revoked since the last call.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ClientContext for RevokeTracker {}

impl ConsumerContext for RevokeTracker {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(?partitions, "partitions revoked");
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(partitions);
        }
    }
}
