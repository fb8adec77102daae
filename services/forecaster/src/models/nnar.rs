//! NNAR, a neural network autoregression in the manner of R's `forecast::nnetar`: an ensemble
//! of small feed-forward networks fed the series at lags 1..p (p the best linear AR order by
//! AIC on the seasonally adjusted series, at most [`MAX_P`]), at the seasonal lags m … P·m of
//! the shortest season (and one lag of each longer season the history covers twice), the
//! calendar on the template's local clock, and the template's regressors. One hidden layer of
//! round((inputs + 1) / 2) tanh units, a linear output, weight decay; inputs and target
//! standardised. The networks are trained here at every refit, from seeded starts, so the
//! forecast is a pure function of the history.
//!
//! The point path is the recursion with the ensemble's mean fed back, as nnetar's. The bounds
//! are quantiles of simulated futures, as nnetar's, with two changes: each network trains on its
//! own draw of the rows (bagging), so the residuals drawn are out-of-bag errors (honest
//! out-of-sample errors; a network's in-sample residuals are too small and its bounds too
//! narrow), and each simulated path runs through one member, so the members' disagreement
//! widens the bounds too. They need no held-out tail (the forecaster's rolling-origin
//! evaluation still checks them and may replace them with conformal bounds), and they widen as
//! errors compound through the lags; the half-widths are kept from shrinking with the horizon,
//! since a quantile of a finite number of paths wobbles.
//!
//! Budget: a refit must stay cheap for a fleet. Each network trains on at most
//! [`ROWS_PER_NETWORK`] rows of the history (its own draw) with a bounded number of L-BFGS
//! iterations that stops early when the loss stops falling: about 50–65 ms of CPU for four
//! weeks of 15-minute points in a release build.

mod ensemble;
mod inputs;
mod lbfgs;
mod network;
mod order;
mod rng;

use presage_template::ModelKind;

use super::{Model, ModelError, Path, Training};
use ensemble::Ensemble;
use inputs::Design;

pub struct Nnar;

/// Networks in the ensemble. nnetar averages 20; ten keep a four-week refit near 60 ms of CPU
/// (the cost grows linearly with the count) and still leave every row out of several bags.
const NETWORKS: usize = 10;
/// Seasonal lags of the shortest season (nnetar's P).
const SEASONAL_LAGS: usize = 1;
/// The most plain lags the AIC may choose.
const MAX_P: usize = 8;
/// Calendar columns at most (time of day and of week as sine and cosine, rest day, holiday).
const CALENDAR_COLUMNS: usize = 6;
/// Rows a fit needs per input.
const ROWS_PER_INPUT: usize = 4;
const ROWS_PER_NETWORK: usize = 300;
const MAX_ITERATIONS: usize = 50;
const RELATIVE_TOLERANCE: f64 = 1e-5;
/// Weight decay on the (standardised) mean squared error.
const DECAY: f64 = 1e-3;
/// Simulated futures the bounds are read from.
const PATHS: usize = 100;
/// Seeds of the networks' starts and of the simulation: constants, so equal histories give
/// equal forecasts.
const TRAINING_SEED: u64 = 0x6E6E_6172_0000_0001;
const SIMULATION_SEED: u64 = 0x6E6E_6172_0000_0002;

impl Model for Nnar {
    fn kind(&self) -> ModelKind {
        ModelKind::Nnar
    }

    /// After the longest lag, a full season of rows (every phase once as a target) and at
    /// least [`ROWS_PER_INPUT`] rows per input the design may have without regressors.
    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError> {
        let m = periods.first().copied().unwrap_or(0);
        let longest_lag = (SEASONAL_LAGS * m).max(MAX_P);
        let inputs = MAX_P + SEASONAL_LAGS + CALENDAR_COLUMNS;
        Ok(longest_lag + m.max(ROWS_PER_INPUT * inputs))
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        let design = {
            let p = order::ar_order(&t.grid.values, t.periods.first().copied(), MAX_P);
            Design::new(t, p, SEASONAL_LAGS, horizon)
        };
        let n = t.grid.len();
        let needs = design.longest_lag() + ROWS_PER_INPUT * design.width();
        if n < needs {
            return Err(ModelError::TooShort { needs, has: n });
        }
        if design.sd.is_nan() || design.sd <= 1e-12 * design.mean.abs().max(1.0) {
            // a constant history: nothing to learn, and nothing to scale by
            let flat = vec![design.mean; horizon];
            return Ok(Path {
                point: flat.clone(),
                bounds: Some((flat.clone(), flat)),
            });
        }
        let series: Vec<f64> = t.grid.values.iter().map(|v| design.scale(*v)).collect();
        let settings = ensemble::Training {
            networks: NETWORKS,
            hidden: (design.width() + 1).div_ceil(2),
            rows_per_network: ROWS_PER_NETWORK,
            decay: DECAY,
            optimiser: lbfgs::Settings {
                max_iterations: MAX_ITERATIONS,
                relative_tolerance: RELATIVE_TOLERANCE,
                ..lbfgs::Settings::default()
            },
            seed: TRAINING_SEED,
        };
        let ensemble = Ensemble::train(&design, &series, &settings);
        let point = ensemble.forecast(&design, &series, horizon);
        let (lower, upper) =
            ensemble.simulate(&design, &series, horizon, level, PATHS, SIMULATION_SEED);
        let (lower, upper) = widening(&point, &lower, &upper);
        let unscale =
            |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|x| design.unscale(x)).collect() };
        let path = Path {
            point: unscale(point),
            bounds: Some((unscale(lower), unscale(upper))),
        };
        if path.point.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Failed("the networks diverged".into()));
        }
        Ok(path)
    }
}

/// Bounds around `point` whose distance below and above never shrinks with the step.
fn widening(point: &[f64], lower: &[f64], upper: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut below, mut above) = (0.0f64, 0.0f64);
    point
        .iter()
        .zip(lower.iter().zip(upper))
        .map(|(p, (l, u))| {
            below = below.max(p - l);
            above = above.max(u - p);
            (p - below, p + above)
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_never_narrow_with_the_step_and_always_hold_the_point() {
        let (lower, upper) = widening(&[0.0, 0.0, 5.0], &[-2.0, -1.0, 6.0], &[1.0, 3.0, 5.5]);
        assert_eq!(lower, vec![-2.0, -2.0, 3.0]);
        assert_eq!(upper, vec![1.0, 3.0, 8.0]);
    }

    #[test]
    fn needs_a_season_of_rows_after_the_longest_lag() {
        assert_eq!(Nnar.min_points(&[96, 672]).unwrap(), 96 + 96);
        assert_eq!(Nnar.min_points(&[]).unwrap(), 8 + 4 * 15);
    }
}
