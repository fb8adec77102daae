//! Quiet series: a business-hours service (JFK's departures, weekdays 07:00-21:00 only, from
//! `../shared/data/nyc-departures-15m.csv`) whose recipe says what its quiet windows mean.
//!
//! - `absent: zero`: nights and weekends arrive as windows of 0 with no sample. They are demand:
//!   history holds them (nothing is filled), and the forecast issued at 06:00 on a quiet morning
//!   (at the end of a zero window, hours before any sample) already holds the 07:00 ramp.
//! - `absent: unknown`: they arrive as the unknown marker (NaN, no sample). They are gaps: never
//!   in history (the fit's grid fills them and counts them), yet every one of them gets a
//!   forecast at its end, reaching the horizon, so the planner is fed on a clock all night.

mod common;

use std::collections::HashMap;

use common::*;
use presage_events::{DerivedMetric, Forecast};
use presage_forecaster::Forecaster;

const STEP: i64 = 15 * 60_000;
/// 2013-01-07T00:00:00Z, a Monday.
const JAN7: i64 = 1_357_516_800_000;
/// The forecast read: issued at 06:00 on Tuesday 2013-01-22, the end of the 05:45 window.
const TUESDAY_0600: i64 = JAN7 + 15 * DAY_MS + 6 * HOUR_MS;

fn business_hours(at: i64) -> bool {
    let day = at.div_euclid(DAY_MS);
    let weekday = (day + 3).rem_euclid(7) < 5; // epoch day 0 was a Thursday
    let hour = at.rem_euclid(DAY_MS) / HOUR_MS;
    weekday && (7..21).contains(&hour)
}

/// Every 15-minute window from Monday 2013-01-07 00:00 to Tuesday 2013-01-22 05:45: JFK's
/// departures in business hours, and the quiet marker of `absent` (its value, 0 samples) outside
/// them. Nothing is recorded before the first business window (07:00 on the 7th).
fn windows(quiet_value: f64) -> Vec<DerivedMetric> {
    let jfk: HashMap<i64, f64> = trace("nyc-departures-15m.csv", "airport-jfk", "departures")
        .into_iter()
        .collect();
    let first = JAN7 + 7 * HOUR_MS;
    (0..)
        .map(|i| first + i * STEP)
        .take_while(|at| *at < TUESDAY_0600)
        .map(|at| {
            let mut d = derived(at, STEP, 0.0);
            if business_hours(at) {
                d.value = jfk[&at];
            } else {
                d.value = quiet_value;
                d.sample_count = 0;
            }
            d
        })
        .collect()
}

/// The business-hours template's algorithm (`templates/backtest/business-hours.yaml`) on two
/// weeks of history.
fn forecaster() -> Forecaster {
    let mut f = Forecaster::new();
    f.set_template(
        "v1",
        template(
            "15m",
            "horizon: 2h, models: [holt_winters, seasonal_naive], seasonality: [1d, 7d], \
             interval: 0.9, history: 14d, refit: 1d",
        ),
    );
    f
}

fn run(quiet_value: f64) -> Vec<(DerivedMetric, Vec<Forecast>)> {
    let mut f = forecaster();
    windows(quiet_value)
        .into_iter()
        .map(|d| {
            let forecasts = f.on_derived(&d).expect("on the grid, of a known app");
            (d, forecasts)
        })
        .collect()
}

fn at_0600(run: &[(DerivedMetric, Vec<Forecast>)]) -> &Forecast {
    let (d, forecasts) = run.last().expect("windows");
    assert_eq!(d.window_end_ms, TUESDAY_0600);
    assert_eq!(
        forecasts.len(),
        1,
        "a forecast at the end of the quiet 05:45 window"
    );
    &forecasts[0]
}

/// The forecast's points in [from, to) (grid times, hours of Tuesday).
fn points_between(f: &Forecast, from_hour: i64, to_hour: i64) -> Vec<f64> {
    let day = TUESDAY_0600 - 6 * HOUR_MS;
    f.points
        .iter()
        .filter(|p| p.at_ms >= day + from_hour * HOUR_MS && p.at_ms < day + to_hour * HOUR_MS)
        .map(|p| p.point)
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn nightly_zeros_are_demand_and_the_quiet_morning_forecast_holds_the_0700_ramp() {
    let run = run(0.0);
    let f = at_0600(&run);
    assert_eq!(f.issued_at_ms, TUESDAY_0600);
    assert_eq!(f.points.len(), 8, "the template's 2h horizon");
    assert_eq!(f.points[0].at_ms, TUESDAY_0600, "from the next window on");
    assert_eq!(f.filled_points, 0, "zeros are observations, not gaps");
    let quiet = points_between(f, 6, 7);
    let ramp = points_between(f, 7, 8);
    // JFK's 07:00-08:00 departures on the Tuesdays and Mondays of the history
    let jfk: HashMap<i64, f64> = trace("nyc-departures-15m.csv", "airport-jfk", "departures")
        .into_iter()
        .collect();
    let actual: Vec<f64> = (0..4)
        .map(|q| jfk[&(TUESDAY_0600 + HOUR_MS + q * STEP)])
        .collect();
    assert!(
        mean(&quiet) < 1.0,
        "before opening, about no demand: {quiet:?}"
    );
    assert!(
        mean(&ramp) > 0.5 * mean(&actual),
        "the ramp is forecast before a sample of the day: {ramp:?} vs actual {actual:?}"
    );
    // and zero windows were forecast from all night long, on the clock
    let night_forecasts = run
        .iter()
        .filter(|(d, fs)| d.sample_count == 0 && !fs.is_empty())
        .count();
    let night_windows = run.iter().filter(|(d, _)| d.sample_count == 0).count();
    assert!(night_forecasts as f64 > 0.9 * night_windows as f64);
}

#[test]
fn unknown_windows_are_gaps_in_history_yet_each_is_forecast_through() {
    let run = run(f64::NAN);
    let f = at_0600(&run);
    assert_eq!(f.issued_at_ms, TUESDAY_0600);
    assert_eq!(f.points.len(), 8, "the full horizon across the gap");
    assert_eq!(f.points[0].at_ms, TUESDAY_0600);
    assert!(f.points.iter().all(|p| p.point.is_finite()));
    assert!(
        f.filled_points > 0,
        "the quiet windows are gaps the grid filled: {f:?}"
    );
    // every unknown window after the first business window forecasts, to the horizon, from
    // its end: the clock, not an arrival, drives them
    let quiet: Vec<&(DerivedMetric, Vec<Forecast>)> =
        run.iter().filter(|(d, _)| d.sample_count == 0).collect();
    assert_eq!(
        quiet.len(),
        1436 - 11 * 56,
        "two weekends and eleven nights"
    );
    for (d, forecasts) in &quiet {
        assert_eq!(forecasts.len(), 1, "window at {}", d.window_start_ms);
        let f = &forecasts[0];
        assert_eq!(f.issued_at_ms, d.window_end_ms);
        assert_eq!(f.points.len(), 8, "window at {}", d.window_start_ms);
        assert_eq!(f.points[0].at_ms, d.window_end_ms);
        assert!(f.fitted_at_ms <= d.window_start_ms);
    }
    // gap-filled nights are not zeros: the forecast before opening is not the zero run's
    let zero_run = self::run(0.0);
    let before_opening = mean(&points_between(f, 6, 7));
    let with_zeros = mean(&points_between(at_0600(&zero_run), 6, 7));
    assert!(
        before_opening > with_zeros,
        "unknown {before_opening} vs zero {with_zeros}"
    );
}
