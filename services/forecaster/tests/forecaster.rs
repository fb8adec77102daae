//! The forecaster core fed derived windows one at a time, as the live service is: cold start,
//! refit cadence, early refits on drift, gaps, coverage, and restarts that rebuild history.

mod common;

use common::*;
use presage_events::{DerivedMetric, Forecast};
use presage_forecaster::schedule::phase_ms;
use presage_forecaster::{ForecastError, Forecaster};

/// Newark departures per hour (real), from Monday 2013-01-07.
fn ewr_hourly(days: usize) -> Vec<(i64, f64)> {
    let start = presage_template::calendar::parse_date("2013-01-07").unwrap() * DAY_MS;
    bucket_sums(
        &trace("nyc-departures-15m.csv", "airport-ewr", "departures"),
        HOUR_MS,
    )
    .into_iter()
    .filter(|(t, _)| *t >= start)
    .take(24 * days)
    .collect()
}

const HOURLY: &str =
    "horizon: 3h, models: [mstl, seasonal_naive, ets], seasonality: [1d, 7d], refit: 6h, history: 21d";

fn forecaster(algorithm: &str) -> Forecaster {
    let mut f = Forecaster::new();
    f.set_template("v1", template("1h", algorithm));
    f
}

fn feed(f: &mut Forecaster, series: &[(i64, f64)]) -> Vec<Forecast> {
    series
        .iter()
        .flat_map(|(t, v)| f.on_derived(&derived(*t, HOUR_MS, *v)).unwrap())
        .collect()
}

#[test]
fn a_young_series_is_forecast_cold_with_what_its_data_allows_until_it_has_two_weeks() {
    let series = ewr_hourly(16);
    let mut f = forecaster(HOURLY);
    let forecasts = feed(&mut f, &series);
    let first = &forecasts[0];
    // with less than two days no season is usable: the naive model is what three points allow,
    // then a level-and-trend model once there are ten
    assert_eq!(first.issued_at_ms, series[2].0 + HOUR_MS);
    assert_eq!((first.model.as_str(), first.cold_start), ("naive", true));
    assert!(first.periods_ms.is_empty());
    let hour12 = forecasts
        .iter()
        .find(|f| f.issued_at_ms == series[12].0 + HOUR_MS)
        .unwrap();
    assert_eq!((hour12.model.as_str(), hour12.cold_start), ("ets", true));
    let at = |t: i64| {
        forecasts
            .iter()
            .find(|f| f.issued_at_ms == t + HOUR_MS)
            .unwrap()
    };
    let day3 = at(series[24 * 3].0);
    assert!(day3.cold_start);
    assert_eq!(day3.periods_ms, vec![DAY_MS], "the week is not usable yet");
    let day15 = at(series[24 * 15].0);
    assert!(!day15.cold_start);
    assert_eq!(day15.periods_ms, vec![DAY_MS, 7 * DAY_MS]);
    assert!(day15.score.is_some());
    assert_eq!(day15.points.len(), 3);
    for p in &day15.points {
        assert!(p.lower <= p.point && p.point <= p.upper, "{p:?}");
    }
}

/// The window at which a refit due at the scheduled instant before `t` happens: the first whole
/// hour at or after that instant.
fn due_window(t: i64) -> i64 {
    let phase = phase_ms("shop|demand", 6 * HOUR_MS);
    let instant = phase + (t - phase).div_euclid(6 * HOUR_MS) * 6 * HOUR_MS;
    instant + (HOUR_MS - instant.rem_euclid(HOUR_MS)) % HOUR_MS
}

fn refit_times(forecasts: &[Forecast]) -> Vec<i64> {
    let mut times: Vec<i64> = forecasts.iter().map(|f| f.fitted_at_ms).collect();
    times.dedup();
    times
}

