//! Benchmark 2 of issue 3, end to end on the local broker: samples per second from
//! `presage.metrics.raw` to `presage.metrics.derived` through the real recipe-processor, against
//! `presage-passthrough` (the same runner loop, client settings and messages on the same broker,
//! copying each raw sample to a sink topic and doing nothing else).
//!
//! `cargo bench -p presage-integration --bench recipes_e2e` (the services must be built in
//! release first: `cargo build --release -p presage-cli -p presage-recipe-processor`). Prints
//! figures; never asserts on speed.
//!
//! The raw samples are loaded before either consumer starts, so the figures are consumption
//! throughput, not producer pacing. Knobs (environment): `PRESAGE_BENCH_APPS` (100),
//! `PRESAGE_BENCH_SAMPLES` (200000), `PRESAGE_BENCH_RECIPE_SECS` (120, the recipe run's limit),
//! `PRESAGE_BENCH_PASSTHROUGH_SECS` (40, the passthrough run's limit), `PRESAGE_BENCH_X`
//! (extra librdkafka settings `key=value`, space-separated, given as `-X` to both consumers).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use presage_events::{event_id, RawSample};
use presage_integration::broker::TestBroker;
use presage_integration::data::{epoch_ms, shared_data};
use presage_integration::services::{binary_dir, terminate, Services};
use presage_integration::topics::TopicReader;
use presage_runner::admin::create_topics;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;
use presage_runner::{KafkaArgs, Outgoing, Topology};

const HOUR: i64 = 3_600_000;
const AIRPORTS: [&str; 3] = ["airport-ewr", "airport-jfk", "airport-lga"];
/// Records per awaited produce call while preloading (librdkafka queues 100,000 at most).
const PRELOAD_CHUNK: usize = 10_000;
/// Single-record produce round trips timed to show what one awaited ack costs.
const ROUND_TRIPS: usize = 200;

/// The recipes of every app: (name, source, metric, aggregate, tumble hours).
const RECIPES: [(&str, &str, &str, &str, i64); 4] = [
    ("departures_per_hour", "flights", "departures", "sum", 1),
    ("temp_avg", "weather", "temp", "avg", 1),
    ("humid_max_3h", "weather", "humid", "max", 3),
    ("wind_p95_6h", "weather", "wind_speed", "p95", 6),
];

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?}: expected a whole number")),
        Err(_) => default,
    }
}

fn template(app: &str) -> String {
    let mut text = format!(
        r#"app: {app}
dynamic_metadata:
  sources:
    - {{ id: flights, kind: prometheus, url: "http://127.0.0.1:1/metrics" }}
    - {{ id: weather, kind: prometheus, url: "http://127.0.0.1:1/metrics" }}
  # The samples are from 2013 and all preloaded: no partition is idle long enough to matter.
  windowing: {{ allowed_lateness: 0s, idle_timeout: 1h }}
  metric_recipes:
"#
    );
    for (name, source, metric, aggregate, hours) in RECIPES {
        text.push_str(&format!(
            "    - {{ name: {name}, from: {source}.{metric}, aggregate: {aggregate}, window: {{ tumble: {hours}h }} }}\n"
        ));
    }
    text
}

/// (airport, source, metric) → event time → value, from one long-format CSV.
type Series = BTreeMap<(String, String, String), BTreeMap<i64, f64>>;

fn read_series(file: &str, series: &mut Series) {
    let path = shared_data(file);
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for row in reader.records() {
        let row = row.expect("csv row");
        let (source, metric) = match row[2].split_once('.') {
            Some((source, metric)) => (source.to_string(), metric.to_string()),
            None => ("flights".to_string(), row[2].to_string()),
        };
        let Ok(value) = row[3].parse::<f64>() else {
            continue;
        };
        series
            .entry((row[1].to_string(), source, metric))
            .or_default()
            .insert(epoch_ms(&row[0]), value);
    }
}

