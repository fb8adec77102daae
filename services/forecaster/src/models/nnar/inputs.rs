//! What a network sees at grid point `i`: the scaled series at its lags (1..p, then the
//! seasonal lags m..P·m of the shortest season, then one lag of each longer season the history
//! covers twice), and the exogenous columns: the calendar on the template's local clock (time
//! of day and of week as sine and cosine, a rest-day flag for weekends and holidays, a holiday
//! flag) and the template's regressors. Every column is standardised on the training span;
//! columns constant there (no holidays, a daily grid's time of day) are left out.
//!
//! A regressor's future is unknown: it takes its value one shortest season earlier, else its
//! last value. The rule is the linear model's (`known_index` in models/linear.rs, called here), so
//! that both models read the future the same way.

use std::f64::consts::TAU;

use presage_template::calendar::weekday;

use super::super::Training;
use crate::models::linear::known_index;

const DAY_MS: i64 = 86_400_000;

pub struct Design {
    /// Lags of the target, ascending.
    pub lags: Vec<usize>,
    /// Standardised exogenous columns, row-major, for points 0..len+horizon.
    exogenous: Vec<f64>,
    exogenous_width: usize,
    pub mean: f64,
    pub sd: f64,
}

impl Design {
    /// `p` plain lags, `seasonal` lags of the shortest season; exogenous columns for the
    /// training span and `horizon` points after it.
    pub fn new(t: &Training, p: usize, seasonal: usize, horizon: usize) -> Design {
        let n = t.grid.len();
        let values = &t.grid.values;
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let (exogenous, exogenous_width) = exogenous_columns(t, n + horizon);
        Design {
            lags: lags(t.periods, n, p, seasonal),
            exogenous,
            exogenous_width,
            mean,
            sd,
        }
    }

    pub fn width(&self) -> usize {
        self.lags.len() + self.exogenous_width
    }

    pub fn longest_lag(&self) -> usize {
        self.lags.last().copied().unwrap_or(0)
    }

    pub fn scale(&self, value: f64) -> f64 {
        (value - self.mean) / self.sd
    }

    pub fn unscale(&self, value: f64) -> f64 {
        value * self.sd + self.mean
    }

    /// The inputs for point `i` into `row`, from `series` (scaled; at least `i` long: the
    /// training values then any forecasts).
    pub fn row_into(&self, series: &[f64], i: usize, row: &mut [f64]) {
        let (own, exogenous) = row.split_at_mut(self.lags.len());
        for (slot, lag) in own.iter_mut().zip(&self.lags) {
            *slot = series[i - lag];
        }
        let w = self.exogenous_width;
        exogenous.copy_from_slice(&self.exogenous[i * w..(i + 1) * w]);
    }
}

/// 1..=p, then m, 2m … seasonal·m, then each longer period covered twice by the history.
fn lags(periods: &[usize], len: usize, p: usize, seasonal: usize) -> Vec<usize> {
    let mut lags: Vec<usize> = (1..=p).collect();
    if let Some(&m) = periods.first() {
        lags.extend((1..=seasonal).map(|k| k * m));
        lags.extend(periods[1..].iter().filter(|&&long| len >= 2 * long));
    }
    lags.sort_unstable();
    lags.dedup();
    lags
}

/// Calendar and regressor columns for points 0..total, standardised on the training span;
/// constant columns dropped. Returns the row-major matrix and its width.
fn exogenous_columns(t: &Training, total: usize) -> (Vec<f64>, usize) {
    let n = t.grid.len();
    let season = t.periods.first().copied();
    let zone = t.calendar.zone();
    let mut columns: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(total)).collect();
    for i in 0..total {
        let at = t.grid.time_of(i);
        let local = zone.local_ms(at);
        let day = local.rem_euclid(DAY_MS) as f64 / DAY_MS as f64;
        let weekday = weekday(local);
        let week = (f64::from(weekday) + day) / 7.0;
        let holiday = t.calendar.is_holiday(at);
        let rest_day = weekday >= 5 || holiday;
        for (column, value) in columns.iter_mut().zip([
            (TAU * day).sin(),
            (TAU * day).cos(),
            (TAU * week).sin(),
            (TAU * week).cos(),
            f64::from(u8::from(rest_day)),
            f64::from(u8::from(holiday)),
        ]) {
            column.push(value);
        }
    }
    for regressor in &t.grid.regressors {
        columns.push(
            (0..total)
                .map(|i| regressor[known_index(i, n, season)])
                .collect(),
        );
    }
    let kept: Vec<Vec<f64>> = columns
        .into_iter()
        .filter_map(|column| standardised(column, n))
        .collect();
    let width = kept.len();
    let mut matrix = Vec::with_capacity(total * width);
    for i in 0..total {
        matrix.extend(kept.iter().map(|column| column[i]));
    }
    (matrix, width)
}

