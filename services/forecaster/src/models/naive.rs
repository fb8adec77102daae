//! The naive models: the last value, or the value one season ago. Their bounds come from their
//! own one-step (one-season) errors in the history, widened by √k for k steps (seasons) ahead.

use presage_template::ModelKind;

use super::{Model, ModelError, Path, Training};
use crate::intervals::quantile;

pub struct Naive;
pub struct SeasonalNaive;

impl Model for Naive {
    fn kind(&self) -> ModelKind {
        ModelKind::Naive
    }

    fn min_points(&self, _periods: &[usize]) -> Result<usize, ModelError> {
        Ok(3)
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        repeat_lag(&t.grid.values, 1, horizon, level)
    }
}

impl Model for SeasonalNaive {
    fn kind(&self) -> ModelKind {
        ModelKind::SeasonalNaive
    }

    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError> {
        let season = *periods.first().ok_or(ModelError::NoSeason)?;
        Ok(season + 2)
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        repeat_lag(&t.grid.values, t.periods[0], horizon, level)
    }
}

/// Forecast for step k (1-based) is the value `lag` steps before it, reaching back into the
/// history as many lags as needed.
fn repeat_lag(y: &[f64], lag: usize, horizon: usize, level: f64) -> Result<Path, ModelError> {
    let n = y.len();
    let errors: Vec<f64> = (lag..n).map(|i| (y[i] - y[i - lag]).abs()).collect();
    let half_width = quantile(&errors, level).unwrap_or(0.0);
    let mut point = Vec::with_capacity(horizon);
    let mut lower = Vec::with_capacity(horizon);
    let mut upper = Vec::with_capacity(horizon);
    for k in 1..=horizon {
        let lags_ahead = k.div_ceil(lag);
        let value = y[n + k - 1 - lags_ahead * lag];
        let width = half_width * (lags_ahead as f64).sqrt();
        point.push(value);
        lower.push(value - width);
        upper.push(value + width);
    }
    Ok(Path {
        point,
        bounds: Some((lower, upper)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::grid::Grid;

    fn training<'a>(grid: &'a Grid, periods: &'a [usize], calendar: &'a Calendar) -> Training<'a> {
        Training {
            grid,
            periods,
            calendar,
            ridge: 1.0,
            harmonics: 0,
        }
    }

    fn grid(values: &[f64]) -> Grid {
        Grid {
            start_ms: 0,
            step_ms: 10,
            values: values.to_vec(),
            regressors: Vec::new(),
            filled: 0,
        }
    }

    #[test]
    fn seasonal_naive_repeats_the_last_season_with_zero_width_on_a_perfect_cycle() {
        let g = grid(&[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]);
        let none = Calendar::default();
        let p = SeasonalNaive
            .fit_predict(&training(&g, &[3], &none), 4, 0.9)
            .unwrap();
        assert_eq!(p.point, vec![2.0, 3.0, 1.0, 2.0]);
        assert_eq!(p.bounds.unwrap().0, vec![2.0, 3.0, 1.0, 2.0]);
    }

    #[test]
    fn naive_bounds_are_the_quantile_of_past_steps_widened_by_root_k() {
        // one-step errors: 2, 4 → the 0.9 quantile (nearest rank) is 4
        let g = grid(&[10.0, 12.0, 16.0]);
        let none = Calendar::default();
        let p = Naive
            .fit_predict(&training(&g, &[], &none), 4, 0.9)
            .unwrap();
        assert_eq!(p.point, vec![16.0; 4]);
        let (lower, upper) = p.bounds.unwrap();
        assert_eq!((lower[0], upper[0]), (12.0, 20.0));
        assert!((upper[3] - (16.0 + 4.0 * 2.0)).abs() < 1e-9);
    }

    #[test]
    fn seasonal_naive_needs_a_season_and_two_more_points() {
        let g = grid(&[1.0, 2.0, 3.0, 4.0]);
        let none = Calendar::default();
        assert_eq!(
            SeasonalNaive.fit_predict(&training(&g, &[], &none), 1, 0.9),
            Err(ModelError::NoSeason)
        );
        assert_eq!(
            SeasonalNaive.fit_predict(&training(&g, &[3], &none), 1, 0.9),
            Err(ModelError::TooShort { needs: 5, has: 4 })
        );
    }
}
