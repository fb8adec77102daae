//! Window-engine throughput for 1,000 apps × 4 metrics, against a hand-written Rust
//! aggregation (the floor for this machine). Prints figures; asserts nothing about speed.
//!
//! The samples are real: each app is one of the three New York airports of
//! `nyc-departures-15m.csv` (departures per 15 minutes) and `nyc-weather-1h.csv` (temperature,
//! humidity, wind speed, hourly), the first week of 2013.
//!
//! Three measurements over the same stream:
//! 1. **engine**: every sample through `RecipeProcessor::on_raw` (window assignment, Arrow
//!    builders, DataFusion plan per close, derived events), all 1,000 templates loaded;
//! 2. **floor**: hand-written Rust doing the same job over the same samples in the same order
//!    (window assignment, per-window accumulators, close on the watermark, one value each);
//! 3. **query only**: the per-close Arrow batches the engine builds, run through the prepared
//!    DataFusion plans, against the hand-written aggregation over those same batches.
//!
//! `cargo bench -p presage-recipe-processor --bench engine`

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use presage_events::RawSample;
use presage_recipe_processor::engine::{PreparedQuery, Runtime};
use presage_recipe_processor::table::{samples_schema, signals_schema, SampleBuilder};
use presage_recipe_processor::{compile, Position, RecipeOutput, RecipeProcessor};

const APPS: usize = 1_000;
const HOUR: i64 = 3_600_000;
const WEEK_START: i64 = 1_356_998_400_000; // 2013-01-01T00:00:00Z
const WEEK_END: i64 = WEEK_START + 7 * 24 * HOUR;

/// (metric, aggregate) of the four recipes, all tumbling 1h.
const RECIPES: [(&str, &str); 4] = [
    ("departures", "avg"),
    ("weather.temp", "max"),
    ("weather.humid", "min"),
    ("weather.wind_speed", "sum"),
];

fn template(app: &str) -> String {
    let recipes: String = RECIPES
        .iter()
        .enumerate()
        .map(|(i, (metric, agg))| {
            format!(
                "    - {{ name: r{i}, from: ops.{metric}, aggregate: {agg}, window: {{ tumble: 1h }} }}\n"
            )
        })
        .collect();
    format!(
        "app: {app}\ndynamic_metadata:\n  sources:\n    - {{ id: ops, kind: prometheus, url: \"http://127.0.0.1:1/metrics\" }}\n  windowing: {{ allowed_lateness: 0s, idle_timeout: 1h }}\n  metric_recipes:\n{recipes}"
    )
}

fn parse_time(text: &str) -> i64 {
    presage_template::calendar::parse_timestamp(text).expect("trace timestamp")
}

/// Airport → (ts, metric, value), the first week.
fn airports() -> HashMap<String, Vec<(i64, String, f64)>> {
    let mut by_airport: HashMap<String, Vec<(i64, String, f64)>> = HashMap::new();
    for file in ["nyc-departures-15m.csv", "nyc-weather-1h.csv"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data")
            .join(file);
        let mut reader =
            csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for row in reader.records() {
            let row = row.expect("csv row");
            let ts = parse_time(&row[0]);
            let metric = &row[2];
            if !(WEEK_START..WEEK_END).contains(&ts) || !RECIPES.iter().any(|(m, _)| *m == metric) {
                continue;
            }
            let Ok(value) = row[3].parse::<f64>() else {
                continue;
            };
            by_airport
                .entry(row[1].to_string())
                .or_default()
                .push((ts, metric.to_string(), value));
        }
    }
    by_airport
}

fn samples() -> Vec<RawSample> {
    let airports = airports();
    let mut names: Vec<&String> = airports.keys().collect();
    names.sort();
    let mut samples = Vec::new();
    for app in 0..APPS {
        let airport = names[app % names.len()];
        for (ts, metric, value) in &airports[airport] {
            samples.push(RawSample {
                event_id: format!("{app}/{metric}/{ts}"),
                app: format!("app-{app:04}"),
                template_version: "bench".into(),
                source: "ops".into(),
                metric: metric.clone(),
                labels: BTreeMap::from([("airport".to_string(), airport.clone())]),
                value: *value,
                event_time_ms: *ts,
                lineage: "bench".into(),
            });
        }
    }
    // One stream in event-time order, apps interleaved, as one partition would carry it.
    samples.sort_by_key(|s| s.event_time_ms);
    samples
}

