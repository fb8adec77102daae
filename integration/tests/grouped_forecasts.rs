//! A recipe with `group_by` is forecast per group, end to end, and a count series' bounds are
//! never below zero.
//!
//! Departures per quarter-hour at Newark and JFK (`nyc-departures-15m.csv`), labelled
//! `airport: ewr` and `airport: jfk`, moved to the recent past, are produced as raw samples. The
//! real `presage-recipe-processor` sums them per hour and airport (`group_by: [airport]`); the
//! real `presage-forecaster` forecasts each airport as its own series. Read back from
//! `presage.forecasts` with the test's own consumer: every forecast carries its airport's
//! labels, the two airports' forecasts differ, and (departures being counts, zero most nights)
//! every bound is a whole number, never below zero, with the constraints named on the event.
//! The same windows, read back from `presage.metrics.derived` and forecast in-process with the
//! constraints turned off, do go below zero: the test fails if the constraints are not applied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_events::{event_id, DerivedMetric, Forecast, RawSample};
use presage_forecaster::Forecaster;
use presage_integration::broker::TestBroker;
use presage_integration::data::{epoch_ms, shared_data};
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::Outgoing;

const APP: &str = "airports";
const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;
const DAYS: i64 = 4;

fn template(constraints: &str) -> String {
    format!(
        r#"
app: airports
dynamic_metadata:
  sources:
    - {{ id: flights, kind: prometheus, url: "http://127.0.0.1:1/metrics" }}
  windowing: {{ allowed_lateness: 0s, idle_timeout: 1h }}
  metric_recipes:
    - {{ name: per_hour, from: flights.departures, aggregate: sum, group_by: [airport], window: {{ tumble: 1h }} }}
  prediction_algorithms:
    - {{ target: per_hour, horizon: 3h, models: [seasonal_naive], seasonality: [1d], refit: 6h, history: 3d{constraints} }}
"#
    )
}

fn airport(name: &str) -> BTreeMap<String, String> {
    [("airport".to_string(), name.to_string())].into()
}

