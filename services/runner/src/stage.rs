//! The seam between the runner and a service: a [`Stage`] turns one decoded input event into
//! output events. The service's binary implements it by calling its pure core.

use presage_events::{encode, CodecError, Event};

use crate::dlq::Origin;
use crate::templates::LoadedTemplate;

/// Why an input could not be processed; it goes to the dead-letter topic with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StageError(pub String);

impl StageError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

pub trait Stage {
    type Input: Event;

    /// The stage's name: its consumer group is `presage-<name>`.
    fn name(&self) -> &'static str;

    /// The physical topic this stage reads.
    fn input_topic(&self) -> String;

    /// A new or changed template was published.
    fn on_template(&mut self, template: &LoadedTemplate);

    /// One input event; the outputs are produced before the input's offset is committed.
    fn on_event(&mut self, event: Self::Input) -> Result<Vec<Outgoing>, StageError>;

    /// One input event with where it was read from. Stages that keep per-partition state or
    /// dead-letter records themselves override this; the default forgets the position.
    fn on_event_at(
        &mut self,
        event: Self::Input,
        _at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        self.on_event(event)
    }

    /// Called when no record arrived for a while (about every 200 ms while idle), with the
    /// wall clock. Stages that hold event-time windows close the ones an idle partition would
    /// otherwise keep open forever.
    fn on_idle(&mut self, _now_ms: i64) -> Result<Vec<Outgoing>, StageError> {
        Ok(Vec::new())
    }

    /// The broker was unreachable for `away_ms` and is back. Nothing could arrive meanwhile, so
    /// a stage that measures quiet by the wall clock (the recipe-processor's idle timeout) must
    /// not count that time as quiet: records produced during the outage (a collector's spool)
    /// are arriving now. `on_idle` is not called while the broker is away.
    fn on_broker_back(&mut self, _away_ms: i64) {}

    /// Whether the stage stores checkpoints in `presage.checkpoints` (and reads them back
    /// when a partition is restored). Stateless stages leave it false and never touch that
    /// topic.
    fn keeps_checkpoints(&self) -> bool {
        false
    }

    /// What to commit for a partition. `None` (the default) commits everything processed.
    /// A stage that holds inputs in memory (open windows) names the lowest offset it still
    /// needs, so that after a crash those inputs are read again, plus metadata to restore.
    fn checkpoint(&self, _partition: i32) -> Option<Checkpoint> {
        None
    }

    /// Once per assignment of a partition, before any of its records: the metadata of the last
    /// committed checkpoint ("" if none) and the offset reading resumes from. Called before the
    /// partition's first record, or, if the partition is read to its end with none (nothing to
    /// read again: a quiet stretch), right then, so that state moving with the wall clock (an
    /// idle clock, [`Stage::on_idle`]) resumes without waiting for a record. Everything before
    /// the resume offset was processed; nothing at or after it has reached the stage.
    fn restore(&mut self, _partition: i32, _metadata: &str, _resume_offset: i64) {}

    /// Once per assignment of a partition, the first time the consumer has read it to its end:
    /// every record that was on the partition when it was assigned (from the resume offset on)
    /// has been handed to the stage, after [`Stage::restore`] (right after it when there was
    /// nothing to read). Not called again until the partition is revoked and assigned again.
    /// [`Stage::on_idle`] runs between batches, also while held inputs are read again after a
    /// restart: a stage acting on the wall clock over what those inputs rebuild (the applier's
    /// plan steps) waits for this, or it could act before a later record already on the
    /// partition (a superseding directive) is read.
    fn caught_up(&mut self, _partition: i32) {}

    /// The partition was revoked: drop what is held for it. If it comes back, `restore` runs
    /// again first.
    fn forget(&mut self, _partition: i32) {}
}

/// A stage's recovery point for one partition: resume reading at `offset`; `metadata` (a
/// few bytes, stored with the committed offset) restores what the stage cannot rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub offset: i64,
    pub metadata: String,
}

/// One record to produce: the key is the app id so an app's events stay on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub topic: String,
    pub key: String,
    pub event_id: String,
    pub payload: Vec<u8>,
    /// The record's timestamp in epoch milliseconds: the event time where a reader looks
    /// records up by time (`presage.metrics.derived`: the window's end). `None` leaves it to
    /// the client (the time of sending).
    pub timestamp_ms: Option<i64>,
}

impl Outgoing {
    pub fn event<E: Event>(topic: impl Into<String>, event: &E) -> Result<Self, CodecError> {
        Ok(Self {
            topic: topic.into(),
            key: event.app().to_string(),
            event_id: event.event_id().to_string(),
            payload: encode(event)?,
            timestamp_ms: None,
        })
    }

    /// The same record stamped with event time `ms` (epoch milliseconds).
    pub fn at(self, ms: i64) -> Self {
        Self {
            timestamp_ms: Some(ms),
            ..self
        }
    }
}