#[derive(Clone, Copy)]
struct Acc {
    sum: f64,
    count: u64,
    min: f64,
    max: f64,
}

impl Acc {
    fn new() -> Self {
        Self {
            sum: 0.0,
            count: 0,
            min: f64::MAX,
            max: f64::MIN,
        }
    }

    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn result(&self, aggregate: &str) -> f64 {
        match aggregate {
            "avg" => self.sum / self.count as f64,
            "max" => self.max,
            "min" => self.min,
            _ => self.sum,
        }
    }
}

/// The floor: windows and accumulators by hand, closed on the same watermark.
fn hand_written(samples: &[RawSample]) -> usize {
    let metric_index: HashMap<&str, usize> = RECIPES
        .iter()
        .enumerate()
        .map(|(i, (m, _))| (*m, i))
        .collect();
    let mut open: BTreeMap<i64, HashMap<(&str, usize), Acc>> = BTreeMap::new();
    let mut watermark = i64::MIN;
    let mut emitted = 0;
    let mut checksum = 0.0;
    for s in samples {
        let Some(&recipe) = metric_index.get(s.metric.as_str()) else {
            continue;
        };
        let start = s.event_time_ms - s.event_time_ms.rem_euclid(HOUR);
        if start + HOUR > watermark {
            open.entry(start)
                .or_default()
                .entry((s.app.as_str(), recipe))
                .or_insert_with(Acc::new)
                .add(s.value);
        }
        watermark = watermark.max(s.event_time_ms);
        while let Some(entry) = open.first_entry() {
            if entry.key() + HOUR > watermark {
                break;
            }
            for ((_, recipe), acc) in entry.remove() {
                checksum += acc.result(RECIPES[recipe].1);
                emitted += 1;
            }
        }
    }
    std::hint::black_box(checksum);
    emitted
}

/// The per-close batches the engine builds: recipe → one batch per hour, all apps.
fn close_batches(samples: &[RawSample]) -> Vec<Vec<RecordBatch>> {
    let schema = samples_schema(&[]);
    let mut batches: Vec<BTreeMap<i64, SampleBuilder>> = Vec::new();
    batches.resize_with(RECIPES.len(), BTreeMap::new);
    for s in samples {
        let Some(recipe) = RECIPES.iter().position(|(m, _)| *m == s.metric) else {
            continue;
        };
        let start = s.event_time_ms - s.event_time_ms.rem_euclid(HOUR);
        batches[recipe]
            .entry(start)
            .or_insert_with(|| {
                SampleBuilder::new(Arc::clone(&schema), &[], start, start + HOUR, 1024)
            })
            .append(&s.app, s.event_time_ms, &s.labels, s.value, false);
    }
    batches
        .into_iter()
        .map(|by_hour| {
            by_hour
                .into_values()
                .map(|mut b| b.finish().expect("batch"))
                .collect()
        })
        .collect()
}

fn hand_written_over_batches(batches: &[Vec<RecordBatch>]) -> usize {
    let mut groups = 0;
    let mut checksum = 0.0;
    for (recipe, per_close) in batches.iter().enumerate() {
        for batch in per_close {
            let apps = batch.column(0).as_string::<i32>();
            let starts = batch.column(1).as_primitive::<Int64Type>();
            let values = batch.column(5).as_primitive::<Float64Type>();
            let mut acc: HashMap<(&str, i64), Acc> = HashMap::new();
            for i in 0..batch.num_rows() {
                acc.entry((apps.value(i), starts.value(i)))
                    .or_insert_with(Acc::new)
                    .add(values.value(i));
            }
            groups += acc.len();
            checksum += acc
                .values()
                .map(|a| a.result(RECIPES[recipe].1))
                .sum::<f64>();
        }
    }
    std::hint::black_box(checksum);
    groups
}