/// (epoch ms, airport, departures) of `DAYS` days of quarter-hours from 2013-01-07 (a Monday)
/// at Newark and JFK, moved forward by whole weeks to end within the past week (brokers apply
/// retention to record timestamps), in time order.
fn quarters() -> Vec<(i64, &'static str, f64)> {
    let path = shared_data("nyc-departures-15m.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = epoch_ms("2013-01-07T00:00:00Z");
    let end = start + DAYS * 24 * HOUR;
    let mut rows = Vec::new();
    for row in reader.records() {
        let row = row.expect("csv row");
        let name = match &row[1] {
            "airport-ewr" => "ewr",
            "airport-jfk" => "jfk",
            _ => continue,
        };
        let ts = epoch_ms(&row[0]);
        if (start..end).contains(&ts) {
            rows.push((ts, name, row[3].parse::<f64>().expect("numeric value")));
        }
    }
    assert_eq!(rows.len() as i64, 2 * DAYS * 96, "{}", path.display());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // Whole weeks back (the same weekdays), far enough that the closing sample a day after the
    // trace's end is not ahead of the wall clock (the recipe-processor refuses samples more than
    // five minutes ahead): on the trace's own weekday the end would otherwise be minutes ago.
    let shift = (now - end - 25 * HOUR).div_euclid(WEEK) * WEEK;
    rows.sort_by_key(|(ts, name, _)| (*ts, *name));
    rows.into_iter()
        .map(|(ts, name, v)| (ts + shift, name, v))
        .collect()
}

fn sample(ts: i64, name: &str, value: f64) -> RawSample {
    RawSample {
        event_id: event_id(&["raw", APP, name, &ts.to_string()]),
        app: APP.into(),
        template_version: String::new(),
        source: "flights".into(),
        metric: "departures".into(),
        labels: airport(name),
        value,
        event_time_ms: ts,
        lineage: "nyc-departures-15m.csv".into(),
    }
}

fn whole(v: f64) -> bool {
    v.fract() == 0.0
}

#[test]
fn each_group_is_forecast_with_its_labels_and_count_bounds_stay_at_or_above_zero() {
    let rows = quarters();
    let last_hour_end = rows.last().unwrap().0 - rows.last().unwrap().0.rem_euclid(HOUR) + HOUR;

    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().expect("workdir");
    let template_path = workdir.path().join("airports.yaml");
    std::fs::write(&template_path, template("")).expect("write template");
    publish_templates(&kafka, &[template_path]).expect("publish template");
    let forecasts_topic = TopicReader::open(&kafka, &topics.forecasts());
    let derived_topic = TopicReader::open(&kafka, &topics.derived());

    let mut services = Services::new(&workdir.path().join("logs"));
    services.start("recipe-processor", &kafka, workdir.path());
    services.start("forecaster", &kafka, workdir.path());

    // Every quarter-hour of both airports, then one sample a day later to close every window.
    let raw_topic = topics.raw();
    let mut records: Vec<Outgoing> = rows
        .iter()
        .map(|(ts, name, v)| Outgoing::event(raw_topic.clone(), &sample(*ts, name, *v)).unwrap())
        .collect();
    records.push(
        Outgoing::event(
            raw_topic.clone(),
            &sample(last_hour_end + 24 * HOUR, "ewr", 0.0),
        )
        .unwrap(),
    );
    Publisher::new(&kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce raw samples");

    // Until both airports' forecasts from the last hour of the trace are read.
    let mut forecasts: Vec<Forecast> = Vec::new();
    let both = forecasts_topic.wait_until(&mut forecasts, Duration::from_secs(240), |seen| {
        ["ewr", "jfk"].iter().all(|name| {
            seen.iter()
                .any(|f| f.issued_at_ms == last_hour_end && f.labels == airport(name))
        })
    });
    assert!(
        both,
        "no forecast of both airports for the last hour after 240 s ({} read)\n{}",
        forecasts.len(),
        services.logs()
    );

    // Every forecast names its airport; none is unlabelled (the recipe has no whole series).
    let groups: BTreeSet<_> = forecasts.iter().map(|f| f.labels.clone()).collect();
    assert_eq!(groups, [airport("ewr"), airport("jfk")].into());
    let per = |name: &str| -> Vec<&Forecast> {
        forecasts
            .iter()
            .filter(|f| f.labels == airport(name))
            .collect()
    };
    let (ewr, jfk) = (per("ewr"), per("jfk"));
    assert!(
        ewr.len() > 48 && jfk.len() > 48,
        "{} and {}",
        ewr.len(),
        jfk.len()
    );
    // two series, not one: the newest forecasts differ and are not the sum of the airports
    let newest =
        |fs: &[&Forecast]| (*fs.iter().find(|f| f.issued_at_ms == last_hour_end).unwrap()).clone();
    let (e, j) = (newest(&ewr), newest(&jfk));
    assert_ne!(e.event_id, j.event_id);
    assert_ne!(
        e.points.iter().map(|p| p.point).collect::<Vec<_>>(),
        j.points.iter().map(|p| p.point).collect::<Vec<_>>()
    );

    // Counts: every bound whole and at or above zero, the constraints named.
    let mut at_zero = 0;
    for f in &forecasts {
        assert_eq!(f.constraints, vec!["non_negative", "integer"], "{f:?}");
        for p in &f.points {
            assert!(p.lower >= 0.0 && p.point >= 0.0 && p.upper >= 0.0, "{p:?}");
            assert!(whole(p.lower) && whole(p.upper), "{p:?}");
            assert!(p.lower <= p.point && p.point <= p.upper, "{p:?}");
            if p.lower == 0.0 {
                at_zero += 1;
            }
        }
    }
    assert!(at_zero > 0, "the nights' lower bounds reach zero");

    // The same windows forecast without the constraints go below zero: the bound above is the
    // constraints' doing, not the data's.
    let mut derived: Vec<DerivedMetric> = Vec::new();
    let read = derived_topic.wait_until(&mut derived, Duration::from_secs(60), |seen| {
        seen.iter()
            .filter(|d| d.window_end_ms <= last_hour_end)
            .count()
            >= 2 * DAYS as usize * 24
    });
    assert!(read, "only {} derived windows read back", derived.len());
    let unconstrained = presage_template::parse(
        &template(", constraints: { non_negative: false, integer: false }"),
        "airports.yaml",
    )
    .unwrap();
    let mut core = Forecaster::new();
    core.set_template("unconstrained", Arc::new(unconstrained));
    let mut below_zero = 0;
    for d in derived.iter().filter(|d| d.window_end_ms <= last_hour_end) {
        for f in core.on_derived(d).expect("known app") {
            assert!(f.constraints.is_empty());
            below_zero += f.points.iter().filter(|p| p.lower < 0.0).count();
        }
    }
    assert!(
        below_zero > 0,
        "without constraints no lower bound went below zero"
    );
    services.stop("forecaster");
    services.stop("recipe-processor");
}
