//! Downsampling: step functions and the forecast band as min–max buckets when there are too
//! many points to draw exactly.

use crate::report::BandPoint;

use super::steps::{clip, Segment};

/// The least and the greatest value held within `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bucket {
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) min: f64,
    pub(super) max: f64,
}

/// Bucket width that splits `[from, to)` into at most `max_buckets` whole-millisecond buckets.
fn bucket_width(from: i64, to: i64, max_buckets: usize) -> i64 {
    let n = max_buckets.max(1) as i64;
    ((to - from).max(1) + n - 1) / n
}

/// Equal-width buckets of `[from, to)`, at most `max_buckets`, each with the min and max of
/// every step over it. A month of one-second windows is millions of path points; a min–max
/// bucket per pixel draws the same picture, and keeping the max (rather than a mean) keeps
/// every peak, which is what under-provisioning is about. Buckets no step touches are left out,
/// so gaps stay gaps.
fn downsample(segments: &[Segment], from: i64, to: i64, max_buckets: usize) -> Vec<Bucket> {
    if to <= from || max_buckets == 0 {
        return Vec::new();
    }
    let width = bucket_width(from, to, max_buckets);
    let count = ((to - from + width - 1) / width) as usize;
    let mut acc: Vec<Option<(f64, f64)>> = vec![None; count];
    for s in segments {
        let (a, b) = (s.start_ms.max(from), s.end_ms.min(to));
        if b <= a {
            continue;
        }
        let first = ((a - from) / width) as usize;
        let last = (((b - 1 - from) / width) as usize).min(count - 1);
        for slot in &mut acc[first..=last] {
            *slot = Some(match *slot {
                None => (s.value, s.value),
                Some((lo, hi)) => (lo.min(s.value), hi.max(s.value)),
            });
        }
    }
    acc.into_iter()
        .enumerate()
        .filter_map(|(i, slot)| {
            slot.map(|(min, max)| {
                let start_ms = from + i as i64 * width;
                Bucket {
                    start_ms,
                    end_ms: (start_ms + width).min(to),
                    min,
                    max,
                }
            })
        })
        .collect()
}

/// A step function as drawn: exactly, or as min–max buckets of the given width.
pub(super) enum StepView {
    Exact(Vec<Segment>),
    Buckets(Vec<Bucket>, i64),
}

impl StepView {
    /// Exact while there are at most `exact_limit` steps in the window, else buckets.
    pub(super) fn new(
        segments: &[Segment],
        from: i64,
        to: i64,
        exact_limit: usize,
        buckets: usize,
    ) -> StepView {
        let clipped = clip(segments, from, to);
        if clipped.len() <= exact_limit {
            StepView::Exact(clipped)
        } else {
            StepView::Buckets(
                downsample(&clipped, from, to, buckets),
                bucket_width(from, to, buckets),
            )
        }
    }

    pub(super) fn range(&self) -> Option<(f64, f64)> {
        let values: Box<dyn Iterator<Item = (f64, f64)>> = match self {
            StepView::Exact(s) => Box::new(s.iter().map(|s| (s.value, s.value))),
            StepView::Buckets(b, _) => Box::new(b.iter().map(|b| (b.min, b.max))),
        };
        values.fold(None, |acc, (lo, hi)| match acc {
            None => Some((lo, hi)),
            Some((a, b)) => Some((lo.min(a), hi.max(b))),
        })
    }

    /// The line: the values themselves, or each bucket's max so that peaks show.
    pub(super) fn line(&self) -> Vec<(i64, i64, f64)> {
        match self {
            StepView::Exact(s) => s.iter().map(|s| (s.start_ms, s.end_ms, s.value)).collect(),
            StepView::Buckets(b, _) => b.iter().map(|b| (b.start_ms, b.end_ms, b.max)).collect(),
        }
    }

    pub(super) fn bucket_width(&self) -> Option<i64> {
        match self {
            StepView::Exact(_) => None,
            StepView::Buckets(_, w) => Some(*w),
        }
    }
}

/// One forecast (or one bucket of them) at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct BandSample {
    pub(super) at_ms: i64,
    pub(super) lower: f64,
    pub(super) mean: f64,
    pub(super) upper: f64,
}

