//! Prometheus's HTTP query API (`/api/v1/query`, `/api/v1/query_range`) as readings: what a
//! `promql` source's query returned, each series a reading of the source's metric with the
//! series' labels. Pure: the collector's reader and `presage backtest --prometheus` do the HTTP
//! and hand the body here, so the live samples and the replayed ones are named alike.
//!
//! The series' own `__name__` is dropped: the metric is the source's (`Source::metric_name`),
//! so a plain selector (`http_requests_total{job="api"}`) and an aggregation of it (which has no
//! `__name__`) give samples of the same shape.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::samples::Reading;

/// Prometheus refuses a range query of more points per series than this ("exceeded maximum
/// resolution of 11,000 points per timeseries").
pub const MAX_POINTS_PER_REQUEST: i64 = 11_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromqlError {
    /// Prometheus answered `status: error` (a query that does not parse, a timeout, ...).
    #[error("Prometheus refused the query ({error_type}): {error}")]
    Refused { error_type: String, error: String },
    /// The answer is not the API's JSON.
    #[error("not a Prometheus API answer: {0}")]
    NotTheApi(String),
    /// A result the request cannot use: a range vector or a string from an instant query.
    #[error("{0}")]
    WrongResult(String),
    /// More series than the collector's bound; none of them is read.
    #[error("{series} series, more than --max-scrape-series ({max}): the result is refused whole")]
    TooManySeries { series: usize, max: usize },
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Value,
}

/// `[<unix seconds>, "<value>"]`: the value is a string so NaN and infinities survive JSON.
type Point = (f64, String);

#[derive(Deserialize)]
struct InstantSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<Point>,
}

#[derive(Deserialize)]
struct RangeSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Point>,
}

/// An instant query's answer (`/api/v1/query`): a vector gives one reading per series, a scalar
/// one reading without labels, each stamped with the evaluation time Prometheus reports.
pub fn parse_instant(
    body: &str,
    metric: &str,
    max_series: usize,
) -> Result<Vec<Reading>, PromqlError> {
    let data = data_of(body)?;
    match data.result_type.as_str() {
        "vector" => {
            let series: Vec<InstantSeries> = result_as(data.result)?;
            bounded(series.len(), max_series)?;
            series
                .into_iter()
                .filter_map(|s| s.value.map(|point| (s.metric, point)))
                .map(|(labels, point)| reading(metric, labels_of(labels), &point))
                .collect()
        }
        "scalar" => {
            let point: Point = result_as(data.result)?;
            Ok(vec![reading(metric, BTreeMap::new(), &point)?])
        }
        "matrix" => Err(PromqlError::WrongResult(
            "the query gives a range vector (matrix): a promql source needs an instant vector or \
             a scalar; drop the range selector `[..]` or wrap it in a function such as rate()"
                .into(),
        )),
        other => Err(PromqlError::WrongResult(format!(
            "the query gives a {other}: a promql source needs an instant vector or a scalar"
        ))),
    }
}

/// A range query's answer (`/api/v1/query_range`): every point of every series, each a reading
/// as the instant query at that time would have given it. Prometheus answers a range query of a
/// scalar expression with a matrix of one series without labels, as its instant query's scalar.
pub fn parse_range(
    body: &str,
    metric: &str,
    max_series: usize,
) -> Result<Vec<Reading>, PromqlError> {
    let data = data_of(body)?;
    if data.result_type != "matrix" {
        return Err(PromqlError::WrongResult(format!(
            "a range query gave a {}: expected a matrix",
            data.result_type
        )));
    }
    let series: Vec<RangeSeries> = result_as(data.result)?;
    bounded(series.len(), max_series)?;
    let mut readings = Vec::new();
    for s in series {
        let labels = labels_of(s.metric);
        for point in &s.values {
            readings.push(reading(metric, labels.clone(), point)?);
        }
    }
    Ok(readings)
}

