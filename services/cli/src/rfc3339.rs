//! Times as the commands print them: RFC 3339 instants (from the template crate's calendar)
//! and signed spans.

pub use presage_template::calendar::rfc3339;

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

    #[test]
    fn spans_carry_their_sign() {
        assert_eq!(offset_secs(300_000), "+300s");
        assert_eq!(offset_secs(-2_000), "-2s");
        assert_eq!(offset_secs(1_500), "+1.5s");
        assert_eq!(offset_secs(0), "+0s");
    }
}