/// The forecast band within `[from, to]` as runs of samples to join with lines, split where
/// forecasts are missing (more than three times the usual spacing apart) so a pause in
/// forecasting is not drawn as a straight band. More than `exact_limit` points become buckets
/// (lowest lower, highest upper, mean of means), with the bucket width returned.
pub(super) fn band_runs(
    band: &[BandPoint],
    from: i64,
    to: i64,
    exact_limit: usize,
    max_buckets: usize,
) -> (Vec<Vec<BandSample>>, Option<i64>) {
    let mut points: Vec<BandSample> = band
        .iter()
        .filter(|p| p.at_ms >= from && p.at_ms <= to)
        .filter(|p| p.lower.is_finite() && p.mean.is_finite() && p.upper.is_finite())
        .map(|p| BandSample {
            at_ms: p.at_ms,
            lower: p.lower,
            mean: p.mean,
            upper: p.upper,
        })
        .collect();
    points.sort_by_key(|p| p.at_ms);
    if points.len() <= exact_limit {
        let mut gaps: Vec<i64> = points
            .windows(2)
            .map(|w| w[1].at_ms - w[0].at_ms)
            .filter(|&g| g > 0)
            .collect();
        gaps.sort_unstable();
        let limit = gaps
            .get(gaps.len() / 2)
            .map_or(i64::MAX, |m| m.saturating_mul(3));
        let mut runs: Vec<Vec<BandSample>> = Vec::new();
        for p in points {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|q| p.at_ms - q.at_ms <= limit) => run.push(p),
                _ => runs.push(vec![p]),
            }
        }
        return (runs, None);
    }
    let width = bucket_width(from, to, max_buckets);
    let count = ((to - from) / width + 1) as usize;
    let mut acc: Vec<Option<(f64, f64, f64, u32)>> = vec![None; count];
    for p in &points {
        let slot = &mut acc[(((p.at_ms - from) / width) as usize).min(count - 1)];
        *slot = Some(match *slot {
            None => (p.lower, p.upper, p.mean, 1),
            Some((lo, hi, sum, n)) => (lo.min(p.lower), hi.max(p.upper), sum + p.mean, n + 1),
        });
    }
    let mut runs: Vec<Vec<BandSample>> = Vec::new();
    let mut previous: Option<usize> = None;
    for (i, slot) in acc.into_iter().enumerate() {
        let Some((lower, upper, sum, n)) = slot else {
            continue;
        };
        let sample = BandSample {
            at_ms: (from + i as i64 * width + width / 2).min(to),
            lower,
            mean: sum / f64::from(n),
            upper,
        };
        match runs.last_mut() {
            Some(run) if previous.is_some_and(|p| p + 1 == i) => run.push(sample),
            _ => runs.push(vec![sample]),
        }
        previous = Some(i);
    }
    (runs, Some(width))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::fixtures::*;
    use crate::html::steps::demand_segments;
    use crate::html::{MAX_BUCKETS, OVERVIEW_EXACT, SECOND};
    use crate::report::DemandStep;

    #[test]
    fn downsampling_keeps_the_peak_within_the_bucket_limit() {
        // 100k one-second windows, a smooth wave and one sharp one-second peak.
        let steps: Vec<DemandStep> = (0..100_000)
            .map(|i| DemandStep {
                start_ms: T0 + i * SECOND,
                end_ms: T0 + (i + 1) * SECOND,
                value: if i == 71_234 {
                    9_999.0
                } else {
                    500.0 + 300.0 * (i as f64 / 3_000.0).sin()
                },
            })
            .collect();
        let segments = demand_segments(&steps);
        let (from, to) = (T0, T0 + 100_000 * SECOND);
        let buckets = downsample(&segments, from, to, MAX_BUCKETS);
        assert!(
            buckets.len() <= MAX_BUCKETS && buckets.len() > MAX_BUCKETS - 10,
            "{}",
            buckets.len()
        );
        let peak = buckets.iter().map(|b| b.max).fold(f64::MIN, f64::max);
        assert_eq!(peak, 9_999.0);
        let at = T0 + 71_234 * SECOND;
        let holder = buckets
            .iter()
            .find(|b| b.start_ms <= at && at < b.end_ms)
            .unwrap();
        assert_eq!(holder.max, 9_999.0);
        // The trough is kept too, and the buckets tile the range.
        let trough = buckets.iter().map(|b| b.min).fold(f64::MAX, f64::min);
        let true_trough = steps.iter().map(|s| s.value).fold(f64::MAX, f64::min);
        assert_eq!(trough, true_trough);
        assert_eq!(
            (buckets[0].start_ms, buckets[buckets.len() - 1].end_ms),
            (from, to)
        );
        assert!(buckets.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
        // And the overview draws it as buckets, the detail week exactly (or finer buckets).
        let view = StepView::new(&segments, from, to, OVERVIEW_EXACT, MAX_BUCKETS);
        assert!(matches!(view, StepView::Buckets(ref b, _) if b.len() <= MAX_BUCKETS));
    }

    #[test]
    fn downsampling_leaves_gaps_empty() {
        let segments = [
            Segment {
                start_ms: 0,
                end_ms: 100,
                value: 1.0,
            },
            Segment {
                start_ms: 900,
                end_ms: 1000,
                value: 2.0,
            },
        ];
        let buckets = downsample(&segments, 0, 1000, 10);
        assert_eq!(buckets.len(), 2);
        assert_eq!((buckets[0].start_ms, buckets[0].max), (0, 1.0));
        assert_eq!(
            (buckets[1].start_ms, buckets[1].end_ms, buckets[1].min),
            (900, 1000, 2.0)
        );
    }
}
