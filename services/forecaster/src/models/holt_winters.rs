//! Additive Holt-Winters: exponential smoothing of a level and one additive season, ETS(A,N,A).
//! augurs' seasonal ETS is not implemented, and seasonal data with long daily cycles (96
//! quarter-hours) is exactly where it matters, so this small one is ours.
//!
//! Three choices make it forecast a day ahead as well as statsforecast's seasonal AutoETS:
//! - the initial seasonal state is the classical decomposition's seasonal profile over the first
//!   half of the training window (a centred moving average removed, each phase averaged over
//!   every cycle), and the initial level the mean of its first two seasonally adjusted cycles;
//!   the first few seasons alone are a noisy start that the smoothing takes long to forget;
//! - α and γ minimise the squared error of forecasts made 1 to m steps ahead (one season) from
//!   every point, not the one-step error alone: fitted to one-step errors, the level chases the
//!   last few points (α ≈ 0.04 on the airports) and a day-ahead forecast follows the noise.
//!   The errors are counted over the second half only, after the points the start was estimated
//!   from (see [`fit`]): else γ is fitted to 0 and the season cannot follow a drifting profile;
//! - rolling-origin evaluation fits once, on the oldest fold's history, and filters the state
//!   forward with those parameters through the later origins and to the end of the history
//!   ([`Model::backtest`]): one fit serves every fold and the forecast.
//!
//! A trend is not modelled: over one season ahead a damped trend of these series was noise, and
//! the level's smoothing carries slow drifts.

use presage_template::quantiles::normal_quantile;
use presage_template::ModelKind;

use super::optimise::nelder_mead;
use super::{Backtest, Model, ModelError, Path, Training};

pub struct HoltWinters;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    alpha: f64,
    gamma: f64,
}

/// The state after some points: the level and the seasonal indices, `season[t % m]` for time t.
#[derive(Debug, Clone, PartialEq)]
struct State {
    level: f64,
    season: Vec<f64>,
}

/// Parameters fitted to a history, with the state they start from.
#[derive(Debug, Clone)]
struct Fitted {
    params: Params,
    initial: State,
    /// Standard deviation of the one-step errors over the fitted history.
    sigma: f64,
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
        let fitted = fit(y, m);
        let mut state = fitted.initial.clone();
        filter(y, 0, m, fitted.params, &mut state);
        Ok(forecast(&state, y.len(), m, fitted, horizon, level))
    }

    fn filters_forward(&self) -> bool {
        true
    }

    fn backtest(
        &self,
        t: &Training,
        origins: &[usize],
        horizon: usize,
        path_len: usize,
        level: f64,
    ) -> Result<Backtest, ModelError> {
        let y = &t.grid.values;
        let m = *t.periods.first().ok_or(ModelError::NoSeason)?;
        let first = origins.first().copied().unwrap_or(y.len());
        let needs = self.min_points(t.periods)?;
        if first < needs {
            return Err(ModelError::TooShort { needs, has: first });
        }
        let fitted = fit(&y[..first], m);
        let mut state = fitted.initial.clone();
        let mut at = 0;
        let mut folds = Vec::with_capacity(origins.len());
        for origin in origins {
            filter(&y[at..*origin], at, m, fitted.params, &mut state);
            at = *origin;
            folds.push(forecast(&state, at, m, fitted.clone(), horizon, level));
        }
        let sse = filter(&y[at..], at, m, fitted.params, &mut state);
        // The final bounds' σ: the one-step errors over the whole history, parameters fixed.
        let whole = sse + fitted.sigma.powi(2) * at as f64;
        let sigma = (whole / y.len() as f64).sqrt();
        let last = forecast(
            &state,
            y.len(),
            m,
            Fitted { sigma, ..fitted },
            path_len,
            level,
        );
        Ok(Backtest {
            folds,
            last: Some(last),
        })
    }
}

