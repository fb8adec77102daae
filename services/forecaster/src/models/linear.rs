//! Linear regression on calendar features and external regressors, with a ridge penalty.
//!
//! Features at a window start, on the local clock of the template's `timezone` (UTC without
//! one): the hour of day separately for weekdays and weekends (the daily shape of a Monday is not
//! a Sunday's), the weekday, a holiday flag from the template's dates (whole local days), and
//! each regressor the template names. Local time is what people live by: at a change of clocks
//! the morning peak moves an hour in UTC and stays put on the local clock. A regressor's future is unknown to the
//! forecaster, so it is forecast by seasonal naive (its value one shortest season earlier), or
//! held at its last value without a season; the rolling-origin evaluation does the same, so the
//! model's score is honest about it.

use presage_template::ModelKind;

use super::ridge::{self, RidgeFit};
use super::{Model, ModelError, Path, Training};
use crate::calendar::Calendar;
use crate::intervals::quantile;

pub struct Linear;

/// Calendar columns: 48 hour-by-day-type, 7 weekday, 1 holiday.
const CALENDAR_COLUMNS: usize = 48 + 7 + 1;

impl Model for Linear {
    fn kind(&self) -> ModelKind {
        ModelKind::Linear
    }

    fn min_points(&self, _periods: &[usize]) -> Result<usize, ModelError> {
        Ok(48)
    }

    fn fit_predict(&self, t: &Training, horizon: usize, level: f64) -> Result<Path, ModelError> {
        let fit = Linear::fit(t)?;
        let grid = t.grid;
        let n = grid.len();
        let residuals: Vec<f64> = (0..n)
            .map(|i| (grid.values[i] - fit.predict(&row(t, i))).abs())
            .collect();
        let half_width = quantile(&residuals, level).unwrap_or(0.0);
        let point: Vec<f64> = (n..n + horizon).map(|i| fit.predict(&row(t, i))).collect();
        let lower = point.iter().map(|p| p - half_width).collect();
        let upper = point.iter().map(|p| p + half_width).collect();
        Ok(Path {
            point,
            bounds: Some((lower, upper)),
        })
    }
}

impl Linear {
    /// The fitted map: calendar columns first, then the regressors in template order.
    pub fn fit(t: &Training) -> Result<RidgeFit, ModelError> {
        self::Linear.check_length(t)?;
        let n = t.grid.len();
        let rows: Vec<Vec<f64>> = (0..n).map(|i| row(t, i)).collect();
        ridge::fit(&rows, &t.grid.values, t.ridge)
            .ok_or_else(|| ModelError::Failed("the normal equations are singular".into()))
    }

    /// Index of regressor `r`'s coefficient in [`Linear::fit`]'s output.
    pub fn regressor_column(r: usize) -> usize {
        CALENDAR_COLUMNS + r
    }
}

/// The feature row for grid point `i`, which may lie past the end of the grid (a future point).
fn row(t: &Training, i: usize) -> Vec<f64> {
    let mut features = calendar_features(t.grid.time_of(i), t.calendar);
    let known = known_index(i, t.grid.len(), t.periods.first().copied());
    features.extend(t.grid.regressors.iter().map(|r| r[known]));
    features
}

/// Where a regressor's value for point `i` is read: itself when known, else the same phase of
/// the newest season (seasonal naive), else the newest point.
pub(crate) fn known_index(i: usize, len: usize, season: Option<usize>) -> usize {
    if i < len {
        return i;
    }
    match season {
        Some(m) if m > 0 && len >= m => {
            let seasons_back = (i - len + 1).div_ceil(m);
            i - seasons_back * m
        }
        _ => len - 1,
    }
}

