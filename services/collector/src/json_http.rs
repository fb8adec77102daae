//! `json_http` sources: a JSON document (a weather API, a sensor gateway, a business-events
//! endpoint) made into readings by JSON Pointers (RFC 6901, `serde_json::Value::pointer`): each
//! of the source's `values` is one metric, its `labels` label every sample, and with `items` one
//! sample per element of an array, the other pointers then relative to each element. Pure: the
//! body and the instant in, readings or the reason there are none out.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::samples::Reading;

/// What to pick from a document: a `json_http` source's `values`, `labels` and `items`.
#[derive(Debug, Clone, Copy)]
pub struct Picks<'s> {
    pub values: &'s BTreeMap<String, String>,
    pub labels: &'s BTreeMap<String, String>,
    pub items: Option<&'s str>,
}

/// Why a document gave no readings. Each names the pointer (and the element of `items`) that
/// failed, so the operator can fix the template or the API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    #[error("the response is not JSON: {0}")]
    NotJson(String),
    #[error("{pointer} is not in the response{}", element(.item))]
    Missing {
        pointer: String,
        item: Option<usize>,
    },
    #[error("{pointer} is {found}{}, not a number", element(.item))]
    NotANumber {
        pointer: String,
        item: Option<usize>,
        found: String,
    },
    #[error("label {pointer} is {found}{}: expected a string, number or boolean", element(.item))]
    NotALabel {
        pointer: String,
        item: Option<usize>,
        found: String,
    },
    #[error("items {pointer} is {found}, not an array")]
    NotAnArray { pointer: String, found: String },
    #[error(
        "{series} series, more than --max-scrape-series ({max}): the response is refused whole"
    )]
    TooManySeries { series: usize, max: usize },
}

fn element(item: &Option<usize>) -> String {
    item.map(|i| format!(" (in item {i})")).unwrap_or_default()
}

/// The readings of `body` at `now_ms`: one per value (per element of `items`), in the order of
/// the elements and then of the value names. At most `max_series` of them, or none.
pub fn readings(
    body: &str,
    picks: Picks<'_>,
    now_ms: i64,
    max_series: usize,
) -> Result<Vec<Reading>, JsonError> {
    let doc: Value = serde_json::from_str(body).map_err(|e| JsonError::NotJson(e.to_string()))?;
    let elements: Vec<(Option<usize>, &Value)> = match picks.items {
        None => vec![(None, &doc)],
        Some(pointer) => match doc.pointer(pointer) {
            None => {
                return Err(JsonError::Missing {
                    pointer: pointer.to_string(),
                    item: None,
                })
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Some(i), v))
                .collect(),
            Some(other) => {
                return Err(JsonError::NotAnArray {
                    pointer: pointer.to_string(),
                    found: kind_of(other),
                })
            }
        },
    };
    let series = elements.len() * picks.values.len();
    if series > max_series {
        return Err(JsonError::TooManySeries {
            series,
            max: max_series,
        });
    }
    let mut readings = Vec::with_capacity(series);
    for (item, element) in elements {
        let labels = labels_of(element, picks.labels, item)?;
        for (name, pointer) in picks.values {
            let value = match element.pointer(pointer) {
                None => {
                    return Err(JsonError::Missing {
                        pointer: pointer.clone(),
                        item,
                    })
                }
                Some(Value::Number(n)) => n.as_f64(),
                Some(_) => None,
            };
            let Some(value) = value else {
                return Err(JsonError::NotANumber {
                    pointer: pointer.clone(),
                    item,
                    found: kind_of(element.pointer(pointer).unwrap_or(&Value::Null)),
                });
            };
            readings.push(Reading {
                metric: name.clone(),
                labels: labels.clone(),
                value,
                at_ms: now_ms,
            });
        }
    }
    Ok(readings)
}

fn labels_of(
    element: &Value,
    labels: &BTreeMap<String, String>,
    item: Option<usize>,
) -> Result<BTreeMap<String, String>, JsonError> {
    labels
        .iter()
        .map(|(name, pointer)| {
            let text = match element.pointer(pointer) {
                None => {
                    return Err(JsonError::Missing {
                        pointer: pointer.clone(),
                        item,
                    })
                }
                Some(Value::String(s)) => s.clone(),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                Some(other) => {
                    return Err(JsonError::NotALabel {
                        pointer: pointer.clone(),
                        item,
                        found: kind_of(other),
                    })
                }
            };
            Ok((name.clone(), text))
        })
        .collect()
}

