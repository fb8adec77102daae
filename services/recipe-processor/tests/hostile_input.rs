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
