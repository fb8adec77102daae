//! Prophet's design, read off a [`Training`]: how y and time are scaled, where the trend may
//! change slope, and the feature row of any grid point (past or future).
//!
//! Every parameter of Prophet's linear-growth model enters the fitted value linearly:
//! `(k + Σ_j a_j(t)·δ_j)·t + (m + Σ_j a_j(t)·(−s_j·δ_j))` is `k·t + m + Σ_j δ_j·(t − s_j)₊`
//! (the continuity offset γ_j = −s_j·δ_j folded in). So a row is
//! `[t, 1, (t − s_1)₊ … (t − s_S)₊, features…]` and the parameter vector is
//! `[k, m, δ_1 … δ_S, β…]`.

use std::f64::consts::TAU;

use super::super::Training;
use crate::models::linear::known_index;

/// Prophet's default: 25 potential changepoints…
const CHANGEPOINTS: usize = 25;
/// …placed uniformly in the first 80% of the history (`changepoint_range`).
const CHANGEPOINT_RANGE: f64 = 0.8;
const DAY_MS: f64 = 86_400_000.0;

/// One Fourier series: `order` sine/cosine pairs of a period given in days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Season {
    pub period_days: f64,
    pub order: usize,
}

/// How an extra regressor enters: `(x − mu) / std`, as Prophet standardises it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Regressor {
    index: usize,
    mu: f64,
    std: f64,
}

/// What kind of column, for its prior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Column {
    /// k and m: Normal(0, 5).
    Trend,
    /// δ_j: Laplace(0, changepoint_prior_scale).
    Changepoint,
    /// β of a seasonality, the holiday indicator or a regressor: Normal(0, 10).
    Feature,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    start_ms: i64,
    span_ms: f64,
    /// Prophet's `absmax` scaling: y is divided by max|y| (1 for an all-zero history).
    pub y_scale: f64,
    /// Changepoint locations on the scaled time axis, ascending, all in (0, 0.8].
    pub changepoints: Vec<f64>,
    pub seasons: Vec<Season>,
    holiday: bool,
    regressors: Vec<Regressor>,
    /// The shortest season in grid steps: where a regressor's future is read (see `known_index`).
    shortest_season: Option<usize>,
    history_len: usize,
}

impl Design {
    pub fn new(t: &Training) -> Design {
        let grid = t.grid;
        let n = grid.len();
        let absmax = grid.values.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let y_scale = if absmax > 0.0 { absmax } else { 1.0 };
        let span_ms = ((n.max(2) - 1) as i64 * grid.step_ms) as f64;
        let seasons = t
            .periods
            .iter()
            .filter_map(|p| season_of(*p, grid.step_ms))
            .collect();
        let holiday = (0..n).any(|i| t.calendar.is_holiday(grid.time_of(i)));
        let regressors = grid
            .regressors
            .iter()
            .enumerate()
            .filter_map(|(index, r)| standardise(index, &r[..n]))
            .collect();
        Design {
            start_ms: grid.start_ms,
            span_ms,
            y_scale,
            changepoints: changepoints(n),
            seasons,
            holiday,
            regressors,
            shortest_season: t.periods.first().copied(),
            history_len: n,
        }
    }

    /// Columns of a row: k, m, the changepoints, then the features.
    pub fn width(&self) -> usize {
        2 + self.changepoints.len() + self.feature_count()
    }

    fn feature_count(&self) -> usize {
        self.seasons.iter().map(|s| 2 * s.order).sum::<usize>()
            + usize::from(self.holiday)
            + self.regressors.len()
    }

    pub fn columns(&self) -> Vec<Column> {
        let mut kinds = vec![Column::Trend, Column::Trend];
        kinds.extend(self.changepoints.iter().map(|_| Column::Changepoint));
        kinds.extend((0..self.feature_count()).map(|_| Column::Feature));
        kinds
    }

    /// Scaled time of grid point `i`: 0 at the first point, 1 at the last, beyond 1 ahead.
    pub fn scaled_time(&self, t: &Training, i: usize) -> f64 {
        (t.grid.time_of(i) - self.start_ms) as f64 / self.span_ms
    }

    /// The row of grid point `i` (which may lie past the end of the history) into `out`.
    pub fn row(&self, t: &Training, i: usize, out: &mut Vec<f64>) {
        out.clear();
        let at_ms = t.grid.time_of(i);
        let time = self.scaled_time(t, i);
        out.push(time);
        out.push(1.0);
        out.extend(self.changepoints.iter().map(|s| (time - s).max(0.0)));
        // Prophet reads seasonality on the `ds` it is given, which people give on their local
        // clock: the morning peak stays at 08:00 local across a change of clocks.
        let days = t.calendar.zone().local_ms(at_ms) as f64 / DAY_MS;
        for season in &self.seasons {
            let angle = TAU * days / season.period_days;
            for order in 1..=season.order {
                let (sin, cos) = (angle * order as f64).sin_cos();
                out.push(sin);
                out.push(cos);
            }
        }
        if self.holiday {
            out.push(f64::from(u8::from(t.calendar.is_holiday(at_ms))));
        }
        let known = known_index(i, self.history_len, self.shortest_season);
        out.extend(
            self.regressors
                .iter()
                .map(|r| (t.grid.regressors[r.index][known] - r.mu) / r.std),
        );
    }
}

