//! Scores of a capacity against the demand, integrated exactly over both step functions.
//!
//! Demand is known over its windows; between them (a gap in the trace) nothing is scored but
//! the cost, which is paid whether or not anyone measured the demand.

use crate::report::{CapacityStep, DemandStep, Score};

const MS_PER_HOUR: f64 = 3_600_000.0;

/// Scores `capacity` (units; `per_unit` of demand each) against `demand` over `[from_ms, to_ms)`.
/// `actions` is the number of target changes, counted by the caller.
pub fn score(
    demand: &[DemandStep],
    capacity: &[CapacityStep],
    per_unit: f64,
    from_ms: i64,
    to_ms: i64,
    actions: u64,
) -> Score {
    let mut unit_ms = 0.0;
    for (at, end, units) in capacity_spans(capacity, from_ms, to_ms) {
        unit_ms += units as f64 * (end - at) as f64;
    }
    let mut covered_ms = 0.0;
    let mut provisioned = 0.0;
    let mut unused = 0.0;
    let mut under_ms = 0.0;
    let mut depth_ms = 0.0;
    let mut depth_max: f64 = 0.0;
    for step in demand_pieces(demand) {
        let start = step.start_ms.max(from_ms);
        let end = step.end_ms.min(to_ms);
        if end <= start {
            continue;
        }
        for (at, until, units) in capacity_spans(capacity, start, end) {
            let span = (until - at) as f64;
            let offered = units as f64 * per_unit;
            covered_ms += span;
            provisioned += offered * span;
            unused += (offered - step.value).max(0.0) * span;
            if step.value > offered && step.value > 0.0 {
                let depth = (step.value - offered) / step.value;
                under_ms += span;
                depth_ms += depth * span;
                depth_max = depth_max.max(depth);
            }
        }
    }
    let pct = |part: f64, whole: f64| {
        if whole > 0.0 {
            100.0 * part / whole
        } else {
            0.0
        }
    };
    Score {
        unit_hours: unit_ms / MS_PER_HOUR,
        slack_pct: pct(unused, provisioned),
        under_provisioned_pct: pct(under_ms, covered_ms),
        under_depth_mean_pct: pct(depth_ms, under_ms),
        under_depth_max_pct: 100.0 * depth_max,
        actions,
        covered_hours: covered_ms / MS_PER_HOUR,
        gap_hours: ((to_ms - from_ms).max(0) as f64 - covered_ms) / MS_PER_HOUR,
    }
}

/// The demand as it is scored (and as the oracle and the report's charts read it): windows in
/// time order, each instant once. With hopping windows an instant belongs to the first window
/// over it, so a window counts from where the previous one ended. A window without a number is
/// no knowledge: it is skipped and claims no time.
pub fn demand_pieces(demand: &[DemandStep]) -> impl Iterator<Item = DemandStep> + '_ {
    let mut previous_end = i64::MIN;
    demand.iter().filter_map(move |step| {
        if !step.value.is_finite() {
            return None;
        }
        let start = step.start_ms.max(previous_end);
        previous_end = previous_end.max(step.end_ms);
        (step.end_ms > start).then_some(DemandStep {
            start_ms: start,
            ..*step
        })
    })
}

/// The pieces `[at, until)` of `[from, to)` over which the units stay the same (`capacity` in
/// time order; none before its first step).
pub fn capacity_spans(
    capacity: &[CapacityStep],
    from: i64,
    to: i64,
) -> impl Iterator<Item = (i64, i64, i64)> + '_ {
    Spans {
        capacity,
        next: capacity.partition_point(|s| s.at_ms <= from),
        at: from,
        to,
    }
}

/// Walks the capacity steps inside a range without allocating: scoring visits every demand
/// window of every contender, a million spans on a fleet.
struct Spans<'a> {
    capacity: &'a [CapacityStep],
    /// The first step after `at`.
    next: usize,
    at: i64,
    to: i64,
}

