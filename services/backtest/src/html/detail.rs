//! The detail window: which week the detail chart shows, and why.

use super::steps::{clip, Segment};
use super::text::{fmt_pct, fmt_plain, format_duration, format_utc};
use super::HOUR;

/// Which stretch the detail chart shows, and why (plain text; escaped when written).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DetailWindow {
    pub(super) from_ms: i64,
    pub(super) to_ms: i64,
    pub(super) reason: String,
}

/// The `len_ms` window within `[from, to]` that holds the most of `intervals` (sorted,
/// disjoint), and how much it holds. An optimal window starts at an interval's start or ends
/// at an interval's end, so only those are tried, each measured in O(log n) with prefix sums.
/// The window is then centred on the under-provisioned time it holds, which keeps everything it
/// held (so it stays optimal) and shows what led up to the shortfall as well as what followed.
fn busiest_window(intervals: &[(i64, i64)], from: i64, to: i64, len_ms: i64) -> (i64, i64, i64) {
    let clipped: Vec<(i64, i64)> = intervals
        .iter()
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| b > a)
        .collect();
    let mut prefix = Vec::with_capacity(clipped.len() + 1);
    prefix.push(0i64);
    for (a, b) in &clipped {
        prefix.push(prefix.last().copied().unwrap_or(0) + (b - a));
    }
    // Time under-provisioned before `t`.
    let before = |t: i64| {
        let i = clipped.partition_point(|&(_, b)| b <= t);
        prefix[i] + clipped.get(i).map_or(0, |&(a, _)| (t - a).max(0))
    };
    if to - from <= len_ms {
        return (from, to, prefix.last().copied().unwrap_or(0));
    }
    let latest = to - len_ms;
    let mut best = (from, 0i64);
    for &(a, b) in &clipped {
        for start in [a.min(latest), (b - len_ms).clamp(from, latest)] {
            let held = before(start + len_ms) - before(start);
            if held > best.1 || (held == best.1 && start < best.0) {
                best = (start, held);
            }
        }
    }
    let (start, held) = best;
    if held == 0 {
        return (start, start + len_ms, 0);
    }
    let end = start + len_ms;
    let first = clipped
        .iter()
        .find(|&&(_, b)| b > start)
        .map_or(start, |&(a, _)| a.max(start));
    let last = clipped
        .iter()
        .rev()
        .find(|&&(a, _)| a < end)
        .map_or(end, |&(_, b)| b.min(end));
    let centred = (first - (len_ms - (last - first)) / 2).clamp(from, latest);
    (centred, centred + len_ms, held)
}

/// `start` moved to a whole hour if that keeps `[start, start + len_ms)` within `[from, to]`
/// and holding as much of `intervals` (hour-aligned windows read better); else `start`.
fn snap_to_hour(start: i64, len_ms: i64, from: i64, to: i64, intervals: &[(i64, i64)]) -> i64 {
    let held = |s: i64| -> i64 {
        intervals
            .iter()
            .map(|&(a, b)| (b.min(s + len_ms).min(to) - a.max(s).max(from)).max(0))
            .sum()
    };
    let floor = start - start.rem_euclid(HOUR);
    let target = held(start);
    [floor, floor + HOUR]
        .into_iter()
        .find(|&s| s >= from && s + len_ms <= to && held(s) >= target)
        .unwrap_or(start)
}

