//! Step functions: demand, capacity, and where one falls short of the other.

use crate::report::{CapacityStep, DemandStep};
use crate::score::{capacity_spans, demand_pieces};

/// A value held over `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Segment {
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) value: f64,
}

/// The demand as non-overlapping steps in time order, exactly as the scorer counts it
/// ([`demand_pieces`]), so what is drawn is what was scored.
pub(super) fn demand_segments(demand: &[DemandStep]) -> Vec<Segment> {
    let mut steps = demand.to_vec();
    steps.sort_by_key(|s| s.start_ms); // stable, and linear when already in order
    demand_pieces(&steps)
        .map(|s| Segment {
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            value: s.value,
        })
        .collect()
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
        // The same spans and the same comparison as the scorer's.
        for (a, b, units) in capacity_spans(&steps, d.start_ms, d.end_ms) {
            if d.value <= 0.0 || d.value <= units as f64 * per_unit {
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