#[test]
fn warm_series_refit_on_their_cadence_and_serve_forecasts_from_one_path_between() {
    let series = ewr_hourly(20);
    let mut f = forecaster(HOURLY);
    let forecasts = feed(&mut f, &series);
    let warm: Vec<Forecast> = forecasts.into_iter().filter(|f| !f.cold_start).collect();
    for pair in warm.windows(2) {
        if pair[0].fitted_at_ms == pair[1].fitted_at_ms {
            // one path: the overlapping points agree
            assert_eq!(pair[0].points[1], pair[1].points[0]);
        } else {
            assert_eq!(
                pair[1].fitted_at_ms,
                pair[1].issued_at_ms - HOUR_MS,
                "refits use the newest window"
            );
        }
    }
    let refits = refit_times(&warm);
    let on_schedule: Vec<i64> = refits
        .iter()
        .copied()
        .filter(|t| *t == due_window(*t))
        .collect();
    // every scheduled instant over the warm days was honoured, once
    let (first, last) = (warm[0].fitted_at_ms, warm.last().unwrap().fitted_at_ms);
    let mut due: Vec<i64> = (first..=last)
        .step_by(HOUR_MS as usize)
        .map(due_window)
        .filter(|t| *t > first && *t <= last)
        .collect();
    due.dedup();
    assert_eq!(on_schedule[1..], due[..], "refits {refits:?}");
    assert!(due.len() >= 18, "{} instants in the warm days", due.len());
}

#[test]
fn a_level_shift_refits_before_the_next_scheduled_instant() {
    let mut series = ewr_hourly(18);
    let shift_from = 24 * 16 + 2;
    for (_, v) in &mut series[shift_from..] {
        *v = *v * 3.0 + 50.0;
    }
    let shift_at = series[shift_from].0;
    let mut f = forecaster(HOURLY);
    let forecasts = feed(&mut f, &series);
    let first_after = refit_times(&forecasts)
        .into_iter()
        .find(|t| *t >= shift_at)
        .unwrap();
    assert_ne!(
        first_after,
        due_window(first_after),
        "not a scheduled refit"
    );
    assert!(first_after < due_window(shift_at) + 6 * HOUR_MS);
    // the same days unshifted have no refit off the schedule around that time
    let mut calm = forecaster(HOURLY);
    let calm_refits = refit_times(&feed(&mut calm, &ewr_hourly(18)));
    assert!(calm_refits
        .iter()
        .filter(|t| (shift_at..shift_at + 6 * HOUR_MS).contains(*t))
        .all(|t| *t == due_window(*t)));
}

#[test]
fn missing_windows_are_filled_and_counted_and_the_season_stays_aligned() {
    let mut series = ewr_hourly(16);
    // three hours lost on day 10
    let lost: Vec<i64> = series
        .drain(24 * 10 + 5..24 * 10 + 8)
        .map(|(t, _)| t)
        .collect();
    let mut f = forecaster(
        "horizon: 3h, models: [seasonal_naive], seasonality: [1d], refit: 1h, history: 21d",
    );
    let forecasts = feed(&mut f, &series);
    let last = forecasts.last().unwrap();
    assert_eq!(last.filled_points, 3, "{lost:?}");
    // every forecast of the day after the gap predicts t from t − 1 day: the grid did not shift
    let by_time: std::collections::HashMap<i64, f64> = series.iter().copied().collect();
    let after_gap: Vec<&Forecast> = forecasts
        .iter()
        .filter(|f| (lost[2]..lost[2] + DAY_MS).contains(&f.issued_at_ms))
        .collect();
    assert!(after_gap.len() >= 20);
    for forecast in after_gap {
        for p in &forecast.points {
            assert_eq!(p.at_ms % HOUR_MS, 0);
            if let Some(yesterday) = by_time.get(&(p.at_ms - DAY_MS)) {
                assert_eq!(p.point, *yesterday, "{p:?}");
            }
        }
    }
}