/// Prophet's changepoints for a history of `n` points: at most 25 (fewer when the first 80%
/// holds fewer than 26 points), at rounded, evenly spaced indices of that 80%, the first index
/// (the start) left out. On the scaled time axis of a regular grid, index i is i/(n−1).
fn changepoints(n: usize) -> Vec<f64> {
    let hist_size = (n as f64 * CHANGEPOINT_RANGE).floor() as usize;
    let count = CHANGEPOINTS.min(hist_size.saturating_sub(1));
    if count == 0 || n < 2 {
        return Vec::new();
    }
    let last = (hist_size - 1) as f64;
    (1..=count)
        .map(|j| {
            // numpy's linspace(0, hist_size − 1, count + 1).round(): ties to even
            let index = (last * j as f64 / count as f64).round_ties_even();
            index / (n - 1) as f64
        })
        .collect()
}

/// The Fourier order Prophet uses by default for a period of this length: 4 for a daily
/// season, 3 for a weekly one, 10 for a yearly one. Periods in between take the order of the
/// nearest of those by length: under 3.5 days is daily-like (4), under 60 days weekly-like (3),
/// longer yearly-like (10). An order never exceeds what the grid can resolve (below half the
/// period in steps); a period of fewer than 3 steps has no such series and is left out.
fn season_of(period_steps: usize, step_ms: i64) -> Option<Season> {
    let period_days = period_steps as f64 * step_ms as f64 / DAY_MS;
    let default = if period_days < 3.5 {
        4
    } else if period_days < 60.0 {
        3
    } else {
        10
    };
    let order = default.min(period_steps.saturating_sub(1) / 2);
    (order > 0 && period_days > 0.0).then_some(Season { period_days, order })
}

/// Prophet's `standardize='auto'`: a 0/1 regressor is kept as is, any other is centred on its
/// mean and divided by its sample standard deviation. A constant regressor says nothing the
/// intercept does not, and gets no column.
fn standardise(index: usize, values: &[f64]) -> Option<Regressor> {
    let n = values.len();
    if n < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let binary = values.iter().all(|v| *v == 0.0 || *v == 1.0)
        && values.contains(&0.0)
        && values.contains(&1.0);
    if binary {
        return Some(Regressor {
            index,
            mu: 0.0,
            std: 1.0,
        });
    }
    let mu = values.iter().sum::<f64>() / n as f64;
    let std = (values.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    (std > 1e-12 * mu.abs().max(1.0)).then_some(Regressor { index, mu, std })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changepoints_are_prophets_25_in_the_first_80_percent() {
        let cps = changepoints(1001);
        assert_eq!(cps.len(), 25);
        // linspace(0, 799, 26).round()[1] = 31.96 → 32; the last is index 799
        assert!((cps[0] - 32.0 / 1000.0).abs() < 1e-12, "{cps:?}");
        assert!((cps[24] - 799.0 / 1000.0).abs() < 1e-12, "{cps:?}");
        assert!(cps.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_short_history_has_fewer_changepoints() {
        // 20 points: hist_size 16, so 15 changepoints at indices 1..=15
        let cps = changepoints(20);
        assert_eq!(cps.len(), 15);
        assert!((cps[0] - 1.0 / 19.0).abs() < 1e-12);
        assert!(changepoints(2).is_empty());
    }

    #[test]
    fn fourier_orders_follow_prophets_defaults_by_period_length() {
        let quarter_hour = 900_000;
        assert_eq!(season_of(96, quarter_hour).unwrap().order, 4);
        assert_eq!(season_of(672, quarter_hour).unwrap().order, 3);
        assert_eq!(season_of(365, 86_400_000).unwrap().order, 10);
        assert_eq!(season_of(7, 86_400_000).unwrap().order, 3);
        // a 5-step season resolves two harmonics at most; 2 steps none
        assert_eq!(season_of(5, quarter_hour).unwrap().order, 2);
        assert_eq!(season_of(2, quarter_hour), None);
    }

    #[test]
    fn regressors_are_standardised_unless_binary_or_constant() {
        let r = standardise(0, &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((r.mu, r.std), (2.0, 1.0));
        let b = standardise(1, &[0.0, 1.0, 1.0]).unwrap();
        assert_eq!((b.mu, b.std), (0.0, 1.0));
        assert_eq!(standardise(2, &[4.0, 4.0, 4.0]), None);
    }
}