impl Iterator for Spans<'_> {
    type Item = (i64, i64, i64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.to {
            return None;
        }
        let units = if self.next == 0 {
            0
        } else {
            self.capacity[self.next - 1].units
        };
        let until = self
            .capacity
            .get(self.next)
            .map_or(self.to, |s| s.at_ms.min(self.to));
        let span = (self.at, until, units);
        self.at = until;
        self.next += 1;
        Some(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn demand(values: &[f64]) -> Vec<DemandStep> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| DemandStep {
                start_ms: i as i64 * H,
                end_ms: (i as i64 + 1) * H,
                value,
            })
            .collect()
    }

    fn steps(points: &[(i64, i64)]) -> Vec<CapacityStep> {
        points
            .iter()
            .map(|&(at_ms, units)| CapacityStep { at_ms, units })
            .collect()
    }

    #[test]
    fn a_four_hour_trace_scored_by_hand() {
        // Demand 100, 300, 250, 50 over four hours; 100 per unit.
        // Capacity: 2 units, 3 from 1.5h, 1 from 3h.
        //   h0: 200 offered, 100 used        → 100 unused
        //   h1: 0.5h of 200 vs 300 (short 1/3), 0.5h of 300 vs 300
        //   h2: 300 vs 250                   → 50 unused
        //   h3: 100 vs 50                    → 50 unused
        let capacity = steps(&[(0, 2), (3 * H / 2, 3), (3 * H, 1)]);
        let s = score(
            &demand(&[100.0, 300.0, 250.0, 50.0]),
            &capacity,
            100.0,
            0,
            4 * H,
            2,
        );
        // 2·1.5 + 3·1.5 + 1·1 = 8.5 unit-hours
        assert!((s.unit_hours - 8.5).abs() < 1e-9, "{s:?}");
        // provisioned 200 + (100 + 150) + 300 + 100 = 850; unused 100 + 0 + 50 + 50 = 200
        assert!((s.slack_pct - 100.0 * 200.0 / 850.0).abs() < 1e-9, "{s:?}");
        // under for half an hour of four
        assert!((s.under_provisioned_pct - 12.5).abs() < 1e-9, "{s:?}");
        assert!((s.under_depth_mean_pct - 100.0 / 3.0).abs() < 1e-9, "{s:?}");
        assert!((s.under_depth_max_pct - 100.0 / 3.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.actions, 2);
        assert!((s.covered_hours - 4.0).abs() < 1e-9 && s.gap_hours.abs() < 1e-9);
    }

    #[test]
    fn a_gap_costs_but_is_not_scored() {
        // Hours 0 and 3 measured, 1 and 2 missing; 1 unit of 100 throughout.
        let mut d = demand(&[150.0, 0.0, 0.0, 50.0]);
        d.remove(2);
        d.remove(1);
        let s = score(&d, &steps(&[(0, 1)]), 100.0, 0, 4 * H, 0);
        assert!((s.unit_hours - 4.0).abs() < 1e-9);
        assert!((s.covered_hours - 2.0).abs() < 1e-9);
        assert!((s.gap_hours - 2.0).abs() < 1e-9);
        assert!((s.under_provisioned_pct - 50.0).abs() < 1e-9);
        // provisioned 100 + 100, unused 0 + 50
        assert!((s.slack_pct - 25.0).abs() < 1e-9);
    }

    #[test]
    fn only_the_scored_range_counts() {
        let capacity = steps(&[(0, 1), (2 * H, 4)]);
        let s = score(
            &demand(&[500.0, 500.0, 100.0, 100.0]),
            &capacity,
            100.0,
            2 * H,
            4 * H,
            1,
        );
        assert!((s.unit_hours - 8.0).abs() < 1e-9);
        assert_eq!(s.under_provisioned_pct, 0.0);
        assert!((s.slack_pct - 75.0).abs() < 1e-9);
    }

    #[test]
    fn a_window_without_a_number_claims_no_time() {
        let d = vec![
            DemandStep {
                start_ms: 0,
                end_ms: 2 * H,
                value: f64::NAN,
            },
            DemandStep {
                start_ms: H,
                end_ms: 3 * H,
                value: 300.0,
            },
        ];
        let s = score(&d, &steps(&[(0, 2)]), 100.0, 0, 3 * H, 0);
        // [1h, 3h) at 300 against 200: under for 2h of 2 known.
        assert!((s.covered_hours - 2.0).abs() < 1e-9, "{s:?}");
        assert!((s.under_provisioned_pct - 100.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn hopping_windows_score_each_instant_once() {
        // Two 2h windows sliding by 1h: the second counts from where the first ends.
        let d = vec![
            DemandStep {
                start_ms: 0,
                end_ms: 2 * H,
                value: 100.0,
            },
            DemandStep {
                start_ms: H,
                end_ms: 3 * H,
                value: 300.0,
            },
        ];
        let s = score(&d, &steps(&[(0, 2)]), 100.0, 0, 3 * H, 0);
        assert!((s.covered_hours - 3.0).abs() < 1e-9);
        // [0,2h) at 100 (from the first), [2h,3h) at 300: under for 1h of 3
        assert!((s.under_provisioned_pct - 100.0 / 3.0).abs() < 1e-9);
    }
}