/// The column less its training mean over its training standard deviation; `None` when it is
/// constant (or not a number) over the training span.
fn standardised(mut column: Vec<f64>, training: usize) -> Option<Vec<f64>> {
    let span = &column[..training];
    let mean = span.iter().sum::<f64>() / training as f64;
    let sd = (span.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / training as f64).sqrt();
    if sd.is_nan() || sd <= 1e-9 {
        return None;
    }
    for v in column.iter_mut() {
        *v = (*v - mean) / sd;
    }
    Some(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::grid::Grid;

    fn grid(len: usize, regressors: Vec<Vec<f64>>) -> Grid {
        Grid {
            start_ms: 0,
            step_ms: 3_600_000,
            values: (0..len).map(|i| i as f64).collect(),
            regressors,
            filled: 0,
        }
    }

    #[test]
    fn lags_are_plain_then_seasonal_then_each_longer_season_seen_twice() {
        assert_eq!(lags(&[24, 168], 300, 3, 1), vec![1, 2, 3, 24]);
        assert_eq!(lags(&[24, 168], 336, 3, 2), vec![1, 2, 3, 24, 48, 168]);
        assert_eq!(lags(&[2], 100, 3, 1), vec![1, 2, 3]);
        assert_eq!(lags(&[], 100, 2, 1), vec![1, 2]);
    }

    #[test]
    fn a_row_reads_the_lags_and_the_standardised_calendar() {
        let g = grid(96, vec![]);
        let calendar = Calendar::default();
        let t = Training {
            grid: &g,
            periods: &[24],
            calendar: &calendar,
            ridge: 1.0,
            harmonics: 0,
        };
        let design = Design::new(&t, 2, 1, 4);
        // hourly from a Thursday midnight for four days: time of day (2), time of week (2)
        // and the rest-day flag (a Sunday is in span) vary; no holidays: that column is gone
        assert_eq!(design.width(), 3 + 5);
        let series: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let mut row = vec![0.0; design.width()];
        design.row_into(&series, 99, &mut row);
        assert_eq!(&row[..3], &[98.0, 97.0, 75.0]);
        // point 99 is 03:00: the same time of day as point 3, a day apart
        let mut earlier = vec![0.0; design.width()];
        design.row_into(&series, 27, &mut earlier);
        assert!((row[3] - earlier[3]).abs() < 1e-9 && (row[4] - earlier[4]).abs() < 1e-9);
    }

    #[test]
    fn future_regressors_repeat_the_newest_season_or_hold_the_last_value() {
        // and the design reads them so: a regressor 0,1,2,…,9 with season 4
        let g = grid(10, vec![(0..10).map(f64::from).collect()]);
        let calendar = Calendar::default();
        let t = Training {
            grid: &g,
            periods: &[4],
            calendar: &calendar,
            ridge: 1.0,
            harmonics: 0,
        };
        let design = Design::new(&t, 1, 1, 5);
        let series = vec![0.0; 15];
        let regressor_at = |i| {
            let mut row = vec![0.0; design.width()];
            design.row_into(&series, i, &mut row);
            row[design.width() - 1]
        };
        assert_eq!(regressor_at(14), regressor_at(6));
        assert_eq!(regressor_at(11), regressor_at(7));
    }
}
