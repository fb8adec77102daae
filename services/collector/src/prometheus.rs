//! The Prometheus text exposition format (version 0.0.4): `name{label="v",...} value [ts_ms]`.
//! Comments and blank lines are skipped; a malformed line is reported with its number and the
//! rest of the page is still read.

use std::collections::BTreeMap;

use crate::samples::Reading;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Parses a page; samples without an explicit timestamp are stamped `now_ms`.
pub fn parse_text(text: &str, now_ms: i64) -> (Vec<Reading>, Vec<LineError>) {
    let mut readings = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line, now_ms) {
            Ok(reading) => readings.push(reading),
            Err(message) => errors.push(LineError {
                line: index + 1,
                message,
            }),
        }
    }
    (readings, errors)
}

fn parse_line(line: &str, now_ms: i64) -> Result<Reading, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("expected a metric name followed by a value")?;
    let name = &line[..name_end];
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        || name.is_empty()
    {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if rest.starts_with('{') {
        let (parsed, after) = parse_labels(&rest[1..])?;
        labels = parsed;
        rest = after;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("expected a value")?;
    let value = parse_value(value)?;
    let at_ms = match fields.next() {
        Some(ts) => ts.parse::<i64>().map_err(|_| {
            format!("invalid timestamp {ts:?}: expected milliseconds since the epoch")
        })?,
        None => now_ms,
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(Reading {
        metric: name.to_string(),
        labels,
        value,
        at_ms,
    })
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        other => other
            .parse::<f64>()
            .map_err(|_| format!("invalid value {other:?}: expected a number")),
    }
}

/// Parses `a="x",b="y"}` and returns the labels and what follows the closing brace.
fn parse_labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = text.find('=').ok_or("expected label=\"value\"")?;
        let key = text[..eq].trim().to_string();
        text = text[eq + 1..].trim_start();
        let body = text
            .strip_prefix('"')
            .ok_or("expected a quoted label value")?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                },
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        labels.insert(key, value);
        text = body[end + 1..].trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_labels_values_and_timestamps() {
        let page = "# HELP x demo\n# TYPE x gauge\nx 1.5\nhttp_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n";
        let (readings, errors) = parse_text(page, 42);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(readings.len(), 2);
        assert_eq!(
            (
                readings[0].metric.as_str(),
                readings[0].value,
                readings[0].at_ms
            ),
            ("x", 1.5, 42)
        );
        assert_eq!(
            readings[1].labels.get("code").map(String::as_str),
            Some("200")
        );
        assert_eq!(readings[1].at_ms, 1_395_066_363_000);
    }

    #[test]
    fn unescapes_label_values() {
        let (readings, _) = parse_text("m{path=\"a\\\"b\\\\c\"} 1\n", 0);
        assert_eq!(readings[0].labels["path"], "a\"b\\c");
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number_and_the_rest_is_read() {
        let (readings, errors) = parse_text("good 1\nbad{x=\"1\"} abc\nalso_good 2\n", 0);
        assert_eq!(readings.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(
            errors[0].message.contains("expected a number"),
            "{:?}",
            errors[0]
        );
    }

    #[test]
    fn special_values_parse() {
        let (readings, _) = parse_text("a +Inf\nb NaN\n", 0);
        assert!(readings[0].value.is_infinite());
        assert!(readings[1].value.is_nan());
    }
}
