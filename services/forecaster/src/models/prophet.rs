//! Prophet (Taylor & Letham 2018), its linear-growth model as `prophet.stan` defines it, fitted
//! natively: a piecewise-linear trend with 25 potential changepoints in the first 80% of the
//! history under a Laplace prior, a Fourier series for each seasonal period, an indicator for the
//! calendar's holidays and the template's regressors, all additive, on y scaled by max|y| and
//! time scaled to [0, 1]. The MAP estimate is exact (coordinate descent on the Laplace terms as
//! they are, σ in closed form); bounds are Prophet's simulated future trend changes plus noise.
//!
//! Why not a crate: augurs-prophet would bring second copies of nalgebra, simba and wide into
//! the workspace, and its optimisers are cmdstan (a downloaded binary) or wasmstan (a WebAssembly
//! runtime). The model itself is small once its parameters are seen to enter linearly, and a
//! native fit takes milliseconds where Stan takes a second.

mod design;
mod map;
mod posterior;
mod uncertainty;

use presage_template::ModelKind;

use super::{Model, ModelError, Path, Training};
use design::{Column, Design};
use posterior::Problem;
use uncertainty::TrendUncertainty;

pub struct Prophet;

/// The fewest points without a season: enough for a line and a handful of changepoints.
const MIN_POINTS: usize = 20;

impl Model for Prophet {
    fn kind(&self) -> ModelKind {
        ModelKind::Prophet
    }

    /// Two of the shortest season (a Fourier series seen once fits anything), at least 20.
    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError> {
        Ok(periods
            .first()
            .map_or(MIN_POINTS, |m| (2 * m).max(MIN_POINTS)))
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        if t.grid.values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Failed(
                "the history holds a value that is not a number".into(),
            ));
        }
        let fit = Fitted::new(t);
        let n = t.grid.len();
        let mut row = Vec::with_capacity(fit.design.width());
        let mut point = Vec::with_capacity(horizon);
        let mut times = Vec::with_capacity(horizon);
        for i in n..n + horizon {
            fit.design.row(t, i, &mut row);
            point.push(dot(&row, &fit.theta));
            times.push(fit.design.scaled_time(t, i));
        }
        let (lower, upper) = uncertainty::bounds(&point, &times, &fit.uncertainty(), level);
        let scale = |v: Vec<f64>| v.into_iter().map(|x| x * fit.design.y_scale).collect();
        Ok(Path {
            point: scale(point),
            bounds: Some((scale(lower), scale(upper))),
        })
    }
}

/// The MAP fit on the scaled history.
struct Fitted {
    design: Design,
    theta: Vec<f64>,
    sigma: f64,
}

impl Fitted {
    fn new(t: &Training) -> Fitted {
        let design = Design::new(t);
        let n = t.grid.len();
        let width = design.width();
        let mut rows = Vec::with_capacity(n * width);
        let mut row = Vec::with_capacity(width);
        for i in 0..n {
            design.row(t, i, &mut row);
            rows.extend_from_slice(&row);
        }
        let y: Vec<f64> = t.grid.values.iter().map(|v| v / design.y_scale).collect();
        let columns = design.columns();
        let problem = Problem::new(&rows, &y, &columns);
        let estimate = map::maximise(&problem, start(&y, &columns));
        if !estimate.converged {
            // still a descent from the start, so usable; said so for whoever looks
            tracing::debug!(
                points = n,
                columns = width,
                "prophet: the MAP search stopped before its optimality conditions held"
            );
        }
        Fitted {
            design,
            theta: estimate.theta,
            sigma: estimate.sigma,
        }
    }

    fn uncertainty(&self) -> TrendUncertainty {
        let deltas: Vec<f64> = self
            .design
            .columns()
            .iter()
            .zip(&self.theta)
            .filter(|(c, _)| **c == Column::Changepoint)
            .map(|(_, d)| *d)
            .collect();
        let mean_abs = deltas.iter().map(|d| d.abs()).sum::<f64>() / deltas.len().max(1) as f64;
        TrendUncertainty {
            changepoint_rate: deltas.len() as f64,
            delta_scale: mean_abs + 1e-8,
            sigma: self.sigma,
        }
    }
}

/// Prophet's `linear_growth_init`: the line through the first and last points, everything else
/// at zero. The posterior has one minimum for a given σ; a good start only saves sweeps.
fn start(y: &[f64], columns: &[Column]) -> Vec<f64> {
    let mut theta = vec![0.0; columns.len()];
    let (first, last) = (y[0], y[y.len() - 1]);
    theta[0] = last - first;
    theta[1] = first;
    theta
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
