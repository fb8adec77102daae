//! Event time: windows close when the partition's watermark (its newest event time) passes
//! their end plus `windowing.allowed_lateness`; out-of-order samples within the lateness count;
//! later ones are reported late; an idle partition's event time moves on with the wall clock;
//! each partition has its own watermark.
//!
//! Input: departures per quarter on 2013-01-07, ewr 06:00..08:45 = 5, 8, 9, 2 | 8, 6, 3, 6 |
//! 5, 6, 10, 7 and jfk 06:00..07:00 = 3, 6, 2, 4 | 7.

mod common;

use common::*;
use presage_recipe_processor::{Position, RecipeError, RecipeOutput, RecipeProcessor};

const APP: &str = "nyc";

const HOURLY: &str =
    "{ name: hourly, from: api.departures, aggregate: sum, window: { tumble: 1h } }";

/// ewr's quarter at `hhmm`.
fn ewr(hhmm: &str) -> presage_events::RawSample {
    departure_samples(APP, "ewr", hhmm, hhmm).remove(0)
}

#[test]
fn trace_timestamps_are_utc_epoch_milliseconds() {
    // 1 357 538 400 s = 2013-01-07T06:00:00Z (see `common::JAN7` for the day count)
    assert_eq!(at("06:00"), 1_357_538_400_000);
    assert_eq!(
        departures("ewr", "06:00", "06:00"),
        vec![(1_357_538_400_000, 5.0)]
    );
}

#[test]
fn a_window_closes_once_the_watermark_passes_its_end_plus_the_allowed_lateness() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            "{ allowed_lateness: 30m, idle_timeout: 1h }",
            &[HOURLY],
        ),
    );
    for hhmm in ["06:00", "06:15", "06:30", "06:45", "07:00", "07:15"] {
        let out = driver.push(&ewr(hhmm));
        // [06:00, 07:00) + 30 min closes at 07:30: still open at 07:15
        assert!(derived(&out).is_empty(), "closed early at {hhmm}: {out:?}");
    }
    let out = driver.push(&ewr("07:30"));
    // 5+8+9+2 = 24
    assert_eq!(
        derived(&out)
            .iter()
            .map(|d| (d.window_start_ms, d.value))
            .collect::<Vec<_>>(),
        vec![(at("06:00"), 24.0)]
    );
}

#[test]
fn an_out_of_order_sample_within_the_lateness_is_counted() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            "{ allowed_lateness: 30m, idle_timeout: 1h }",
            &[HOURLY],
        ),
    );
    // 06:45 (2) arrives after 07:15, when the watermark is 07:15 < 07:00 + 30 min
    for hhmm in [
        "06:00", "06:15", "06:30", "07:00", "07:15", "06:45", "07:30",
    ] {
        driver.push(&ewr(hhmm));
    }
    // 5+8+9+2 = 24, with the straggler
    assert_near(
        value(&driver.outputs, "hourly", at("06:00")),
        24.0,
        "06:00 hour",
    );
    assert!(late(&driver.outputs).is_empty());
    assert_eq!(driver.processor.late_samples(APP), 0);
}

#[test]
fn a_sample_after_all_its_windows_closed_is_reported_late_and_left_out() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            "{ allowed_lateness: 30m, idle_timeout: 1h }",
            &[HOURLY],
        ),
    );
    // 07:45 (6) is held back until after 08:30, which closes [07:00, 08:00) (08:00 + 30 min)
    for hhmm in ["07:00", "07:15", "07:30", "08:00", "08:15", "08:30"] {
        driver.push(&ewr(hhmm));
    }
    assert_eq!(driver.processor.late_samples(APP), 0);
    let out = driver.push(&ewr("07:45"));
    let reported = late(&out);
    assert_eq!(reported.len(), 1, "{out:?}");
    assert_eq!(reported[0].0, APP);
    assert_eq!(driver.processor.late_samples(APP), 1);
    driver.push(&ewr("08:45"));
    driver.flush();
    // 8+6+3 = 17 without the late 6; the next hour is untouched: 5+6+10+7 = 28
    assert_near(
        value(&driver.outputs, "hourly", at("07:00")),
        17.0,
        "07:00 hour",
    );
    assert_near(
        value(&driver.outputs, "hourly", at("08:00")),
        28.0,
        "08:00 hour",
    );
}

