//! The collector's core: which sources are due, and how what they return becomes raw-sample
//! events. Reading a source is I/O and lives in the binary behind [`SourceReader`]; parsing what
//! was read (Prometheus text, /proc files) and every decision live here. Between reading and
//! Kafka lies the on-disk spool (`spool/`, I/O, with its pure parts in `frame`, `bound`,
//! `ledger` and `state`) drained by the sender thread (`sender.rs`).

pub mod calendar;
pub mod cgroup;
pub mod failures;
pub mod host;
pub mod ics;
pub mod json_http;
pub mod lag;
pub mod prometheus;
pub mod promql;
pub mod readers;
pub mod refusals;
pub mod report;
pub mod samples;
pub mod schedule;
pub mod sender;
pub mod settings;
pub mod spool;
pub mod spooled;
pub mod watch;

pub use samples::{stamp_node, to_raw_samples, Reading};
pub use schedule::Schedule;

use presage_template::{Source, Zone};

#[derive(Debug, thiserror::Error)]
#[error("source {source_id}: {message}")]
pub struct SourceError {
    pub source_id: String,
    pub message: String,
    /// Why it failed, when that is more than the source being away.
    pub refusal: Option<Refusal>,
}

/// A read the collector refused rather than failed: each becomes a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The allow-list does not grant the source's URL.
    NotGranted,
    /// A page with more series than the bound.
    TooManySeries { series: usize, max: usize },
}

/// Reads one source now. Implementations do the I/O (HTTP, /proc); `now_ms` stamps readings
/// that carry no time of their own.
pub trait SourceReader {
    /// Reads `source` of a template whose clock is `zone` (its `timezone`): calendar signals
    /// are local hours and weekdays.
    fn read_in(
        &mut self,
        source: &Source,
        zone: Zone,
        now_ms: i64,
    ) -> Result<Vec<Reading>, SourceError>;

    /// [`SourceReader::read_in`] on UTC, the clock of a template without `timezone`.
    fn read(&mut self, source: &Source, now_ms: i64) -> Result<Vec<Reading>, SourceError> {
        self.read_in(source, Zone::UTC, now_ms)
    }
}
