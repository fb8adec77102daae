//! The `prophet` model: Prophet's trend with changepoints, Fourier seasons, holidays and
//! regressors, fitted at its MAP estimate, recovers each part from series built of known parts,
//! and forecasts a real trace better than naive.

mod common;

use std::time::Instant;

use common::*;
use presage_forecaster::evaluate::mase_scale;
use presage_forecaster::intervals::coverage;
use presage_forecaster::models::{
    Model, ModelError, Naive, Path, Prophet, SeasonalNaive, Training,
};
use presage_forecaster::{Calendar, Grid};

fn fit(grid: &Grid, periods: &[usize], calendar: &Calendar, horizon: usize, level: f64) -> Path {
    Prophet
        .fit_predict(
            &Training {
                grid,
                periods,
                calendar,
                ridge: 1.0,
                harmonics: 0,
            },
            horizon,
            level,
        )
        .unwrap_or_else(|e| panic!("prophet: {e}"))
}

/// A daily wave of amplitude 20 at hour `h` (on UTC, from the epoch's midnight).
fn daily(h: usize) -> f64 {
    20.0 * (std::f64::consts::TAU * h as f64 / 24.0).sin()
}

/// 100 rising 0.5 per hour until hour 300, then falling 0.2 per hour.
fn kinked_trend(h: usize) -> f64 {
    let h = h as f64;
    100.0 + 0.5 * h.min(300.0) - 0.2 * (h - 300.0).max(0.0)
}

#[test]
fn a_trend_with_one_changepoint_and_a_daily_wave_are_recovered_and_extended() {
    // four weeks of hours; the slope changes at 45% of the history
    let mut noise = Noise::new(11);
    let values = (0..672)
        .map(|h| kinked_trend(h) + daily(h) + noise.next(2.0))
        .collect();
    let g = grid(0, HOUR_MS, values);
    let path = fit(&g, &[24], &Calendar::default(), 48, 0.9);
    let truth: Vec<f64> = (672..720).map(|h| kinked_trend(h) + daily(h)).collect();
    let error = mean_abs(&path.point, &truth);
    // the noise has sd 2; the forecast of the noiseless truth is well within it
    assert!(
        error < 1.5,
        "MAE {error:.2}; first points {:?}",
        &path.point[..3]
    );
}

#[test]
fn a_holiday_effect_is_learned_and_forecast_on_a_future_holiday() {
    // 28 days of hours from 1970-01-01; days 5, 12 and 19 are holidays with 30 less demand, and
    // so is day 29, the second day ahead
    let holidays = [5, 12, 19, 29];
    let calendar = Calendar::new(presage_template::Zone::UTC, holidays.map(|d| d as i64));
    let effect = |h: usize| {
        if holidays.contains(&(h / 24)) {
            -30.0
        } else {
            0.0
        }
    };
    let mut noise = Noise::new(5);
    let values = (0..672)
        .map(|h| 200.0 + daily(h) + effect(h) + noise.next(2.0))
        .collect();
    let g = grid(0, HOUR_MS, values);
    let path = fit(&g, &[24], &calendar, 48, 0.9);
    let truth: Vec<f64> = (672..720).map(|h| 200.0 + daily(h) + effect(h)).collect();
    let (ordinary, holiday) = (&path.point[..24], &path.point[24..]);
    let drop = ordinary.iter().sum::<f64>() / 24.0 - holiday.iter().sum::<f64>() / 24.0;
    assert!((drop - 30.0).abs() < 3.0, "holiday drop {drop:.1}, not 30");
    let error = mean_abs(&path.point, &truth);
    assert!(error < 2.0, "MAE {error:.2}");
}

#[test]
fn a_regressors_coefficient_is_learned_and_its_future_read_one_season_back() {
    // y = 50 + 3·x + daily wave, x a temperature-like series with no daily shape of its own
    let mut noise = Noise::new(9);
    let mut drift = Noise::new(21);
    let mut x = Vec::with_capacity(504);
    let mut level = 10.0;
    for _ in 0..504 {
        level += drift.next(1.0);
        x.push(level);
    }
    let values: Vec<f64> = (0..504)
        .map(|h| 50.0 + 3.0 * x[h] + daily(h) + noise.next(1.0))
        .collect();
    let mut g = grid(0, HOUR_MS, values);
    let without = fit(&g, &[24], &Calendar::default(), 24, 0.9);
    g.regressors = vec![x.clone()];
    let with = fit(&g, &[24], &Calendar::default(), 24, 0.9);
    // the forecaster does not know x ahead: the model reads the value one day earlier
    let truth: Vec<f64> = (504..528)
        .map(|h| 50.0 + 3.0 * x[h - 24] + daily(h))
        .collect();
    let error_with = mean_abs(&with.point, &truth);
    let error_without = mean_abs(&without.point, &truth);
    assert!(error_with < 1.5, "MAE with the regressor {error_with:.2}");
    assert!(
        error_without > 3.0 * error_with,
        "without {error_without:.2}, with {error_with:.2}"
    );
}