#[test]
fn a_sample_late_for_one_hopping_window_still_counts_in_the_open_one() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: rolling, from: api.departures, aggregate: sum, window: { hop: { size: 1h, slide: 30m } } }"],
        ),
    );
    // 06:45 (2) arrives after 07:00, which closed [06:00, 07:00); [06:30, 07:30) is open
    for hhmm in [
        "06:00", "06:15", "06:30", "07:00", "06:45", "07:15", "07:30",
    ] {
        driver.push(&ewr(hhmm));
    }
    // [06:00, 07:00): 5+8+9 = 22 (the straggler missed it); [06:30, 07:30): 9+2+8+6 = 25
    assert_near(
        value(&driver.outputs, "rolling", at("06:00")),
        22.0,
        "06:00 window",
    );
    assert_near(
        value(&driver.outputs, "rolling", at("06:30")),
        25.0,
        "06:30 window",
    );
    assert!(
        late(&driver.outputs).is_empty(),
        "it was used, so it is not late"
    );
    assert_eq!(driver.processor.late_samples(APP), 0);
}

#[test]
fn an_idle_partition_closes_its_last_window_as_wall_time_passes() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            "{ allowed_lateness: 0s, idle_timeout: 10m }",
            &[HOURLY],
        ),
    );
    // The collector delivers each quarter 2 s after its event time.
    for s in departure_samples(APP, "ewr", "08:00", "08:45") {
        let received = s.event_time_ms + 2_000;
        driver.push_received(&s, received);
    }
    let last_received = at("08:45") + 2_000;
    // Not yet idle: 9 min 59.999 s of quiet < 10 min.
    assert!(driver.idle(last_received + 10 * MINUTE - 1).is_empty());
    // Idle after 10 min: event time moves to 08:45 + 10 min = 08:55 < 09:00, still open.
    assert!(driver.idle(last_received + 10 * MINUTE).is_empty());
    // After 15 min: 08:45 + 15 min = 09:00, the end of [08:00, 09:00): 5+6+10+7 = 28
    let out = driver.idle(last_received + 15 * MINUTE);
    assert_eq!(
        derived(&out)
            .iter()
            .map(|d| (d.window_start_ms, d.value))
            .collect::<Vec<_>>(),
        vec![(at("08:00"), 28.0)]
    );
    assert_eq!(driver.processor.open_windows(), 0);
}

#[test]
fn time_the_broker_was_away_is_not_counted_as_quiet() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            "{ allowed_lateness: 0s, idle_timeout: 10m }",
            &[HOURLY],
        ),
    );
    let samples = departure_samples(APP, "ewr", "08:00", "08:45");
    let (before, spooled) = samples.split_at(2);
    for s in before {
        driver.push_received(s, s.event_time_ms + 2_000);
    }
    let last_received = at("08:15") + 2_000;
    // The broker is away for 50 minutes; the runner does not tick while it is, and reports
    // the outage when it is back. Counted as quiet, 50 min would move event time to 09:05 and
    // close [08:00, 09:00) with half its samples.
    driver.processor.broker_was_away(50 * MINUTE);
    let back = last_received + 50 * MINUTE;
    assert!(
        driver.idle(back + 1_000).is_empty(),
        "nothing closed by the outage"
    );
    // The collector's spool delivers what it read meanwhile: on time, not late.
    for s in spooled {
        driver.push_received(s, back + 2_000);
    }
    assert!(late(&driver.outputs).is_empty());
    let out = driver.idle(back + 2_000 + 15 * MINUTE);
    assert_eq!(
        derived(&out)
            .iter()
            .map(|d| (d.window_start_ms, d.value))
            .collect::<Vec<_>>(),
        vec![(at("08:00"), 28.0)],
        "the window holds the samples of before and during the outage"
    );
}

