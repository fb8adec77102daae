//! Forecasts of derived metrics (`presage.forecasts`).

use serde::{Deserialize, Serialize};

use crate::event::impl_event;

/// A forecast of one metric over the horizon, with prediction intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    /// The forecast target (a recipe name).
    pub metric: String,
    pub model: String,
    pub issued_at_ms: i64,
    /// Spacing between points: a duration in milliseconds, not an instant.
    pub step_ms: i64,
    /// Coverage of [`ForecastPoint::lower`]..[`ForecastPoint::upper`], e.g. 0.9.
    pub interval_level: f64,
    /// In time order.
    pub points: Vec<ForecastPoint>,
    pub lineage: Vec<String>,
}

/// One forecast step; a nested record inside `forecast.avsc`, not an event of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    pub at_ms: i64,
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

impl_event!(
    Forecast,
    "presage.Forecast",
    include_str!("../../../../schemas/forecast.avsc")
);