#[test]
fn bounds_cover_about_the_level_on_real_demand() {
    // England and Wales demand, half-hourly, 12 weeks; 90% bounds over 6 hours ahead
    let series: Vec<(i64, f64)> = trace("taylor-demand.csv", "grid-ew", "demand_mw");
    let mut f = Forecaster::new();
    f.set_template(
        "v1",
        template(
            "30m",
            "horizon: 6h, models: [mstl, seasonal_naive], seasonality: [1d, 7d], refit: 2d, history: 28d, folds: 4",
        ),
    );
    let actual: std::collections::HashMap<i64, f64> = series.iter().copied().collect();
    let mut inside = 0usize;
    let mut total = 0usize;
    for (t, v) in &series {
        for forecast in f.on_derived(&derived(*t, 1_800_000, *v)).unwrap() {
            if forecast.cold_start {
                continue;
            }
            for p in &forecast.points {
                if let Some(a) = actual.get(&p.at_ms) {
                    total += 1;
                    inside += usize::from(p.lower <= *a && *a <= p.upper);
                }
            }
        }
    }
    let coverage = inside as f64 / total as f64;
    println!("coverage of 90% bounds over {total} forecast points: {coverage:.3}");
    assert!(total > 10_000);
    assert!((0.8..=0.97).contains(&coverage), "coverage {coverage:.3}");
}

/// Restarts after `cut` windows: the new forecaster remembers what the shell reads back, the
/// records whose timestamp (window end) is within `history_span_ms` of the last processed one.
fn restarted_forecasts(series: &[(i64, f64)], cut: usize) -> Vec<Forecast> {
    let mut restarted = forecaster(HOURLY);
    let last_end = series[cut - 1].0 + HOUR_MS;
    let span = restarted.history_span_ms();
    for (t, v) in &series[..cut] {
        if t + HOUR_MS >= last_end - span {
            restarted.remember(&derived(*t, HOUR_MS, *v));
        }
    }
    feed(&mut restarted, &series[cut..])
}

#[test]
fn a_restarted_forecaster_that_rebuilt_its_history_gives_the_same_forecasts() {
    // 27 days of Newark with a two-day outage in the middle of the fit window
    let mut series = ewr_hourly(29);
    series.drain(24 * 17..24 * 19);
    let mut uninterrupted = forecaster(HOURLY);
    let all = feed(&mut uninterrupted, &series);
    for cut in [24 * 23 + 5, series.len() - 30, series.len() - 3] {
        let after = restarted_forecasts(&series, cut);
        let expected: Vec<&Forecast> = all
            .iter()
            .filter(|f| f.issued_at_ms > series[cut - 1].0 + HOUR_MS)
            .collect();
        assert_eq!(after.len(), expected.len(), "cut {cut}");
        for (got, want) in after.iter().zip(expected) {
            assert_eq!(got, want, "cut {cut}");
        }
    }
    // and without the rebuilt history the forecasts would differ
    let cut = 24 * 23 + 5;
    let mut amnesiac = forecaster(HOURLY);
    let fresh = feed(&mut amnesiac, &series[cut..]);
    assert_ne!(fresh.first(), restarted_forecasts(&series, cut).first());
}

#[test]
fn a_window_delivered_twice_changes_nothing() {
    let series = ewr_hourly(17);
    let mut once = forecaster(HOURLY);
    let mut twice = forecaster(HOURLY);
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (t, v) in &series {
        a.extend(once.on_derived(&derived(*t, HOUR_MS, *v)).unwrap());
        b.extend(twice.on_derived(&derived(*t, HOUR_MS, *v)).unwrap());
        // the replayed window forecasts again, identically (same id: dropped downstream)
        let again = twice.on_derived(&derived(*t, HOUR_MS, *v)).unwrap();
        assert_eq!(again.last(), b.last());
    }
    assert_eq!(a, b);
}

#[test]
fn a_value_that_is_not_a_number_is_not_history() {
    let series = ewr_hourly(3);
    let mut f = forecaster(HOURLY);
    f.on_derived(&derived(series[0].0 - HOUR_MS, HOUR_MS, f64::NAN))
        .unwrap();
    let forecasts = feed(&mut f, &series);
    let last = forecasts.last().unwrap();
    let fitted_on = series
        .iter()
        .filter(|(t, _)| *t <= last.fitted_at_ms)
        .count();
    assert_eq!(
        last.history_points as usize, fitted_on,
        "the NaN window is not a point"
    );
    assert_eq!(last.filled_points, 0);
    assert!(last.points.iter().all(|p| p.point.is_finite()));
}

#[test]
fn a_derived_metric_of_an_app_without_a_template_is_refused() {
    let mut f = Forecaster::new();
    let mut d: DerivedMetric = derived(0, HOUR_MS, 1.0);
    d.app = "stranger".into();
    assert_eq!(
        f.on_derived(&d),
        Err(ForecastError::UnknownApp("stranger".into()))
    );
}

