//! Each model recovers what it should on a series of known structure built from real traces.

mod common;

use common::*;
use presage_forecaster::evaluate::mase_scale;
use presage_forecaster::models::{Ets, HoltWinters, Linear, Model, Mstl, SeasonalNaive, Training};
use presage_forecaster::{Calendar, Grid};

fn training<'a>(grid: &'a Grid, periods: &'a [usize], calendar: &'a Calendar) -> Training<'a> {
    Training {
        grid,
        periods,
        calendar,
        ridge: 1.0,
        harmonics: 0,
    }
}

#[test]
fn mstl_recovers_a_daily_and_weekly_season_to_within_the_noise() {
    let (clean, noisy, sd) = seasonal_weeks(4, 1);
    let g = grid(0, 1_800_000, noisy);
    let none = Calendar::default();
    let path = Mstl
        .fit_predict(&training(&g, &[48, 336], &none), 48, 0.9)
        .unwrap();
    // The next day is the first day of the profile again.
    let error = mean_abs(&path.point, &clean[..48]);
    assert!(error < 2.0 * sd, "MAE {error:.0} MW vs noise sd {sd:.0} MW");
}

#[test]
fn seasonal_naive_repeats_the_week_before_with_twice_the_noise_at_most() {
    let (clean, noisy, sd) = seasonal_weeks(3, 2);
    let g = grid(0, 1_800_000, noisy);
    let none = Calendar::default();
    let path = SeasonalNaive
        .fit_predict(&training(&g, &[336], &none), 48, 0.9)
        .unwrap();
    // y(t) − y(t − 336) has the noise of two points: sd·√2, mean absolute ≈ 1.13·sd
    let error = mean_abs(&path.point, &clean[..48]);
    assert!(error < 2.0 * sd, "MAE {error:.0} MW vs noise sd {sd:.0} MW");
    assert_eq!(path.point[5], g.values[2 * 336 + 5]);
}

#[test]
fn ets_recovers_a_linear_trend_and_extends_it() {
    // 500 + 2.5·t with noise of sd 5, 400 hourly points
    let mut noise = Noise::new(3);
    let values: Vec<f64> = (0..400)
        .map(|t| 500.0 + 2.5 * t as f64 + noise.next(5.0))
        .collect();
    let g = grid(0, HOUR_MS, values);
    let none = Calendar::default();
    let path = Ets.fit_predict(&training(&g, &[], &none), 24, 0.9).unwrap();
    let truth: Vec<f64> = (400..424).map(|t| 500.0 + 2.5 * t as f64).collect();
    let error = mean_abs(&path.point, &truth);
    assert!(
        error < 15.0,
        "MAE {error:.1} vs a line; points {:?}",
        &path.point[..3]
    );
    let slope = (path.point[23] - path.point[0]) / 23.0;
    assert!((slope - 2.5).abs() < 0.3, "slope {slope:.3}");
    let (lower, upper) = path.bounds.expect("ETS has bounds");
    assert!(lower[0] < path.point[0] && path.point[0] < upper[0]);
    assert!(
        upper[23] - lower[23] > upper[0] - lower[0],
        "uncertainty grows"
    );
}

#[test]
fn linear_recovers_the_effect_of_a_known_driver() {
    // Newark's hourly temperature (°F) drives demand: 200 + 12·temp, noise of sd 5.
    let temps: Vec<(i64, f64)> = trace("nyc-weather-1h.csv", "airport-ewr", "weather.temp")
        .into_iter()
        .take(24 * 60)
        .collect();
    let start = temps[0].0;
    let mut noise = Noise::new(4);
    let mut values = Vec::new();
    let mut driver = Vec::new();
    let mut previous = temps[0].1;
    // lay the readings on the hourly grid (a missing hour keeps the previous reading)
    let hours = ((temps.last().unwrap().0 - start) / HOUR_MS + 1) as usize;
    let by_hour: std::collections::HashMap<i64, f64> = temps.iter().copied().collect();
    for h in 0..hours {
        let temp = *by_hour
            .get(&(start + h as i64 * HOUR_MS))
            .unwrap_or(&previous);
        previous = temp;
        driver.push(temp);
        values.push(200.0 + 12.0 * temp + noise.next(5.0));
    }
    let g = Grid {
        start_ms: start,
        step_ms: HOUR_MS,
        values,
        regressors: vec![driver],
        filled: 0,
    };
    let none = Calendar::default();
    let fit = Linear::fit(&training(&g, &[24], &none)).unwrap();
    let coefficient = fit.coefficients[Linear::regressor_column(0)];
    assert!(
        (coefficient - 12.0).abs() < 0.12,
        "coefficient {coefficient:.3}"
    );
}

/// Day-ahead MASE of `model` on an airport's 15-minute departures over the peer bench's three
/// origins (four weeks of training each, scaled by in-sample daily seasonal naive), as
/// `benches/versus_statsforecast.rs` cuts them.
fn airport_day_ahead_mase(model: &dyn Model, airport: &str) -> f64 {
    let points = trace("nyc-departures-15m.csv", airport, "departures");
    let none = Calendar::default();
    let mut total = 0.0;
    for cut in bench_cuts(&points, 4 * 672, 96, 3) {
        let g = grid(cut.start_ms, 900_000, cut.train.clone());
        let path = model
            .fit_predict(&training(&g, &[96, 672], &none), 96, 0.9)
            .unwrap();
        total += mean_abs(&path.point, &cut.test) / mase_scale(&cut.train, 96);
    }
    total / 3.0
}

/// JFK's daily profile of departures drifts from week to week. Holt-Winters fitted with its
/// starting season estimated on the whole window scored 0.759 here (its in-sample errors
/// rewarded a frozen season, γ = 0); estimated on the first half, with the errors counted after
/// it, γ is about 0.1 and it scores 0.726.
#[test]
fn holt_winters_follows_the_drifting_daily_profile_of_jfk() {
    let mase = airport_day_ahead_mase(&HoltWinters, "airport-jfk");
    assert!(mase < 0.74, "MASE {mase:.3}");
}

/// MSTL's seasonal smoothers run at every point of each cycle-subseries, as statsmodels' STL
/// does under statsforecast's MSTL (0.825 here). With stlrs' default, which smooths every
/// other point of a subseries and interpolates between (28 points per subseries of the daily
/// season over four weeks), it scored 0.828 on JFK; smoothed at every point, 0.826.
#[test]
fn mstl_smooths_each_seasonal_subseries_at_every_point_on_jfk() {
    let mase = airport_day_ahead_mase(&Mstl, "airport-jfk");
    assert!(mase < 0.827, "MASE {mase:.4}");
}
