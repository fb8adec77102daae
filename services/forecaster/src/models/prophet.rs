//! Placeholder while the `prophet` model is being written: refuses every fit, so the forecaster
//! passes over it with the reason. Replaced by the model itself before it is documented.

use presage_template::ModelKind;

use super::{Model, ModelError, Path, Training};

pub struct Prophet;

impl Model for Prophet {
    fn kind(&self) -> ModelKind {
        ModelKind::Prophet
    }

    fn min_points(&self, _periods: &[usize]) -> Result<usize, ModelError> {
        Ok(usize::MAX)
    }

    fn fit_predict(&self, _t: &Training, _horizon: usize, _level: f64) -> Result<Path, ModelError> {
        Err(ModelError::Failed("not built yet".into()))
    }
}
