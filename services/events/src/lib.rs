//! Presage wire events: Rust types, their Avro schemas and single-object encoding.
//!
//! The `.avsc` files in `schemas/` are the contract between the services; this crate embeds
//! them, so a service that links it speaks exactly the schemas in the repository. Every event
//! travels as Avro single-object encoding (marker, schema fingerprint, binary datum), which lets
//! a consumer tell which schema a payload was written with before decoding it.
//!
//! - [`events`]: one struct per event, with the fields of its `.avsc`.
//! - [`codec`]: [`encode`], [`decode`], [`schema_name_of`] and [`CodecError`].
//! - [`registry`]: [`all_schemas`], the list of every event schema we own.
//! - [`ids`]: [`event_id`], deterministic ids derived from an event's inputs.
//! - [`plan`]: which targets a directive with a plan sets at a given instant.
//! - [`redact`]: [`redact_url`] and secret settings, kept out of events and logs.

pub mod codec;
mod event;
pub mod events;
mod guard;
pub mod ids;
mod mismatch;
pub mod plan;
pub mod redact;
pub mod registry;
pub mod time;

pub use codec::{decode, encode, schema_name_of, CodecError};
pub use event::Event;
pub use events::{
    ApplyOutcome, DeadLetter, DerivedMetric, Forecast, ForecastPoint, MetadataFragment, ModelScore,
    PlannedStep, PlannedTarget, RawSample, ResourceTarget, ScalingDirective, TemplateVersion,
};
pub use ids::event_id;
pub use redact::{redact_text, redact_url};
pub use registry::all_schemas;