#[test]
fn bounds_widen_with_the_horizon_and_cover_about_the_level() {
    let level = 0.9;
    let (mut inside, mut total) = (0.0, 0usize);
    let mut widths = Vec::new();
    for seed in 0..20 {
        let mut noise = Noise::new(100 + seed);
        // the history's slope changed once, so the future's may too
        let series: Vec<f64> = (0..504 + 72)
            .map(|h| kinked_trend(h) + daily(h) + noise.next(3.0))
            .collect();
        let g = grid(0, HOUR_MS, series[..504].to_vec());
        let path = fit(&g, &[24], &Calendar::default(), 72, level);
        let (lower, upper) = path.bounds.expect("prophet has bounds");
        let actual = &series[504..];
        inside += coverage(actual, &lower, &upper).unwrap() * actual.len() as f64;
        total += actual.len();
        widths.push((upper[0] - lower[0], upper[71] - lower[71]));
        assert!(lower.iter().zip(&path.point).all(|(l, p)| l < p));
        assert!(upper.iter().zip(&path.point).all(|(u, p)| u > p));
    }
    let covered = inside / total as f64;
    assert!(
        (0.85..=0.96).contains(&covered),
        "coverage {covered:.3} at level {level}"
    );
    let (first, last): (f64, f64) = widths
        .iter()
        .fold((0.0, 0.0), |(a, b), (f, l)| (a + f, b + l));
    assert!(
        last > first,
        "mean width at step 72 {last:.1} vs step 1 {first:.1}"
    );
}

#[test]
fn the_daily_season_follows_the_local_clock_across_a_change_of_clocks() {
    // hourly, 2026-10-11 to 2026-11-08 in New York: a daily wave peaking at 14:00 local, whose
    // UTC hour moves by one when the clocks go back on 2026-11-01
    let zone: presage_template::Zone = "America/New_York".parse().unwrap();
    let start = presage_template::calendar::parse_timestamp("2026-10-11T04:00:00Z").unwrap();
    let wave = |h: usize| {
        let local_hour = zone.hour_of_day(start + h as i64 * HOUR_MS) as f64;
        20.0 * (std::f64::consts::TAU * (local_hour - 8.0) / 24.0).sin()
    };
    let mut noise = Noise::new(17);
    let values = (0..672)
        .map(|h| 100.0 + wave(h) + noise.next(1.0))
        .collect();
    let g = grid(start, HOUR_MS, values);
    let truth: Vec<f64> = (672..720).map(|h| 100.0 + wave(h)).collect();
    let local = fit(&g, &[24], &Calendar::new(zone, []), 48, 0.9);
    let utc = fit(&g, &[24], &Calendar::default(), 48, 0.9);
    let (on_local, on_utc) = (mean_abs(&local.point, &truth), mean_abs(&utc.point, &truth));
    assert!(on_local < 1.0, "MAE on the local clock {on_local:.2}");
    assert!(
        on_utc > 2.0 * on_local,
        "UTC {on_utc:.2} vs local {on_local:.2}"
    );
}

#[test]
fn the_same_history_gives_the_same_forecast_and_bounds() {
    let mut noise = Noise::new(3);
    let values = (0..400)
        .map(|h| kinked_trend(h) + daily(h) + noise.next(4.0))
        .collect();
    let g = grid(1_700_000_000_000, HOUR_MS, values);
    let a = fit(&g, &[24, 168], &Calendar::default(), 30, 0.8);
    let b = fit(&g, &[24, 168], &Calendar::default(), 30, 0.8);
    assert_eq!(a, b);
}

#[test]
fn a_history_shorter_than_two_seasons_is_refused() {
    let g = grid(0, HOUR_MS, vec![1.0; 47]);
    let calendar = Calendar::default();
    let training = Training {
        grid: &g,
        periods: &[24],
        calendar: &calendar,
        ridge: 1.0,
        harmonics: 0,
    };
    assert_eq!(
        Prophet.fit_predict(&training, 5, 0.9),
        Err(ModelError::TooShort { needs: 48, has: 47 })
    );
    assert_eq!(Prophet.min_points(&[]), Ok(20));
}