/// `[from_ms, to_ms]` cut into consecutive ranges of at most [`MAX_POINTS_PER_REQUEST`]
/// evaluation times each, on the grid `from_ms + k * step_ms`; every time of the grid up to
/// `to_ms` falls in exactly one range.
pub fn range_chunks(from_ms: i64, to_ms: i64, step_ms: i64) -> Vec<(i64, i64)> {
    let step_ms = step_ms.max(1);
    // Saturating: a template's `every` of 200000000000d must not overflow the arithmetic.
    let span = (MAX_POINTS_PER_REQUEST - 1).saturating_mul(step_ms);
    let mut chunks = Vec::new();
    let mut start = from_ms;
    while start <= to_ms {
        let end = start.saturating_add(span).min(to_ms);
        chunks.push((start, end));
        match (end - (end - start) % step_ms).checked_add(step_ms) {
            Some(next) if end < to_ms => start = next,
            _ => break,
        }
    }
    chunks
}

/// The API endpoint `path` (`query`, `query_range`) of the server at `base`.
pub fn endpoint(base: &str, path: &str) -> String {
    format!("{}/api/v1/{path}", base.trim_end_matches('/'))
}

/// Milliseconds as the API's seconds, exactly (`1700000000.123`).
pub fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn data_of(body: &str) -> Result<Data, PromqlError> {
    let answer: Answer = serde_json::from_str(body).map_err(|e| {
        // A 404 page or a proxy's error says more than the JSON parser: quote its start.
        let start: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        let start: String = start.chars().take(80).collect();
        PromqlError::NotTheApi(format!(
            "{e} in `{start}` (is `url` the server's base URL, like http://prometheus:9090?)"
        ))
    })?;
    if answer.status != "success" {
        return Err(PromqlError::Refused {
            error_type: answer.error_type.unwrap_or_else(|| "unknown".into()),
            error: answer
                .error
                .unwrap_or_else(|| format!("status {}", answer.status)),
        });
    }
    answer
        .data
        .ok_or_else(|| PromqlError::NotTheApi("status success without data".into()))
}

fn result_as<T: serde::de::DeserializeOwned>(result: Value) -> Result<T, PromqlError> {
    serde_json::from_value(result).map_err(|e| PromqlError::NotTheApi(format!("result: {e}")))
}

fn bounded(series: usize, max: usize) -> Result<(), PromqlError> {
    if series > max {
        return Err(PromqlError::TooManySeries { series, max });
    }
    Ok(())
}

fn labels_of(mut labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels.remove("__name__");
    labels
}