/// What a value is, for an error. A string is never quoted: a pointer that lands on a token or
/// a key in the API's answer must not copy it into logs and dead letters.
fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("a string of {} characters", s.chars().count()),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const OPEN_METEO: &str = r#"{"latitude":52.52,"longitude":13.41,"name":"Berlin",
        "current":{"time":"2026-07-01T12:00","temperature_2m":21.5,"relative_humidity_2m":40}}"#;

    #[test]
    fn each_value_is_a_metric_labelled_by_the_label_pointers() {
        let values = map(&[
            ("temperature_c", "/current/temperature_2m"),
            ("humidity", "/current/relative_humidity_2m"),
        ]);
        let labels = map(&[("city", "/name"), ("lat", "/latitude")]);
        let picks = Picks {
            values: &values,
            labels: &labels,
            items: None,
        };
        let r = readings(OPEN_METEO, picks, 7, 100).unwrap();
        let got: Vec<(&str, f64)> = r.iter().map(|r| (r.metric.as_str(), r.value)).collect();
        assert_eq!(got, vec![("humidity", 40.0), ("temperature_c", 21.5)]);
        assert_eq!(r[0].labels, map(&[("city", "Berlin"), ("lat", "52.52")]));
        assert!(r.iter().all(|r| r.at_ms == 7));
    }

    #[test]
    fn items_make_one_sample_per_element_with_relative_pointers() {
        let body = r#"{"stations":[{"id":"ewr","t":{"c":3.5}},{"id":"jfk","t":{"c":-1}}]}"#;
        let (values, labels) = (map(&[("temp", "/t/c")]), map(&[("station", "/id")]));
        let picks = Picks {
            values: &values,
            labels: &labels,
            items: Some("/stations"),
        };
        let r = readings(body, picks, 0, 100).unwrap();
        let got: Vec<(&str, f64)> = r
            .iter()
            .map(|r| (r.labels["station"].as_str(), r.value))
            .collect();
        assert_eq!(got, vec![("ewr", 3.5), ("jfk", -1.0)]);
    }

    #[test]
    fn a_missing_or_non_numeric_value_is_an_error_naming_its_pointer() {
        let labels = BTreeMap::new();
        let values = map(&[("t", "/current/temperature_80m")]);
        let picks = Picks {
            values: &values,
            labels: &labels,
            items: None,
        };
        let err = readings(OPEN_METEO, picks, 0, 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/current/temperature_80m is not in the response"
        );
        let values = map(&[("t", "/current/time")]);
        let picks = Picks {
            values: &values,
            ..picks
        };
        let err = readings(OPEN_METEO, picks, 0, 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/current/time is a string of 16 characters, not a number"
        );
    }

    #[test]
    fn an_element_without_the_value_is_named_by_its_index() {
        let body = r#"{"s":[{"v":1},{"w":2}]}"#;
        let (values, labels) = (map(&[("v", "/v")]), BTreeMap::new());
        let picks = Picks {
            values: &values,
            labels: &labels,
            items: Some("/s"),
        };
        let err = readings(body, picks, 0, 100).unwrap_err();
        assert_eq!(err.to_string(), "/v is not in the response (in item 1)");
        let picks = Picks {
            items: Some("/s/0"),
            ..picks
        };
        let err = readings(body, picks, 0, 100).unwrap_err();
        assert_eq!(err.to_string(), "items /s/0 is an object, not an array");
    }

    #[test]
    fn more_series_than_the_bound_are_refused_whole() {
        let body = format!("[{}]", ["{\"v\":1}"; 11].join(","));
        let (values, labels) = (map(&[("v", "/v")]), BTreeMap::new());
        let picks = Picks {
            values: &values,
            labels: &labels,
            items: Some(""),
        };
        assert_eq!(
            readings(&body, picks, 0, 10).unwrap_err(),
            JsonError::TooManySeries {
                series: 11,
                max: 10
            }
        );
        assert_eq!(readings(&body, picks, 0, 11).unwrap().len(), 11);
    }

    #[test]
    fn a_body_that_is_not_json_says_so() {
        let (values, labels) = (map(&[("v", "/v")]), BTreeMap::new());
        let picks = Picks {
            values: &values,
            labels: &labels,
            items: None,
        };
        let err = readings("<html>rate limited</html>", picks, 0, 10).unwrap_err();
        assert!(matches!(err, JsonError::NotJson(_)), "{err}");
    }
}
