//! Count series (departures per 15 minutes at Newark: whole numbers, zero most nights) are
//! forecast with bounds that are never below zero and are whole numbers, the point staying a
//! mean; the event says which constraints applied. Stated settings override what the history
//! shows.

mod common;

use common::*;
use presage_events::Forecast;
use presage_forecaster::Forecaster;

const QUARTER_MS: i64 = 15 * 60_000;

/// Newark departures per 15 minutes (real), first `days` days of 2013.
fn ewr_quarters(days: usize) -> Vec<(i64, f64)> {
    trace("nyc-departures-15m.csv", "airport-ewr", "departures")
        .into_iter()
        .take(96 * days)
        .collect()
}

fn forecasts(constraints: &str, series: &[(i64, f64)]) -> Vec<Forecast> {
    let mut f = Forecaster::new();
    f.set_template(
        "v1",
        template(
            "15m",
            &format!(
                "horizon: 2h, models: [seasonal_naive], seasonality: [1d], history: 7d, refit: 1d{constraints}"
            ),
        ),
    );
    series
        .iter()
        .flat_map(|(t, v)| f.on_derived(&derived(*t, QUARTER_MS, *v)).unwrap())
        .collect()
}

fn warm(all: &[Forecast]) -> Vec<&Forecast> {
    all.iter().filter(|f| !f.cold_start).collect()
}

#[test]
fn count_bounds_are_whole_and_never_below_zero_when_learned() {
    let series = ewr_quarters(10);
    assert!(series.iter().all(|(_, v)| *v >= 0.0 && v.fract() == 0.0));
    let all = forecasts("", &series);
    assert!(warm(&all).len() > 300);
    let mut fractional_points = 0;
    for f in &all {
        assert_eq!(
            f.constraints,
            vec!["non_negative", "integer"],
            "{}",
            f.issued_at_ms
        );
        for p in &f.points {
            assert!(p.lower >= 0.0 && p.point >= 0.0 && p.upper >= 0.0, "{p:?}");
            assert_eq!(p.lower.fract(), 0.0, "{p:?}");
            assert_eq!(p.upper.fract(), 0.0, "{p:?}");
            assert!(p.lower <= p.point && p.point <= p.upper, "{p:?}");
            if p.point.fract() != 0.0 {
                fractional_points += 1;
            }
        }
    }
    // the points are means, not rounded (cold-start naive and level models give fractions)
    assert!(fractional_points > 0);
}

#[test]
fn the_same_series_without_constraints_has_bounds_below_zero() {
    let series = ewr_quarters(10);
    let all = forecasts(
        ", constraints: { non_negative: false, integer: false }",
        &series,
    );
    assert!(all.iter().all(|f| f.constraints.is_empty()));
    let below = all
        .iter()
        .flat_map(|f| &f.points)
        .filter(|p| p.lower < 0.0)
        .count();
    assert!(below > 100, "only {below} lower bounds below zero");
}

#[test]
fn a_series_is_learned_non_negative_only_while_its_fitted_history_is() {
    // a day-shaped series around zero (a net flow): signed, with fractions
    let series: Vec<(i64, f64)> = (0..96 * 4)
        .map(|i| {
            let phase = (i % 96) as f64 / 96.0 * std::f64::consts::TAU;
            (i as i64 * QUARTER_MS, 3.0 * phase.sin() + 0.25)
        })
        .collect();
    let first_negative = series.iter().find(|(_, v)| *v < 0.0).unwrap().0;
    let all = forecasts("", &series);
    // learned per fit: while the history a fit used was all positive, it held
    let (before, after): (Vec<&Forecast>, Vec<&Forecast>) =
        all.iter().partition(|f| f.fitted_at_ms < first_negative);
    assert!(!before.is_empty() && !after.is_empty());
    assert!(before.iter().all(|f| f.constraints == vec!["non_negative"]));
    // once a fit saw a negative value it holds no more, and the forecasts go below zero
    assert!(after.iter().all(|f| f.constraints.is_empty()));
    assert!(after.iter().flat_map(|f| &f.points).any(|p| p.point < 0.0));
    // stated non-negative, the same series is clipped at zero
    let stated = forecasts(", constraints: { non_negative: true }", &series);
    assert!(stated.iter().all(|f| f.constraints == vec!["non_negative"]));
    for p in stated.iter().flat_map(|f| &f.points) {
        assert!(p.lower >= 0.0 && p.point >= 0.0 && p.upper >= 0.0, "{p:?}");
    }
}