/// `count` raw samples: the real 2013 trace in time order, every 15-minute step giving each app
/// its airport's departures (and, on the hour, its temperature, humidity and wind), apps
/// interleaved so each partition's event time moves forward as in a live stream.
fn samples(apps: &[String], count: usize) -> Vec<RawSample> {
    let mut series = Series::new();
    read_series("nyc-departures-15m.csv", &mut series);
    read_series("nyc-weather-1h.csv", &mut series);
    let steps: Vec<i64> = series
        .get(&(AIRPORTS[0].into(), "flights".into(), "departures".into()))
        .expect("departures of the first airport")
        .keys()
        .copied()
        .collect();
    let mut out = Vec::with_capacity(count);
    for ts in steps {
        for (k, app) in apps.iter().enumerate() {
            let airport = AIRPORTS[k % AIRPORTS.len()];
            for (_, source, metric, _, _) in RECIPES {
                let key = (airport.to_string(), source.to_string(), metric.to_string());
                let Some(&value) = series.get(&key).and_then(|s| s.get(&ts)) else {
                    continue;
                };
                if out.len() == count {
                    return out;
                }
                out.push(RawSample {
                    event_id: event_id(&["raw", app, source, metric, &ts.to_string()]),
                    app: app.clone(),
                    template_version: String::new(),
                    source: source.into(),
                    metric: metric.into(),
                    labels: BTreeMap::new(),
                    value,
                    event_time_ms: ts,
                    lineage: format!("{airport} in the nyc trace"),
                });
            }
        }
    }
    panic!(
        "the trace has fewer than {count} samples for {} apps",
        apps.len()
    );
}

/// The derived metrics the recipe-processor must emit: one per app × recipe × window holding a
/// sample (the closing samples close every such window).
fn expected_windows(samples: &[RawSample]) -> usize {
    let mut windows: HashSet<(&str, usize, i64)> = HashSet::new();
    for s in samples {
        for (i, (_, source, metric, _, hours)) in RECIPES.iter().enumerate() {
            if s.source == *source && s.metric == *metric {
                let size = hours * HOUR;
                let ts = s.event_time_ms;
                windows.insert((s.app.as_str(), i, ts - ts.rem_euclid(size)));
            }
        }
    }
    windows.len()
}

/// One sample per app a day after the last: every window holding data closes.
fn closing_samples(apps: &[String], after: i64) -> Vec<RawSample> {
    let ts = after + 24 * HOUR;
    apps.iter()
        .map(|app| RawSample {
            event_id: event_id(&["raw", app, "closing", &ts.to_string()]),
            app: app.clone(),
            template_version: String::new(),
            source: "flights".into(),
            metric: "departures".into(),
            labels: BTreeMap::new(),
            value: 0.0,
            event_time_ms: ts,
            lineage: "benchmark: closes the last windows".into(),
        })
        .collect()
}

fn create_bench_topics(kafka: &KafkaArgs) {
    let topology = Topology::parse(
        "topics:\n  - { name: bench.passthrough, partitions: 3, retention: 1d, cleanup: delete }\n  - { name: bench.round-trip, partitions: 1, retention: 1d, cleanup: delete }\n",
        "recipes_e2e bench topics",
    )
    .expect("bench topology");
    create_topics(kafka, &topology).expect("creating the bench topics");
}

/// What one consumer run achieved.
struct Run {
    /// Raw samples the run consumed (the whole preload, or what the passthrough got through).
    samples: usize,
    /// Output records seen against output records wanted.
    outputs: usize,
    wanted: usize,
    total: Duration,
    first_output: Option<Duration>,
    /// Raw samples consumed after the first output.
    samples_after_first: usize,
}

impl Run {
    fn overall(&self) -> f64 {
        self.samples as f64 / self.total.as_secs_f64()
    }

    fn steady(&self) -> Option<f64> {
        let first = self.first_output?;
        let span = self.total.checked_sub(first)?.as_secs_f64();
        (span > 0.0).then(|| self.samples_after_first as f64 / span)
    }
}

/// Counts records arriving on `reader` until `wanted` or `limit`; returns (count, end, first
/// output (time, count so far)).
fn count_outputs(
    reader: &TopicReader,
    started: Instant,
    wanted: usize,
    limit: Duration,
) -> (usize, Duration, Option<(Duration, usize)>) {
    let mut count = 0;
    let mut first = None;
    while count < wanted && started.elapsed() < limit {
        let batch = reader.poll_raw(Duration::from_millis(100)).len();
        if batch > 0 && first.is_none() {
            first = Some((started.elapsed(), batch));
        }
        count += batch;
    }
    (count, started.elapsed(), first)
}

fn describe_binary(path: &Path) -> String {
    match std::fs::metadata(path).and_then(|m| m.modified()) {
        Ok(modified) => {
            let age = modified.elapsed().map(|d| d.as_secs() / 60).unwrap_or(0);
            format!("{} (built {age} min ago)", path.display())
        }
        Err(_) => format!("{} (MISSING)", path.display()),
    }
}

