//! Shared helpers of the recipe-processor specification: slices of the real NYC traces in
//! `/work/shared/data/`, templates, a driver that feeds samples at increasing offsets, and
//! lookups of the outputs.
//!
//! Every expected number in the tests is computed by hand from the trace rows the test loads;
//! the rows used most (2013-01-07, 15-minute departures) are, for reference:
//!
//! | quarter | 06:00 | 06:15 | 06:30 | 06:45 | 07:00 | 07:15 | 07:30 | 07:45 | 08:00 | 08:15 | 08:30 | 08:45 |
//! | ---     | ---   | ---   | ---   | ---   | ---   | ---   | ---   | ---   | ---   | ---   | ---   | ---   |
//! | ewr     | 5     | 8     | 9     | 2     | 8     | 6     | 3     | 6     | 5     | 6     | 10    | 7     |
//! | jfk     | 3     | 6     | 2     | 4     | 7     | 6     | 3     | 5     | 12    | 6     | 5     | 5     |
//! | lga     | 3     | 9     | 2     | 9     | 3     | 4     | 2     | 6     | 5     | 6     | 3     | 5     |
//!
//! and `weather.temp` (°F) at ewr: 06:00 35.96, 07:00 37.94, 08:00 39.92, 09:00 44.06.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use presage_events::{DerivedMetric, MetadataFragment, RawSample};
use presage_recipe_processor::{Position, RecipeOutput, RecipeProcessor};
use presage_template::Template;

/// 2013-01-07T00:00:00Z in epoch ms: 2013-01-01 is day 43 × 365 + 11 leap days = 15 706 since
/// the epoch, so Jan 7 is day 15 712, and 15 712 × 86 400 000 = 1 357 516 800 000.
pub const JAN7: i64 = 1_357_516_800_000;
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;

/// Epoch ms of `hh:mm` on 2013-01-07 (UTC label), the day the tests slice.
pub fn at(hhmm: &str) -> i64 {
    parse_time(&format!("2013-01-07T{hhmm}:00Z"))
}

/// `2013-01-07T06:00:00Z` → epoch ms (UTC).
pub fn parse_time(text: &str) -> i64 {
    presage_template::calendar::parse_timestamp(text)
        .unwrap_or_else(|| panic!("timestamp {text:?} is not YYYY-MM-DDTHH:MM:SSZ"))
}

// ---------------------------------------------------------------- the real traces

/// One row of a trace file: `timestamp,app,metric,value`.
pub struct TraceRow {
    pub ts: i64,
    pub app: String,
    pub metric: String,
    pub value: f64,
}

fn load(file: &str) -> Vec<TraceRow> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(file);
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            TraceRow {
                ts: parse_time(&r[0]),
                app: r[1].to_string(),
                metric: r[2].to_string(),
                value: r[3]
                    .parse()
                    .unwrap_or_else(|e| panic!("{}: value {:?}: {e}", path.display(), &r[3])),
            }
        })
        .collect()
}

fn departures_file() -> &'static [TraceRow] {
    static ROWS: OnceLock<Vec<TraceRow>> = OnceLock::new();
    ROWS.get_or_init(|| load("nyc-departures-15m.csv"))
}

fn weather_file() -> &'static [TraceRow] {
    static ROWS: OnceLock<Vec<TraceRow>> = OnceLock::new();
    ROWS.get_or_init(|| load("nyc-weather-1h.csv"))
}

fn slice(rows: &[TraceRow], app: &str, metric: &str, from: &str, to: &str) -> Vec<(i64, f64)> {
    let (from, to) = (at(from), at(to));
    let found: Vec<(i64, f64)> = rows
        .iter()
        .filter(|r| r.app == app && r.metric == metric && r.ts >= from && r.ts <= to)
        .map(|r| (r.ts, r.value))
        .collect();
    assert!(
        !found.is_empty(),
        "no {app} {metric} rows between {from} and {to} in the trace"
    );
    found
}

/// The 15-minute departures of `airport` (`ewr`, `jfk`, `lga`) on 2013-01-07 between `from`
/// and `to` (both `hh:mm`, inclusive): (epoch ms, departures), oldest first.
pub fn departures(airport: &str, from: &str, to: &str) -> Vec<(i64, f64)> {
    slice(
        departures_file(),
        &format!("airport-{airport}"),
        "departures",
        from,
        to,
    )
}

/// The hourly `weather.temp` at `airport` on 2013-01-07 between `from` and `to` (inclusive).
pub fn temperatures(airport: &str, from: &str, to: &str) -> Vec<(i64, f64)> {
    slice(
        weather_file(),
        &format!("airport-{airport}"),
        "weather.temp",
        from,
        to,
    )
}

// ---------------------------------------------------------------- samples