/// The detail chart's window in the scored range `[from, to)`: the `len_ms` in which the first
/// policy (`who`) was under-provisioned longest, or around the peak demand if it never was.
pub(super) fn detail_window(
    under: &[(i64, i64)],
    demand: &[Segment],
    from: i64,
    to: i64,
    len_ms: i64,
    who: &str,
) -> DetailWindow {
    let (start, end, held) = busiest_window(under, from, to, len_ms);
    if to - from <= len_ms {
        let what = if held > 0 {
            format!(
                "{who} was under-provisioned for {} of it",
                format_duration(held)
            )
        } else {
            format!("{who} was never under-provisioned in it")
        };
        return DetailWindow {
            from_ms: from,
            to_ms: to,
            reason: format!(
                "the whole scored range, which is shorter than {}; {what}",
                format_duration(len_ms)
            ),
        };
    }
    if held > 0 {
        let start = snap_to_hour(start, len_ms, from, to, under);
        return DetailWindow {
            from_ms: start,
            to_ms: start + len_ms,
            reason: format!(
                "the {} in which {who} was under-provisioned longest: {} in all, {} % of the window",
                format_duration(len_ms),
                format_duration(held),
                fmt_pct(100.0 * held as f64 / len_ms as f64)
            ),
        };
    }
    debug_assert_eq!(end - start, len_ms);
    let peak = clip(demand, from, to)
        .into_iter()
        .reduce(|a, b| if b.value > a.value { b } else { a });
    match peak {
        Some(p) => {
            let start = (p.start_ms - len_ms / 2).clamp(from, to - len_ms);
            DetailWindow {
                from_ms: start,
                to_ms: start + len_ms,
                reason: format!(
                    "{who} was never under-provisioned: the {} around the peak demand, {} at {}",
                    format_duration(len_ms),
                    fmt_plain(p.value),
                    format_utc(p.start_ms)
                ),
            }
        }
        None => DetailWindow {
            from_ms: from,
            to_ms: from + len_ms,
            reason: format!(
                "there is no demand to compare with: the first {} scored",
                format_duration(len_ms)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::fixtures::*;
    use crate::html::section::series_data;
    use crate::html::{render_html, DAY, MINUTE, WEEK};
    use crate::report::{ContenderKind, SeriesReport};

    /// 28 days of hourly demand at 100; the first policy holds 3 units of 50 (150) but drops to
    /// one (50) on day 17 from 10:00 to 14:00, and for ten minutes on day 3.
    fn shortfall_series() -> SeriesReport {
        let policy = contender(
            "templates/a.yaml",
            ContenderKind::Policy,
            &[
                (0, 3),
                (3 * DAY, 1),
                (3 * DAY + 10 * MINUTE, 3),
                (17 * DAY + 10 * HOUR, 1),
                (17 * DAY + 14 * HOUR, 3),
            ],
        );
        let others = three_contenders(3).split_off(1);
        series(
            "checkout",
            28 * 24,
            HOUR,
            |_| 100.0,
            [vec![policy], others].concat(),
        )
    }

    #[test]
    fn the_detail_window_is_the_week_with_the_longest_shortfall() {
        let r = report(vec![shortfall_series()], 28 * DAY);
        let data = series_data(&r, &r.series[0]);
        assert_eq!(
            data.under,
            vec![
                (T0 + 3 * DAY, T0 + 3 * DAY + 10 * MINUTE),
                (T0 + 17 * DAY + 10 * HOUR, T0 + 17 * DAY + 14 * HOUR)
            ]
        );
        let w = &data.detail;
        assert_eq!(w.to_ms - w.from_ms, 7 * DAY);
        assert!(
            w.from_ms <= T0 + 17 * DAY + 10 * HOUR && T0 + 17 * DAY + 14 * HOUR <= w.to_ms,
            "{w:?}"
        );
        // Centred on the shortfall.
        assert_eq!(w.from_ms, T0 + 17 * DAY + 12 * HOUR - 7 * DAY / 2);
        assert!(
            w.reason
                .contains("templates/a.yaml was under-provisioned longest: 4 h in all"),
            "{}",
            w.reason
        );
        let html = render_html(&r);
        assert!(
            html.contains("Detail: 2024-01-15T00:00:00Z → 2024-01-22T00:00:00Z"),
            "detail heading"
        );
        assert!(html.contains("under-provisioned longest"));
    }

    #[test]
    fn without_a_shortfall_the_detail_shows_the_peak_week() {
        let s = series(
            "checkout",
            28 * 24,
            HOUR,
            |i| if i == 20 * 24 { 140.0 } else { 100.0 },
            three_contenders(3),
        );
        let r = report(vec![s], 28 * DAY);
        let data = series_data(&r, &r.series[0]);
        assert!(data.under.is_empty());
        let peak = T0 + 20 * DAY;
        assert!(data.detail.from_ms <= peak && peak < data.detail.to_ms);
        assert!(
            data.detail.reason.contains("never under-provisioned"),
            "{}",
            data.detail.reason
        );
        // Shorter than a week: the whole scored range.
        let r = report(vec![flat_series("short", 2)], 2 * DAY);
        let data = series_data(&r, &r.series[0]);
        assert_eq!((data.detail.from_ms, data.detail.to_ms), (T0, T0 + 2 * DAY));
    }

    #[test]
    fn the_busiest_window_holds_the_most_shortfall() {
        // Many short shortfalls early, one long one late: the late one wins.
        let mut intervals: Vec<(i64, i64)> = (0..10).map(|i| (i * DAY, i * DAY + HOUR)).collect();
        intervals.push((20 * DAY, 20 * DAY + 12 * HOUR));
        let (a, b, held) = busiest_window(&intervals, 0, 30 * DAY, WEEK);
        assert_eq!(held, 12 * HOUR);
        assert!(a <= 20 * DAY && 20 * DAY + 12 * HOUR <= b);
        // Two hours on each of seven days beat one long one of twelve.
        let mut intervals: Vec<(i64, i64)> =
            (0..7).map(|i| (i * DAY, i * DAY + 2 * HOUR)).collect();
        intervals.push((20 * DAY, 20 * DAY + 12 * HOUR));
        let (a, b, held) = busiest_window(&intervals, 0, 30 * DAY, WEEK);
        assert_eq!(held, 14 * HOUR);
        assert_eq!((a, b), (0, WEEK));
    }
}
