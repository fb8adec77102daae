//! Inputs that used to be lost or confused: label sets whose text joins the same way, samples
//! that are not finite numbers, one app's clock ahead of the others on its partition.

mod common;

use common::*;
use presage_recipe_processor::{RecipeOutput, Refusal};

const APP: &str = "shop";

/// `{a="1,b=2"}` and `{a="1",b="2"}` joined as `k=v` with `,` are both `a=1,b=2`.
const COLLIDING: [&[(&str, &str)]; 2] = [&[("a", "1,b=2")], &[("a", "1"), ("b", "2")]];

#[test]
fn labels_that_join_to_the_same_text_stay_two_series_with_two_ids() {
    // Grouped by both labels: one derived metric per label set.
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: per_set, from: api.requests, aggregate: sum, group_by: [a, b], window: { tumble: 1m } }"],
        ),
    );
    for (labels, value) in COLLIDING.iter().zip([3.0, 5.0]) {
        driver.push(&raw(APP, "api", "requests", labels, 10 * MINUTE, value));
    }
    driver.flush();
    let emitted = derived(&driver.outputs);
    assert_eq!(emitted.len(), 2, "{:?}", summary(&driver.outputs));
    assert_ne!(
        emitted[0].event_id, emitted[1].event_id,
        "two series, two ids"
    );
    let values: Vec<f64> = emitted.iter().map(|d| d.value).collect();
    assert!(values.contains(&3.0) && values.contains(&5.0), "{values:?}");
}

#[test]
fn counters_whose_labels_join_the_same_way_are_not_taken_for_one_series() {
    // Two counters, each rising by 1 a minute within [0, 10 min). Taken for one series, the
    // interleaved readings 100, 7, 101, 8, ... look like a reset at every other sample.
    let mut driver = Driver::new(
        "v1",
        &template(
            APP,
            STRICT,
            &["{ name: increase, from: api.requests, transform: delta, aggregate: sum, window: { tumble: 10m } }"],
        ),
    );
    for minute in 0..5 {
        for (labels, base) in COLLIDING.iter().zip([100.0, 7.0]) {
            let value = base + minute as f64;
            driver.push(&raw(APP, "api", "requests", labels, minute * MINUTE, value));
        }
    }
    driver.flush();
    // Each counter rose by 4 over the window: 8 in all.
    assert_near(value(&driver.outputs, "increase", 0), 8.0, "increase");
}

/// The hourly sum of `api.departures`, no lateness.
const HOURLY: &str =
    "{ name: hourly, from: api.departures, aggregate: sum, window: { tumble: 1h } }";

fn refusals(outputs: &[RecipeOutput]) -> Vec<(Refusal, &str)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RecipeOutput::Refused { kind, reason, .. } => Some((*kind, reason.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_non_finite_sample_is_refused_and_its_window_keeps_the_others() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut driver = Driver::new("v1", &template(APP, STRICT, &[HOURLY]));
        let samples = departure_samples(APP, "ewr", "06:00", "07:00");
        let mut broken = samples[1].clone();
        broken.value = bad;
        driver.push(&samples[0]);
        let refused = driver.push(&broken);
        driver.push_all(&samples[1..]);
        // 5+8+9+2 = 24: the window is there, with every finite sample.
        assert_near(
            value(&driver.outputs, "hourly", at("06:00")),
            24.0,
            "06:00 hour",
        );
        let found = refusals(&refused);
        assert_eq!(found.len(), 1, "{refused:?}");
        assert_eq!(found[0].0, Refusal::NonFinite);
        assert!(
            found[0]
                .1
                .contains("api.departures {airport=\"ewr\"} of app shop")
                && found[0].1.contains(&format!("value {bad}")),
            "{}",
            found[0].1
        );
        assert_eq!(driver.processor.refused_samples(APP, Refusal::NonFinite), 1);
    }
}