/// A raw sample of `source.metric` for `app`.
pub fn raw(
    app: &str,
    source: &str,
    metric: &str,
    labels: &[(&str, &str)],
    ts: i64,
    value: f64,
) -> RawSample {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    RawSample {
        event_id: format!("{app}/{source}.{metric}{labels:?}@{ts}"),
        app: app.into(),
        template_version: "collector".into(),
        source: source.into(),
        metric: metric.into(),
        labels,
        value,
        event_time_ms: ts,
        lineage: format!("test:{source}@{ts}"),
    }
}

/// `api.departures{airport="<airport>"}` samples of `app` from the trace, oldest first.
pub fn departure_samples(app: &str, airport: &str, from: &str, to: &str) -> Vec<RawSample> {
    departures(airport, from, to)
        .into_iter()
        .map(|(ts, v)| raw(app, "api", "departures", &[("airport", airport)], ts, v))
        .collect()
}

/// Several airports' departures in one stream, in event-time order (airports in the order
/// given within a quarter), as a collector scraping them together would send them.
pub fn interleaved(app: &str, airports: &[&str], from: &str, to: &str) -> Vec<RawSample> {
    let mut all: Vec<(usize, RawSample)> = airports
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            departure_samples(app, a, from, to)
                .into_iter()
                .map(move |s| (i, s))
        })
        .collect();
    all.sort_by_key(|(i, s)| (s.event_time_ms, *i));
    all.into_iter().map(|(_, s)| s).collect()
}

/// `wx.temp{station="<airport>"}` samples of `app` from the weather trace.
pub fn temperature_samples(app: &str, airport: &str, from: &str, to: &str) -> Vec<RawSample> {
    temperatures(airport, from, to)
        .into_iter()
        .map(|(ts, v)| raw(app, "wx", "temp", &[("station", airport)], ts, v))
        .collect()
}

/// Merges streams by event time; at equal times the earlier stream's sample goes first.
pub fn merge(streams: &[Vec<RawSample>]) -> Vec<RawSample> {
    let mut all: Vec<(usize, usize, RawSample)> = streams
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.iter().cloned().enumerate().map(move |(j, s)| (i, j, s)))
        .collect();
    all.sort_by_key(|(i, j, s)| (s.event_time_ms, *i, *j));
    all.into_iter().map(|(_, _, s)| s).collect()
}

/// A counter that counts departures: each quarter's reading is the running total of the
/// departures so far; at `reset_at` the counter restarts from zero (a process restart), so that
/// reading is the quarter's departures alone.
pub fn departures_counter(rows: &[(i64, f64)], reset_at: Option<i64>) -> Vec<(i64, f64)> {
    let mut total = 0.0;
    rows.iter()
        .map(|&(ts, v)| {
            if Some(ts) == reset_at {
                total = 0.0;
            }
            total += v;
            (ts, total)
        })
        .collect()
}

// ---------------------------------------------------------------- templates

/// A template for `app` with sources `api` and `wx` (both Prometheus pages, so any metric
/// name), the `windowing` flow mapping and one recipe per flow mapping in `recipes`.
pub fn template(app: &str, windowing: &str, recipes: &[&str]) -> Arc<Template> {
    let mut text = format!(
        "app: {app}\n\
         dynamic_metadata:\n  \
           sources:\n    \
             - {{ id: api, kind: prometheus, url: \"http://127.0.0.1:9000/metrics\" }}\n    \
             - {{ id: wx, kind: prometheus, url: \"http://127.0.0.1:9001/metrics\" }}\n  \
           windowing: {windowing}\n  \
           metric_recipes:\n"
    );
    for recipe in recipes {
        text.push_str(&format!("    - {recipe}\n"));
    }
    match presage_template::parse(&text, "test.yaml") {
        Ok(t) => Arc::new(t),
        Err(e) => panic!("test template does not parse:\n{text}\n{e}"),
    }
}

/// No lateness, and an idle timeout long enough never to interfere.
pub const STRICT: &str = "{ allowed_lateness: 0s, idle_timeout: 1h }";

// ---------------------------------------------------------------- driving the core

/// A processor fed one partition at consecutive offsets; a sample is received (wall clock)
/// at its event time unless said otherwise, like a collector reading in real time.
pub struct Driver {
    pub processor: RecipeProcessor,
    pub partition: i32,
    pub next_offset: i64,
    pub last_received: i64,
    pub outputs: Vec<RecipeOutput>,
}

/// Offsets of a test partition start here, so an offset is never mistaken for an index.
pub const FIRST_OFFSET: i64 = 1_000;

