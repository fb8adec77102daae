//! AutoETS without seasonality (augurs'; its seasonal ETS is not implemented), and MSTL: several
//! seasonal periods removed by STL (stlrs, through augurs, in f64, each seasonal smoother
//! evaluated at every point as statsmodels' STL does), the seasonally adjusted rest forecast
//! by non-seasonal ETS chosen by AICc ([`trend_ets`], ours so that one fit can be filtered
//! forward through the evaluation's origins), each seasonal component's last cycle repeated.

use augurs::ets::AutoETS;
use augurs::mstl::stlrs::{MstlParams, StlParams};
use augurs::{Fit, Predict};
use presage_template::ModelKind;

use super::trend_ets::{self, TrendFit, TrendState};
use super::{Backtest, Model, ModelError, Path, Training};

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
        let y = &t.grid.values;
        let fitted = Decomposed::fit(y, t.periods)?;
        let mut state = fitted.trend.initial;
        fitted.trend.filter(&fitted.adjusted, &mut state);
        Ok(fitted.forecast(&state, y.len(), horizon, level))
    }

    fn filters_forward(&self) -> bool {
        true
    }

    /// One decomposition and one trend fit, on the oldest fold's history; at later origins the
    /// seasonal components are those the fit would forecast (each one's last cycle repeated), the
    /// adjusted series is the history minus them, and the trend model is filtered through it
    /// with its parameters fixed.
    fn backtest(
        &self,
        t: &Training,
        origins: &[usize],
        horizon: usize,
        _path_len: usize,
        level: f64,
    ) -> Result<Backtest, ModelError> {
        let y = &t.grid.values;
        let first = origins.first().copied().unwrap_or(y.len());
        let needs = self.min_points(t.periods)?;
        if first < needs {
            return Err(ModelError::TooShort { needs, has: first });
        }
        let fitted = Decomposed::fit(&y[..first], t.periods)?;
        let mut state = fitted.trend.initial;
        fitted.trend.filter(&fitted.adjusted, &mut state);
        let mut at = first;
        let mut folds = Vec::with_capacity(origins.len());
        for origin in origins {
            let adjusted: Vec<f64> = (at..*origin)
                .map(|i| y[i] - fitted.seasonal_at(i))
                .collect();
            fitted.trend.filter(&adjusted, &mut state);
            at = *origin;
            folds.push(fitted.forecast(&state, at, horizon, level));
        }
        Ok(Backtest { folds, last: None })
    }
}

/// An MSTL decomposition of a history and the trend model fitted to its seasonally adjusted
/// part (trend plus remainder).
struct Decomposed {
    /// Each period with its seasonal component over the history.
    seasonal: Vec<(usize, Vec<f64>)>,
    adjusted: Vec<f64>,
    trend: TrendFit,
}

impl Decomposed {
    fn fit(y: &[f64], periods: &[usize]) -> Result<Decomposed, ModelError> {
        // Each seasonal smoother is evaluated at every point of its cycle-subseries (jump 1, as
        // statsmodels' STL under statsforecast's MSTL does), not at every ceil(window/10)-th
        // with straight lines between: a subseries has one point per cycle (28 over four weeks
        // of a daily season, 4 of a weekly one), so interpolating over every other one blurs the
        // season where it changes, and exact smoothing costs O(n · window), a few percent of
        // the decomposition. On JFK's departures the interpolated season cost 0.3% of MASE.
        let mut stl = StlParams::new();
        stl.seasonal_jump(1);
        let (seasonal, trend, remainder) = MstlParams::new()
            .stl_params(stl)
            .fit(y, periods)
            .map_err(|e| ModelError::Failed(e.to_string()))?
            .into_parts();
        let adjusted: Vec<f64> = trend.iter().zip(&remainder).map(|(t, r)| t + r).collect();
        let seasonal = periods.iter().copied().zip(seasonal).collect();
        let trend = trend_ets::fit(&adjusted)
            .ok_or_else(|| ModelError::Failed("too short for the trend model".into()))?;
        Ok(Decomposed {
            seasonal,
            adjusted,
            trend,
        })
    }

    /// The seasonal part at point `i`: fitted within the history, each component's last cycle
    /// repeated beyond it.
    fn seasonal_at(&self, i: usize) -> f64 {
        self.seasonal
            .iter()
            .map(|(period, component)| {
                let n = component.len();
                if i < n {
                    component[i]
                } else {
                    component[n - period + (i - n) % period]
                }
            })
            .sum()
    }

    /// `horizon` steps from `state`, the trend model's state after `n` points.
    fn forecast(&self, state: &TrendState, n: usize, horizon: usize, level: f64) -> Path {
        let [mut point, mut lower, mut upper] = self.trend.forecast(state, horizon, level);
        for h in 0..horizon {
            let s = self.seasonal_at(n + h);
            point[h] += s;
            lower[h] += s;
            upper[h] += s;
        }
        Path {
            point,
            bounds: Some((lower, upper)),
        }
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
