//! The statistical models from augurs: AutoETS without seasonality (augurs' seasonal ETS is not
//! implemented), and MSTL (several seasonal periods removed by STL, the rest forecast by AutoETS).

use augurs::ets::trend::AutoETSTrendModel;
use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};
use presage_template::ModelKind;

use super::{Model, ModelError, Path, Training};

pub struct Ets;
pub struct Mstl;

impl Model for Ets {
    fn kind(&self) -> ModelKind {
        ModelKind::Ets
    }

    fn min_points(&self, _periods: &[usize]) -> Result<usize, ModelError> {
        Ok(10)
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        let fitted = AutoETS::non_seasonal()
            .fit(&t.grid.values)
            .map_err(|e| ModelError::Failed(e.to_string()))?;
        let forecast = fitted
            .predict(horizon, level)
            .map_err(|e| ModelError::Failed(e.to_string()))?;
        Ok(to_path(forecast))
    }
}

impl Model for Mstl {
    fn kind(&self) -> ModelKind {
        ModelKind::Mstl
    }

    /// STL needs two full cycles of the longest period.
    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError> {
        let longest = *periods.iter().max().ok_or(ModelError::NoSeason)?;
        Ok(2 * longest + 1)
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        let trend = AutoETSTrendModel::from(AutoETS::non_seasonal());
        let fitted = MSTLModel::new(t.periods.to_vec(), trend)
            .fit(&t.grid.values)
            .map_err(|e| ModelError::Failed(e.to_string()))?;
        let forecast = fitted
            .predict(horizon, level)
            .map_err(|e| ModelError::Failed(e.to_string()))?;
        Ok(to_path(forecast))
    }
}

fn to_path(forecast: augurs::Forecast) -> Path {
    let bounds = forecast
        .intervals
        .filter(|i| i.lower.iter().chain(&i.upper).all(|v| v.is_finite()))
        .map(|i| (i.lower, i.upper));
    Path {
        point: forecast.point,
        bounds,
    }
}
