//! Seasonal AutoARIMA with optional regressors (regression with ARIMA errors), in the
//! Hyndman–Khandakar manner of R's `auto.arima` and statsforecast's `AutoARIMA`:
//!
//! 1. the seasonal difference D (0 or 1) by seasonal strength, then regular differences d ≤ 2 by
//!    KPSS tests ([`unit_root`]);
//! 2. a stepwise search over (p, q, P, Q) and the constant (a mean when d + D = 0, a drift when
//!    d + D = 1) by AICc ([`search`]), each candidate fitted by conditional sum of squares with
//!    its regression coefficients jointly ([`css`], [`optimise`]);
//! 3. forecasts with intervals from the psi-weights of the whole model ([`forecast`]).
//!
//! Rolling-origin evaluation fits once, on the oldest fold's history, and runs the residual
//! recursion forward with those orders and coefficients through the later origins and to the
//! end of the history ([`Model::backtest`], [`ArimaFit::filter_over`]): one search serves every
//! fold and the forecast, as for Holt-Winters and MSTL.
//!
//! The season m is the shortest of the template's periods. Written by hand: the Rust ARIMA
//! crates (`anofox-forecast`, `chronos-ts`) bring second copies of nalgebra and wide and a
//! dozen other crates into the build, and fitting by CSS with a Gauss–Newton optimiser is what
//! keeps a refit of a month of quarter-hours (m = 96) within a few tens of milliseconds.
//! The orders are chosen by CSS alone (auto.arima's `approximation`); the chosen model is not
//! refitted by exact likelihood, which would cost a Kalman filter over a state of m + 1 lags.
//!
//! With the template's `harmonics`, the longer periods' Fourier terms join the regressors
//! ([`harmonics`]): their future is known, so they are extended exactly, not carried over.
//!
//! Regressors: y and each regressor are differenced alike, so the coefficient of a regressor
//! is its effect on the level of the series. The forecaster does not know a regressor's
//! future; it follows the linear model's convention (its value one shortest season earlier,
//! else its last value).

mod css;
mod differencing;
mod forecast;
mod harmonics;
mod optimise;
mod polynomial;
mod search;
mod unit_root;

use std::fmt;

use super::linear::known_index;
use crate::grid::Grid;
use presage_template::ModelKind;

use super::{Backtest, Model, ModelError, Path, Training};
use css::{split, Filter, Problem, Workspace};
use differencing::Differencing;
use harmonics::{first_step, Harmonic};
use search::{stepwise, Limits};

pub struct Arima;

/// Regular differences at most.
const MAX_REGULAR_DIFFERENCES: usize = 2;
/// Non-seasonal AR and MA orders at most (auto.arima's defaults).
const MAX_SHORT_ORDER: usize = 5;
/// Seasonal AR and MA orders at most: auto.arima's 2 for short seasons; 1 for long ones
/// (more than [`LONG_SEASON`] steps), where a second seasonal lag costs another whole season of
/// conditioning (two days of quarter-hours) and is estimated from a few dozen seasons only.
/// On the bench's series (m = 48 and 96) allowing 2 changed the mean MASE by under 1% and cost
/// a third more time per refit.
const MAX_SEASONAL_ORDER: usize = 2;
const MAX_LONG_SEASONAL_ORDER: usize = 1;
const LONG_SEASON: usize = 24;
/// Models the stepwise search fits at most. auto.arima allows 94; on the bench's series the
/// search settles after 15–30 (or is still making gains of a fraction of an AICc point), and
/// the cap bounds the cost of a refit.
const MAX_MODELS: usize = 30;
/// The largest lag the search may condition on, as a fraction of the differenced series: the
/// sum of squares always covers at least three quarters of it. With a short history this
/// drops the seasonal AR orders (each costs a season of conditioning) before anything else.
const MAX_CONDITIONING_SHARE: usize = 4;

