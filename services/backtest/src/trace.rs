//! Recorded raw samples from a CSV trace in the long format of `../shared/data`:
//! `timestamp,app,metric,value`, one sample a row, RFC 3339 UTC timestamps.
//!
//! The trace's `metric` is `source.metric` as a template's `from:` selector names it; a bare
//! metric (the shared traces' `demand_mw`, `departures`) is read from source [`TRACE_SOURCE`],
//! so a template selects it as `from: trace.departures`.

use std::collections::BTreeMap;
use std::io::Read;

use presage_events::RawSample;
use presage_template::calendar::parse_timestamp;

/// The source id of a trace metric that names none.
pub const TRACE_SOURCE: &str = "trace";

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{file}:{line}: {message}")]
    Row {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: the header must be `timestamp,app,metric,value`, found `{found}`")]
    Header { file: String, found: String },
    #[error("{file}: {source}")]
    Csv { file: String, source: csv::Error },
}

/// Samples in event-time order (rows with equal times keep the trace's order), and the apps in
/// order of first appearance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    pub samples: Vec<RawSample>,
    pub apps: Vec<String>,
}

impl Trace {
    /// Samples already in hand (read from a topic): sorted by event time, apps listed.
    pub fn from_samples(mut samples: Vec<RawSample>) -> Self {
        samples.sort_by_key(|s| s.event_time_ms);
        let mut apps: Vec<String> = Vec::new();
        for sample in &samples {
            if !apps.contains(&sample.app) {
                apps.push(sample.app.clone());
            }
        }
        Self { samples, apps }
    }

    pub fn from_ms(&self) -> Option<i64> {
        self.samples.first().map(|s| s.event_time_ms)
    }

    pub fn to_ms(&self) -> Option<i64> {
        self.samples.last().map(|s| s.event_time_ms)
    }
}

/// Reads a trace; `file` names it in errors, which give the line of the bad row.
pub fn read_csv(input: impl Read, file: &str) -> Result<Trace, TraceError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let csv_error = |source| TraceError::Csv {
        file: file.to_string(),
        source,
    };
    let header = reader.headers().map_err(csv_error)?.clone();
    let expected = ["timestamp", "app", "metric", "value"];
    if header.iter().map(str::trim).ne(expected) {
        return Err(TraceError::Header {
            file: file.to_string(),
            found: header.iter().collect::<Vec<_>>().join(","),
        });
    }
    let mut samples = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        let row_error = |message: String| TraceError::Row {
            file: file.to_string(),
            line,
            message,
        };
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let at = parse_timestamp(field(0)).ok_or_else(|| {
            row_error(format!(
                "timestamp `{}` is not RFC 3339 (2013-01-01T00:15:00Z)",
                field(0)
            ))
        })?;
        let app = field(1);
        if app.is_empty() {
            return Err(row_error("the app is empty".into()));
        }
        let (source, metric) = match field(2).split_once('.') {
            Some((source, metric)) if !source.is_empty() && !metric.is_empty() => (source, metric),
            _ if !field(2).is_empty() => (TRACE_SOURCE, field(2)),
            _ => return Err(row_error("the metric is empty".into())),
        };
        let value: f64 = field(3)
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| row_error(format!("value `{}` is not a number", field(3))))?;
        samples.push(sample(
            app,
            source,
            metric,
            value,
            at,
            &format!("{file}:{line}"),
        ));
    }
    Ok(Trace::from_samples(samples))
}

/// A raw sample as the collector would have published it.
pub fn sample(
    app: &str,
    source: &str,
    metric: &str,
    value: f64,
    at_ms: i64,
    lineage: &str,
) -> RawSample {
    RawSample {
        event_id: presage_events::event_id(&["trace", app, source, metric, &at_ms.to_string()]),
        app: app.to_string(),
        template_version: String::new(),
        source: source.to_string(),
        metric: metric.to_string(),
        labels: BTreeMap::new(),
        value,
        event_time_ms: at_ms,
        lineage: lineage.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_samples_in_event_time_order() {
        let csv = "timestamp,app,metric,value\n\
                   2013-01-01T00:15:00Z,a,departures,3\n\
                   2013-01-01T00:00:00Z,b,api.rps,2.5\n";
        let trace = read_csv(csv.as_bytes(), "t.csv").unwrap();
        assert_eq!(trace.apps, ["b", "a"]);
        let first = &trace.samples[0];
        assert_eq!(
            (first.source.as_str(), first.metric.as_str()),
            ("api", "rps")
        );
        assert_eq!(first.value, 2.5);
        let second = &trace.samples[1];
        assert_eq!(
            (second.source.as_str(), second.metric.as_str()),
            (TRACE_SOURCE, "departures")
        );
        assert_eq!(second.event_time_ms - first.event_time_ms, 15 * 60_000);
        assert_eq!(second.lineage, "t.csv:2");
    }

    #[test]
    fn a_bad_row_is_named_by_file_and_line() {
        let csv = "timestamp,app,metric,value\n\
                   2013-01-01T00:00:00Z,a,departures,3\n\
                   2013-01-01T00:15:00Z,a,departures,lots\n";
        let err = read_csv(csv.as_bytes(), "t.csv").unwrap_err().to_string();
        assert_eq!(err, "t.csv:3: value `lots` is not a number");
        let csv = "timestamp,app,metric,value\n2013-01-01T00:00:00Z,a,departures,NaN\n";
        let err = read_csv(csv.as_bytes(), "t.csv").unwrap_err().to_string();
        assert_eq!(err, "t.csv:2: value `NaN` is not a number");
        let csv = "timestamp,app,metric,value\nyesterday,a,m,1\n";
        let err = read_csv(csv.as_bytes(), "t.csv").unwrap_err().to_string();
        assert!(err.starts_with("t.csv:2: timestamp `yesterday`"), "{err}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let err = read_csv("time,app,value\n".as_bytes(), "t.csv").unwrap_err();
        assert!(
            err.to_string().contains("timestamp,app,metric,value"),
            "{err}"
        );
    }
}
