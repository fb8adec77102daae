//! Inputs that used to be lost or confused: label sets whose text joins the same way, samples
//! that are not finite numbers, one app's clock ahead of the others on its partition.

mod common;

use common::*;

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
