//! Replay throughput: `nyc-departures-15m.csv` (three airports, one year, one sample per
//! 15 minutes each) replicated to many apps, replayed through the recipe, forecaster and planner
//! cores by `presage_backtest::run`, exactly as `presage backtest` does, on every core.
//!
//! Cases:
//! - `default`: `templates/backtest/airport.yaml` (MSTL, Holt-Winters and seasonal naive scored
//!   at every refit, twice a day) on the three airports;
//! - `fleet`: the same replicated to `PRESAGE_BENCH_APPS` apps (default 300) for
//!   `PRESAGE_BENCH_DAYS` days (default 28), and a light template (seasonal naive, weekly refit)
//!   on the same fleet for the whole year: what the replay costs when forecasting is cheap.
//!
//! `cargo bench -p presage-backtest --bench replay` prints one line per case
//! (`PRESAGE_BENCH_ONLY=light` runs only the cases whose template name contains `light`).

use std::path::Path;
use std::time::Instant;

use presage_backtest::{assign, read_csv, run, Options, TemplateSet, Trace};
use presage_events::RawSample;

const LIGHT: &str = r#"
app: airport
bootstrap: { resources: { replicas: 4 } }
dynamic_metadata:
  sources:
    - { id: trace, kind: prometheus, url: "http://127.0.0.1:9464/metrics", every: 15m }
  windowing: { allowed_lateness: 0s, idle_timeout: 1h }
  metric_recipes:
    - { name: departures, from: trace.departures, aggregate: sum, window: { tumble: 15m } }
  prediction_algorithms:
    - { target: departures, horizon: 1h, models: [seasonal_naive], seasonality: [1d], history: 7d, refit: 7d }
  scaling_policies:
    - { resource: replicas, metric: departures, per_unit: 2, use: upper, lead_time: 30m,
        provisioning_delay: 10m, min: 1, max: 12, stabilization: { down: 30m } }
"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn airports() -> Trace {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nyc-departures-15m.csv");
    let file = std::fs::File::open(&path).expect("../shared/data/nyc-departures-15m.csv");
    read_csv(file, "nyc-departures-15m.csv").expect("trace reads")
}

/// Each airport's samples copied to `copies` apps (`airport-ewr-0`, …), still in time order.
fn fleet(trace: &Trace, copies: usize, days: usize) -> Trace {
    let end = trace.from_ms().unwrap_or(0) + days as i64 * 86_400_000;
    let mut samples: Vec<RawSample> = Vec::with_capacity(trace.samples.len() * copies);
    for sample in trace.samples.iter().filter(|s| s.event_time_ms < end) {
        for copy in 0..copies {
            samples.push(RawSample {
                app: format!("{}-{copy}", sample.app),
                ..sample.clone()
            });
        }
    }
    Trace::from_samples(samples)
}

fn set(name: &str, yaml: &str, apps: &[String]) -> TemplateSet {
    let template = presage_template::parse(yaml, name).expect("template parses");
    TemplateSet {
        name: name.to_string(),
        version: presage_template::version_of(yaml),
        templates: assign(&template, apps),
    }
}

fn case(label: &str, template: &str, yaml: &str, trace: &Trace) {
    // `PRESAGE_BENCH_ONLY=light` runs only the cases whose template name contains it.
    if std::env::var("PRESAGE_BENCH_ONLY").is_ok_and(|only| !template.contains(&only)) {
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sets = [set(template, yaml, &trace.apps)];
    let started = Instant::now();
    let report = run(
        &sets,
        trace,
        label,
        Options {
            warmup_ms: 0,
            threads,
        },
        &mut |_| {},
    )
    .expect("backtest runs");
    let wall = started.elapsed().as_secs_f64();
    let busy = report.busy_seconds;
    println!(
        "| {label} | {template} | {} | {} | {wall:.1} | {:.0} | {:.1} / {:.1} / {:.1} | {} |",
        trace.apps.len(),
        trace.samples.len(),
        report.samples_per_second,
        busy.recipes,
        busy.forecaster,
        busy.planner,
        report.directives.len(),
    );
}

fn main() {
    let airports = airports();
    let apps = env_usize("PRESAGE_BENCH_APPS", 30).div_ceil(3);
    let days = env_usize("PRESAGE_BENCH_DAYS", 28);
    let default_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/backtest/airport.yaml");
    let default_yaml =
        std::fs::read_to_string(&default_path).expect("templates/backtest/airport.yaml");
    println!(
        "threads: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| case | template | apps | samples | wall s | samples/s | CPU s recipes / forecaster / planner | directives |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |");
    case(
        "3 airports, 1 year",
        "airport.yaml",
        &default_yaml,
        &airports,
    );
    let small_fleet = fleet(&airports, apps, days);
    case(
        &format!("{} apps, {days} days", small_fleet.apps.len()),
        "airport.yaml",
        &default_yaml,
        &small_fleet,
    );
    drop(small_fleet);
    let year_fleet = fleet(&airports, apps, 366);
    case(
        &format!("{} apps, 1 year", year_fleet.apps.len()),
        "light (seasonal naive, weekly refit)",
        LIGHT,
        &year_fleet,
    );
}