/// The model a search chose, e.g. `ARIMA(2,0,1)(0,1,1)[96] with drift`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub p: usize,
    pub d: usize,
    pub q: usize,
    pub seasonal_p: usize,
    pub seasonal_d: usize,
    pub seasonal_q: usize,
    /// The season in steps (1 without one).
    pub season: usize,
    pub constant: bool,
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ARIMA({},{},{})", self.p, self.d, self.q)?;
        if self.season > 1 {
            write!(
                f,
                "({},{},{})[{}]",
                self.seasonal_p, self.seasonal_d, self.seasonal_q, self.season
            )?;
        }
        match (self.constant, self.d + self.seasonal_d) {
            (false, _) => Ok(()),
            (true, 0) => write!(f, " with mean"),
            (true, _) => write!(f, " with drift"),
        }
    }
}

/// A fitted model, its coefficients in the series' own units, and what a forecast needs.
pub struct ArimaFit {
    pub spec: Spec,
    /// φ₁ … φ_p.
    pub ar: Vec<f64>,
    /// θ₁ … θ_q (`1 + Σ θᵢ·Bⁱ`).
    pub ma: Vec<f64>,
    pub seasonal_ar: Vec<f64>,
    pub seasonal_ma: Vec<f64>,
    /// The mean of the differenced series (its drift per step when d + D = 1); 0 without one.
    pub constant: f64,
    /// One coefficient per regressor of the grid (0 for a regressor constant after
    /// differencing, which cannot be told from the constant).
    pub regression: Vec<f64>,
    /// Innovation variance.
    pub sigma2: f64,
    pub aicc: f64,
    pub models_tried: usize,
    differencing: Differencing,
    problem_scale: f64,
    /// Scaled parameters, as the problem fitted them.
    params: Vec<f64>,
    /// Per regressor kept: its index among the grid's regressors followed by the harmonics,
    /// and its scale.
    kept: Vec<(usize, f64)>,
    /// Fourier terms of the longer seasons, regressors after the grid's own.
    harmonics: Vec<Harmonic>,
    /// The absolute step index of the history's first point (the harmonics' phase).
    first_step: i64,
    /// Innovations are summed from this point of the differenced series on.
    start: usize,
    filter: Filter,
    work: Workspace,
    history: Vec<f64>,
    regressors: Vec<Vec<f64>>,
    shortest_period: Option<usize>,
}

impl Model for Arima {
    fn kind(&self) -> ModelKind {
        ModelKind::Arima
    }

    /// Two seasons for the seasonal-strength test and the seasonal difference, and a few points
    /// to fit on; 20 without a season.
    fn min_points(&self, periods: &[usize]) -> Result<usize, ModelError> {
        Ok(season_of(periods).map_or(20, |m| 2 * m + 10))
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        Ok(Arima::fit(t)?.forecast(horizon, level))
    }

    fn filters_forward(&self) -> bool {
        true
    }

    /// One search and fit on the oldest origin's prefix; every later origin and the end of the
    /// history get the same model filtered over their own prefix ([`ArimaFit::filter_over`]).
    fn backtest(
        &self,
        t: &Training,
        origins: &[usize],
        horizon: usize,
        path_len: usize,
        level: f64,
    ) -> Result<Backtest, ModelError> {
        let first = origins.first().copied().unwrap_or(t.grid.len());
        let oldest = t.grid.prefix(first);
        let fit = Arima::fit(&Training {
            grid: &oldest,
            ..*t
        })?;
        let mut folds = Vec::with_capacity(origins.len());
        for origin in origins {
            if *origin == first {
                folds.push(fit.forecast(horizon, level));
            } else {
                let filtered = fit.filter_over(&t.grid.prefix(*origin))?;
                folds.push(filtered.forecast(horizon, level));
            }
        }
        let last = fit.filter_over(t.grid)?.forecast(path_len, level);
        Ok(Backtest {
            folds,
            last: Some(last),
        })
    }
}