#[test]
fn each_partition_closes_windows_on_its_own_watermark() {
    let mut processor = RecipeProcessor::new().unwrap();
    processor
        .set_template("v1", template("airport-ewr", STRICT, &[HOURLY]))
        .unwrap();
    processor
        .set_template("v1", template("airport-jfk", STRICT, &[HOURLY]))
        .unwrap();
    fn feed(
        processor: &mut RecipeProcessor,
        partition: i32,
        samples: Vec<presage_events::RawSample>,
    ) -> Vec<RecipeOutput> {
        let mut outputs = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            let position = Position {
                partition,
                offset: i as i64,
                received_ms: s.event_time_ms,
            };
            outputs.extend(processor.on_raw(s, position).unwrap());
        }
        outputs
    }
    // jfk (partition 1) reaches 06:45; ewr (partition 0) runs on to 08:45
    let mut outputs = feed(
        &mut processor,
        1,
        departure_samples("airport-jfk", "jfk", "06:00", "06:45"),
    );
    outputs.extend(feed(
        &mut processor,
        0,
        departure_samples("airport-ewr", "ewr", "06:00", "08:45"),
    ));
    let apps: Vec<(&str, i64)> = derived(&outputs)
        .iter()
        .map(|d| (d.app.as_str(), d.window_start_ms))
        .collect();
    // ewr's 06:00 and 07:00 hours closed (24 and 23); jfk's 06:00 hour is still open
    assert_eq!(
        apps,
        vec![("airport-ewr", at("06:00")), ("airport-ewr", at("07:00"))]
    );
    let outputs = feed(
        &mut processor,
        1,
        departure_samples("airport-jfk", "jfk", "07:00", "07:00"),
    );
    let jfk = derived(&outputs);
    assert_eq!(jfk.len(), 1, "{outputs:?}");
    assert_eq!(jfk[0].app, "airport-jfk");
    assert_eq!(jfk[0].raw_partition, 1);
    // 3+6+2+4 = 15
    assert_near(jfk[0].value, 15.0, "jfk 06:00 hour");
}

#[test]
fn a_sample_of_an_app_without_a_template_is_an_error() {
    let mut driver = Driver::new("v1", &template(APP, STRICT, &[HOURLY]));
    let stranger = departure_samples("airport-ewr", "ewr", "06:00", "06:00").remove(0);
    let position = Position {
        partition: 0,
        offset: 7,
        received_ms: 0,
    };
    match driver.processor.on_raw(&stranger, position) {
        Err(RecipeError::UnknownApp(app)) => assert_eq!(app, "airport-ewr"),
        other => panic!("expected UnknownApp, got {other:?}"),
    }
    // and it leaves the known app's windows alone: 5+8+9+2 = 24
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "07:00"));
    assert_near(
        value(&driver.outputs, "hourly", at("06:00")),
        24.0,
        "06:00 hour",
    );
}

#[test]
fn absurd_timestamps_do_not_panic() {
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            "{ allowed_lateness: 30m, idle_timeout: 10m }",
            &[
                HOURLY,
                "{ name: rolling, from: api.departures, aggregate: sum, window: { hop: { size: 1h, slide: 30m } } }",
            ],
        ),
    );
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "06:45"));
    for ts in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
        let s = raw(APP, "api", "departures", &[("airport", "ewr")], ts, 1.0);
        driver.push_received(&s, ts);
    }
    driver.idle(i64::MAX);
    driver.idle(i64::MIN);
    let _ = driver.processor.checkpoint(0);
}

#[test]
fn a_far_future_timestamp_does_not_close_the_windows_of_the_present() {
    let mut driver = Driver::new("v1", &template(APP, STRICT, &[HOURLY]));
    driver.push_all(&departure_samples(APP, "ewr", "06:00", "06:30"));
    // One corrupt sample claims the end of time.
    let corrupt = raw(
        APP,
        "api",
        "departures",
        &[("airport", "ewr")],
        i64::MAX,
        1.0,
    );
    // Received in the present: it is refused, not allowed to move the watermark.
    let refused = driver.push_received(&corrupt, at("06:30"));
    assert!(
        matches!(refused.as_slice(), [RecipeOutput::Refused { reason, .. }] if reason.contains("ahead")),
        "{refused:?}"
    );
    driver.push_all(&departure_samples(APP, "ewr", "06:45", "07:00"));
    // The 06:00 hour still gets its 06:45 quarter: 5+8+9+2 = 24
    assert_near(
        value(&driver.outputs, "hourly", at("06:00")),
        24.0,
        "06:00 hour",
    );
}
