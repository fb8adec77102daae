//! Window shapes: tumbling windows partition time, hopping windows overlap and a sample counts
//! in every window holding it. Windows are aligned to the epoch and `[start, end)`.
//!
//! Input: airport-ewr departures per quarter, 2013-01-07 06:00..08:45:
//! 5, 8, 9, 2 | 8, 6, 3, 6 | 5, 6, 10, 7 (total 75).

mod common;

use common::*;

const APP: &str = "nyc";

#[test]
fn hopping_windows_count_each_sample_in_both_windows_holding_it() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: rolling, from: api.departures, aggregate: sum, window: { hop: { size: 1h, slide: 30m } } }"],
        ),
    );
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "08:45"));
    driver.flush();
    let windows: Vec<(i64, i64, f64, i64)> = of(&driver.outputs, "rolling")
        .iter()
        .map(|d| (d.window_start_ms, d.window_end_ms, d.value, d.sample_count))
        .collect();
    assert_eq!(
        windows,
        vec![
            (at("05:30"), at("06:30"), 13.0, 2), // 5+8 (the trace slice starts at 06:00)
            (at("06:00"), at("07:00"), 24.0, 4), // 5+8+9+2
            (at("06:30"), at("07:30"), 25.0, 4), // 9+2+8+6
            (at("07:00"), at("08:00"), 23.0, 4), // 8+6+3+6
            (at("07:30"), at("08:30"), 20.0, 4), // 3+6+5+6
            (at("08:00"), at("09:00"), 28.0, 4), // 5+6+10+7
            (at("08:30"), at("09:30"), 17.0, 2), // 10+7
        ]
    );
    // every sample twice: 13+24+25+23+20+28+17 = 150 = 2 × 75
    let total: f64 = windows.iter().map(|w| w.2).sum();
    assert_near(total, 150.0, "sum over all windows");
}

#[test]
fn a_sample_counts_in_size_over_slide_windows() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: moving_hour, from: api.departures, aggregate: sum, window: { hop: { size: 1h, slide: 15m } } }"],
        ),
    );
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "08:45"));
    driver.flush();
    // the moving hour [06:15, 07:15): 8+9+2+8 = 27; [06:30, 07:30): 9+2+8+6 = 25;
    // [06:45, 07:45): 2+8+6+3 = 19
    assert_near(
        value(&driver.outputs, "moving_hour", at("06:15")),
        27.0,
        "06:15",
    );
    assert_near(
        value(&driver.outputs, "moving_hour", at("06:30")),
        25.0,
        "06:30",
    );
    assert_near(
        value(&driver.outputs, "moving_hour", at("06:45")),
        19.0,
        "06:45",
    );
    // 12 quarters × 4 windows each = 48 samples counted over 15 windows (starts 05:15..08:45)
    let windows = of(&driver.outputs, "moving_hour");
    assert_eq!(windows.len(), 15);
    assert_eq!(windows.iter().map(|d| d.sample_count).sum::<i64>(), 48);
    // every sample 4 times: 4 × 75 = 300
    let total: f64 = windows.iter().map(|d| d.value).sum();
    assert_near(total, 300.0, "sum over all windows");
}

#[test]
fn each_hopping_window_closes_when_the_watermark_reaches_its_own_end() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: rolling, from: api.departures, aggregate: sum, window: { hop: { size: 1h, slide: 30m } } }"],
        ),
    );
    let samples = departure_samples(APP, "ewr", "06:00", "08:45");
    let mut closed_at = Vec::new();
    for s in &samples {
        for d in derived(&driver.push(s)) {
            closed_at.push((s.event_time_ms, d.window_start_ms));
        }
    }
    // the sample at a window's end closes it, and nothing else does
    assert_eq!(
        closed_at,
        vec![
            (at("06:30"), at("05:30")),
            (at("07:00"), at("06:00")),
            (at("07:30"), at("06:30")),
            (at("08:00"), at("07:00")),
            (at("08:30"), at("07:30")),
        ]
    );
}

#[test]
fn tumbling_windows_are_aligned_to_the_epoch_and_a_sample_at_the_end_opens_the_next() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: two_hours, from: api.departures, aggregate: sum, window: { tumble: 2h } }"],
        ),
    );
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "08:45"));
    driver.flush();
    // 2-hour windows start at even hours since the epoch (JAN7 is midnight): [06:00, 08:00)
    // holds 5+8+9+2+8+6+3+6 = 47 and [08:00, 10:00) the rest, 5+6+10+7 = 28
    let windows: Vec<(i64, f64)> = of(&driver.outputs, "two_hours")
        .iter()
        .map(|d| (d.window_start_ms, d.value))
        .collect();
    assert_eq!(
        windows,
        vec![(JAN7 + 6 * HOUR, 47.0), (JAN7 + 8 * HOUR, 28.0)]
    );
}
