//! The linear model reads the template's `timezone`: a demand that follows office hours on the
//! London clock is forecast at the right UTC hours after the clocks go forward, from history
//! that was all in GMT; read in UTC, the same history puts the morning rise an hour late.

mod common;

use common::{derived, template_in, HOUR_MS};
use presage_events::Forecast;
use presage_forecaster::Forecaster;
use presage_template::calendar::{self, parse_timestamp};

fn at(text: &str) -> i64 {
    parse_timestamp(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
}

/// 100 at night and at weekends, 150 from 08:00 to 18:00 on London weekdays. The London clock
/// is written from the calendar, not read through `Zone` (the code under test): GMT (UTC) until
/// British Summer Time began at 01:00 UTC on Sunday 2026-03-29, UTC+1 after it, until it ended
/// on 2026-10-25.
fn office_demand(t: i64) -> f64 {
    assert!(
        t < at("2026-10-25T01:00:00Z"),
        "beyond the summer time written here"
    );
    let london = if t >= at("2026-03-29T01:00:00Z") {
        t + HOUR_MS
    } else {
        t
    };
    let (hour, weekday) = (calendar::hour_of_day(london), calendar::weekday(london));
    if weekday < 5 && (8..18).contains(&hour) {
        150.0
    } else {
        100.0
    }
}

/// The forecasts a forecaster issues on hourly windows from `from` to `to`, the template
/// naming `timezone` or not.
fn forecasts(timezone: Option<&str>, from: &str, to: &str) -> Vec<Forecast> {
    let template = template_in(
        timezone,
        "1h",
        "horizon: 3h, models: [linear], history: 14d, refit: 1h",
    );
    let mut f = Forecaster::new();
    f.set_template("v1", template);
    (at(from)..=at(to))
        .step_by(HOUR_MS as usize)
        .flat_map(|t| {
            f.on_derived(&derived(t, HOUR_MS, office_demand(t)))
                .unwrap()
        })
        .collect()
}

/// The point forecast for the window starting at `window`, from the newest forecast.
fn point_for(forecasts: &[Forecast], window: &str) -> f64 {
    let newest = forecasts.last().expect("a forecast");
    assert_eq!(newest.model, "linear", "{newest:?}");
    newest
        .points
        .iter()
        .find(|p| p.at_ms == at(window))
        .unwrap_or_else(|| panic!("no point at {window}: {:?}", newest.points))
        .point
}

#[test]
fn office_hours_on_the_london_clock_are_forecast_after_the_clocks_go_forward() {
    // Two weeks of GMT history, then Monday 2026-03-30, the first weekday of BST: the window
    // 06:00-07:00 UTC is the last one (its forecast reaches 07:00, 08:00 and 09:00 UTC).
    let (from, to) = ("2026-03-16T00:00:00Z", "2026-03-30T06:00:00Z");
    let london = forecasts(Some("Europe/London"), from, to);
    // 07:00 UTC is 08:00 BST: the office is open.
    assert!((point_for(&london, "2026-03-30T07:00:00Z") - 150.0).abs() < 10.0);
    assert!((point_for(&london, "2026-03-30T08:00:00Z") - 150.0).abs() < 10.0);
    // Read in UTC, the history says 07:00 is before opening time.
    let utc = forecasts(None, from, to);
    assert!((point_for(&utc, "2026-03-30T07:00:00Z") - 100.0).abs() < 10.0);
    assert!((point_for(&utc, "2026-03-30T08:00:00Z") - 150.0).abs() < 10.0);
}
