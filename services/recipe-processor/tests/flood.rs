//! One million distinct series from one app: the recipe-processor's memory stays under a
//! bound set by its series limits, not by what it is sent, and an app within its limits on the
//! same partition gets exactly its derived values.
//!
//! Memory is the heap this test binary allocates (a counting global allocator), measured from
//! the moment the processor is built with both templates loaded.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use presage_recipe_processor::{Limits, Position, RecipeOutput, RecipeProcessor, Refusal};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded to the system allocator with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

/// The documented bound on what one app flooding new series adds to the recipe-processor's
/// heap with the default limits: 5,000 series per recipe in its open window, their rows, the
/// series books (10,000 entries per app, 5,000 per recipe), and the query that closes the
/// window over them. Measured: 0.9 MiB with the limits; 175 MiB without them (the million
/// rows of the flood's one window, and a series key each).
const FLOOD_BOUND: usize = 16 * MIB;

const SERIES: usize = 1_000_000;

#[test]
fn a_million_new_series_are_refused_past_the_limit_and_memory_stays_bounded() {
    let mut processor = RecipeProcessor::with_limits(Limits::default()).unwrap();
    processor
        .set_template(
            "v1",
            template(
                "flood",
                STRICT,
                &["{ name: per_hour, from: api.requests, aggregate: sum, window: { tumble: 1h } }"],
            ),
        )
        .unwrap();
    processor
        .set_template(
            "v1",
            template(
                "calm",
                STRICT,
                &["{ name: hourly, from: api.departures, aggregate: sum, window: { tumble: 1h } }"],
            ),
        )
        .unwrap();
    let calm = departure_samples("calm", "ewr", "06:00", "08:00");
    let start = at("06:00");
    let span = at("07:00") - start;
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);

    let mut derived_calm = Vec::new();
    let mut flood_windows = Vec::new();
    let mut refused = 0u64;
    let mut calm_next = 0;
    let mut offset = 0i64;
    let mut feed = |processor: &mut RecipeProcessor, sample: &presage_events::RawSample| {
        let position = Position {
            partition: 0,
            offset,
            received_ms: sample.event_time_ms,
        };
        offset += 1;
        for output in processor.on_raw(sample, position).unwrap() {
            match output {
                RecipeOutput::Derived(d) if d.app == "calm" => derived_calm.push(d),
                RecipeOutput::Derived(d) => flood_windows.push((d.window_start_ms, d.sample_count)),
                RecipeOutput::Refused { kind, app, .. } => {
                    assert_eq!((kind, app.as_str()), (Refusal::Series, "flood"));
                    refused += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    for i in 0..SERIES {
        // Every sample a new series, all in the flood's 06:00 hour.
        let ts = start + (i as i64 * span) / SERIES as i64;
        while calm_next < calm.len() && calm[calm_next].event_time_ms <= ts {
            feed(&mut processor, &calm[calm_next]);
            calm_next += 1;
        }
        let id = i.to_string();
        let sample = raw("flood", "api", "requests", &[("id", &id)], ts, 1.0);
        feed(&mut processor, &sample);
    }
    for sample in &calm[calm_next..] {
        feed(&mut processor, sample);
    }
    // A sample of the flood's first series at 07:00: a series it already has, so it is
    // admitted, and it moves the flood's event time past its hour.
    feed(
        &mut processor,
        &raw("flood", "api", "requests", &[("id", "0")], at("07:00"), 1.0),
    );
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!(
        "{SERIES} series: {refused} samples refused, {} flood windows, peak heap {:.1} MiB over the baseline ({:.1} MiB)",
        flood_windows.len(),
        peak as f64 / MIB as f64,
        baseline as f64 / MIB as f64
    );

    assert!(
        peak < FLOOD_BOUND,
        "peak heap {peak} bytes over the {FLOOD_BOUND} bound"
    );
    assert!(processor.series_held("flood") <= Limits::default().series_per_app);
    assert!(refused > 0);
    assert_eq!(processor.refused_samples("flood", Refusal::Series), refused);
    // The flood's hour holds its first 5,000 series (one recipe's limit), one sample each.
    let limit = Limits::default().series_per_recipe;
    assert_eq!(flood_windows, vec![(at("06:00"), limit as i64)]);
    assert_eq!(refused as usize, SERIES - limit);
    // The calm app is untouched: 06:00 hour 5+8+9+2 = 24, 07:00 hour 8+6+3+6 = 23.
    let values: Vec<(i64, f64)> = derived_calm
        .iter()
        .map(|d| (d.window_start_ms, d.value))
        .collect();
    assert_eq!(values, vec![(at("06:00"), 24.0), (at("07:00"), 23.0)]);
    assert_eq!(processor.refused_samples("calm", Refusal::Series), 0);
}
