//! Restart: a processor stopped after any sample, restored from its checkpoint (offset +
//! metadata) into a fresh processor that replays the partition from that offset, together
//! emits every window exactly as an uninterrupted run does; a window emitted on both sides of
//! the restart has the same event id and value; a late sample is reported once.
//!
//! Input (offsets from `FIRST_OFFSET`, in this order): ewr and jfk departures per quarter,
//! 2013-01-07 06:00..08:45, with ewr temperatures 06:00..09:00 (a joined signal), except that
//! jfk's 06:45 quarter arrives after ewr's 07:00 (within the 15 min of allowed lateness) and
//! ewr's 07:15 quarter arrives after 08:30 (late for every window holding it).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use presage_events::{DerivedMetric, MetadataFragment, RawSample};
use presage_recipe_processor::RecipeOutput;
use presage_template::Template;

const APP: &str = "nyc";

fn restart_template() -> Arc<Template> {
    template(
        APP,
        "{ allowed_lateness: 15m, idle_timeout: 10m }",
        &[
            "{ name: hourly, from: api.departures, aggregate: sum, group_by: [airport], window: { tumble: 1h } }",
            "{ name: rolling_p50, from: api.departures, aggregate: p50, window: { hop: { size: 1h, slide: 30m } } }",
            r#"{ name: flights_delta, from: 'api.departures{airport="ewr"}', transform: delta, aggregate: sum, window: { hop: { size: 1h, slide: 30m } } }"#,
            r#"{ name: threads, from: api.departures, aggregate: sum, window: { tumble: 1h }, join: [ { signal: wx.temp, as: temp } ], fragments: { format: json, set: ["config.worker_threads = clamp(ceil(threads / 4), 2, 32)"] } }"#,
        ],
    )
}

fn input() -> Vec<RawSample> {
    let mut samples = merge(&[
        temperature_samples(APP, "ewr", "06:00", "09:00"),
        interleaved(APP, &["ewr", "jfk"], "06:00", "08:45"),
    ]);
    let take = |samples: &mut Vec<RawSample>, airport: &str, hhmm: &str| {
        let i = samples
            .iter()
            .position(|s| {
                s.labels.get("airport").map(String::as_str) == Some(airport)
                    && s.event_time_ms == at(hhmm)
            })
            .unwrap();
        samples.remove(i)
    };
    let put_after = |samples: &mut Vec<RawSample>, sample: RawSample, airport: &str, hhmm: &str| {
        let i = samples
            .iter()
            .position(|s| {
                s.labels.get("airport").map(String::as_str) == Some(airport)
                    && s.event_time_ms == at(hhmm)
            })
            .unwrap();
        samples.insert(i + 1, sample);
    };
    let straggler = take(&mut samples, "jfk", "06:45");
    put_after(&mut samples, straggler, "ewr", "07:00");
    let late = take(&mut samples, "ewr", "07:15");
    put_after(&mut samples, late, "ewr", "08:30");
    samples
}

/// The outputs of one processor's life, and how many late samples it counted.
#[derive(Clone)]
struct Life {
    outputs: Vec<RecipeOutput>,
    late_samples: u64,
}

/// Runs a fresh processor: restored from `checkpoint` (replaying from its offset) or from the
/// start, through sample index `until` (exclusive) or to the end and then idle.
/// Returns its life and its checkpoint at the end.
fn life(
    input: &[RawSample],
    checkpoint: Option<&(i64, String)>,
    until: Option<usize>,
) -> (Life, Option<(i64, String)>) {
    let mut driver = Driver::new("v1", &restart_template());
    let from = match checkpoint {
        Some((offset, metadata)) => {
            driver.processor.restore(0, metadata, *offset);
            *offset
        }
        None => FIRST_OFFSET,
    };
    let first = usize::try_from(from - FIRST_OFFSET).unwrap_or(0);
    let last = until.unwrap_or(input.len());
    driver.next_offset = FIRST_OFFSET + first as i64;
    for s in input.iter().take(last).skip(first) {
        driver.push(s);
    }
    if until.is_none() {
        driver.flush();
    }
    let checkpoint = driver.processor.checkpoint(0);
    (
        Life {
            late_samples: driver.processor.late_samples(APP),
            outputs: driver.outputs,
        },
        checkpoint,
    )
}

type WindowKey = (String, i64, BTreeMap<String, String>);

