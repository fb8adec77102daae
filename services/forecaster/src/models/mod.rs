//! Forecasting models behind one trait. A model is fitted to a [`Grid`] and asked for a path of
//! future points in one call: the forecaster keeps the path, not the fitted state, so a refit is
//! the only place a model runs.

mod arima;
mod holt_winters;
mod linear;
mod naive;
mod nnar;
mod optimise;
mod prophet;
mod ridge;
mod statistical;
mod trend_ets;

use presage_template::ModelKind;

use crate::calendar::Calendar;
use crate::grid::Grid;

pub use arima::Arima;
pub use holt_winters::HoltWinters;
pub use linear::{calendar_features, Linear};
pub use naive::{Naive, SeasonalNaive};
pub use nnar::Nnar;
pub use prophet::Prophet;
pub use statistical::{Ets, Mstl};

/// What a model is fitted to.
pub struct Training<'a> {
    pub grid: &'a Grid,
    /// Seasonal periods in grid steps, ascending.
    pub periods: &'a [usize],
    /// The template's zone and the algorithm's holidays (the linear model's features).
    pub calendar: &'a Calendar,
    /// Ridge penalty of the linear model.
    pub ridge: f64,
    /// Fourier pairs per longer season the ARIMA adds as regressors.
    pub harmonics: usize,
}

/// Future points, one per grid step after the last training point.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub point: Vec<f64>,
    /// The model's own interval at the requested level, when it has one.
    pub bounds: Option<(Vec<f64>, Vec<f64>)>,
}

/// Forecasts from several origins of one history (see [`Model::backtest`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// One path of `horizon` points per origin, in the origins' order.
    pub folds: Vec<Path>,
    /// The path of `path_len` points from the end of the whole history, when the model made it
    /// in the same pass; `None` asks the caller to fit for it.
    pub last: Option<Path>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("needs {needs} points, has {has}")]
    TooShort { needs: usize, has: usize },
    #[error("needs a seasonal period (seasonality: [1d] or [auto])")]
    NoSeason,
    #[error("fit failed: {0}")]
    Failed(String),
}

pub trait Model: Send + Sync {
    fn kind(&self) -> ModelKind;

    /// The fewest grid points this model can be fitted to, given the periods.
    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError>;

    /// Fits to `training` and forecasts `horizon` steps, with bounds at `level` if it has them.
    fn fit_predict(
        &self,
        training: &Training,
        horizon: usize,
        level: f64,
    ) -> Result<Path, ModelError>;

    /// Whether [`Model::backtest`] fits once and filters forward through the origins (its folds
    /// cost about one fit in all) rather than refitting at each origin. Such a model is scored on
    /// every fold at once; a refitting one is first scored on the oldest fold and kept only if it
    /// is in the running (successive halving, in [`crate::fit`]).
    fn filters_forward(&self) -> bool {
        false
    }

    /// Forecasts `horizon` steps from each origin (a length of the history's prefix, ascending),
    /// as if fitted to that prefix alone: what rolling-origin evaluation compares with the
    /// history. By default the model is refitted at every origin; a model that can filter its
    /// state forward with fixed parameters overrides this, and may then also return the path of
    /// `path_len` steps from the end of the whole history.
    fn backtest(
        &self,
        training: &Training,
        origins: &[usize],
        horizon: usize,
        path_len: usize,
        level: f64,
    ) -> Result<Backtest, ModelError> {
        let _ = path_len;
        let mut folds = Vec::with_capacity(origins.len());
        for origin in origins {
            let prefix = training.grid.prefix(*origin);
            let fold = Training {
                grid: &prefix,
                ..*training
            };
            folds.push(self.fit_predict(&fold, horizon, level)?);
        }
        Ok(Backtest { folds, last: None })
    }

    /// Refuses a grid shorter than [`Model::min_points`].
    fn check_length(&self, training: &Training) -> Result<(), ModelError> {
        let needs = self.min_points(training.periods)?;
        let has = training.grid.len();
        if has < needs {
            return Err(ModelError::TooShort { needs, has });
        }
        Ok(())
    }
}

pub fn model_for(kind: ModelKind) -> Box<dyn Model> {
    match kind {
        ModelKind::Naive => Box::new(Naive),
        ModelKind::SeasonalNaive => Box::new(SeasonalNaive),
        ModelKind::Ets => Box::new(Ets),
        ModelKind::Mstl => Box::new(Mstl),
        ModelKind::Linear => Box::new(Linear),
        ModelKind::HoltWinters => Box::new(HoltWinters),
        ModelKind::Arima => Box::new(Arima),
        ModelKind::Prophet => Box::new(Prophet),
        ModelKind::Nnar => Box::new(Nnar),
    }
}

/// The name a template and a forecast event use for a model.
pub fn name_of(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Naive => "naive",
        ModelKind::SeasonalNaive => "seasonal_naive",
        ModelKind::Ets => "ets",
        ModelKind::Mstl => "mstl",
        ModelKind::Linear => "linear",
        ModelKind::HoltWinters => "holt_winters",
        ModelKind::Arima => "arima",
        ModelKind::Prophet => "prophet",
        ModelKind::Nnar => "nnar",
    }
}
