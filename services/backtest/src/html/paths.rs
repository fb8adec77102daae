//! SVG path data: step lines, min–max ranges, the forecast band and shaded intervals.

use std::fmt::Write as _;

use super::axis::Scale;
use super::downsample::{BandSample, Bucket};

/// SVG path data for a step line: each `(start, end, value)` a horizontal run, joined by a
/// vertical where one run ends as the next starts and broken where they do not, so a gap in the
/// data is not bridged. Runs at the same height merge, which keeps slowly changing capacity to a
/// few commands.
pub(super) fn step_path(runs: &[(i64, i64, f64)], x: Scale, y: Scale) -> String {
    let mut d = String::new();
    let mut pen: Option<(i64, f64)> = None; // where the last run ended: time, y
    let mut pending: Option<f64> = None; // the x of a horizontal not yet written
    for &(start, end, value) in runs {
        let (x0, x1, py) = (x.px(start as f64), x.px(end as f64), y.px(value));
        match pen {
            Some((at, previous_y)) if at == start => {
                if py != previous_y {
                    if let Some(px) = pending.take() {
                        w!(d, "H{px}");
                    }
                    w!(d, "V{py}");
                }
            }
            _ => {
                if let Some(px) = pending.take() {
                    w!(d, "H{px}");
                }
                w!(d, "M{x0} {py}");
            }
        }
        pending = Some(x1);
        pen = Some((end, py));
    }
    if let Some(px) = pending {
        w!(d, "H{px}");
    }
    d
}

/// SVG path data filling between each bucket's min and max: one closed shape per run of adjacent
/// buckets, along the maxima and back along the minima.
pub(super) fn bucket_band_path(buckets: &[Bucket], x: Scale, y: Scale) -> String {
    let mut d = String::new();
    let mut i = 0;
    while i < buckets.len() {
        let mut j = i + 1;
        while j < buckets.len() && buckets[j].start_ms == buckets[j - 1].end_ms {
            j += 1;
        }
        let run = &buckets[i..j];
        w!(d, "M{} {}", x.px(run[0].start_ms as f64), y.px(run[0].max));
        for (k, b) in run.iter().enumerate() {
            if k > 0 {
                w!(d, "V{}", y.px(b.max));
            }
            w!(d, "H{}", x.px(b.end_ms as f64));
        }
        for b in run.iter().rev() {
            w!(d, "V{}H{}", y.px(b.min), x.px(b.start_ms as f64));
        }
        d.push('Z');
        i = j;
    }
    d
}

/// SVG path data for the forecast band (an area from lower to upper per run) and for its mean.
pub(super) fn band_paths(runs: &[Vec<BandSample>], x: Scale, y: Scale) -> (String, String) {
    let (mut area, mut mean) = (String::new(), String::new());
    for run in runs {
        for (k, p) in run.iter().enumerate() {
            let cmd = if k == 0 { 'M' } else { 'L' };
            w!(area, "{cmd}{} {}", x.px(p.at_ms as f64), y.px(p.upper));
            w!(mean, "{cmd}{} {}", x.px(p.at_ms as f64), y.px(p.mean));
        }
        for p in run.iter().rev() {
            w!(area, "L{} {}", x.px(p.at_ms as f64), y.px(p.lower));
        }
        area.push('Z');
    }
    (area, mean)
}

/// One path of rectangles over the under-provisioned intervals within the chart. Intervals less
/// than a pixel apart merge and each is at least a pixel wide: a minute short in a week still
/// shows, and thousands of them make a few hundred rectangles, not thousands.
pub(super) fn shade_path(
    intervals: &[(i64, i64)],
    from: i64,
    to: i64,
    x: Scale,
    top: f64,
    bottom: f64,
) -> String {
    let mut rects: Vec<(f64, f64)> = Vec::new();
    let first = intervals.partition_point(|&(_, b)| b <= from);
    for &(a, b) in intervals[first..].iter().take_while(|&&(a, _)| a < to) {
        let (x0, x1) = (x.map(a.max(from) as f64), x.map(b.min(to) as f64));
        let x1 = x1.max(x0 + 1.0);
        match rects.last_mut() {
            Some(last) if x0 - last.1 < 1.0 => last.1 = last.1.max(x1),
            _ => rects.push((x0, x1)),
        }
    }
    let mut d = String::new();
    for (x0, x1) in rects {
        w!(d, "M{:.1} {top}H{:.1}V{bottom}H{:.1}Z", x0, x1, x0);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_paths_break_at_gaps_and_merge_equal_runs() {
        let x = Scale {
            d0: 0.0,
            d1: 100.0,
            r0: 0.0,
            r1: 100.0,
        };
        let y = Scale {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 0.0,
        };
        let d = step_path(
            &[(0, 10, 1.0), (10, 20, 1.0), (20, 30, 2.0), (50, 60, 2.0)],
            x,
            y,
        );
        assert_eq!(d, "M0 90H20V80H30M50 80H60");
    }
}
