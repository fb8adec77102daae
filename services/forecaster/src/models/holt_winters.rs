//! Additive Holt-Winters: exponential smoothing of a level, an optional damped trend and one
//! additive season (ETS(A,N,A) and ETS(A,Ad,A)). augurs' seasonal ETS is not implemented, and
//! seasonal data with long daily cycles (96 quarter-hours) is exactly where it matters, so this
//! small one is ours. Parameters minimise the in-sample one-step squared error (Nelder–Mead on
//! a bounded transform); the trend is kept only when it lowers the AIC.

use presage_template::quantiles::normal_quantile;
use presage_template::ModelKind;

use super::{Model, ModelError, Path, Training};

pub struct HoltWinters;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

struct Fitted {
    level: f64,
    trend: f64,
    season: Vec<f64>,
    params: Params,
    sigma: f64,
    /// Index into `season` of the next point.
    next: usize,
}

impl Model for HoltWinters {
    fn kind(&self) -> ModelKind {
        ModelKind::HoltWinters
    }

    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError> {
        let m = *periods.first().ok_or(ModelError::NoSeason)?;
        Ok(3 * m)
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        self.check_length(t)?;
        let y = &t.grid.values;
        let m = t.periods[0];
        let without_trend = optimise(y, m, false);
        let with_trend = optimise(y, m, true);
        let aic = |(sse, _): &(f64, Params), k: f64| {
            y.len() as f64 * (sse / y.len() as f64).max(1e-12).ln() + 2.0 * (k + m as f64)
        };
        let (_, params) = if aic(&with_trend, 5.0) < aic(&without_trend, 3.0) {
            with_trend
        } else {
            without_trend
        };
        let fitted = run(y, m, params);
        Ok(fitted.forecast(horizon, level, m))
    }
}

impl Fitted {
    fn forecast(&self, horizon: usize, level: f64, m: usize) -> Path {
        let z = normal_quantile(0.5 + level / 2.0);
        let Params {
            alpha, gamma, phi, ..
        } = self.params;
        let mut point = Vec::with_capacity(horizon);
        let mut lower = Vec::with_capacity(horizon);
        let mut upper = Vec::with_capacity(horizon);
        let mut damp = 0.0;
        let mut factor = 1.0;
        for h in 1..=horizon {
            factor *= phi;
            damp += factor;
            let value = self.level + damp * self.trend + self.season[(self.next + h - 1) % m];
            // ETS(A,N,A) variance; the damped trend's extra terms are left to calibration.
            let seasons = ((h - 1) / m) as f64;
            let variance = self.sigma.powi(2)
                * (1.0 + (h - 1) as f64 * alpha * alpha + seasons * gamma * (2.0 * alpha + gamma));
            let width = z * variance.sqrt();
            point.push(value);
            lower.push(value - width);
            upper.push(value + width);
        }
        Path {
            point,
            bounds: Some((lower, upper)),
        }
    }
}

/// Seasons averaged for the initial seasonal state: one season alone (often a single day) is a
/// noisy start that the smoothing then takes long to forget.
const INITIAL_SEASONS: usize = 7;

/// Runs the recursions over `y`. The initial level is the first season's mean, the trend the
/// change to the second season's mean, and each seasonal index the average deviation from its
/// season's mean over the first few seasons.
fn run(y: &[f64], m: usize, p: Params) -> Fitted {
    let first = y[..m].iter().sum::<f64>() / m as f64;
    let second = y[m..2 * m].iter().sum::<f64>() / m as f64;
    let mut level = first;
    let mut trend = if p.beta > 0.0 {
        (second - first) / m as f64
    } else {
        0.0
    };
    let seasons = (y.len() / m).clamp(1, INITIAL_SEASONS);
    let mut season = vec![0.0; m];
    for k in 0..seasons {
        let chunk = &y[k * m..(k + 1) * m];
        let mean = chunk.iter().sum::<f64>() / m as f64;
        for (s, v) in season.iter_mut().zip(chunk) {
            *s += (v - mean) / seasons as f64;
        }
    }
    let mut sse = 0.0;
    for (t, value) in y.iter().enumerate() {
        let s = t % m;
        let forecast = level + p.phi * trend + season[s];
        let error = value - forecast;
        sse += error * error;
        level += p.phi * trend + p.alpha * error;
        trend = p.phi * trend + p.beta * error;
        season[s] += p.gamma * error;
    }
    Fitted {
        level,
        trend,
        season,
        params: p,
        sigma: (sse / y.len() as f64).sqrt(),
        next: y.len() % m,
    }
}