fn windows(outputs: &[RecipeOutput]) -> BTreeMap<WindowKey, DerivedMetric> {
    let mut found = BTreeMap::new();
    for d in derived(outputs) {
        let key = (d.recipe.clone(), d.window_start_ms, d.labels.clone());
        let again = found.insert(key, d.clone());
        assert!(again.is_none(), "emitted twice by one processor: {d:?}");
    }
    found
}

fn fragment_map(outputs: &[RecipeOutput]) -> BTreeMap<String, MetadataFragment> {
    fragments(outputs)
        .into_iter()
        .map(|f| (f.event_id.clone(), f.clone()))
        .collect()
}

/// Checks that the lives together emitted what the uninterrupted run did.
fn assert_same_as_uninterrupted(lives: &[Life], uninterrupted: &Life, case: &str) {
    assert_same_windows(lives, uninterrupted, case);
    let late_reported: usize = lives.iter().map(|l| late(&l.outputs).len()).sum();
    assert_eq!(
        late_reported,
        late(&uninterrupted.outputs).len(),
        "{case}: late samples reported"
    );
    let late_counted: u64 = lives.iter().map(|l| l.late_samples).sum();
    assert_eq!(
        late_counted, uninterrupted.late_samples,
        "{case}: late samples counted"
    );
}

/// Checks that the lives together emitted the windows and fragments the uninterrupted run did,
/// any window emitted twice with the same id and value.
fn assert_same_windows(lives: &[Life], uninterrupted: &Life, case: &str) {
    let mut union: BTreeMap<WindowKey, DerivedMetric> = BTreeMap::new();
    let mut union_fragments: BTreeMap<String, MetadataFragment> = BTreeMap::new();
    for life in lives {
        for (key, d) in windows(&life.outputs) {
            if let Some(before) = union.get(&key) {
                assert_eq!(
                    (&before.event_id, before.value),
                    (&d.event_id, d.value),
                    "{case}: window {key:?} emitted on both sides of a restart, differently"
                );
            }
            union.insert(key, d);
        }
        union_fragments.extend(fragment_map(&life.outputs));
    }
    let expected = windows(&uninterrupted.outputs);
    assert_eq!(
        union.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{case}: the windows emitted"
    );
    for (key, d) in &expected {
        assert_eq!(&union[key], d, "{case}: window {key:?}");
    }
    assert_eq!(
        union_fragments,
        fragment_map(&uninterrupted.outputs),
        "{case}: fragments"
    );
}

#[test]
fn the_uninterrupted_run_matches_the_hand_computation() {
    // The reference of the restart tests, checked by hand on a few windows.
    let (run, _) = life(&input(), None, None);
    let out = &run.outputs;
    // ewr [06:00, 07:00): 5+8+9+2 = 24; jfk: 3+6+2+4 = 15, its 06:45 straggler within lateness
    assert_near(
        window(out, "hourly", at("06:00"), &[("airport", "ewr")]).value,
        24.0,
        "ewr 06",
    );
    assert_near(
        window(out, "hourly", at("06:00"), &[("airport", "jfk")]).value,
        15.0,
        "jfk 06",
    );
    // ewr [07:00, 08:00) without its late 07:15 quarter (6): 8+3+6 = 17
    assert_near(
        window(out, "hourly", at("07:00"), &[("airport", "ewr")]).value,
        17.0,
        "ewr 07",
    );
    // rolling p50 of [06:30, 07:30): ewr 9, 2, 8 (07:15 late) and jfk 2, 4, 7, 6 →
    // sorted 2,2,4,6,7,8,9: the middle (rank 3 of 0..6) is 6
    assert_near(value(out, "rolling_p50", at("06:30")), 6.0, "p50 06:30");
    // delta reads ewr's quarters as a counter: 9, 2, 8 in [06:30, 07:30) (07:15 is late);
    // 9 → 2 is a drop, a reset counting 2, and 2 → 8 counts 6: 8
    assert_near(value(out, "flights_delta", at("06:30")), 8.0, "delta 06:30");
    // threads for [08:00, 09:00): ewr 5+6+10+7 + jfk 12+6+5+5 = 56, temp 39.92 (08:00 reading)
    let threads = window(out, "threads", at("08:00"), &[]);
    assert_near(threads.value, 56.0, "threads 08");
    assert_eq!(threads.signals.get("temp"), Some(&39.92));
    // the one late sample
    assert_eq!(late(out).len(), 1);
    assert_eq!(run.late_samples, 1);
}