/// Forecasts `horizon` steps from `state`, the state after `n` points.
fn forecast(state: &State, n: usize, m: usize, fitted: Fitted, horizon: usize, level: f64) -> Path {
    let z = normal_quantile(0.5 + level / 2.0);
    let Params { alpha, gamma } = fitted.params;
    let mut point = Vec::with_capacity(horizon);
    let mut lower = Vec::with_capacity(horizon);
    let mut upper = Vec::with_capacity(horizon);
    for h in 1..=horizon {
        let value = state.level + state.season[(n + h - 1) % m];
        // ETS(A,N,A) forecast variance (Hyndman et al., class 1).
        let seasons = ((h - 1) / m) as f64;
        let variance = fitted.sigma.powi(2)
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

/// Runs the recursions over `y`, whose first point is time `start`, and returns the sum of
/// squared one-step errors.
fn filter(y: &[f64], start: usize, m: usize, p: Params, state: &mut State) -> f64 {
    let mut sse = 0.0;
    for (i, value) in y.iter().enumerate() {
        let s = (start + i) % m;
        let error = value - state.level - state.season[s];
        sse += error * error;
        state.level += p.alpha * error;
        state.season[s] += p.gamma * error;
    }
    sse
}

/// The fitting criterion: the mean squared error of the forecasts made 1 to `m` steps ahead from
/// every point, counted at the points from `from` on (and after the first season). A forecast made at t for u = t + h (h ≤ m) is
/// `level[t] + season[u]`, and the seasonal index of u is not updated between t and u, so its
/// error is the one-step error at u plus `level[u − 1] − level[t]`; the sum over h comes from
/// running sums of the last m levels (centred on the initial level against cancellation).
fn season_ahead_mse(y: &[f64], m: usize, p: Params, initial: &State, from: usize) -> f64 {
    let origin = initial.level;
    let mut level = 0.0;
    let mut season = initial.season.clone();
    let mut recent = vec![0.0; m];
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    let mut total = 0.0;
    let mut count = 0usize;
    for (t, value) in y.iter().enumerate() {
        let s = t % m;
        let error = value - origin - level - season[s];
        if t >= from.max(m) {
            // Σ_h (c − L[t−h])² with c = error + L[t−1], over the last m levels
            let c = error + level;
            total += m as f64 * c * c - 2.0 * c * sum + sum_sq;
            count += m;
        }
        level += p.alpha * error;
        season[s] += p.gamma * error;
        // slot t % m holds the level after t; it leaves the window after m more points
        let old = recent[s];
        recent[s] = level;
        sum += level - old;
        sum_sq += level * level - old * old;
    }
    if count == 0 {
        return f64::INFINITY;
    }
    (total / count as f64).max(0.0)
}

/// The classical decomposition's starting state: the seasonal profile (each phase's mean
/// deviation from a centred moving average of one season, over every cycle, normalised to sum
/// to zero) and the mean of the first two seasonally adjusted cycles.
fn initial_state(y: &[f64], m: usize) -> State {
    let n = y.len();
    // centred moving average of order m (2×m for an even m)
    let weights: Vec<f64> = if m.is_multiple_of(2) {
        let mut w = vec![1.0 / m as f64; m + 1];
        w[0] = 0.5 / m as f64;
        w[m] = 0.5 / m as f64;
        w
    } else {
        vec![1.0 / m as f64; m]
    };
    let half = (weights.len() - 1) / 2;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for t in half..n.saturating_sub(weights.len() - 1 - half) {
        if t + weights.len() - half > n {
            break;
        }
        let trend: f64 = weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * y[t - half + k])
            .sum();
        sums[t % m] += y[t] - trend;
        counts[t % m] += 1;
    }
    let mut season: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, c)| if *c > 0 { s / *c as f64 } else { 0.0 })
        .collect();
    let mean = season.iter().sum::<f64>() / m as f64;
    for s in &mut season {
        *s -= mean;
    }
    let first = (2 * m).max(10).min(n);
    let level = (0..first).map(|t| y[t] - season[t % m]).sum::<f64>() / first.max(1) as f64;
    State { level, season }
}