/// The bench's cut of a shared trace: `TRAIN_WEEKS` weeks of training before origin `k` (0 the
/// newest), the day after as the test (see `benches/versus_statsforecast.rs`).
struct Cut {
    grid: Grid,
    test: Vec<f64>,
}

const TRAIN_WEEKS: usize = 4;
const ORIGINS: usize = 3;

fn cut(points: &[(i64, f64)], step_ms: i64, periods: &[usize], k: usize) -> Cut {
    let horizon = periods[0];
    let train_len = periods[1] * TRAIN_WEEKS;
    let usable = points.len() - train_len - horizon;
    let start = usable - k * (usable / ORIGINS);
    let values = |range: std::ops::Range<usize>| points[range].iter().map(|(_, v)| *v).collect();
    Cut {
        grid: grid(points[start].0, step_ms, values(start..start + train_len)),
        test: values(start + train_len..start + train_len + horizon),
    }
}

fn mase(point: &[f64], cut: &Cut, season: usize) -> f64 {
    mean_abs(point, &cut.test) / mase_scale(&cut.grid.values, season)
}

#[test]
fn on_newark_departures_prophet_beats_naive() {
    let periods = [96, 672];
    let points = trace("nyc-departures-15m.csv", "airport-ewr", "departures");
    let newest = cut(&points, 900_000, &periods, 0);
    let calendar = Calendar::default();
    let training = Training {
        grid: &newest.grid,
        periods: &periods,
        calendar: &calendar,
        ridge: 1.0,
        harmonics: 0,
    };
    let prophet = Prophet.fit_predict(&training, 96, 0.9).unwrap();
    let naive = Naive.fit_predict(&training, 96, 0.9).unwrap();
    let (ours, theirs) = (
        mase(&prophet.point, &newest, 96),
        mase(&naive.point, &newest, 96),
    );
    assert!(ours < theirs, "prophet MASE {ours:.3}, naive {theirs:.3}");
}

/// The figures for the README and the bench note: MASE, coverage of the 90% bounds and the time
/// per fit (median of 5) on the bench's series and cuts.
/// `cargo test --release -p presage-forecaster --test prophet -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_series_figures() {
    let series: [(&str, &str, &str, i64, [usize; 2]); 4] = [
        (
            "taylor-demand.csv",
            "grid-ew",
            "demand_mw",
            1_800_000,
            [48, 336],
        ),
        (
            "nyc-departures-15m.csv",
            "airport-ewr",
            "departures",
            900_000,
            [96, 672],
        ),
        (
            "nyc-departures-15m.csv",
            "airport-jfk",
            "departures",
            900_000,
            [96, 672],
        ),
        (
            "nyc-departures-15m.csv",
            "airport-lga",
            "departures",
            900_000,
            [96, 672],
        ),
    ];
    let calendar = Calendar::default();
    println!(
        "series       | prophet MASE | naive MASE | seasonal naive | coverage 90% | ms per fit"
    );
    for (file, app, metric, step_ms, periods) in series {
        let points = trace(file, app, metric);
        let (mut mases, mut naive_mases, mut covered, mut times) = (vec![], vec![], vec![], vec![]);
        let mut seasonal_mases = vec![];
        for k in 0..ORIGINS {
            let c = cut(&points, step_ms, &periods, k);
            let training = Training {
                grid: &c.grid,
                periods: &periods,
                calendar: &calendar,
                ridge: 1.0,
                harmonics: 0,
            };
            let mut runs = Vec::new();
            let mut path = None;
            for _ in 0..5 {
                let started = Instant::now();
                path = Some(Prophet.fit_predict(&training, periods[0], 0.9).unwrap());
                runs.push(started.elapsed().as_secs_f64() * 1e3);
            }
            runs.sort_by(f64::total_cmp);
            times.push(runs[2]);
            let path = path.unwrap();
            let naive = Naive.fit_predict(&training, periods[0], 0.9).unwrap();
            let (lower, upper) = path.bounds.unwrap();
            mases.push(mase(&path.point, &c, periods[0]));
            naive_mases.push(mase(&naive.point, &c, periods[0]));
            let seasonal = SeasonalNaive
                .fit_predict(&training, periods[0], 0.9)
                .unwrap();
            seasonal_mases.push(mase(&seasonal.point, &c, periods[0]));
            covered.push(coverage(&c.test, &lower, &upper).unwrap());
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "{app:12} | {:12.3} | {:10.3} | {:14.3} | {:12.3} | {:.1} (cuts: {:?})",
            mean(&mases),
            mean(&naive_mases),
            mean(&seasonal_mases),
            mean(&covered),
            mean(&times),
            mases
                .iter()
                .map(|m| (m * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>()
        );
    }
}