impl Driver {
    pub fn new(version: &str, template: &Arc<Template>) -> Self {
        let mut processor = RecipeProcessor::new().expect("query engine starts");
        processor
            .set_template(version, Arc::clone(template))
            .expect("template compiles");
        Self::with(processor, 0)
    }

    pub fn with(processor: RecipeProcessor, partition: i32) -> Self {
        Self {
            processor,
            partition,
            next_offset: FIRST_OFFSET,
            last_received: 0,
            outputs: Vec::new(),
        }
    }

    /// Feeds one sample at the next offset, received at its event time.
    pub fn push(&mut self, sample: &RawSample) -> Vec<RecipeOutput> {
        let received = sample.event_time_ms.max(self.last_received);
        self.push_received(sample, received)
    }

    /// Feeds one sample at the next offset, received at `received_ms`.
    pub fn push_received(&mut self, sample: &RawSample, received_ms: i64) -> Vec<RecipeOutput> {
        let offset = self.next_offset;
        self.push_at(sample, offset, received_ms)
    }

    /// Feeds one sample at `offset`.
    pub fn push_at(
        &mut self,
        sample: &RawSample,
        offset: i64,
        received_ms: i64,
    ) -> Vec<RecipeOutput> {
        let position = Position {
            partition: self.partition,
            offset,
            received_ms,
        };
        let out = self
            .processor
            .on_raw(sample, position)
            .unwrap_or_else(|e| panic!("on_raw({sample:?}): {e}"));
        self.next_offset = offset + 1;
        self.last_received = self.last_received.max(received_ms);
        self.outputs.extend(out.iter().cloned());
        out
    }

    pub fn push_all(&mut self, samples: &[RawSample]) -> Vec<RecipeOutput> {
        samples.iter().flat_map(|s| self.push(s)).collect()
    }

    /// The partition goes quiet for a day: its idle timeout passes and every window closes.
    pub fn flush(&mut self) -> Vec<RecipeOutput> {
        self.idle(self.last_received + 24 * HOUR)
    }

    pub fn idle(&mut self, now_ms: i64) -> Vec<RecipeOutput> {
        let out = self.processor.on_idle(now_ms);
        self.outputs.extend(out.iter().cloned());
        out
    }
}

// ---------------------------------------------------------------- reading outputs

pub fn derived(outputs: &[RecipeOutput]) -> Vec<&DerivedMetric> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RecipeOutput::Derived(d) => Some(d),
            _ => None,
        })
        .collect()
}

pub fn fragments(outputs: &[RecipeOutput]) -> Vec<&MetadataFragment> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RecipeOutput::Fragment(f) => Some(f),
            _ => None,
        })
        .collect()
}

pub fn late(outputs: &[RecipeOutput]) -> Vec<(&str, &str)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RecipeOutput::Late { app, reason } => Some((app.as_str(), reason.as_str())),
            _ => None,
        })
        .collect()
}

/// The derived metrics of `recipe`, by window start (labels ignored).
pub fn of<'a>(outputs: &'a [RecipeOutput], recipe: &str) -> Vec<&'a DerivedMetric> {
    let mut found: Vec<&DerivedMetric> = derived(outputs)
        .into_iter()
        .filter(|d| d.recipe == recipe)
        .collect();
    found.sort_by(|a, b| (a.window_start_ms, &a.labels).cmp(&(b.window_start_ms, &b.labels)));
    found
}

/// The one derived metric of `recipe` for the window starting at `start` (with these
/// `group_by` labels); panics if there is none or more than one.
pub fn window<'a>(
    outputs: &'a [RecipeOutput],
    recipe: &str,
    start: i64,
    labels: &[(&str, &str)],
) -> &'a DerivedMetric {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<&DerivedMetric> = derived(outputs)
        .into_iter()
        .filter(|d| d.recipe == recipe && d.window_start_ms == start && d.labels == labels)
        .collect();
    match found.as_slice() {
        [one] => one,
        [] => panic!(
            "no {recipe} window at {start} {labels:?}; emitted: {:?}",
            summary(outputs)
        ),
        many => panic!("{} {recipe} windows at {start}: {many:#?}", many.len()),
    }
}

/// The value of `recipe`'s window at `start` (no group_by labels).
pub fn value(outputs: &[RecipeOutput], recipe: &str, start: i64) -> f64 {
    window(outputs, recipe, start, &[]).value
}

/// (recipe, window start, labels, value) of every derived metric, for failure messages.
pub fn summary(outputs: &[RecipeOutput]) -> Vec<String> {
    derived(outputs)
        .iter()
        .map(|d| {
            format!(
                "{} @{} {:?} = {} (n {}, {})",
                d.recipe, d.window_start_ms, d.labels, d.value, d.sample_count, d.template_version
            )
        })
        .collect()
}

#[track_caller]
pub fn assert_near(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected}"
    );
}
