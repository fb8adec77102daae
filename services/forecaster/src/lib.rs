//! The forecaster's pure core: derived metrics in, forecasts with prediction intervals out.
//! History is kept per app and metric on the recipe's window grid; time comes from the events.

pub mod forecaster;
pub mod history;
pub mod model;

pub use forecaster::{ForecastError, Forecaster};
pub use model::{Model, Prediction, SeasonalNaive};
