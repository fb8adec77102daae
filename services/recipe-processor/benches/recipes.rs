//! Recipe-processor throughput: real departures per 15 minutes (`nyc-departures-15m.csv`, all of
//! 2013 for three airports) through the core, one sample per row, under three recipes. Prints
//! samples per second and windows (DataFusion queries) per second.
//!
//! `cargo bench -p presage-recipe-processor`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use presage_events::RawSample;
use presage_recipe_processor::{RecipeOutput, RecipeProcessor};

const TEMPLATE: &str = r#"
app: airports
dynamic_metadata:
  sources:
    - { id: ops, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  metric_recipes:
    - { name: hourly_avg, from: ops.departures, aggregate: avg, window: { tumble: 1h } }
    - { name: daily_p95, from: ops.departures, aggregate: p95, window: { tumble: 1d } }
    - { name: rolling_sum, from: ops.departures, aggregate: sum, window: { hop: { size: 6h, slide: 1h } } }
"#;

fn parse_time(text: &str) -> i64 {
    // 2013-01-01T05:00:00Z → epoch ms (UTC, no leap seconds), without a date crate.
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().expect("timestamp digits");
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000
}

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/nyc-departures-15m.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let samples: Vec<RawSample> = reader
        .records()
        .map(|r| r.expect("csv row"))
        .enumerate()
        .map(|(i, r)| RawSample {
            event_id: format!("row{i}"),
            app: "airports".into(),
            template_version: "bench".into(),
            source: "ops".into(),
            metric: "departures".into(),
            labels: BTreeMap::from([("airport".to_string(), r[1].to_string())]),
            value: r[3].parse().expect("value"),
            event_time_ms: parse_time(&r[0]),
            lineage: String::new(),
        })
        .collect();
    let mut samples = samples;
    // The file is grouped by airport; a collector would interleave them in time.
    samples.sort_by_key(|s| s.event_time_ms);

    let template = presage_template::parse(TEMPLATE, "bench.yaml").expect("bench template");
    let mut processor = RecipeProcessor::new().expect("engine");
    processor.set_template("bench", Arc::new(template));
    let started = Instant::now();
    let mut windows = 0usize;
    for sample in &samples {
        windows += processor
            .on_raw(sample)
            .expect("process")
            .iter()
            .filter(|o| matches!(o, RecipeOutput::Derived(_)))
            .count();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "recipes: {} samples, {} windows closed in {:.2} s: {:.0} samples/s, {:.0} windows/s ({:.0} µs per window query)",
        samples.len(),
        windows,
        seconds,
        samples.len() as f64 / seconds,
        windows as f64 / seconds,
        seconds * 1e6 / windows.max(1) as f64
    );
}