#[test]
fn a_restart_after_any_sample_emits_every_window_exactly_as_an_uninterrupted_run() {
    let input = input();
    let (uninterrupted, _) = life(&input, None, None);
    for k in 0..=input.len() {
        let (a, checkpoint) = life(&input, None, Some(k));
        if let Some((offset, _)) = &checkpoint {
            assert!(
                *offset <= FIRST_OFFSET + k as i64,
                "restart after {k}: checkpoint offset {offset} skips unread input"
            );
        }
        let (b, _) = life(&input, checkpoint.as_ref(), None);
        assert_same_as_uninterrupted(&[a, b], &uninterrupted, &format!("restart after {k}"));
    }
}

#[test]
fn a_second_restart_during_the_replay_of_the_first_changes_nothing() {
    let input = input();
    let (uninterrupted, _) = life(&input, None, None);
    for k in (1..=input.len()).step_by(3) {
        let (a, first) = life(&input, None, Some(k));
        let first = first.expect("a processor that read samples has a checkpoint");
        let replay_from = (first.0 - FIRST_OFFSET) as usize;
        // the second life stops after replaying 1, 2 or 4 samples, or right at the restored
        // point, past it or at the end of the input
        for until in [replay_from + 1, replay_from + 2, replay_from + 4, k, k + 3] {
            if until > input.len() {
                continue;
            }
            let (b, second) = life(&input, Some(&first), Some(until));
            let (c, _) = life(&input, second.as_ref(), None);
            assert_same_as_uninterrupted(
                &[a.clone(), b, c],
                &uninterrupted,
                &format!("restarts after {k} and after {until}"),
            );
        }
    }
}

#[test]
fn a_checkpoint_taken_right_after_restore_is_the_restored_checkpoint() {
    let input = input();
    for k in 1..=input.len() {
        let (_, checkpoint) = life(&input, None, Some(k));
        let checkpoint = checkpoint.expect("a processor that read samples has a checkpoint");
        let mut fresh = Driver::new("v1", &restart_template());
        fresh.processor.restore(0, &checkpoint.1, checkpoint.0);
        assert_eq!(
            fresh.processor.checkpoint(0),
            Some(checkpoint.clone()),
            "restart after {k}: committing now must not move the partition's offset"
        );
    }
}

#[test]
fn metadata_that_is_not_a_recipe_checkpoint_is_ignored() {
    let input = input();
    let (uninterrupted, _) = life(&input, None, None);
    let mut driver = Driver::new("v1", &restart_template());
    driver.processor.restore(0, "", FIRST_OFFSET);
    driver
        .processor
        .restore(0, "forecaster/v3 watermark=99999999999999", FIRST_OFFSET);
    assert_eq!(driver.processor.checkpoint(0), None);
    driver.push_all(&input);
    driver.flush();
    assert_eq!(driver.outputs, uninterrupted.outputs);
}

#[test]
fn a_partition_revoked_and_given_back_is_rebuilt_from_its_checkpoint_by_the_same_processor() {
    let input = input();
    let (uninterrupted, _) = life(&input, None, None);
    for k in 1..input.len() {
        // Read k samples and commit; read a few more; lose the partition; get it back.
        let mut driver = Driver::new("v1", &restart_template());
        for s in input.iter().take(k) {
            driver.push(s);
        }
        let (offset, metadata) = driver.processor.checkpoint(0).expect("a checkpoint");
        for s in input.iter().skip(k).take(3) {
            driver.push(s);
        }
        let late_before = driver.processor.late_samples(APP);
        let before = Life {
            outputs: std::mem::take(&mut driver.outputs),
            late_samples: late_before,
        };
        driver.processor.forget(0);
        assert_eq!(
            driver.processor.open_windows(),
            0,
            "nothing held after forget"
        );
        driver.processor.restore(0, &metadata, offset);
        driver.next_offset = offset;
        let first = usize::try_from(offset - FIRST_OFFSET).unwrap();
        for s in input.iter().skip(first) {
            driver.push(s);
        }
        driver.flush();
        let after = Life {
            outputs: std::mem::take(&mut driver.outputs),
            late_samples: driver.processor.late_samples(APP) - late_before,
        };
        let case = format!("revoked after {} samples, checkpoint after {k}", k + 3);
        // A late sample read after the checkpoint is reported again on the replay (with the
        // same dead-letter id), as after a crash: at least once, never lost.
        let reported = late(&before.outputs).len() + late(&after.outputs).len();
        assert!(
            reported >= late(&uninterrupted.outputs).len(),
            "{case}: a late sample went unreported"
        );
        assert_same_windows(&[before, after], &uninterrupted, &case);
    }
}