#[test]
fn one_apps_clock_ahead_does_not_make_another_apps_samples_late() {
    // Two apps on one partition. `ahead` reads an hour later than `behind` (its clock runs an
    // hour fast, or `behind`'s collector is draining an hour of spool): their samples
    // alternate, each received when the newer of them was read.
    let mut processor = presage_recipe_processor::RecipeProcessor::new().unwrap();
    for app in ["ahead", "behind"] {
        processor
            .set_template("v1", template(app, STRICT, &[HOURLY]))
            .unwrap();
    }
    let mut driver = Driver::with(processor, 0);
    let ahead = departure_samples("ahead", "jfk", "07:00", "08:00");
    let behind = departure_samples("behind", "ewr", "06:00", "07:00");
    for (a, b) in ahead.iter().zip(&behind) {
        driver.push(a);
        driver.push(b);
    }
    assert!(
        late(&driver.outputs).is_empty(),
        "{:?}",
        late(&driver.outputs)
    );
    assert_eq!(driver.processor.late_samples("behind"), 0);
    // behind's 06:00 hour has all four quarters: 5+8+9+2 = 24; ahead's 07:00 hour: 7+6+3+5.
    let of_app = |app: &str| {
        derived(&driver.outputs)
            .into_iter()
            .filter(|d| d.app == app)
            .map(|d| (d.window_start_ms, d.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(of_app("behind"), vec![(at("06:00"), 24.0)]);
    assert_eq!(of_app("ahead"), vec![(at("07:00"), 21.0)]);
}

#[test]
fn apps_in_step_still_close_together() {
    // Several apps whose windows start and close together share one pane: it closes when the
    // last of them passes its end, with every app's value.
    let apps = ["a", "b", "c"];
    let mut processor = presage_recipe_processor::RecipeProcessor::new().unwrap();
    for app in apps {
        processor
            .set_template("v1", template(app, STRICT, &[HOURLY]))
            .unwrap();
    }
    let mut driver = Driver::with(processor, 0);
    let streams: Vec<_> = apps
        .iter()
        .zip(["ewr", "jfk", "lga"])
        .map(|(app, airport)| departure_samples(app, airport, "06:00", "07:00"))
        .collect();
    let merged = merge(&streams);
    let (last, before) = merged.split_last().unwrap();
    driver.push_all(before);
    // a and b passed 07:00; c has not yet: nothing closed.
    assert!(
        derived(&driver.outputs).is_empty(),
        "{:?}",
        summary(&driver.outputs)
    );
    let out = driver.push(last);
    assert_eq!(derived(&out).len(), 3, "{out:?}");
    // ewr 24, jfk 3+6+2+4 = 15, lga 3+9+2+9 = 23
    for (app, expected) in [("a", 24.0), ("b", 15.0), ("c", 23.0)] {
        let found = derived(&driver.outputs)
            .into_iter()
            .find(|d| d.app == app)
            .unwrap_or_else(|| panic!("no window of {app}"));
        assert_near(found.value, expected, app);
    }
}

/// Two apps an hour apart on one partition, with a 15-minute lateness: `ahead` jfk 07:00..
/// 08:45, `behind` ewr 06:00..07:45, alternating.
fn two_clocks() -> (
    Vec<presage_events::RawSample>,
    presage_recipe_processor::RecipeProcessor,
) {
    let mut processor = presage_recipe_processor::RecipeProcessor::new().unwrap();
    for app in ["ahead", "behind"] {
        let windowing = "{ allowed_lateness: 15m, idle_timeout: 1h }";
        processor
            .set_template("v1", template(app, windowing, &[HOURLY]))
            .unwrap();
    }
    let ahead = departure_samples("ahead", "jfk", "07:00", "08:45");
    let behind = departure_samples("behind", "ewr", "06:00", "07:45");
    let input = ahead
        .into_iter()
        .zip(behind)
        .flat_map(|(a, b)| [a, b])
        .collect();
    (input, processor)
}

/// (app, window start) → (value, event id) of every derived metric.
fn by_window(outputs: &[RecipeOutput]) -> std::collections::BTreeMap<(String, i64), (f64, String)> {
    let mut found = std::collections::BTreeMap::new();
    for d in derived(outputs) {
        let again = found.insert(
            (d.app.clone(), d.window_start_ms),
            (d.value, d.event_id.clone()),
        );
        if let Some(before) = again {
            assert_eq!(
                before,
                (d.value, d.event_id.clone()),
                "{d:?} emitted twice, differently"
            );
        }
    }
    found
}

#[test]
fn a_restart_restores_each_apps_own_event_time() {
    let (input, processor) = two_clocks();
    let mut whole = Driver::with(processor, 0);
    whole.push_all(&input);
    let reference = by_window(&whole.outputs);
    // behind 06:00 hour: 24 and 07:00: 8+6+3+6 = 23; ahead 07:00: 7+6+3+5 = 21 (08:00 still
    // open, ahead's event time is 08:45 < 09:15)
    let values: Vec<((String, i64), f64)> = reference
        .iter()
        .map(|(k, (v, _))| (k.clone(), *v))
        .collect();
    assert_eq!(
        values,
        vec![
            (("ahead".to_string(), at("07:00")), 21.0),
            (("behind".to_string(), at("06:00")), 24.0),
        ]
    );
    for k in 1..input.len() {
        let (_, processor) = two_clocks();
        let mut before = Driver::with(processor, 0);
        before.push_all(&input[..k]);
        let (offset, metadata) = before.processor.checkpoint(0).expect("a checkpoint");
        let (_, processor) = two_clocks();
        let mut after = Driver::with(processor, 0);
        after.processor.restore(0, &metadata, offset);
        let first = (offset - FIRST_OFFSET) as usize;
        after.next_offset = offset;
        after.push_all(&input[first..]);
        assert!(
            late(&after.outputs).is_empty(),
            "after sample {k}: {:?}",
            late(&after.outputs)
        );
        let mut both = before.outputs.clone();
        both.extend(after.outputs.iter().cloned());
        assert_eq!(
            by_window(&both),
            reference,
            "restarted after sample {k} ({metadata})"
        );
    }
}

#[test]
fn a_checkpoint_from_before_per_app_watermarks_still_restores() {
    // A v1 checkpoint names one watermark for the partition: every app starts from it, so no
    // window closed before it is opened again.
    let (input, processor) = two_clocks();
    let mut driver = Driver::with(processor, 0);
    driver.processor.restore(
        0,
        &format!("recipes/v1 watermark={} next=0", at("07:15")),
        0,
    );
    driver.push_all(&input);
    let found = by_window(&driver.outputs);
    assert!(
        !found.contains_key(&("behind".to_string(), at("06:00"))),
        "behind's 06:00 hour closed before the checkpoint: {found:?}"
    );
    assert!(
        found.contains_key(&("ahead".to_string(), at("07:00"))),
        "{found:?}"
    );
}

/// Two recipes over `api.requests` (one per `kind` label value), with small limits.
fn limited(limits: presage_recipe_processor::Limits) -> Driver {
    let mut processor = presage_recipe_processor::RecipeProcessor::with_limits(limits).unwrap();
    processor
        .set_template(
            "v1",
            template(
                APP,
                STRICT,
                &[
                    r#"{ name: reads, from: 'api.requests{kind="read"}', aggregate: sum, window: { tumble: 1m } }"#,
                    r#"{ name: writes, from: 'api.requests{kind="write"}', aggregate: sum, window: { tumble: 1m } }"#,
                ],
            ),
        )
        .unwrap();
    processor
        .set_template("v1", template("other", STRICT, &[HOURLY]))
        .unwrap();
    Driver::with(processor, 0)
}

fn request(kind: &str, id: &str, ts: i64) -> presage_events::RawSample {
    raw(
        APP,
        "api",
        "requests",
        &[("id", id), ("kind", kind)],
        ts,
        1.0,
    )
}

#[test]
fn new_series_past_a_recipes_limit_are_refused_and_known_ones_and_other_recipes_keep_working() {
    let limits = presage_recipe_processor::Limits {
        series_per_app: 5,
        series_per_recipe: 3,
        ..Default::default()
    };
    let mut driver = limited(limits);
    // Minute 0: reads from 5 series (3 fit), writes from 2.
    for id in ["a", "b", "c", "d", "e"] {
        driver.push(&request("read", id, 0));
    }
    for id in ["a", "b"] {
        driver.push(&request("write", id, 1_000));
    }
    // The app now has 5 series: a third write series is past the app's limit.
    driver.push(&request("write", "c", 2_000));
    // Known series keep counting in the next minute; a new one there is still refused.
    for id in ["a", "b", "c", "d"] {
        driver.push(&request("read", id, MINUTE));
    }
    driver.push(&request("write", "a", MINUTE));
    // Another app on the partition is not limited by this one's series.
    driver.push_all(&departure_samples("other", "ewr", "06:00", "07:00"));
    driver.push(&request("read", "a", 2 * MINUTE));
    driver.push(&request("write", "a", 2 * MINUTE));

    let found = refusals(&driver.outputs);
    let reasons: Vec<&str> = found.iter().map(|(_, r)| *r).collect();
    assert!(
        found.iter().all(|(k, _)| *k == Refusal::Series),
        "{found:?}"
    );
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert!(
        reasons[0].contains("id=\"d\"")
            && reasons[0].contains("recipe reads already has 3 series, its limit is 3"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[2].contains("id=\"c\"")
            && reasons[2].contains("app shop already has 5 series, its limit is 5"),
        "{}",
        reasons[2]
    );
    assert!(reasons[3].contains("id=\"d\""), "{}", reasons[3]);
    assert_eq!(driver.processor.refused_samples(APP, Refusal::Series), 4);
    // reads: a, b, c in minute 0 and again in minute 1; writes: a, b then a.
    assert_eq!(value(&driver.outputs, "reads", 0), 3.0);
    assert_eq!(value(&driver.outputs, "reads", MINUTE), 3.0);
    assert_eq!(value(&driver.outputs, "writes", 0), 2.0);
    assert_eq!(value(&driver.outputs, "writes", MINUTE), 1.0);
    assert_near(
        value(&driver.outputs, "hourly", at("06:00")),
        24.0,
        "other app",
    );
}

#[test]
fn a_series_not_seen_for_a_window_no_longer_counts() {
    let limits = presage_recipe_processor::Limits {
        series_per_app: 2,
        series_per_recipe: 2,
        ..Default::default()
    };
    let mut driver = limited(limits);
    driver.push(&request("read", "a", 0));
    driver.push(&request("read", "b", 0));
    assert_eq!(
        refusals(&driver.push(&request("read", "c", 1_000))).len(),
        1
    );
    // Two minutes on, a and b are in no open window: c has room.
    assert!(refusals(&driver.push(&request("read", "c", 2 * MINUTE))).is_empty());
    assert_eq!(driver.processor.series_held(APP), 1);
}

#[test]
fn too_many_or_too_long_labels_are_refused_and_the_window_keeps_the_rest() {
    let limits = presage_recipe_processor::Limits {
        labels_per_sample: 3,
        label_key_bytes: 8,
        label_value_bytes: 16,
        ..Default::default()
    };
    let mut driver = limited(limits);
    driver.push(&request("read", "a", 0));
    let long_value = "x".repeat(17);
    let bad = [
        raw(
            APP,
            "api",
            "requests",
            &[("id", "b"), ("kind", "read"), ("x", ""), ("y", "")],
            0,
            1.0,
        ),
        raw(
            APP,
            "api",
            "requests",
            &[("id", "b"), ("kind", "read"), ("very_long", "")],
            0,
            1.0,
        ),
        raw(
            APP,
            "api",
            "requests",
            &[("id", &long_value), ("kind", "read")],
            0,
            1.0,
        ),
    ];
    for sample in &bad {
        let out = driver.push(sample);
        assert_eq!(
            refusals(&out).first().map(|r| r.0),
            Some(Refusal::Labels),
            "{out:?}"
        );
    }
    driver.push(&request("read", "a", MINUTE));
    assert_eq!(value(&driver.outputs, "reads", 0), 1.0);
    assert_eq!(driver.processor.refused_samples(APP, Refusal::Labels), 3);
}

#[test]
fn the_app_left_waiting_in_a_split_pane_still_gets_its_whole_window() {
    // ahead passes [07:00, 08:00) + 15 min at 08:15 while behind is at 07:00, inside that
    // window: ahead's part runs alone a minute of its event time later (08:30), and behind's
    // rows stay for its own close.
    let (input, processor) = two_clocks();
    let mut driver = Driver::with(processor, 0);
    driver.push_all(&input);
    assert!(
        !by_window(&driver.outputs).contains_key(&("behind".to_string(), at("07:00"))),
        "behind's 07:00 hour is still open"
    );
    assert!(
        by_window(&driver.outputs).contains_key(&("ahead".to_string(), at("07:00"))),
        "ahead's 07:00 hour ran without behind"
    );
    driver.push_all(&departure_samples("behind", "ewr", "08:00", "08:15"));
    let found = by_window(&driver.outputs);
    // ahead (jfk) 07:00: 7+6+3+5 = 21; behind (ewr) 07:00: 8+6+3+6 = 23
    assert_eq!(found[&("ahead".to_string(), at("07:00"))].0, 21.0);
    assert_eq!(found[&("behind".to_string(), at("07:00"))].0, 23.0);
    assert!(late(&driver.outputs).is_empty());
}
