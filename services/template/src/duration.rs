//! Durations as templates write them: `500ms`, `10s`, `5m`, `1h`, `7d`, or combined like `1h30m`.
//!
//! The value is whole milliseconds: every service does window and clock arithmetic in event-time
//! milliseconds, and an integer keeps the template's content hash and replay exact.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time in whole milliseconds.
///
/// Parsing accepts one or more `<integer><unit>` parts with no spaces, units from largest to
/// smallest (`d`, `h`, `m`, `s`, `ms`), each at most once. Display and serialization give the
/// canonical form, so `90m` comes back as `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

/// Units from largest to smallest; parsing requires this order, display produces it.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }

    pub const fn from_secs(secs: u64) -> Self {
        Duration(secs.saturating_mul(1_000))
    }

    pub const fn as_millis(&self) -> u64 {
        self.0
    }

    /// Milliseconds as the signed event-time arithmetic uses them, saturating: a template may
    /// write a span longer than `i64::MAX` ms (about 292 million years), which `as i64` would
    /// turn negative.
    pub const fn as_millis_i64(&self) -> i64 {
        if self.0 > i64::MAX as u64 {
            i64::MAX
        } else {
            self.0 as i64
        }
    }

    pub const fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// The same span as a `std::time::Duration`, for the I/O shells (timeouts, sleeps).
    pub const fn as_std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.as_std()
    }
}

/// Why a duration string was refused; the message always shows the text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    #[error(
        "invalid duration {0:?}: expected a number followed by a unit (ms, s, m, h, d), like 30s or 5m"
    )]
    Format(String),
    #[error(
        "invalid duration {0:?}: expected units from largest to smallest, each at most once, like 1h30m"
    )]
    Order(String),
    #[error("invalid duration {0:?}: too large, expected at most 213503982334d")]
    Overflow(String),
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let format = || ParseDurationError::Format(text.to_string());
        let mut rest = text;
        let mut total: u64 = 0;
        // Index into UNITS of the last unit seen; the next part must use a smaller one.
        let mut last_unit: Option<usize> = None;
        if rest.is_empty() {
            return Err(format());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(format());
            }
            let (number, after) = rest.split_at(digits);
            let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
            let (unit, after) = after.split_at(letters);
            let unit_index = UNITS
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(format)?;
            if last_unit.is_some_and(|last| unit_index <= last) {
                return Err(ParseDurationError::Order(text.to_string()));
            }
            last_unit = Some(unit_index);
            let overflow = || ParseDurationError::Overflow(text.to_string());
            let n: u64 = number.parse().map_err(|_| overflow())?;
            let part = n.checked_mul(UNITS[unit_index].1).ok_or_else(overflow)?;
            total = total.checked_add(part).ok_or_else(overflow)?;
            rest = after;
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (name, ms) in UNITS {
            if rest >= ms {
                write!(f, "{}{}", rest / ms, name)?;
                rest %= ms;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// Accepts strings only, but turns a bare number (`every: 10`) into the same helpful message
/// rather than serde's generic "invalid type: integer".
struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like 30s or 5m")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(ParseDurationError::Format(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(ParseDurationError::Format(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(ParseDurationError::Format(v.to_string())))
    }
}