fn main() {
    let apps_count = env_number("PRESAGE_BENCH_APPS", 100) as usize;
    let sample_count = env_number("PRESAGE_BENCH_SAMPLES", 200_000) as usize;
    let recipe_limit = Duration::from_secs(env_number("PRESAGE_BENCH_RECIPE_SECS", 120));
    let passthrough_limit = Duration::from_secs(env_number("PRESAGE_BENCH_PASSTHROUGH_SECS", 40));
    let extra_settings: Vec<String> = std::env::var("PRESAGE_BENCH_X")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();

    let bin_dir = binary_dir();
    let passthrough_bin = PathBuf::from(env!("CARGO_BIN_EXE_presage-passthrough"));
    println!("recipes_e2e: binaries from {}", bin_dir.display());
    for path in [
        bin_dir.join("presage"),
        bin_dir.join("presage-recipe-processor"),
        passthrough_bin.clone(),
    ] {
        println!("  {}", describe_binary(&path));
        assert!(
            path.is_file(),
            "{} is missing: `cargo build --release -p presage-cli -p presage-recipe-processor` first",
            path.display()
        );
    }

    // The data: apps × the real trace, plus one closing sample per app.
    let apps: Vec<String> = (0..apps_count).map(|k| format!("bench-{k:03}")).collect();
    let mut raw = samples(&apps, sample_count);
    let wanted_derived = expected_windows(&raw);
    let first_ts = raw.first().map_or(0, |s| s.event_time_ms);
    let last_ts = raw.last().map_or(0, |s| s.event_time_ms);
    // The first window closes when a sample of the next hour arrives: what comes before it is
    // consumed before any output can exist.
    let before_first_close = raw
        .iter()
        .position(|s| s.event_time_ms >= first_ts + HOUR)
        .unwrap_or(raw.len());
    raw.extend(closing_samples(&apps, last_ts));
    let total_samples = raw.len();

    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    create_bench_topics(&kafka);
    let mut service_kafka = kafka.clone();
    service_kafka.kafka_settings.extend(extra_settings.clone());
    println!(
        "broker {}; {apps_count} apps × {} recipes; {total_samples} raw samples ({} event hours from the 2013 trace, {} closing); {wanted_derived} derived metrics expected; consumer settings: {}",
        kafka.brokers,
        RECIPES.len(),
        (last_ts - first_ts) / HOUR + 1,
        apps_count,
        if extra_settings.is_empty() { "the services' defaults".to_string() } else { extra_settings.join(" ") },
    );

    let workdir = tempfile::tempdir().expect("workdir");
    let mut template_paths = Vec::with_capacity(apps.len());
    for app in &apps {
        let path = workdir.path().join(format!("{app}.yaml"));
        std::fs::write(&path, template(app)).expect("template");
        template_paths.push(path);
    }
    publish_templates(&kafka, &template_paths).expect("publishing templates");

    // The broker's produce rate with the project's client: awaited batches.
    let records: Vec<Outgoing> = raw
        .iter()
        .map(|s| Outgoing::event(topics.raw(), s).expect("encode"))
        .collect();
    let publisher = Publisher::new(&kafka).expect("producer");
    let preload_started = Instant::now();
    for chunk in records.chunks(PRELOAD_CHUNK) {
        publisher.send_all(chunk).expect("preloading raw samples");
    }
    let preload = preload_started.elapsed();
    let preload_rate = total_samples as f64 / preload.as_secs_f64();
    // What one awaited single-record produce costs: the runner awaits every input's outputs.
    let probe = records[0].clone();
    let probe = Outgoing {
        topic: topics.name("bench.round-trip"),
        ..probe
    };
    let round_trip_started = Instant::now();
    for _ in 0..ROUND_TRIPS {
        publisher
            .send_all(std::slice::from_ref(&probe))
            .expect("round trip");
    }
    let round_trip = round_trip_started.elapsed() / ROUND_TRIPS as u32;
    drop(publisher);
    println!(
        "preload: {total_samples} samples in {:.2} s = {preload_rate:.0} samples/s (batches of {PRELOAD_CHUNK}, acks awaited); one awaited single-record produce: {:.2} ms",
        preload.as_secs_f64(),
        round_trip.as_secs_f64() * 1000.0
    );

    // The broker's fetch rate: a plain consumer (no group, no decoding) reading the preload.
    let fetch_reader = TopicReader::open(&kafka, &topics.raw());
    let fetch_started = Instant::now();
    let (fetched, fetch, _) = count_outputs(
        &fetch_reader,
        fetch_started,
        total_samples,
        Duration::from_secs(60),
    );
    drop(fetch_reader);
    let fetch_rate = fetched as f64 / fetch.as_secs_f64();
    println!(
        "fetch: {fetched} samples in {:.2} s = {fetch_rate:.0} samples/s (plain consumer, assigned partitions, no decoding)",
        fetch.as_secs_f64()
    );

    // Run 1: the recipe-processor, until every expected derived metric has arrived.
    let derived_reader = TopicReader::open(&kafka, &topics.derived());
    let mut services = Services::new(&workdir.path().join("logs"));
    let started = Instant::now();
    services.start("recipe-processor", &service_kafka, workdir.path());
    let (outputs, total, first) =
        count_outputs(&derived_reader, started, wanted_derived, recipe_limit);
    services.stop("recipe-processor");
    let recipe = Run {
        samples: total_samples,
        outputs,
        wanted: wanted_derived,
        total,
        first_output: first.map(|(t, _)| t),
        samples_after_first: total_samples - before_first_close,
    };
    if outputs < wanted_derived {
        println!(
            "recipe-processor: only {outputs} of {wanted_derived} derived metrics within {} s\n{}",
            recipe_limit.as_secs(),
            services.logs()
        );
    }
    let dead_letters = TopicReader::open(&kafka, &topics.dlq())
        .poll_raw(Duration::from_secs(1))
        .len();

    // Run 2: the passthrough on the same preloaded topic, in its own consumer group.
    let sink_reader = TopicReader::open(&kafka, &topics.name("bench.passthrough"));
    let log = std::fs::File::create(workdir.path().join("logs/passthrough.log")).expect("log");
    let started = Instant::now();
    let mut child = Command::new(&passthrough_bin)
        .kafka(&service_kafka)
        .args(["--sink", "bench.passthrough"])
        .current_dir(workdir.path())
        .env("RUST_LOG", "info,presage=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawning the passthrough");
    let (outputs, total, first) =
        count_outputs(&sink_reader, started, total_samples, passthrough_limit);
    terminate(&mut child);
    let passthrough = Run {
        samples: outputs,
        outputs,
        wanted: total_samples,
        total,
        first_output: first.map(|(t, _)| t),
        samples_after_first: outputs - first.map_or(0, |(_, n)| n),
    };

    let figure = |rate: Option<f64>| rate.map_or("-".to_string(), |r| format!("{r:.0}"));
    let seconds =
        |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.2}", d.as_secs_f64()));
    println!();
    println!(
        "| run | samples | outputs (of wanted) | total s | first output s | samples/s overall | samples/s after first output |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, run) in [("recipe-processor", &recipe), ("passthrough", &passthrough)] {
        println!(
            "| {name} | {} | {} ({}) | {:.2} | {} | {:.0} | {} |",
            run.samples,
            run.outputs,
            run.wanted,
            run.total.as_secs_f64(),
            seconds(run.first_output),
            run.overall(),
            figure(run.steady()),
        );
    }
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    };
    println!();
    println!(
        "ratio recipe/passthrough: overall {}, after first output {} (aim ≥ 0.7)",
        ratio(Some(recipe.overall()), Some(passthrough.overall())),
        ratio(recipe.steady(), passthrough.steady()),
    );
    println!(
        "broker produce rate (preload, batched): {preload_rate:.0} samples/s; awaited single-record produce: {:.2} ms = {:.0} records/s at most for one-at-a-time acks",
        round_trip.as_secs_f64() * 1000.0,
        1.0 / round_trip.as_secs_f64()
    );
    println!(
        "broker fetch rate (plain consumer): {fetch_rate:.0} samples/s; recipe-processor after first output at {:.0}% of it",
        recipe.steady().map_or(0.0, |r| 100.0 * r / fetch_rate)
    );
    println!("dead letters after the recipe run: {dead_letters}");
    println!(
        "load average when done: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    if passthrough.outputs < total_samples {
        println!(
            "passthrough stopped at its {} s limit after {} of {total_samples} samples",
            passthrough_limit.as_secs(),
            passthrough.outputs
        );
    }
}
