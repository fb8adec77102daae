//! Epoch milliseconds as RFC 3339 UTC text, for the commands that print events.

const MS_PER_DAY: i64 = 86_400_000;

/// `2026-11-28T00:51:30Z`, with `.123` before the `Z` when the instant is not a whole second.
pub fn rfc3339(at_ms: i64) -> String {
    let days = at_ms.div_euclid(MS_PER_DAY);
    let in_day = at_ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = presage_template::calendar::civil_from_days(days);
    let (secs, millis) = (in_day / 1000, in_day % 1000);
    let (h, min, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{millis:03}Z")
    }
}

/// A signed span in milliseconds as `+300s`, `-2s` or `+1.5s`.
pub fn offset_secs(span_ms: i64) -> String {
    let sign = if span_ms < 0 { '-' } else { '+' };
    let abs = span_ms.unsigned_abs();
    let (secs, millis) = (abs / 1000, abs % 1000);
    if millis == 0 {
        format!("{sign}{secs}s")
    } else {
        format!("{sign}{}s", abs as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::calendar::parse_timestamp;

    #[test]
    fn instants_print_as_utc_and_parse_back() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2026-11-28T00:51:30Z",
            "2100-03-01T12:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            let ms = parse_timestamp(text).unwrap();
            assert_eq!(rfc3339(ms), text);
        }
    }

    #[test]
    fn milliseconds_show_only_when_present() {
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn spans_carry_their_sign() {
        assert_eq!(offset_secs(300_000), "+300s");
        assert_eq!(offset_secs(-2_000), "-2s");
        assert_eq!(offset_secs(1_500), "+1.5s");
        assert_eq!(offset_secs(0), "+0s");
    }
}