fn sse(y: &[f64], m: usize, p: Params) -> f64 {
    let f = run(y, m, p);
    f.sigma * f.sigma * y.len() as f64
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Unconstrained coordinates → admissible parameters: α in (0, 1), β ≤ α, γ ≤ 1 − α,
/// φ in [0.8, 0.98].
fn params_of(x: &[f64], trend: bool) -> Params {
    let alpha = 0.0001 + 0.9998 * logistic(x[0]);
    let gamma = (1.0 - alpha) * logistic(x[1]);
    let (beta, phi) = if trend {
        (alpha * logistic(x[2]), 0.8 + 0.18 * logistic(x[3]))
    } else {
        (0.0, 1.0)
    };
    Params {
        alpha,
        beta,
        gamma,
        phi,
    }
}

fn optimise(y: &[f64], m: usize, trend: bool) -> (f64, Params) {
    // α ≈ 0.2, γ ≈ 0.05, β ≈ 0.02, φ ≈ 0.95
    let start: Vec<f64> = if trend {
        vec![-1.4, -2.9, -2.2, 1.4]
    } else {
        vec![-1.4, -2.9]
    };
    let objective = |x: &[f64]| sse(y, m, params_of(x, trend));
    let best = nelder_mead(&objective, start, 300);
    (objective(&best), params_of(&best, trend))
}

/// A plain Nelder–Mead simplex search.
fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, start: Vec<f64>, iterations: usize) -> Vec<f64> {
    let d = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    simplex.push((start.clone(), f(&start)));
    for i in 0..d {
        let mut x = start.clone();
        x[i] += 1.0;
        let v = f(&x);
        simplex.push((x, v));
    }
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[d].1 - simplex[0].1).abs() <= 1e-10 * simplex[0].1.abs().max(1e-12) {
            break;
        }
        let centroid: Vec<f64> = (0..d)
            .map(|j| simplex[..d].iter().map(|(x, _)| x[j]).sum::<f64>() / d as f64)
            .collect();
        let towards = |scale: f64| -> Vec<f64> {
            (0..d)
                .map(|j| centroid[j] + scale * (simplex[d].0[j] - centroid[j]))
                .collect()
        };
        let reflected = towards(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = towards(-2.0);
            let fe = f(&expanded);
            simplex[d] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (reflected, fr);
        } else {
            let contracted = towards(0.5);
            let fc = f(&contracted);
            if fc < simplex[d].1 {
                simplex[d] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for (x, v) in simplex.iter_mut().skip(1) {
                    for j in 0..d {
                        x[j] = best[j] + 0.5 * (x[j] - best[j]);
                    }
                    *v = f(x);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::grid::Grid;

    #[test]
    fn a_repeating_season_on_a_level_is_forecast_exactly() {
        let cycle = [5.0, 9.0, 2.0, 7.0];
        let values: Vec<f64> = cycle.iter().cycle().take(40).map(|v| v + 100.0).collect();
        let grid = Grid {
            start_ms: 0,
            step_ms: 1,
            values,
            regressors: Vec::new(),
            filled: 0,
        };
        let none = Calendar::default();
        let t = Training {
            grid: &grid,
            periods: &[4],
            calendar: &none,
            ridge: 1.0,
        };
        let path = HoltWinters.fit_predict(&t, 6, 0.9).unwrap();
        let expected = [105.0, 109.0, 102.0, 107.0, 105.0, 109.0];
        for (p, e) in path.point.iter().zip(expected) {
            assert!((p - e).abs() < 1e-6, "{:?}", path.point);
        }
    }
}