fn season_of(periods: &[usize]) -> Option<usize> {
    periods.first().copied().filter(|m| *m >= 2)
}

impl Arima {
    /// Chooses the differences and orders and fits the model.
    pub fn fit(t: &Training) -> Result<ArimaFit, ModelError> {
        Arima.check_length(t)?;
        let y = &t.grid.values;
        if y.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Failed(
                "the series has non-finite values".into(),
            ));
        }
        let season = season_of(t.periods);
        let m = season.unwrap_or(1);
        let seasonal_d = season.map_or(0, |m| unit_root::seasonal_differences(y, m));
        let seasonally = Differencing {
            regular: 0,
            seasonal: seasonal_d,
            season: m,
        };
        let d = unit_root::regular_differences(&seasonally.apply(y), MAX_REGULAR_DIFFERENCES);
        let differencing = Differencing {
            regular: d,
            ..seasonally
        };

        let w = differencing.apply(y);
        let problem_scale = spread(&w).max(1e-9 * (1.0 + mean_abs(&w)));
        let harmonics = harmonics::for_periods(t.periods, y.len(), t.harmonics);
        let first_step = first_step(t.grid);
        let own = t.grid.regressors.len();
        let mut kept = Vec::new();
        let mut x = Vec::new();
        for r in 0..own + harmonics.len() {
            let series = design_column(t.grid, own, &harmonics, first_step, r)?;
            let differenced = differencing.apply(&series);
            let scale = spread(&differenced);
            if scale > 1e-12 * (1.0 + mean_abs(&differenced)) {
                kept.push((r, scale));
                x.push(differenced.iter().map(|v| v / scale).collect());
            }
        }

        let n_w = w.len();
        let max_lag = n_w / MAX_CONDITIONING_SHARE;
        let max_p = MAX_SHORT_ORDER.min(max_lag);
        let max_seasonal = if season.is_some() {
            let cap = if m > LONG_SEASON {
                MAX_LONG_SEASONAL_ORDER
            } else {
                MAX_SEASONAL_ORDER
            };
            (0..=cap)
                .rev()
                .find(|order| max_p + order * m <= max_lag)
                .unwrap_or(0)
        } else {
            0
        };
        let limits = Limits {
            max_p,
            max_q: max_p,
            max_sp: max_seasonal,
            max_sq: max_seasonal,
            constant: d + seasonal_d <= 1,
            max_models: MAX_MODELS,
        };
        let problem = Problem {
            w: w.iter().map(|v| v / problem_scale).collect(),
            x,
            m,
            start: max_p + max_seasonal * m,
        };
        let searched = stepwise(&problem, &limits)
            .ok_or_else(|| ModelError::Failed("no ARIMA order could be fitted".into()))?;
        // polished from where the search left it (kept if polishing fails)
        let best = problem
            .fit(
                searched.best.order,
                searched.best.params.clone(),
                css::FINAL,
            )
            .unwrap_or(searched.best);

        let mut work = Workspace {
            u: Vec::new(),
            e: Vec::new(),
            pad: 0,
        };
        let c = split(&best.order, &best.params);
        let filter = Filter::of(&c, m)
            .filter(|_| problem.run(&best.order, &best.params, &mut work))
            .ok_or_else(|| ModelError::Failed("the chosen model is not admissible".into()))?;
        let mut regression = vec![0.0; t.grid.regressors.len()];
        for ((r, scale), beta) in kept.iter().zip(c.regression) {
            if let Some(coefficient) = regression.get_mut(*r) {
                *coefficient = beta * problem_scale / scale;
            }
        }
        let o = best.order;
        Ok(ArimaFit {
            spec: Spec {
                p: o.p,
                d,
                q: o.q,
                seasonal_p: o.sp,
                seasonal_d,
                seasonal_q: o.sq,
                season: m,
                constant: o.constant,
            },
            ar: c.ar.to_vec(),
            ma: c.ma.to_vec(),
            seasonal_ar: c.seasonal_ar.to_vec(),
            seasonal_ma: c.seasonal_ma.to_vec(),
            constant: c.constant * problem_scale,
            regression,
            sigma2: best.sigma2 * problem_scale * problem_scale,
            aicc: best.aicc,
            models_tried: searched.tried,
            differencing,
            problem_scale,
            params: best.params.clone(),
            kept,
            harmonics,
            first_step,
            start: problem.start,
            filter,
            work,
            history: y.clone(),
            regressors: t.grid.regressors.clone(),
            shortest_period: t.periods.first().copied(),
        })
    }
}

