//! What a recipe's window with no sample means (`absent:`), for services that are quiet by
//! design: a business-hours API records nothing at night, and without a statement of what that
//! silence is, no window closes, nothing is forecast and nothing decides the morning ramp.
//!
//! - `absent: zero`: no sample is no demand. Every window of the recipe's grid that passes
//!   without a sample is emitted with value 0 and `sample_count` 0; the forecaster takes it as
//!   an observation (seasonal zeros are demand, and the ramp after them is learned).
//! - `absent: unknown`: no sample is no knowledge. The window is emitted with a NaN value and
//!   `sample_count` 0 (the wire's marker of an unknown window); the forecaster keeps it out of
//!   history (a gap, filled like any other) but still issues a forecast at its end, from the
//!   last data it has, so the planner is fed on a clock while the series is quiet.
//! - left out: an empty window emits nothing (the behaviour before `absent` existed).
//!
//! A window whose samples gave no value (a `filter` kept none of them, a ratio's denominator was
//! 0) is quiet in the same way.
//!
//! Only a recipe without `group_by` may say it: a group is known only by its samples, so a quiet
//! window has no labels to be emitted under. `zero` is refused where no sample does not mean a
//! zero value: a `ratio` (0/0) and a `histogram_quantile` (a latency of no request).

use serde::{Deserialize, Serialize};

/// See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Absent {
    /// A window with no sample is a value of 0 (no demand).
    Zero,
    /// A window with no sample is a gap (missing data).
    Unknown,
}

impl Absent {
    /// As templates write it.
    pub fn name(&self) -> &'static str {
        match self {
            Absent::Zero => "zero",
            Absent::Unknown => "unknown",
        }
    }

    /// The value a quiet window is emitted with: 0 for `zero`, NaN (the unknown marker, always
    /// with `sample_count` 0) for `unknown`.
    pub fn quiet_value(&self) -> f64 {
        match self {
            Absent::Zero => 0.0,
            Absent::Unknown => f64::NAN,
        }
    }
}

/// Whether a derived window is the unknown marker: no sample and a value that is not a number.
/// A window with samples whose value is not finite (say, a ratio of 0/0) is not: it is left to
/// each consumer's rules for bad values.
pub fn is_unknown_window(value: f64, sample_count: i64) -> bool {
    sample_count == 0 && !value.is_finite()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_a_value_and_unknown_is_the_marker() {
        assert_eq!(Absent::Zero.quiet_value(), 0.0);
        assert!(!is_unknown_window(Absent::Zero.quiet_value(), 0));
        assert!(is_unknown_window(Absent::Unknown.quiet_value(), 0));
        assert!(
            !is_unknown_window(f64::NAN, 3),
            "samples make it a bad value, not unknown"
        );
    }
}
