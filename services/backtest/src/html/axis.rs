//! Axes: linear scales from data to SVG coordinates, round value ticks and round time ticks
//! with their labels.

use presage_template::calendar::{day_number, weekday};

use super::text::{split_utc, strip_negative_zero};
use super::{DAY, HOUR, MINUTE, SECOND, WEEK};

/// A linear map from data to SVG coordinates. (SVG's y grows downwards: a y scale maps the low
/// end of the data to the bottom of the plot.)
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    pub(super) d0: f64,
    pub(super) d1: f64,
    pub(super) r0: f64,
    pub(super) r1: f64,
}

impl Scale {
    pub(super) fn map(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            (self.r0 + self.r1) / 2.0
        } else {
            self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
        }
    }

    /// As [`Scale::map`], to a tenth of a unit and kept near the range: values beyond the axis
    /// are clipped anyway, and huge coordinates only bloat the path.
    pub(super) fn px(&self, v: f64) -> f64 {
        let (lo, hi) = if self.r0 <= self.r1 {
            (self.r0, self.r1)
        } else {
            (self.r1, self.r0)
        };
        (self.map(v).clamp(lo - 4.0, hi + 4.0) * 10.0).round() / 10.0
    }
}

/// Round ticks, 1, 2 or 5 × 10^k apart, covering `[lo, hi]` with about `target` of them: axis
/// labels that read at a glance. Computed as integer multiples scaled by a power of ten, so a
/// tick of 0.3 is the float closest to 0.3, not 0.30000000000000004.
pub(super) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    // Spans below a billionth are shown as one (demand of 1e-310 would make a zero step), and
    // spans too wide for a float as 0..1: a chart of them reads nothing either way.
    const NARROWEST: f64 = 1e-9;
    let (lo, hi) = if !(lo.is_finite() && hi.is_finite() && (hi - lo).is_finite()) {
        (0.0, 1.0)
    } else if hi - lo >= NARROWEST {
        (lo, hi)
    } else {
        (lo, lo + lo.abs().max(1.0))
    };
    let raw = (hi - lo) / (target.max(2) - 1) as f64;
    let exp = raw.log10().floor() as i32;
    let f = raw / 10f64.powi(exp);
    let (mantissa, exp) = match f {
        f if f <= 1.0 => (1i64, exp),
        f if f <= 2.0 => (2, exp),
        f if f <= 5.0 => (5, exp),
        _ => (1, exp + 1),
    };
    let value = |i: i64| {
        let n = (i * mantissa) as f64;
        if exp < 0 {
            n / 10f64.powi(-exp)
        } else {
            n * 10f64.powi(exp)
        }
    };
    let step = value(1);
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    if !(step.is_finite() && step > 0.0) || last.saturating_sub(first) > 10 * target as i64 {
        return vec![lo, hi];
    }
    (first..=last).map(value).collect()
}

/// Labels for value ticks: as many decimals as the step needs, and k/M/G for large values so
/// labels stay short (25k, not 25000.0).
pub(super) fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => 1.0,
    };
    let max = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let (div, suffix) = match max {
        m if m >= 1e9 => (1e9, "G"),
        m if m >= 1e6 => (1e6, "M"),
        m if m >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let s = step / div;
    let decimals = if s >= 1.0 || s <= 0.0 {
        0
    } else {
        ((-s.log10() - 1e-9).ceil() as usize).min(12)
    };
    ticks
        .iter()
        .map(|&t| {
            if t == 0.0 {
                return "0".to_string();
            }
            format!(
                "{}{suffix}",
                strip_negative_zero(format!("{:.decimals$}", t / div))
            )
        })
        .collect()
}

/// Tick spacings for time axes: round in the units people read times in.
const TIME_STEPS: [i64; 34] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    WEEK,
    2 * WEEK,
    4 * WEEK,
    13 * WEEK,
    26 * WEEK,
    52 * WEEK,
];

/// Ticks for a time axis over `[from, to]`: the smallest round step giving at most `max_ticks`,
/// aligned to whole steps in UTC (weeks on Mondays), so they fall on midnights and full hours.
pub(super) fn time_ticks(from: i64, to: i64, max_ticks: usize) -> (i64, Vec<i64>) {
    let span = to - from;
    if span <= 0 {
        return (1, Vec::new());
    }
    let max = max_ticks.max(2) as i64;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|&s| span / s < max)
        .unwrap_or_else(|| {
            let years = 52 * WEEK;
            years * ((span / years) / (max - 1) + 1)
        });
    // 1970-01-05 was a Monday.
    let offset = if step % WEEK == 0 { 4 * DAY } else { 0 };
    let first = (from - offset).div_euclid(step) * step + offset;
    let first = if first < from { first + step } else { first };
    let ticks = (0..)
        .map(|i| first + i * step)
        .take_while(|&t| t <= to)
        .collect();
    (step, ticks)
}