#[test]
fn a_window_off_the_recipe_grid_is_refused_and_not_recorded() {
    let series = ewr_hourly(1);
    let mut f = forecaster(HOURLY);
    feed(&mut f, &series[..12]);
    let off = series[12].0 + HOUR_MS / 2;
    assert_eq!(
        f.on_derived(&derived(off, HOUR_MS, 1.0)),
        Err(presage_forecaster::ForecastError::OffGrid {
            recipe: "demand".into(),
            start_ms: off,
            step_ms: HOUR_MS,
        })
    );
    // the series goes on as if the stray window had never come
    let mut clean = forecaster(HOURLY);
    feed(&mut clean, &series[..12]);
    assert_eq!(feed(&mut f, &series[12..]), feed(&mut clean, &series[12..]));
}

/// SIGKILL semantics: the forecaster holds no checkpoint, so a killed forecaster restarts with
/// the history it reads back before its last committed offset and reads every input after it
/// again. Whatever input the crash came after, every forecast id it publishes in its second
/// life has the content of its first: cut at every input of eight hours that span a refit
/// (every six hours).
#[test]
fn a_restart_from_any_commit_publishes_every_forecast_id_with_one_content() {
    let series = ewr_hourly(24);
    let mut uninterrupted = forecaster(HOURLY);
    let first_life: std::collections::HashMap<String, Forecast> = feed(&mut uninterrupted, &series)
        .into_iter()
        .map(|f| (f.event_id.clone(), f))
        .collect();
    let mut checked = 0;
    for committed in (24 * 22)..(24 * 22 + 8) {
        for again in restarted_forecasts(&series, committed) {
            let first = first_life.get(&again.event_id).unwrap_or_else(|| {
                panic!("commit {committed}: {} was never issued", again.event_id)
            });
            assert_eq!(first, &again, "commit {committed}: two contents for one id");
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} forecasts compared");
}

/// Hourly from Monday 2013-01-07: a daily cycle, weekends 20 lower, AR(1) noise.
fn weekdays_and_weekends(days: usize) -> Vec<(i64, f64)> {
    let start = presage_template::calendar::parse_date("2013-01-07").unwrap() * DAY_MS;
    let mut noise = Noise::new(31);
    let mut u = 0.0;
    (0..24 * days)
        .map(|i| {
            let hour = (i % 24) as f64;
            let weekend = if (i / 24) % 7 >= 5 { -20.0 } else { 0.0 };
            u = 0.5 * u + noise.next(1.0);
            let daily = 10.0 * (std::f64::consts::TAU * hour / 24.0).sin();
            (start + i as i64 * HOUR_MS, 100.0 + daily + weekend + u)
        })
        .collect()
}

#[test]
fn the_templates_harmonics_give_arima_the_week_and_a_sole_arima_has_them_unasked() {
    let series = weekdays_and_weekends(35);
    let actual: std::collections::HashMap<i64, f64> = series.iter().copied().collect();
    let error = |harmonics: &str| {
        let mut f = forecaster(&format!(
            "horizon: 1d, models: [arima], seasonality: [1d, 7d], refit: 1d, history: 28d{harmonics}"
        ));
        let forecasts = feed(&mut f, &series);
        let errors: Vec<f64> = forecasts
            .iter()
            .filter(|f| !f.cold_start)
            .flat_map(|f| &f.points)
            .filter_map(|p| actual.get(&p.at_ms).map(|v| (p.point - v).abs()))
            .collect();
        assert!(errors.len() > 24 * 24, "{} points scored", errors.len());
        errors.iter().sum::<f64>() / errors.len() as f64
    };
    let (daily_only, weekly, unasked) =
        (error(", harmonics: 0"), error(", harmonics: 3"), error(""));
    assert!(
        weekly < 0.8 * daily_only,
        "mean absolute error with harmonics {weekly:.2}, without {daily_only:.2}"
    );
    assert!(
        unasked < 0.8 * daily_only,
        "mean absolute error with harmonics unset {unasked:.2}, with none {daily_only:.2}"
    );
}
