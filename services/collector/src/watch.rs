//! What the collector exports about its spool: bytes and samples waiting for the broker, and
//! samples dropped past the spool's bound (`presage_spool_*`).

use crate::spool::{Dropped, Spool};

/// The spool's size now; called after every append and every acknowledged batch.
pub fn spool(spool: &Spool) {
    let metrics = &presage_runner::telemetry().metrics;
    let none = presage_runner::telemetry::Labels::new();
    metrics
        .spool_bytes
        .get_or_create(&none)
        .set(spool.bytes() as f64);
    metrics
        .spool_records
        .get_or_create(&none)
        .set(spool.pending() as f64);
}

/// Samples an append dropped to stay within the bound.
pub fn dropped(dropped: &Dropped) {
    if dropped.records > 0 {
        presage_runner::telemetry()
            .metrics
            .spool_dropped
            .get_or_create(&presage_runner::telemetry::Labels::new())
            .inc_by(dropped.records);
    }
}
