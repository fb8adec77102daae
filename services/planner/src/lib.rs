//! The planner's pure core: forecasts in, scaling directives out. No Kafka, no clock: time comes
//! from the forecast events, so a replay of last month's forecasts gives the same directives.

pub mod planner;
pub mod policy;

pub use planner::{PlanError, Planner};
pub use policy::{Decision, PolicyInput, TargetTracking};
