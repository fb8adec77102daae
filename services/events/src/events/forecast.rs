//! Forecasts of derived metrics (`presage.forecasts`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::impl_event;

/// A forecast of one metric over the horizon, with prediction intervals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Grid time of the newest observation the model was fitted on (refits follow the
    /// template's cadence, or come early on drift).
    pub fitted_at_ms: i64,
    /// MASE of the chosen model in rolling-origin evaluation; `None` when there was too little
    /// history to evaluate.
    pub score: Option<f64>,
    /// Every candidate the template listed, with its score or why it was not scored.
    pub candidates: Vec<ModelScore>,
    /// Too little history for the template's seasons: the model is what the data allowed and the
    /// bounds are widened.
    pub cold_start: bool,
    /// `model` (the model's own bounds, which held in evaluation), `conformal` (from the
    /// rolling-origin errors) or `uncalibrated` (the model's own, unchecked: too little history).
    pub interval_method: String,
    /// Seasonal periods used, in milliseconds (declared or detected).
    pub periods_ms: Vec<i64>,
    /// Grid points in the fitted history, and how many of them were missing windows filled in.
    pub history_points: i64,
    pub filled_points: i64,
    /// The `group_by` labels of the series forecast; empty for a recipe without `group_by`.
    /// Records written before this field decode with none.
    pub labels: BTreeMap<String, String>,
    /// The constraints applied after the fit: `non_negative`, `integer`.
    pub constraints: Vec<String>,
}

/// A candidate model's rolling-origin score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelScore {
    pub model: String,
    pub mase: Option<f64>,
    /// Why there is no score (e.g. not enough history), or empty.
    pub note: String,
}

/// One forecast step; a nested record inside `forecast.avsc`, not an event of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    pub at_ms: i64,
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

impl_event!(
    Forecast,
    "presage.Forecast",
    include_str!("../../../../schemas/forecast.avsc"),
    // Before labels and constraints: records on the topic from earlier forecasters.
    earlier: [include_str!("../../../../schemas/earlier/forecast.1.avsc")]
);