/// Fits α and γ to `y`. The starting state is estimated on the first half of the window (two
/// seasons at least) and the criterion counts only the points after it: a start estimated on the
/// whole window already holds every day's seasonal profile, so in-sample errors would reward a
/// frozen season (γ fitted to 0 on every bench series) that cannot follow a profile that drifts
/// (JFK's day-ahead MASE 0.759 with the whole-window start, 0.726 with this one, over the
/// bench's origins; 0.802 and 0.778 over thirty).
fn fit(y: &[f64], m: usize) -> Fitted {
    let split = (y.len() / 2).max(2 * m).min(y.len());
    let initial = initial_state(&y[..split], m);
    let objective = |x: &[f64]| season_ahead_mse(y, m, params_of(x), &initial, split);
    // α ≈ 0.01, γ ≈ 0.05
    let best = nelder_mead(&objective, vec![-4.6, -2.9], 200, 1.0);
    let params = params_of(&best);
    let mut state = initial.clone();
    let sse = filter(y, 0, m, params, &mut state);
    Fitted {
        params,
        initial,
        sigma: (sse / y.len() as f64).sqrt(),
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Unconstrained coordinates → admissible parameters: α in (0, 1), γ ≤ 1 − α.
fn params_of(x: &[f64]) -> Params {
    let alpha = 0.0001 + 0.9998 * logistic(x[0]);
    let gamma = (1.0 - alpha) * logistic(x[1]);
    Params { alpha, gamma }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::grid::Grid;

    fn grid(values: Vec<f64>) -> Grid {
        Grid {
            start_ms: 0,
            step_ms: 1,
            values,
            regressors: Vec::new(),
            filled: 0,
        }
    }

    fn training<'a>(grid: &'a Grid, periods: &'a [usize], calendar: &'a Calendar) -> Training<'a> {
        Training {
            grid,
            periods,
            calendar,
            ridge: 1.0,
            harmonics: 0,
        }
    }

    /// A daily-like cycle of 12 steps on a slowly rising level, with deterministic noise.
    fn noisy_season(n: usize) -> Vec<f64> {
        let cycle = [
            3.0, 1.0, 0.0, 0.0, 2.0, 8.0, 12.0, 10.0, 9.0, 11.0, 7.0, 5.0,
        ];
        (0..n)
            .map(|t| {
                let noise = ((t * 7919) % 13) as f64 / 13.0 - 0.5;
                50.0 + 0.01 * t as f64 + cycle[t % 12] + noise
            })
            .collect()
    }

    #[test]
    fn a_repeating_season_on_a_level_is_forecast_exactly() {
        let cycle = [5.0, 9.0, 2.0, 7.0];
        let values: Vec<f64> = cycle.iter().cycle().take(40).map(|v| v + 100.0).collect();
        let grid = grid(values);
        let none = Calendar::default();
        let path = HoltWinters
            .fit_predict(&training(&grid, &[4], &none), 6, 0.9)
            .unwrap();
        let expected = [105.0, 109.0, 102.0, 107.0, 105.0, 109.0];
        for (p, e) in path.point.iter().zip(expected) {
            assert!((p - e).abs() < 1e-6, "{:?}", path.point);
        }
    }

    #[test]
    fn the_starting_season_is_the_classical_decomposition_of_the_window() {
        let cycle = [
            3.0, 1.0, 0.0, 0.0, 2.0, 8.0, 12.0, 10.0, 9.0, 11.0, 7.0, 5.0,
        ];
        let mean = cycle.iter().sum::<f64>() / 12.0;
        // a linear trend under the cycle: the moving average removes it exactly
        let y: Vec<f64> = (0..120)
            .map(|t| 20.0 + 0.5 * t as f64 + cycle[t % 12])
            .collect();
        let state = initial_state(&y, 12);
        for (s, c) in state.season.iter().zip(cycle) {
            assert!((s - (c - mean)).abs() < 1e-9, "{:?}", state.season);
        }
        // the first two cycles, adjusted: 20 + mean + 0.5·t averaged over t < 24
        assert!((state.level - (20.0 + mean + 0.5 * 11.5)).abs() < 1e-9);
    }

    #[test]
    fn the_season_ahead_criterion_is_the_mean_of_every_forecast_error_up_to_a_season() {
        let y = noisy_season(60);
        let m = 12;
        let p = Params {
            alpha: 0.3,
            gamma: 0.1,
        };
        let initial = initial_state(&y, m);
        // by brute force: run the filter, forecast 1..=m from every point, compare
        let mut states = Vec::new();
        let mut state = initial.clone();
        for (t, value) in y.iter().enumerate() {
            let s = t % m;
            let error = value - state.level - state.season[s];
            state.level += p.alpha * error;
            state.season[s] += p.gamma * error;
            states.push(state.clone());
        }
        let (mut total, mut count) = (0.0, 0);
        for u in m..y.len() {
            for h in 1..=m {
                let from = &states[u - h];
                let e = y[u] - from.level - from.season[u % m];
                total += e * e;
                count += 1;
            }
        }
        let fast = season_ahead_mse(&y, m, p, &initial, m);
        assert!(
            (fast - total / count as f64).abs() < 1e-9,
            "{fast} vs {}",
            total / count as f64
        );
        // counted from a later point: only the errors at or after it
        let (mut late, mut late_count) = (0.0, 0);
        for u in 30..y.len() {
            for h in 1..=m {
                let from = &states[u - h];
                let e = y[u] - from.level - from.season[u % m];
                late += e * e;
                late_count += 1;
            }
        }
        let fast = season_ahead_mse(&y, m, p, &initial, 30);
        assert!((fast - late / late_count as f64).abs() < 1e-9);
    }

    #[test]
    fn filtering_forward_gives_what_the_fitted_parameters_forecast_at_each_origin() {
        let grid = grid(noisy_season(120));
        let none = Calendar::default();
        let t = training(&grid, &[12], &none);
        let origins = [84, 96, 108];
        let backtest = HoltWinters.backtest(&t, &origins, 6, 9, 0.9).unwrap();
        // the same parameters and starting state, run by hand to each origin
        let fitted = fit(&grid.values[..84], 12);
        for (origin, fold) in origins.iter().zip(&backtest.folds) {
            let mut state = fitted.initial.clone();
            filter(&grid.values[..*origin], 0, 12, fitted.params, &mut state);
            for (h, p) in fold.point.iter().enumerate() {
                let expected = state.level + state.season[(origin + h) % 12];
                assert!((p - expected).abs() < 1e-9);
            }
        }
        // the oldest fold is exactly a fit to its prefix
        let prefix = grid.prefix(84);
        let refit = HoltWinters
            .fit_predict(&training(&prefix, &[12], &none), 6, 0.9)
            .unwrap();
        assert_eq!(refit, backtest.folds[0]);
        let last = backtest.last.expect("the path from the end");
        assert_eq!(last.point.len(), 9);
    }

    #[test]
    fn a_known_season_is_recovered_through_noise() {
        let y = noisy_season(240);
        let grid = grid(y.clone());
        let none = Calendar::default();
        let path = HoltWinters
            .fit_predict(&training(&grid, &[12], &none), 12, 0.9)
            .unwrap();
        let cycle = [
            3.0, 1.0, 0.0, 0.0, 2.0, 8.0, 12.0, 10.0, 9.0, 11.0, 7.0, 5.0,
        ];
        for (h, p) in path.point.iter().enumerate() {
            let t = 240 + h;
            let truth = 50.0 + 0.01 * t as f64 + cycle[t % 12];
            assert!((p - truth).abs() < 0.5, "step {h}: {p} vs {truth}");
        }
    }

    #[test]
    fn a_season_that_drifts_is_followed_rather_than_averaged() {
        // the daily profile moves from one cycle to another across the window
        let (from, to) = (
            [
                3.0, 1.0, 0.0, 0.0, 2.0, 8.0, 12.0, 10.0, 9.0, 11.0, 7.0, 5.0,
            ],
            [1.0, 0.0, 0.0, 4.0, 10.0, 12.0, 9.0, 6.0, 5.0, 7.0, 9.0, 4.0],
        );
        let n = 360;
        let truth = |t: usize| {
            let w = t as f64 / n as f64;
            50.0 + (1.0 - w) * from[t % 12] + w * to[t % 12]
        };
        let y: Vec<f64> = (0..n)
            .map(|t| truth(t) + ((t * 7919) % 13) as f64 / 13.0 - 0.5)
            .collect();
        let fitted = fit(&y, 12);
        assert!(fitted.params.gamma > 0.01, "{:?}", fitted.params);
        let grid = grid(y.clone());
        let none = Calendar::default();
        let path = HoltWinters
            .fit_predict(&training(&grid, &[12], &none), 12, 0.9)
            .unwrap();
        // the window's average profile, which a frozen season would repeat
        // (with the next day's true level: the best such a forecast could do)
        let average = initial_state(&y, 12);
        let level = (n..n + 12).map(truth).sum::<f64>() / 12.0;
        let (mut followed, mut averaged) = (0.0, 0.0);
        for (h, p) in path.point.iter().enumerate() {
            let t = n + h;
            followed += (p - truth(t)).abs();
            averaged += (level + average.season[t % 12] - truth(t)).abs();
        }
        assert!(followed < 0.5 * averaged, "{followed} vs {averaged}");
    }
}