fn main() {
    let load = Instant::now();
    let samples = samples();
    println!(
        "{} samples ({APPS} apps × 4 metrics, first week of 2013), built in {:.2?}",
        samples.len(),
        load.elapsed()
    );

    // 1. The engine.
    let mut processor = RecipeProcessor::new().expect("engine");
    for app in 0..APPS {
        let name = format!("app-{app:04}");
        let template = presage_template::parse(&template(&name), "bench.yaml").expect("template");
        processor
            .set_template("bench", Arc::new(template))
            .expect("plan");
    }
    let started = Instant::now();
    let mut derived = 0;
    // Where the engine's time goes: calls that only take a sample in, and calls that also
    // close windows (run the queries, build the events).
    let mut closing = Duration::ZERO;
    for (offset, sample) in samples.iter().enumerate() {
        let at = Position {
            partition: 0,
            offset: offset as i64,
            received_ms: 0,
        };
        let call = Instant::now();
        let outputs = processor.on_raw(sample, at).expect("sample");
        if !outputs.is_empty() {
            closing += call.elapsed();
        }
        derived += outputs
            .iter()
            .filter(|o| matches!(o, RecipeOutput::Derived(_)))
            .count();
    }
    let engine = started.elapsed();

    // 2. The floor.
    let started = Instant::now();
    let floor_windows = hand_written(&samples);
    let floor = started.elapsed();

    // 3. Query only, over the batches the engine builds.
    let batches = close_batches(&samples);
    let runtime = Runtime::new().expect("runtime");
    let yaml = template("app-0000");
    let parsed = presage_template::parse(&yaml, "bench.yaml").expect("template");
    let queries: Vec<PreparedQuery> = parsed
        .dynamic_metadata
        .metric_recipes
        .iter()
        .map(|recipe| {
            let compiled = compile(recipe).expect("compile");
            PreparedQuery::prepare(
                &runtime,
                &compiled.sql,
                samples_schema(&[]),
                signals_schema(&[]),
                &[],
            )
            .expect("plan")
        })
        .collect();
    let started = Instant::now();
    let mut query_rows = 0;
    for (query, per_close) in queries.iter().zip(&batches) {
        for batch in per_close {
            query_rows += query
                .run(&runtime, vec![batch.clone()], Vec::new())
                .expect("run")
                .len();
        }
    }
    let query_only = started.elapsed();
    let started = Instant::now();
    let hand_groups = hand_written_over_batches(&batches);
    let hand_only = started.elapsed();
    let closes: usize = batches.iter().map(Vec::len).sum();

    let n = samples.len() as f64;
    let rate = |d: Duration| n / d.as_secs_f64();
    println!();
    println!("| measurement | windows | time | samples/s |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| engine: on_raw → Arrow builders → DataFusion → events | {derived} | {engine:.2?} | {:.0} |",
        rate(engine)
    );
    println!(
        "| floor: hand-written windows and accumulators | {floor_windows} | {floor:.2?} | {:.0} |",
        rate(floor)
    );
    println!(
        "| query only: DataFusion over the engine's close batches ({closes} runs) | {query_rows} | {query_only:.2?} | {:.0} |",
        rate(query_only)
    );
    println!(
        "| query only: hand-written over the same batches | {hand_groups} | {hand_only:.2?} | {:.0} |",
        rate(hand_only)
    );
    println!();
    println!(
        "engine time: {:.2?} taking samples in, {closing:.2?} in the calls that close windows \
         (queries and events)",
        engine.saturating_sub(closing)
    );
    println!("engine / floor = {:.2}", rate(engine) / rate(floor));
    println!(
        "DataFusion / hand-written over the same batches = {:.2}",
        rate(query_only) / rate(hand_only)
    );
    println!(
        "{:.0} µs per close (one query over all {APPS} apps' windows of a recipe)",
        query_only.as_secs_f64() * 1e6 / closes as f64
    );
}