/// The calendar columns at an instant, read on the calendar's zone.
pub fn calendar_features(at_ms: i64, calendar: &Calendar) -> Vec<f64> {
    let mut features = vec![0.0; CALENDAR_COLUMNS];
    let zone = calendar.zone();
    let weekday = zone.weekday(at_ms) as usize;
    let holiday = calendar.is_holiday(at_ms);
    let day_type = usize::from(weekday >= 5 || holiday);
    features[day_type * 24 + zone.hour_of_day(at_ms) as usize] = 1.0;
    features[48 + weekday] = 1.0;
    features[55] = f64::from(u8::from(holiday));
    features
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::calendar::{parse_date, parse_timestamp};
    use presage_template::Zone;

    #[test]
    fn future_regressors_repeat_the_newest_season_or_hold_the_last_value() {
        // 10 known points, season 4: point 10 reads 6, point 13 reads 9, point 14 reads 6
        assert_eq!(known_index(10, 10, Some(4)), 6);
        assert_eq!(known_index(13, 10, Some(4)), 9);
        assert_eq!(known_index(14, 10, Some(4)), 6);
        assert_eq!(known_index(12, 10, None), 9);
        assert_eq!(known_index(3, 10, None), 3);
    }

    #[test]
    fn calendar_features_mark_hour_by_day_type_weekday_and_holiday() {
        // 2013-12-25 (a Wednesday, and a holiday here) at 14:00 UTC
        let day = parse_date("2013-12-25").unwrap();
        let at = day * 86_400_000 + 14 * 3_600_000;
        let f = calendar_features(at, &Calendar::new(Zone::UTC, [day]));
        // a holiday takes the weekend's daily shape
        assert_eq!(f[24 + 14], 1.0);
        assert_eq!(f[48 + 2], 1.0);
        assert_eq!(f[55], 1.0);
        assert_eq!(f.iter().sum::<f64>(), 3.0);
    }

    /// (hour column, weekday, holiday) set in the features at `at`.
    fn marked(at: &str, calendar: &Calendar) -> (usize, usize, bool) {
        let f = calendar_features(parse_timestamp(at).unwrap(), calendar);
        let hour = f[..48].iter().position(|v| *v == 1.0).unwrap();
        let weekday = f[48..55].iter().position(|v| *v == 1.0).unwrap();
        (hour, weekday, f[55] == 1.0)
    }

    #[test]
    fn the_hour_columns_follow_the_local_clock_across_daylight_saving_changes() {
        let london = Calendar::new("Europe/London".parse().unwrap(), []);
        // Friday 2026-03-27 08:00 GMT and Monday 2026-03-30 08:00 BST: the same column.
        assert_eq!(marked("2026-03-27T08:00:00Z", &london), (8, 4, false));
        assert_eq!(marked("2026-03-30T07:00:00Z", &london), (8, 0, false));
        // In UTC, the Monday reads an hour earlier.
        let utc = Calendar::default();
        assert_eq!(marked("2026-03-30T07:00:00Z", &utc), (7, 0, false));
        // New York after its clocks went back (2026-11-01): 09:00 EST is 14:00 UTC; on the
        // Sunday itself, 01:30 shows twice and both take the weekend's 01:00 column.
        let new_york = Calendar::new("America/New_York".parse().unwrap(), []);
        assert_eq!(marked("2026-11-02T14:00:00Z", &new_york), (9, 0, false));
        assert_eq!(
            marked("2026-11-01T05:30:00Z", &new_york),
            (24 + 1, 6, false)
        );
        assert_eq!(
            marked("2026-11-01T06:30:00Z", &new_york),
            (24 + 1, 6, false)
        );
    }

    #[test]
    fn a_holiday_marks_the_local_day_and_takes_the_weekend_shape() {
        // Thanksgiving, Thursday 2026-11-26, in New York: from 05:00 UTC that day.
        let thanksgiving = parse_date("2026-11-26").unwrap();
        let new_york = Calendar::new("America/New_York".parse().unwrap(), [thanksgiving]);
        assert_eq!(marked("2026-11-26T04:30:00Z", &new_york), (23, 2, false));
        assert_eq!(marked("2026-11-26T05:30:00Z", &new_york), (24, 3, true));
        assert_eq!(
            marked("2026-11-27T04:30:00Z", &new_york),
            (24 + 23, 3, true)
        );
        assert_eq!(marked("2026-11-27T05:30:00Z", &new_york), (0, 4, false));
    }
}
