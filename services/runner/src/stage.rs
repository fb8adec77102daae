//! The seam between the runner and a service: a [`Stage`] turns one decoded input event into
//! output events. The service's binary implements it by calling its pure core.

use presage_events::{encode, CodecError, Event};

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
}

/// One record to produce: the key is the app id so an app's events stay on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub topic: String,
    pub key: String,
    pub event_id: String,
    pub payload: Vec<u8>,
}

impl Outgoing {
    pub fn event<E: Event>(topic: impl Into<String>, event: &E) -> Result<Self, CodecError> {
        Ok(Self {
            topic: topic.into(),
            key: event.app().to_string(),
            event_id: event.event_id().to_string(),
            payload: encode(event)?,
        })
    }
}
