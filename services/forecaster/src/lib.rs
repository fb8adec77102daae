//! The forecaster's pure core: derived metrics in, forecasts with prediction intervals out.
//! History is kept per app and prediction algorithm on the recipe's window grid; models are
//! chosen by rolling-origin evaluation; time comes from the events.

pub mod calendar;
pub mod combine;
pub mod constraints;
pub mod evaluate;
pub mod fit;
pub mod forecaster;
pub mod grid;
pub mod history;
pub mod intervals;
pub mod models;
pub mod schedule;

pub use calendar::Calendar;
pub use fit::{fit, Choice, FitOutcome, FitSettings, IntervalMethod};
pub use forecaster::{ForecastError, Forecaster, Labels};
pub use grid::Grid;
pub use models::{model_for, name_of, Model, Path, Training};
