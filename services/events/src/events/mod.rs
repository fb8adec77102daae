//! One struct per wire event. Field names, types and order follow the `.avsc` files in
//! `schemas/`, which are the source of truth; the drift tests compare the two.
//!
//! Conventions: `*_ms` fields are epoch milliseconds (durations say so in their doc); optional
//! fields are Avro `["null", T]` unions and `Option<T>` here; small enumerations are strings
//! whose allowed values the schema documents.

mod dead_letter;
mod decisions;
mod forecast;
mod metrics;
mod template;

pub use dead_letter::DeadLetter;
pub use decisions::{ApplyOutcome, PlannedStep, PlannedTarget, ResourceTarget, ScalingDirective};
pub use forecast::{Forecast, ForecastPoint, ModelScore};
pub use metrics::{DerivedMetric, MetadataFragment, RawSample};
pub use template::TemplateVersion;
