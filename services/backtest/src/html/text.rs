//! Text: HTML escaping, and numbers, times and durations formatted for reading.

use std::fmt::{self, Display};

use presage_template::calendar::civil_from_days;

use super::{DAY, HOUR, MINUTE, SECOND};

/// Text made safe for HTML content and attribute values: names come from user templates and
/// trace files, and a name like `<script>` must show as itself, not run.
pub(super) struct Esc<'a>(pub(super) &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

pub(super) fn escape(text: impl AsRef<str>) -> String {
    Esc(text.as_ref()).to_string()
}

/// At most `max` characters, with "…" when cut: legends must not run off the chart.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// `YYYY-MM-DD` and `HH:MM:SS.mmm` of an instant, UTC.
pub(super) fn split_utc(ms: i64) -> (String, String) {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
    let t = ms.rem_euclid(DAY);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            t / HOUR,
            t / MINUTE % 60,
            t / SECOND % 60,
            t % SECOND
        ),
    )
}

/// RFC 3339 in UTC, with milliseconds only when there are any: `2024-03-04T05:06:07Z`.
pub(super) fn format_utc(ms: i64) -> String {
    presage_template::calendar::rfc3339(ms)
}

/// A span in the two largest units that matter: `14 d 3 h`, `2 h 5 min`, `850 ms`.
pub(super) fn format_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs() as i64;
    let pair = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        let (a, b) = (ms / big, ms % big / small);
        if b == 0 {
            format!("{sign}{a} {big_unit}")
        } else {
            format!("{sign}{a} {big_unit} {b} {small_unit}")
        }
    };
    if ms >= DAY {
        pair(DAY, "d", HOUR, "h")
    } else if ms >= HOUR {
        pair(HOUR, "h", MINUTE, "min")
    } else if ms >= MINUTE {
        pair(MINUTE, "min", SECOND, "s")
    } else if ms >= SECOND {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        format!("{sign}{} s", s.strip_suffix(".0").unwrap_or(&s))
    } else {
        format!("{sign}{ms} ms")
    }
}

/// A measured value with the precision it deserves: whole numbers from 100 on (with thousands
/// separators), three significant digits below.
pub(super) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    let a = x.abs();
    let decimals = if !(1e-9..100.0).contains(&a) {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        ((-a.log10()).floor() as usize + 3).min(9)
    };
    group_digits(&strip_negative_zero(format!("{x:.decimals$}")))
}

/// As [`fmt_num`] without trailing zeros, for a lone value in a sentence: `50`, not `50.0`.
pub(super) fn fmt_plain(x: f64) -> String {
    let text = fmt_num(x);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A count: whole, with thousands separators.
pub(super) fn fmt_count(x: f64) -> String {
    if x.is_finite() {
        group_digits(&format!("{x:.0}"))
    } else {
        "–".to_string()
    }
}

/// A percentage: one decimal from 10 %, two below, `<0.01` rather than a misleading `0.00`.
pub(super) fn fmt_pct(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let text = if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if x > 0.0 && text == "0.00" {
        "<0.01".to_string()
    } else {
        strip_negative_zero(text)
    }
}

/// `-0.0` reads as a loss that is not there.
pub(super) fn strip_negative_zero(text: String) -> String {
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// `1234567.5` → `1,234,567.5`: large counts are read, not parsed.
pub(super) fn group_digits(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return number.to_string();
    }
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::fixtures::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(T0 + 13 * HOUR + 5 * MINUTE + 9 * SECOND),
            "2024-01-01T13:05:09Z"
        );
        assert_eq!(format_utc(T0 + 59 * DAY + 123), "2024-02-29T00:00:00.123Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_duration(14 * DAY + 3 * HOUR + 5 * MINUTE),
            "14 d 3 h"
        );
        assert_eq!(format_duration(2 * HOUR + 5 * MINUTE), "2 h 5 min");
        assert_eq!(format_duration(7 * DAY), "7 d");
        assert_eq!(format_duration(2_500), "2.5 s");
        assert_eq!(format_duration(850), "850 ms");
    }

    #[test]
    fn numbers_have_sensible_precision() {
        assert_eq!(fmt_num(1_234_567.8), "1,234,568");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1.2345), "1.23");
        assert_eq!(fmt_num(0.012_345), "0.0123");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(-0.000_000_000_1), "0");
        assert_eq!(fmt_num(f64::NAN), "–");
        assert_eq!(fmt_pct(12.345), "12.3");
        assert_eq!(fmt_pct(1.234), "1.23");
        assert_eq!(fmt_pct(0.001), "<0.01");
        assert_eq!(fmt_pct(0.0), "0");
        assert_eq!(group_digits("-1234.5"), "-1,234.5");
    }
}
