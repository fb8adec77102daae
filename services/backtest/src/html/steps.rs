//! Step functions: demand, capacity, and where one falls short of the other.

use crate::report::{CapacityStep, DemandStep};

/// A value held over `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Segment {
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) value: f64,
}

/// The demand as non-overlapping steps in time order. Hopping windows overlap; as in the
/// scorer, each instant belongs to the first window over it, so what is drawn is what was
/// scored. Non-finite values are dropped (nothing known there).
pub(super) fn demand_segments(demand: &[DemandStep]) -> Vec<Segment> {
    let mut steps: Vec<DemandStep> = demand
        .iter()
        .copied()
        .filter(|s| s.value.is_finite() && s.end_ms > s.start_ms)
        .collect();
    steps.sort_by_key(|s| s.start_ms); // stable, and linear when already in order
    let mut out = Vec::with_capacity(steps.len());
    let mut previous_end = i64::MIN;
    for s in steps {
        let start = s.start_ms.max(previous_end);
        previous_end = previous_end.max(s.end_ms);
        if s.end_ms > start {
            out.push(Segment {
                start_ms: start,
                end_ms: s.end_ms,
                value: s.value,
            });
        }
    }
    out
}

/// A contender's capacity in metric units: each step's units × `per_unit`, held until the next
/// step (the last until `end_ms`). Nothing before the first step: that is not drawn.
pub(super) fn capacity_segments(
    steps: &[CapacityStep],
    per_unit: f64,
    end_ms: i64,
) -> Vec<Segment> {
    let mut steps = steps.to_vec();
    steps.sort_by_key(|s| s.at_ms);
    (0..steps.len())
        .filter_map(|i| {
            let end = steps.get(i + 1).map_or(end_ms, |n| n.at_ms);
            (end > steps[i].at_ms).then(|| Segment {
                start_ms: steps[i].at_ms,
                end_ms: end,
                value: steps[i].units as f64 * per_unit,
            })
        })
        .collect()
}

/// Units in service at `at_ms`: those of the last step at or before it, none before the first
/// (as the scorer counts them).
fn units_at(steps: &[CapacityStep], at_ms: i64) -> i64 {
    let i = steps.partition_point(|s| s.at_ms <= at_ms);
    if i == 0 {
        0
    } else {
        steps[i - 1].units
    }
}

/// The intervals within `[from, to)` in which the demand exceeded the capacity, merged and in
/// time order: what the scorer counts as under-provisioned, as times, so the detail chart can
/// find the worst week and shade it.
pub(super) fn under_provisioned(
    demand: &[Segment],
    capacity: &[CapacityStep],
    per_unit: f64,
    from: i64,
    to: i64,
) -> Vec<(i64, i64)> {
    let mut steps = capacity.to_vec();
    steps.sort_by_key(|s| s.at_ms);
    let mut out: Vec<(i64, i64)> = Vec::new();
    for d in clip(demand, from, to) {
        let first = steps.partition_point(|s| s.at_ms <= d.start_ms);
        let changes = steps[first..]
            .iter()
            .map(|s| s.at_ms)
            .take_while(|&at| at < d.end_ms);
        let bounds: Vec<i64> = std::iter::once(d.start_ms)
            .chain(changes)
            .chain([d.end_ms])
            .collect();
        for pair in bounds.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b <= a || d.value <= 0.0 || d.value <= units_at(&steps, a) as f64 * per_unit {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 >= a => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
    }
    out
}

/// The part of `segments` (in time order, non-overlapping) within `[from, to)`.
pub(super) fn clip(segments: &[Segment], from: i64, to: i64) -> Vec<Segment> {
    let first = segments.partition_point(|s| s.end_ms <= from);
    segments[first..]
        .iter()
        .take_while(|s| s.start_ms < to)
        .map(|s| Segment {
            start_ms: s.start_ms.max(from),
            end_ms: s.end_ms.min(to),
            value: s.value,
        })
        .filter(|s| s.end_ms > s.start_ms)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::HOUR;

    #[test]
    fn overlapping_windows_are_drawn_as_scored() {
        // Hopping 2h windows sliding by 1h: each instant belongs to the first window over it.
        let d = [
            DemandStep {
                start_ms: 0,
                end_ms: 2 * HOUR,
                value: 100.0,
            },
            DemandStep {
                start_ms: HOUR,
                end_ms: 3 * HOUR,
                value: 300.0,
            },
        ];
        let segments = demand_segments(&d);
        assert_eq!(
            segments,
            vec![
                Segment {
                    start_ms: 0,
                    end_ms: 2 * HOUR,
                    value: 100.0
                },
                Segment {
                    start_ms: 2 * HOUR,
                    end_ms: 3 * HOUR,
                    value: 300.0
                }
            ]
        );
    }
}