fn reading(
    metric: &str,
    labels: BTreeMap<String, String>,
    (at, value): &Point,
) -> Result<Reading, PromqlError> {
    let value = match value.as_str() {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse::<f64>()
            .map_err(|_| PromqlError::NotTheApi(format!("value {other:?} is not a number")))?,
    };
    Ok(Reading {
        metric: metric.to_string(),
        labels,
        value,
        at_ms: (at * 1000.0).round() as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_series_of_a_vector_is_a_reading_with_its_labels_but_not_its_name() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"http_requests_total","job":"api","code":"200"},"value":[1700000000.123,"41.5"]},
            {"metric":{"job":"api","code":"500"},"value":[1700000000.123,"NaN"]}]}}"#;
        let readings = parse_instant(body, "rps", 10).unwrap();
        assert_eq!(readings.len(), 2);
        assert_eq!(readings[0].metric, "rps");
        assert_eq!(readings[0].value, 41.5);
        assert_eq!(readings[0].at_ms, 1_700_000_000_123);
        assert_eq!(
            readings[0].labels,
            BTreeMap::from([("code".into(), "200".into()), ("job".into(), "api".into())])
        );
        assert!(readings[1].value.is_nan());
    }

    #[test]
    fn a_scalar_is_one_reading_without_labels() {
        let body =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}"#;
        let readings = parse_instant(body, "s", 10).unwrap();
        assert_eq!(readings.len(), 1);
        assert!(readings[0].labels.is_empty());
        assert_eq!(readings[0].value, f64::INFINITY);
        assert_eq!(readings[0].at_ms, 1_700_000_000_000);
    }

    #[test]
    fn an_error_status_a_matrix_and_a_string_are_errors_that_say_why() {
        let refused =
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(
            parse_instant(refused, "m", 10).unwrap_err().to_string(),
            "Prometheus refused the query (bad_data): parse error at char 5"
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let err = parse_instant(matrix, "m", 10).unwrap_err().to_string();
        assert!(err.contains("range vector (matrix)"), "{err}");
        let string = r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        let err = parse_instant(string, "m", 10).unwrap_err().to_string();
        assert!(err.contains("gives a string"), "{err}");
        let err = parse_instant("404 page not found\n", "m", 10).unwrap_err();
        assert!(matches!(err, PromqlError::NotTheApi(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("in `404 page not found` (is `url` the server's base URL"),
            "{err}"
        );
    }

    #[test]
    fn more_series_than_the_bound_refuses_the_whole_result() {
        let series = |n: usize| {
            let items: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"metric":{{"i":"{i}"}},"value":[1,"1"]}}"#))
                .collect();
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
                items.join(",")
            )
        };
        assert_eq!(parse_instant(&series(3), "m", 3).unwrap().len(), 3);
        assert_eq!(
            parse_instant(&series(4), "m", 3).unwrap_err(),
            PromqlError::TooManySeries { series: 4, max: 3 }
        );
    }

    #[test]
    fn a_range_answer_is_every_point_of_every_series() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"demand","zone":"n"},"values":[[60,"1"],[120,"2"]]},
            {"metric":{"zone":"s"},"values":[[60,"3"]]}]}}"#;
        let readings = parse_range(body, "demand", 10).unwrap();
        let seen: Vec<(i64, f64, &str)> = readings
            .iter()
            .map(|r| (r.at_ms, r.value, r.labels["zone"].as_str()))
            .collect();
        assert_eq!(
            seen,
            [(60_000, 1.0, "n"), (120_000, 2.0, "n"), (60_000, 3.0, "s")]
        );
        assert!(readings
            .iter()
            .all(|r| r.metric == "demand" && r.labels.len() == 1));
    }

    #[test]
    fn chunks_cover_the_grid_once_with_at_most_the_points_prometheus_allows() {
        let step = 15_000;
        let (from, to) = (1_000, 1_000 + 30_000 * step + 7);
        let chunks = range_chunks(from, to, step);
        assert_eq!(chunks.len(), 3);
        let mut times = Vec::new();
        for (start, end) in &chunks {
            assert_eq!((start - from) % step, 0, "on the grid");
            let points = (end - start) / step + 1;
            assert!(points <= MAX_POINTS_PER_REQUEST, "{points}");
            times.extend((0..points).map(|k| start + k * step));
        }
        let grid: Vec<i64> = (0..=30_000).map(|k| from + k * step).collect();
        assert_eq!(times, grid);
        assert_eq!(range_chunks(5, 5, step), [(5, 5)]);
        assert!(range_chunks(6, 5, step).is_empty());
    }

    #[test]
    fn urls_and_times_are_written_as_the_api_reads_them() {
        assert_eq!(
            endpoint("http://p:9090/", "query"),
            "http://p:9090/api/v1/query"
        );
        assert_eq!(
            endpoint("http://p:9090/prom", "query_range"),
            "http://p:9090/prom/api/v1/query_range"
        );
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(seconds(5), "0.005");
    }

    #[test]
    fn a_huge_step_gives_one_chunk_instead_of_overflowing() {
        let day = 86_400_000;
        assert_eq!(range_chunks(0, 30 * day, i64::MAX / 2), [(0, 30 * day)]);
        assert_eq!(range_chunks(0, i64::MAX, i64::MAX), [(0, i64::MAX)]);
    }
}
