//! The forecaster stopped and started again rebuilds its history from
//! `presage.metrics.derived` and goes on forecasting exactly as if it had never stopped.
//!
//! Newark's departures (`nyc-departures-15m.csv`) summed per hour, moved to the recent past, are
//! produced as the recipe-processor would produce them (same ids, record timestamp = window
//! end). The real `presage-forecaster` forecasts the first five days, is stopped, a sixth day arrives, and the
//! restarted binary's forecasts for it must equal, field for field, those of one core fed all
//! six days without interruption. A core fed only the sixth day (a restart without history)
//! forecasts differently, so the test fails if the rebuild is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use presage_events::{event_id, DerivedMetric, Forecast};
use presage_forecaster::Forecaster;
use presage_integration::broker::TestBroker;
use presage_integration::data::{epoch_ms, shared_data};
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::{load_published, publish_templates};
use presage_runner::{KafkaArgs, LoadedTemplate, Outgoing};

const APP: &str = "airport-ewr";
const RECIPE: &str = "per_hour";
const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;
/// Windows the first run forecasts, and windows that arrive while the forecaster is down.
const BEFORE_STOP: usize = 5 * 24;
const AFTER_STOP: usize = 24;

/// Hourly windows, a daily season, refits every six hours from four days of history: the first
/// run leaves the series warm (several refits, past cold start), so a cold restart shows.
const TEMPLATE: &str = r#"
app: airport-ewr
dynamic_metadata:
  sources:
    - { id: flights, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  metric_recipes:
    - { name: per_hour, from: flights.departures, aggregate: sum, window: { tumble: 1h } }
  prediction_algorithms:
    - { target: per_hour, horizon: 3h, models: [seasonal_naive, ets], seasonality: [1d], refit: 6h, history: 4d }
"#;

/// (hour start, departures that hour) for `hours` hours of Newark from 2013-01-07 (a Monday),
/// moved forward by whole weeks to end within the past week. Record timestamps are event times
/// and brokers apply retention to record timestamps (Nisshi deletes records older than the
/// topic's `retention.ms` at its maintenance sweeps), so 2013 windows could vanish mid-test on
/// a long-lived broker; a whole number of weeks keeps weekdays and the refit schedule.
fn hourly(hours: usize) -> Vec<(i64, f64)> {
    let path = shared_data("nyc-departures-15m.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = epoch_ms("2013-01-07T00:00:00Z");
    let end = start + hours as i64 * HOUR;
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for row in reader.records() {
        let row = row.expect("csv row");
        if &row[1] != APP {
            continue;
        }
        let ts = epoch_ms(&row[0]);
        if ts < start || ts >= end {
            continue;
        }
        *sums.entry(ts - ts.rem_euclid(HOUR)).or_default() +=
            row[3].parse::<f64>().expect("numeric value");
    }
    assert_eq!(sums.len(), hours, "{} has {hours} hours", path.display());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let shift = (now - end).div_euclid(WEEK) * WEEK;
    sums.into_iter().map(|(t, v)| (t + shift, v)).collect()
}

/// The derived metric the recipe-processor emits for the hour starting at `start`.
fn derived(version: &str, index: usize, start: i64, value: f64) -> DerivedMetric {
    DerivedMetric {
        event_id: event_id(&[
            "derived",
            APP,
            RECIPE,
            &start.to_string(),
            &HOUR.to_string(),
            "",
        ]),
        app: APP.into(),
        template_version: version.into(),
        recipe: RECIPE.into(),
        window_start_ms: start,
        window_end_ms: start + HOUR,
        value,
        sample_count: 4,
        labels: BTreeMap::new(),
        signals: BTreeMap::new(),
        raw_partition: 0,
        raw_first_offset: 4 * index as i64,
        raw_last_offset: 4 * index as i64 + 3,
        lineage: vec![format!("raw/0@{}..{}", 4 * index, 4 * index + 3)],
    }
}

/// Produced as the recipe-processor does: keyed by app, stamped with the window's end.
fn produce(kafka: &KafkaArgs, windows: &[DerivedMetric]) {
    let topic = kafka.topics().derived();
    let records: Vec<Outgoing> = windows
        .iter()
        .map(|d| {
            Outgoing::event(topic.clone(), d)
                .expect("encode")
                .at(d.window_end_ms)
        })
        .collect();
    Publisher::new(kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce derived metrics");
}

/// Forecasts by the window they were issued at (its end), from a core fed `windows` in order.
fn forecasts_of(loaded: &LoadedTemplate, windows: &[DerivedMetric]) -> BTreeMap<i64, Forecast> {
    let mut core = Forecaster::new();
    core.set_template(&loaded.version, loaded.template.clone());
    let mut by_window = BTreeMap::new();
    for d in windows {
        for forecast in core.on_derived(d).expect("known app") {
            by_window.insert(forecast.issued_at_ms, forecast);
        }
    }
    by_window
}

/// Everything a forecast says, exactly (`{:?}` prints each f64 so that it reads back the same,
/// and NaN equals NaN).
fn exact(forecast: &Forecast) -> String {
    format!("{forecast:?}")
}

/// Reads forecasts until one issued at window end `end` arrives, or `limit` passes. The
/// forecaster reads an app's windows in order and publishes their forecasts in order, so the
/// earlier windows' forecasts have been read by then.
fn read_through(
    reader: &TopicReader,
    seen: &mut Vec<Forecast>,
    end: i64,
    limit: Duration,
    what: &str,
    services: &Services,
) {
    let done = reader.wait_until(seen, limit, |s| s.iter().any(|f| f.issued_at_ms == end));
    assert!(
        done,
        "{what}: no forecast for the window ending at {end} after {limit:?} ({} forecasts read)\n{}",
        seen.len(),
        services.logs()
    );
}

#[test]
fn a_restarted_forecaster_rebuilds_its_history_and_forecasts_as_if_never_stopped() {
    let started = Instant::now();
    let trace = hourly(BEFORE_STOP + AFTER_STOP);

    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let workdir = tempfile::tempdir().expect("workdir");
    let template_path = workdir.path().join("airport-ewr.yaml");
    std::fs::write(&template_path, TEMPLATE).expect("write template");
    let published = publish_templates(&kafka, &[template_path]).expect("publish template");
    // The version and template exactly as the services load them.
    let loaded = load_published(&published[0]).expect("template loads");

    let windows: Vec<DerivedMetric> = trace
        .iter()
        .enumerate()
        .map(|(i, (start, value))| derived(&loaded.version, i, *start, *value))
        .collect();
    let (before, after) = windows.split_at(BEFORE_STOP);

    // What the restarted forecaster must publish for the windows after the stop: the forecasts
    // of an uninterrupted core. And what it would publish with no history rebuilt.
    let uninterrupted = forecasts_of(&loaded, &windows);
    let without_history = forecasts_of(&loaded, after);
    for d in after {
        assert!(
            uninterrupted.contains_key(&d.window_end_ms),
            "the uninterrupted core forecasts every window after the stop (none at {})",
            d.window_end_ms
        );
    }
    let first_after = after[0].window_end_ms;
    assert_ne!(
        uninterrupted.get(&first_after).map(exact),
        without_history.get(&first_after).map(exact),
        "a restart without history must forecast differently, or this test proves nothing"
    );

    let forecasts = TopicReader::open(&kafka, &kafka.topics().forecasts());
    let mut services = Services::new(&workdir.path().join("logs"));

    // First run: five days, stopped (SIGTERM: offsets committed on the way out) once the last
    // window's forecast is out.
    produce(&kafka, before);
    services.start("forecaster", &kafka, workdir.path());
    let mut first_run: Vec<Forecast> = Vec::new();
    read_through(
        &forecasts,
        &mut first_run,
        before[BEFORE_STOP - 1].window_end_ms,
        Duration::from_secs(60),
        "first run",
        &services,
    );
    services.stop("forecaster");

    // A day arrives while it is down; the restarted forecaster reads it after rebuilding.
    produce(&kafka, after);
    services.start("forecaster", &kafka, workdir.path());
    let mut second_run: Vec<Forecast> = Vec::new();
    read_through(
        &forecasts,
        &mut second_run,
        after[AFTER_STOP - 1].window_end_ms,
        Duration::from_secs(60),
        "after the restart",
        &services,
    );
    services.stop("forecaster");

    // Every window after the stop has the uninterrupted forecaster's forecast, and nothing else
    // (a window read twice is forecast the same).
    let mut got: BTreeMap<i64, Vec<&Forecast>> = BTreeMap::new();
    for forecast in second_run.iter().filter(|f| f.issued_at_ms >= first_after) {
        got.entry(forecast.issued_at_ms).or_default().push(forecast);
    }
    for (end, want) in uninterrupted.range(first_after..) {
        let copies = got.remove(end).unwrap_or_default();
        assert!(
            !copies.is_empty(),
            "window ending {end}: no forecast after the restart, where an uninterrupted forecaster \
             issues one ({} fitted at {}): was the history rebuilt?\n{}",
            want.model,
            want.fitted_at_ms,
            services.logs()
        );
        for forecast in copies {
            assert_eq!(
                (
                    &forecast.event_id,
                    &forecast.model,
                    forecast.fitted_at_ms,
                    forecast.history_points,
                    forecast.cold_start,
                ),
                (
                    &want.event_id,
                    &want.model,
                    want.fitted_at_ms,
                    want.history_points,
                    want.cold_start,
                ),
                "window ending {end}: the restarted forecaster's fit (left) is not the \
                 uninterrupted one's (right): was the history rebuilt?\n{}",
                services.logs()
            );
            assert_eq!(
                exact(forecast),
                exact(want),
                "window ending {end}: the restarted forecaster's forecast (left) is not the \
                 uninterrupted one's (right)"
            );
        }
    }
    assert!(
        got.is_empty(),
        "forecasts for windows the uninterrupted forecaster does not forecast: {:?}",
        got.keys().collect::<Vec<_>>()
    );
    let fits: BTreeSet<i64> = second_run
        .iter()
        .filter(|f| f.issued_at_ms >= first_after)
        .map(|f| f.fitted_at_ms)
        .collect();
    eprintln!(
        "{} forecasts before the stop, {} after ({} distinct fits); {:.1} s",
        first_run.len(),
        second_run.len(),
        fits.len(),
        started.elapsed().as_secs_f64()
    );
}