impl ArimaFit {
    /// The same model — differences, orders and coefficients fixed — with its residual
    /// recursion run over `grid`, a history that extends (or is) the one it was fitted to: the
    /// state a forecast from the end of `grid` starts from. The innovation variance is the
    /// mean square of the innovations over `grid`.
    pub fn filter_over(&self, grid: &Grid) -> Result<ArimaFit, ModelError> {
        let y = &grid.values;
        if y.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Failed(
                "the series has non-finite values".into(),
            ));
        }
        // the design is the fitted one: the grid's own regressors, then the harmonics
        if grid.regressors.len() != self.regressors.len() {
            return Err(ModelError::Failed(format!(
                "the model was fitted with {} regressors, the history has {}",
                self.regressors.len(),
                grid.regressors.len()
            )));
        }
        let w = self.differencing.apply(y);
        if w.len() <= self.start {
            return Err(ModelError::TooShort {
                needs: self.history.len(),
                has: y.len(),
            });
        }
        let first_step = first_step(grid);
        let mut x = Vec::with_capacity(self.kept.len());
        for (r, scale) in &self.kept {
            let series =
                design_column(grid, self.regressors.len(), &self.harmonics, first_step, *r)?;
            x.push(
                self.differencing
                    .apply(&series)
                    .iter()
                    .map(|v| v / scale)
                    .collect(),
            );
        }
        let problem = Problem {
            w: w.iter().map(|v| v / self.problem_scale).collect(),
            x,
            m: self.spec.season,
            start: self.start,
        };
        let mut work = Workspace {
            u: Vec::new(),
            e: Vec::new(),
            pad: 0,
        };
        let order = self.order();
        let filter = Filter::of(&split(&order, &self.params), self.spec.season)
            .filter(|_| problem.run(&order, &self.params, &mut work))
            .ok_or_else(|| ModelError::Failed("the fitted model is not admissible".into()))?;
        let innovations = &work.e[work.pad + self.start..];
        let mean_square = innovations.iter().map(|e| e * e).sum::<f64>() / innovations.len() as f64;
        Ok(ArimaFit {
            spec: self.spec.clone(),
            ar: self.ar.clone(),
            ma: self.ma.clone(),
            seasonal_ar: self.seasonal_ar.clone(),
            seasonal_ma: self.seasonal_ma.clone(),
            constant: self.constant,
            regression: self.regression.clone(),
            sigma2: mean_square.max(1e-12) * self.problem_scale * self.problem_scale,
            aicc: self.aicc,
            models_tried: self.models_tried,
            differencing: self.differencing,
            problem_scale: self.problem_scale,
            params: self.params.clone(),
            kept: self.kept.clone(),
            harmonics: self.harmonics.clone(),
            first_step,
            start: self.start,
            filter,
            work,
            history: y.clone(),
            regressors: grid.regressors.clone(),
            shortest_period: self.shortest_period,
        })
    }

    fn order(&self) -> css::Order {
        css::Order {
            p: self.spec.p,
            q: self.spec.q,
            sp: self.spec.seasonal_p,
            sq: self.spec.seasonal_q,
            constant: self.spec.constant,
        }
    }

    /// ψ₀ … ψ_{len−1}: the response of the series to one unit innovation, the same for every
    /// parametrisation of the same model (an AR(1) of φ has ψⱼ = φʲ).
    pub fn psi_weights(&self, len: usize) -> Vec<f64> {
        forecast::psi_weights(&self.filter, &self.differencing, len)
    }

    /// Forecasts `horizon` steps after the history, with bounds at `level`.
    pub fn forecast(&self, horizon: usize, level: f64) -> Path {
        let order = self.order();
        let c = split(&order, &self.params);
        let n = self.history.len();
        let mut future_mean = vec![c.constant; horizon];
        for ((r, scale), beta) in self.kept.iter().zip(c.regression) {
            let extended: Vec<f64> = match self.regressors.get(*r) {
                Some(series) => (0..n + horizon)
                    .map(|i| series[known_index(i, n, self.shortest_period)])
                    .collect(),
                None => {
                    self.harmonics[*r - self.regressors.len()].over(self.first_step, 0, n + horizon)
                }
            };
            let differenced = self.differencing.apply(&extended);
            let future = &differenced[differenced.len() - horizon..];
            for (mean, v) in future_mean.iter_mut().zip(future) {
                *mean += beta * v / scale;
            }
        }
        let state = forecast::State {
            filter: &self.filter,
            work: &self.work,
            differencing: self.differencing,
            history: &self.history,
            scale: self.problem_scale,
            sigma2: self.sigma2,
        };
        let (point, lower, upper) = forecast::forecast(&state, &future_mean, level);
        Path {
            point,
            bounds: Some((lower, upper)),
        }
    }
}

