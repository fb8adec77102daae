//! The planner's pure core: forecasts in, scaling directives out. No Kafka, no clock: time comes
//! from the forecast events, so a replay of last month's forecasts gives the same directives.

pub mod calibration;
pub mod plan;
pub mod planner;
pub mod policy;
pub mod watch;

pub use planner::{scheduled_floor, PlanError, Planner, LIVE, SHADOW};
pub use policy::{decide, forecast_value, point_at_lead, Decision, PolicyInput, PolicyState};
