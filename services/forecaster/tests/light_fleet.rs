//! The replay bench's light template (seasonal naive only, daily season, weekly refit) fed one
//! airport's real 15-minute departures, as the live service is: which models it fits while its
//! history is young, and how often it refits against its `refit: 7d`.

mod common;

use common::*;
use presage_events::Forecast;
use presage_forecaster::Forecaster;

const STEP_MS: i64 = 15 * 60_000;
/// Windows in the daily season.
const SEASON: usize = 96;
const LIGHT: &str =
    "horizon: 1h, models: [seasonal_naive], seasonality: [1d], history: 7d, refit: 7d";

/// Newark departures per 15 minutes (real), the first `days` days of 2013.
fn ewr(days: usize) -> Vec<(i64, f64)> {
    trace("nyc-departures-15m.csv", "airport-ewr", "departures")
        .into_iter()
        .take(SEASON * days)
        .collect()
}

fn light() -> Forecaster {
    let mut f = Forecaster::new();
    f.set_template("v1", template("15m", LIGHT));
    f
}

fn feed_into(f: &mut Forecaster, series: &[(i64, f64)]) -> Vec<Forecast> {
    series
        .iter()
        .flat_map(|(t, v)| f.on_derived(&derived(*t, STEP_MS, *v)).unwrap())
        .collect()
}

fn feed(series: &[(i64, f64)]) -> (Vec<Forecast>, u64) {
    let mut f = light();
    let forecasts = feed_into(&mut f, series);
    (forecasts, f.refits())
}

/// Each distinct fit (by the instant it was made) with the model it chose and the windows of
/// history it had then.
fn fits(forecasts: &[Forecast]) -> Vec<(i64, String, i64)> {
    let mut fits: Vec<(i64, String, i64)> = forecasts
        .iter()
        .map(|f| (f.fitted_at_ms, f.model.clone(), f.history_points))
        .collect();
    fits.dedup();
    fits
}

#[test]
fn a_seasonal_naive_template_never_fits_ets_once_its_history_holds_a_season() {
    let series = ewr(5);
    let (forecasts, _) = feed(&series);
    let fits = fits(&forecasts);
    eprintln!("fits: {fits:?}");
    let after_a_season: Vec<_> = fits
        .iter()
        .filter(|(_, _, points)| *points as usize >= SEASON + 2)
        .collect();
    assert!(!after_a_season.is_empty(), "{fits:?}");
    for (at, model, points) in &after_a_season {
        assert_eq!(
            model, "seasonal_naive",
            "fit at {at} on {points} windows: the template's own model is feasible"
        );
    }
    // Before a season there is nothing seasonal naive can repeat: the cold start still forecasts.
    assert!(
        fits.iter()
            .any(|(_, _, points)| (*points as usize) < SEASON),
        "{fits:?}"
    );
    // One season is enough for seasonal naive, cold (two seasons make it warm).
    let one_season = fits
        .iter()
        .find(|(_, _, points)| (SEASON + 2..2 * SEASON).contains(&(*points as usize)))
        .expect("a cold refit between one season and two");
    assert_eq!(one_season.1, "seasonal_naive", "{fits:?}");
    let cold = forecasts
        .iter()
        .find(|f| f.fitted_at_ms == one_season.0)
        .unwrap();
    assert!(cold.cold_start);
    assert_eq!(cold.periods_ms, vec![SEASON as i64 * STEP_MS]);
}

#[test]
fn a_light_series_refits_about_weekly_once_warm() {
    let weeks = 8;
    let series = ewr(7 * weeks);
    let (forecasts, refits) = feed(&series);
    let fits = fits(&forecasts);
    let cold = fits
        .iter()
        .filter(|(at, _, _)| {
            forecasts
                .iter()
                .find(|f| f.fitted_at_ms == *at)
                .is_some_and(|f| f.cold_start)
        })
        .count();
    let warm = fits.len() - cold;
    eprintln!(
        "{} windows: {refits} refits, {cold} cold fits, {warm} warm fits: {:?}",
        series.len(),
        fits.iter()
            .map(|(at, m, p)| ((at - series[0].0) / STEP_MS, m.as_str(), *p))
            .collect::<Vec<_>>()
    );
    // A cold start doubles its history between fits: a handful, not one per window.
    assert!(cold <= 12, "{cold} cold fits");
    // Warm: one per scheduled week plus the early refits drift asked for.
    assert!(warm >= weeks - 2, "{warm} warm fits in {weeks} weeks");
}

#[test]
fn a_forecaster_restarted_between_one_season_and_two_gives_the_same_forecasts() {
    let series = ewr(3);
    let (all, _) = feed(&series);
    // cut where the history holds more than one season but less than two: the cold fallback
    // that repeats the season is in force, and the restarted one must rebuild it
    for cut in [SEASON + 10, SEASON + 70, 2 * SEASON - 1] {
        let mut restarted = light();
        for (t, v) in &series[..cut] {
            restarted.remember(&derived(*t, STEP_MS, *v));
        }
        let after = feed_into(&mut restarted, &series[cut..]);
        let expected: Vec<&Forecast> = all
            .iter()
            .filter(|f| f.issued_at_ms > series[cut - 1].0 + STEP_MS)
            .collect();
        assert_eq!(after.len(), expected.len(), "cut {cut}");
        assert!(
            after
                .iter()
                .any(|f| f.model == "seasonal_naive" && f.cold_start),
            "cut {cut}"
        );
        for (got, want) in after.iter().zip(expected) {
            assert_eq!(got, want, "cut {cut}");
        }
    }
}