/// Regressor `r` of the design over `grid`: the template's `regressors` of them, then the
/// harmonics.
fn design_column(
    grid: &Grid,
    regressors: usize,
    harmonics: &[Harmonic],
    first_step: i64,
    r: usize,
) -> Result<Vec<f64>, ModelError> {
    if r >= regressors {
        return Ok(harmonics[r - regressors].over(first_step, 0, grid.values.len()));
    }
    let series = grid
        .regressors
        .get(r)
        .filter(|s| s.len() == grid.values.len());
    let Some(series) = series.filter(|s| s.iter().all(|v| v.is_finite())) else {
        return Err(ModelError::Failed(format!(
            "regressor {r} has missing or non-finite values"
        )));
    };
    Ok(series.clone())
}

fn spread(x: &[f64]) -> f64 {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

fn mean_abs(x: &[f64]) -> f64 {
    x.iter().map(|v| v.abs()).sum::<f64>() / x.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;

    fn grid(values: Vec<f64>) -> Grid {
        Grid {
            start_ms: 0,
            step_ms: 1,
            values,
            regressors: Vec::new(),
            filled: 0,
        }
    }

    /// A cycle of 12 steps on a level, with autocorrelated deterministic noise.
    fn seasonal_series(n: usize) -> Vec<f64> {
        let cycle = [
            3.0, 1.0, 0.0, 0.0, 2.0, 8.0, 12.0, 10.0, 9.0, 11.0, 7.0, 5.0,
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = 0.0;
        (0..n)
            .map(|t| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let uniform = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                noise = 0.6 * noise + 2.0 * uniform;
                40.0 + cycle[t % 12] + noise
            })
            .collect()
    }

    /// Dense `(1 + Σ cᵢ·Bⁱ)(1 + Σ Cₖ·B^(k·m))`, index 0 the leading 1.
    fn product(short: &[f64], seasonal: &[f64], m: usize) -> Vec<f64> {
        let mut out = vec![0.0; short.len() + seasonal.len() * m + 1];
        for i in 0..=short.len() {
            for k in 0..=seasonal.len() {
                let a = if i == 0 { 1.0 } else { short[i - 1] };
                let b = if k == 0 { 1.0 } else { seasonal[k - 1] };
                out[i + k * m] += a * b;
            }
        }
        out
    }

    /// The point forecast of `fit`'s model from the end of `y`, computed from its published
    /// coefficients alone: difference, run the residual recursion from the fit's conditioning
    /// point with these coefficients, run it on with zero innovations, undo the differences.
    fn by_hand(fit: &ArimaFit, y: &[f64], horizon: usize) -> Vec<f64> {
        let m = fit.spec.season;
        let mut delta = vec![1.0];
        for lag in
            std::iter::repeat_n(m, fit.spec.seasonal_d).chain(std::iter::repeat_n(1, fit.spec.d))
        {
            let mut next = vec![0.0; delta.len() + lag];
            for (i, c) in delta.iter().enumerate() {
                next[i] += c;
                next[i + lag] -= c;
            }
            delta = next;
        }
        let lost = delta.len() - 1;
        let w: Vec<f64> = (lost..y.len())
            .map(|t| (0..=lost).map(|l| delta[l] * y[t - l]).sum())
            .collect();
        let negated = |x: &[f64]| x.iter().map(|v| -v).collect::<Vec<f64>>();
        let ar = product(&negated(&fit.ar), &negated(&fit.seasonal_ar), m);
        let ma = product(&fit.ma, &fit.seasonal_ma, m);
        let mut u: Vec<f64> = w.iter().map(|v| v - fit.constant).collect();
        let mut e = vec![0.0; u.len()];
        for t in fit.start..u.len() {
            let mut v = u[t];
            for (l, a) in ar.iter().enumerate().skip(1) {
                v += a * u[t - l];
            }
            for (l, b) in ma.iter().enumerate().skip(1) {
                if t >= l {
                    v -= b * e[t - l];
                }
            }
            e[t] = v;
        }
        let mut levels = y.to_vec();
        for _ in 0..horizon {
            let t = u.len();
            let mut v = 0.0;
            for (l, a) in ar.iter().enumerate().skip(1) {
                v -= a * u[t - l];
            }
            for (l, b) in ma.iter().enumerate().skip(1) {
                v += b * e[t - l];
            }
            u.push(v);
            e.push(0.0);
            let s = levels.len();
            let undone =
                fit.constant + v - (1..=lost).map(|l| delta[l] * levels[s - l]).sum::<f64>();
            levels.push(undone);
        }
        levels.split_off(y.len())
    }

    #[test]
    fn filtering_forward_runs_the_oldest_folds_model_on_to_each_origin() {
        let y = seasonal_series(480);
        let grid = grid(y.clone());
        let none = Calendar::default();
        let periods = [12];
        let t = Training {
            grid: &grid,
            periods: &periods,
            calendar: &none,
            ridge: 1.0,
            harmonics: 0,
        };
        let origins = [360, 396, 432];
        let backtest = Arima.backtest(&t, &origins, 12, 18, 0.9).unwrap();

        // the oldest fold is exactly a fit to its prefix
        let prefix = grid.prefix(360);
        let oldest = Training { grid: &prefix, ..t };
        assert_eq!(
            Arima.fit_predict(&oldest, 12, 0.9).unwrap(),
            backtest.folds[0]
        );

        // later folds and the path from the end: that model's coefficients, run by hand
        let fit = Arima::fit(&oldest).unwrap();
        assert!(
            !fit.ar.is_empty() || !fit.ma.is_empty() || fit.spec.seasonal_d > 0,
            "a model with some dynamics to filter: {}",
            fit.spec
        );
        let last = backtest.last.as_ref().expect("the path from the end");
        let checks = origins
            .iter()
            .zip(&backtest.folds)
            .map(|(origin, fold)| (*origin, fold))
            .chain([(480, last)]);
        for (origin, path) in checks {
            let expected = by_hand(&fit, &y[..origin], path.point.len());
            for (p, e) in path.point.iter().zip(&expected) {
                assert!((p - e).abs() < 1e-8, "origin {origin}: {p} vs {e}");
            }
        }
        assert_eq!(last.point.len(), 18);
        let (lower, upper) = last.bounds.as_ref().expect("bounds");
        assert!(lower.iter().zip(upper).all(|(l, u)| l < u));
    }
}
