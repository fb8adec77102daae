//! Capacity over time from the targets a policy decided: what a cluster would have had in
//! service. A higher target adds units that serve only after the provisioning delay (instances
//! starting, nodes joining); a lower target removes units at once, those still starting first,
//! as a Kubernetes ReplicaSet deletes not-ready pods before ready ones.

use std::collections::VecDeque;

use crate::report::CapacityStep;

/// A target decided at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub at_ms: i64,
    pub target: i64,
}

/// Units in service from `start_ms` on, starting at `initial`, given `actions` in time order.
pub fn simulate(
    initial: i64,
    start_ms: i64,
    actions: &[Action],
    delay_ms: i64,
) -> Vec<CapacityStep> {
    let mut steps = Steps(vec![CapacityStep {
        at_ms: start_ms,
        units: initial,
    }]);
    let mut serving = initial;
    // Units ordered and not yet serving: (serving from, how many), oldest first.
    let mut pending: VecDeque<(i64, i64)> = VecDeque::new();
    for action in actions {
        // A target decided before the start (an oracle's window opening before the first
        // sample) is in force from the start.
        let action = Action {
            at_ms: action.at_ms.max(start_ms),
            ..*action
        };
        arrive(action.at_ms, &mut serving, &mut pending, &mut steps);
        let ordered: i64 = serving + pending.iter().map(|(_, n)| n).sum::<i64>();
        if action.target > ordered {
            pending.push_back((action.at_ms + delay_ms.max(0), action.target - ordered));
        } else {
            let mut excess = ordered - action.target;
            while excess > 0 {
                let Some(last) = pending.back_mut() else {
                    break;
                };
                let cancelled = last.1.min(excess);
                last.1 -= cancelled;
                excess -= cancelled;
                if last.1 == 0 {
                    pending.pop_back();
                }
            }
            if excess > 0 {
                serving -= excess;
                steps.set(action.at_ms, serving);
            }
        }
        // A zero delay serves at once.
        arrive(action.at_ms, &mut serving, &mut pending, &mut steps);
    }
    arrive(i64::MAX, &mut serving, &mut pending, &mut steps);
    steps.0
}

/// Units ordered before `until` start serving.
fn arrive(until: i64, serving: &mut i64, pending: &mut VecDeque<(i64, i64)>, steps: &mut Steps) {
    while let Some(&(at, count)) = pending.front() {
        if at > until {
            break;
        }
        pending.pop_front();
        *serving += count;
        steps.set(at, *serving);
    }
}

/// Steps with at most one entry per instant and none that repeats the units before it.
struct Steps(Vec<CapacityStep>);

impl Steps {
    fn set(&mut self, at_ms: i64, units: i64) {
        if let Some(last) = self.0.last_mut() {
            if last.at_ms == at_ms {
                last.units = units;
                if self.0.len() >= 2 && self.0[self.0.len() - 2].units == units {
                    self.0.pop();
                }
                return;
            }
            if last.units == units {
                return;
            }
        }
        self.0.push(CapacityStep { at_ms, units });
    }
}

/// The units in service at `at_ms` (0 before the first step).
pub fn units_at(steps: &[CapacityStep], at_ms: i64) -> i64 {
    let i = steps.partition_point(|s| s.at_ms <= at_ms);
    if i == 0 {
        0
    } else {
        steps[i - 1].units
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at_ms: i64, units: i64) -> CapacityStep {
        CapacityStep { at_ms, units }
    }

    fn act(at_ms: i64, target: i64) -> Action {
        Action { at_ms, target }
    }

    #[test]
    fn a_scale_up_serves_after_the_delay_and_a_scale_down_at_once() {
        let steps = simulate(2, 0, &[act(10, 5), act(100, 3)], 30);
        assert_eq!(steps, [step(0, 2), step(40, 5), step(100, 3)]);
    }

    #[test]
    fn a_scale_down_cancels_units_still_starting_first() {
        // 2 serving, 3 more ordered at 10 (serving at 40); at 20 the target drops to 3:
        // two of the three starting are cancelled, the serving ones stay.
        let steps = simulate(2, 0, &[act(10, 5), act(20, 3)], 30);
        assert_eq!(steps, [step(0, 2), step(40, 3)]);
        // Below what serves: everything pending is cancelled and the rest goes at once.
        let steps = simulate(4, 0, &[act(10, 6), act(20, 1)], 30);
        assert_eq!(steps, [step(0, 4), step(20, 1)]);
    }

    #[test]
    fn successive_scale_ups_arrive_in_order() {
        let steps = simulate(1, 0, &[act(10, 3), act(20, 6)], 30);
        assert_eq!(steps, [step(0, 1), step(40, 3), step(50, 6)]);
    }

    #[test]
    fn a_target_decided_before_the_start_holds_from_the_start() {
        let steps = simulate(1, 100, &[act(40, 5), act(150, 2)], 0);
        assert_eq!(steps, [step(100, 5), step(150, 2)]);
    }

    #[test]
    fn without_delay_targets_take_effect_when_decided() {
        let steps = simulate(1, 0, &[act(10, 3), act(20, 3), act(30, 2)], 0);
        assert_eq!(steps, [step(0, 1), step(10, 3), step(30, 2)]);
        assert_eq!(units_at(&steps, 9), 1);
        assert_eq!(units_at(&steps, 10), 3);
        assert_eq!(units_at(&steps, -1), 0);
    }
}