/// A time tick's label on two lines: the date (with its weekday) for day steps; else the time,
/// with the date underneath whenever it changes, so a multi-day axis of hours stays placed.
pub(super) fn time_label(t: i64, step: i64, previous: Option<i64>) -> (String, String) {
    let (date, clock) = split_utc(t);
    if step >= DAY {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        return (date, DAYS[weekday(t) as usize].to_string());
    }
    let clock = if step < SECOND {
        clock
    } else if step < MINUTE {
        clock[..8].to_string()
    } else {
        clock[..5].to_string()
    };
    let new_day = previous.is_none_or(|p| day_number(p) != day_number(t));
    (clock, if new_day { date } else { String::new() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::fixtures::*;

    #[test]
    fn extreme_values_still_give_a_few_ticks() {
        for (lo, hi) in [
            (0.0, 1e-310),
            (1e-310, 1e-310),
            (-1e308, 1e308),
            (0.0, 1e308),
            (5.0, 5.0),
        ] {
            let ticks = nice_ticks(lo, hi, 6);
            assert!(
                (2..=60).contains(&ticks.len()) && ticks.iter().all(|t| t.is_finite()),
                "{lo}..{hi}: {ticks:?}"
            );
        }
    }

    #[test]
    fn value_ticks_are_round_numbers() {
        assert_eq!(
            nice_ticks(0.0, 97.3, 6),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(0.0, 1.0, 6), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let ticks = nice_ticks(0.013, 0.087, 5);
        assert_eq!(
            tick_labels(&ticks),
            ["0", "0.02", "0.04", "0.06", "0.08", "0.10"]
        );
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 0.3, 4)),
            ["0", "0.1", "0.2", "0.3"]
        );
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 12_345.0, 6)),
            ["0", "5k", "10k", "15k"]
        );
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 4_200_000.0, 6)),
            ["0", "1M", "2M", "3M", "4M", "5M"]
        );
        for ticks in [
            nice_ticks(3.7, 1234.5, 6),
            nice_ticks(-17.0, 230.0, 6),
            nice_ticks(0.0, 0.00042, 5),
        ] {
            let step = ticks[1] - ticks[0];
            let exp = 10f64.powf(step.log10().floor());
            let mantissa = (step / exp).round();
            assert!([1.0, 2.0, 5.0].contains(&mantissa), "{ticks:?}");
            assert!(
                ticks
                    .iter()
                    .all(|t| ((t / step) - (t / step).round()).abs() < 1e-6),
                "{ticks:?}"
            );
        }
        // Degenerate ranges still give an axis.
        assert!(nice_ticks(5.0, 5.0, 6).len() >= 2);
        assert!(nice_ticks(0.0, 0.0, 6).len() >= 2);
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        // A week from 05:17: daily, at midnights, labelled with dates and weekdays.
        let from = T0 + 5 * HOUR + 17 * MINUTE;
        let (step, ticks) = time_ticks(from, from + WEEK, 11);
        assert_eq!(step, DAY);
        assert_eq!(ticks[0], T0 + DAY);
        assert!(ticks.iter().all(|t| t.rem_euclid(DAY) == 0));
        assert_eq!(
            time_label(ticks[0], step, None),
            ("2024-01-02".to_string(), "Tue".to_string())
        );
        // Six hours: hourly, with the date under the first tick and at midnight only.
        let (step, ticks) = time_ticks(T0 - 3 * HOUR - MINUTE, T0 + 3 * HOUR, 10);
        assert_eq!(step, HOUR);
        assert_eq!(ticks.len(), 7);
        assert_eq!(
            time_label(ticks[0], step, None),
            ("21:00".to_string(), "2023-12-31".to_string())
        );
        assert_eq!(
            time_label(ticks[1], step, Some(ticks[0])),
            ("22:00".to_string(), String::new())
        );
        assert_eq!(
            time_label(ticks[3], step, Some(ticks[2])),
            ("00:00".to_string(), "2024-01-01".to_string())
        );
        // Two months: weekly, on Mondays.
        let (step, ticks) = time_ticks(T0 + 3 * HOUR, T0 + 60 * DAY, 10);
        assert_eq!(step, WEEK);
        assert!(ticks
            .iter()
            .all(|&t| weekday(t) == 0 && t.rem_euclid(DAY) == 0));
        // Compressed time: seconds.
        let (step, _) = time_ticks(T0, T0 + 40 * SECOND, 10);
        assert_eq!(step, 5 * SECOND);
        assert_eq!(time_label(T0 + 5 * SECOND, step, Some(T0)).0, "00:00:05");
    }
}
