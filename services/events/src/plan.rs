//! Which targets a directive sets at a given instant.
//!
//! A directive sets its own targets from the instant it is issued; each step of its plan
//! replaces the targets it names from its due time on; the next directive of the same app and
//! mode supersedes whatever of the plan is not yet due. The applier (live, on the wall clock) and
//! the backtest (replay, on the recorded directives) both read a plan through these functions,
//! so they act at the same instants with the same targets.

use crate::{PlannedStep, ScalingDirective};

/// How far past its directive's issue a step may fall due: a step beyond is ignored, so a
/// malformed or hostile plan cannot hold an applier's schedule (and its committed offset) for
/// years. Templates may plan at most this far ahead.
pub const MAX_AHEAD_MS: i64 = 7 * 24 * 3_600_000;

impl ScalingDirective {
    /// The targets the directive sets when issued: its `targets` list, or the top-level
    /// resource for a directive without one (older producers).
    pub fn issued_targets(&self) -> Vec<(String, i64)> {
        if self.targets.is_empty() {
            return vec![(self.resource.clone(), self.target)];
        }
        self.targets
            .iter()
            .map(|t| (t.resource.clone(), t.target))
            .collect()
    }

    /// Every resource's target in force at `at_ms` under this directive alone: its issued
    /// targets, replaced by those of every plan step due at or before `at_ms`, in due order.
    /// A resource a step names that the directive did not is added.
    pub fn targets_at(&self, at_ms: i64) -> Vec<(String, i64)> {
        let mut targets = self.issued_targets();
        for step in self.due_steps(at_ms) {
            for planned in &step.targets {
                match targets.iter_mut().find(|(r, _)| *r == planned.resource) {
                    Some(slot) => slot.1 = planned.target,
                    None => targets.push((planned.resource.clone(), planned.target)),
                }
            }
        }
        targets
    }

    /// The target of `resource` in force at `at_ms` under this directive alone.
    pub fn target_at(&self, resource: &str, at_ms: i64) -> Option<i64> {
        self.targets_at(at_ms)
            .into_iter()
            .find(|(r, _)| r == resource)
            .map(|(_, target)| target)
    }

    /// The first instant after `after_ms` at which a plan step falls due, if any.
    pub fn next_due_after(&self, after_ms: i64) -> Option<i64> {
        self.valid_steps()
            .map(|step| step.due_at_ms)
            .filter(|due| *due > after_ms)
            .min()
    }

    /// Steps due at or before `at_ms`, in due order (stable for equal due times).
    fn due_steps(&self, at_ms: i64) -> Vec<&PlannedStep> {
        let mut due: Vec<&PlannedStep> = self
            .valid_steps()
            .filter(|step| step.due_at_ms <= at_ms)
            .collect();
        due.sort_by_key(|step| step.due_at_ms);
        due
    }

    /// The steps that count: due after the directive was issued (one due before is not a plan
    /// but a mistake of its producer, so the issued targets hold from the issue time) and at
    /// most [`MAX_AHEAD_MS`] after it.
    pub fn valid_steps(&self) -> impl Iterator<Item = &PlannedStep> {
        let latest = self.issued_at_ms.saturating_add(MAX_AHEAD_MS);
        self.plan
            .iter()
            .filter(move |step| step.due_at_ms > self.issued_at_ms && step.due_at_ms <= latest)
    }
}

/// A change of one resource's target: from `at_ms` on, `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetChange {
    pub at_ms: i64,
    pub target: i64,
}

/// Every change of `resource`'s target that a sequence of directives of one app and mode (in
/// issue order) makes: each of a directive's plan steps due up to the next directive's issue
/// (a step due at that very instant takes effect: the wall clock reaches it before the next
/// directive can arrive), and each directive's issued target at its issue time, which overrides
/// a step due at the same instant. A resource a directive does not name keeps the target in
/// force (its own issued or planned one). Repeats of the same target are dropped.
pub fn schedule<'a>(
    directives: impl IntoIterator<Item = &'a ScalingDirective>,
    resource: &str,
) -> Vec<TargetChange> {
    let directives: Vec<&ScalingDirective> = directives.into_iter().collect();
    let mut changes: Vec<TargetChange> = Vec::new();
    let mut push = |at_ms: i64, target: i64| {
        // A later setting at the same instant replaces the earlier one.
        if changes.last().is_some_and(|last| last.at_ms == at_ms) {
            changes.pop();
        }
        if changes.last().is_none_or(|last| last.target != target) {
            changes.push(TargetChange { at_ms, target });
        }
    };
    for (i, directive) in directives.iter().enumerate() {
        let superseded_at = directives
            .get(i + 1)
            .map_or(i64::MAX, |next| next.issued_at_ms);
        if let Some(target) = directive.target_at(resource, directive.issued_at_ms) {
            push(directive.issued_at_ms, target);
        }
        let mut instants: Vec<i64> = directive
            .valid_steps()
            .map(|step| step.due_at_ms)
            .filter(|due| *due <= superseded_at)
            .collect();
        instants.sort_unstable();
        instants.dedup();
        for due in instants {
            if let Some(target) = directive.target_at(resource, due) {
                push(due, target);
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlannedTarget, ResourceTarget};

    const MIN: i64 = 60_000;

    fn step(due_min: i64, targets: &[(&str, i64)]) -> PlannedStep {
        PlannedStep {
            due_at_ms: due_min * MIN,
            effective_at_ms: (due_min + 10) * MIN,
            targets: targets
                .iter()
                .map(|(resource, target)| PlannedTarget {
                    resource: resource.to_string(),
                    target: *target,
                    forecast_value: 0.0,
                })
                .collect(),
        }
    }

    fn directive(issued_min: i64, replicas: i64, plan: Vec<PlannedStep>) -> ScalingDirective {
        ScalingDirective {
            app: "shop".into(),
            resource: "replicas".into(),
            target: replicas,
            issued_at_ms: issued_min * MIN,
            targets: vec![
                ResourceTarget {
                    resource: "replicas".into(),
                    target: replicas,
                    ..Default::default()
                },
                ResourceTarget {
                    resource: "memory_mb".into(),
                    target: 512,
                    ..Default::default()
                },
            ],
            plan,
            ..Default::default()
        }
    }

    #[test]
    fn a_directive_sets_its_own_targets_until_its_first_step_falls_due() {
        let d = directive(
            0,
            3,
            vec![step(30, &[("replicas", 6)]), step(45, &[("replicas", 9)])],
        );
        assert_eq!(d.target_at("replicas", 0), Some(3));
        assert_eq!(d.target_at("replicas", 30 * MIN - 1), Some(3));
        assert_eq!(d.target_at("replicas", 30 * MIN), Some(6));
        assert_eq!(d.target_at("replicas", 44 * MIN), Some(6));
        assert_eq!(d.target_at("replicas", 45 * MIN), Some(9));
        assert_eq!(d.target_at("replicas", 10_000 * MIN), Some(9));
    }

    #[test]
    fn a_step_changes_only_the_resources_it_names() {
        let d = directive(0, 3, vec![step(30, &[("replicas", 6)])]);
        assert_eq!(
            d.targets_at(31 * MIN),
            vec![("replicas".to_string(), 6), ("memory_mb".to_string(), 512)]
        );
    }

    #[test]
    fn steps_listed_out_of_order_still_apply_in_due_order() {
        let d = directive(
            0,
            3,
            vec![step(45, &[("replicas", 9)]), step(30, &[("replicas", 6)])],
        );
        assert_eq!(d.target_at("replicas", 50 * MIN), Some(9));
        assert_eq!(d.target_at("replicas", 40 * MIN), Some(6));
        assert_eq!(d.next_due_after(0), Some(30 * MIN));
        assert_eq!(d.next_due_after(30 * MIN), Some(45 * MIN));
        assert_eq!(d.next_due_after(45 * MIN), None);
    }

    #[test]
    fn a_step_due_before_the_directive_was_issued_is_ignored() {
        let d = directive(60, 3, vec![step(30, &[("replicas", 99)])]);
        assert_eq!(d.target_at("replicas", 60 * MIN), Some(3));
        assert_eq!(d.next_due_after(0), None);
    }

    #[test]
    fn a_directive_without_targets_list_sets_its_top_level_resource() {
        let d = ScalingDirective {
            targets: vec![],
            ..directive(0, 4, vec![step(30, &[("replicas", 8)])])
        };
        assert_eq!(d.issued_targets(), vec![("replicas".to_string(), 4)]);
        assert_eq!(d.target_at("replicas", 30 * MIN), Some(8));
    }

    #[test]
    fn the_next_directive_supersedes_the_steps_not_yet_due() {
        let first = directive(
            0,
            3,
            vec![step(30, &[("replicas", 6)]), step(90, &[("replicas", 12)])],
        );
        let second = directive(60, 5, vec![step(120, &[("replicas", 7)])]);
        let changes = schedule([&first, &second], "replicas");
        let at = |m: i64, t: i64| TargetChange {
            at_ms: m * MIN,
            target: t,
        };
        // The first plan's step at 90 never happens: the second directive came at 60.
        assert_eq!(changes, vec![at(0, 3), at(30, 6), at(60, 5), at(120, 7)]);
    }

    #[test]
    fn repeated_targets_are_one_change() {
        let first = directive(0, 3, vec![step(30, &[("replicas", 3)])]);
        let second = directive(60, 3, vec![]);
        assert_eq!(
            schedule([&first, &second], "replicas"),
            vec![TargetChange {
                at_ms: 0,
                target: 3
            }]
        );
    }

    #[test]
    fn a_step_due_when_the_next_directive_is_issued_takes_effect_where_that_directive_is_silent() {
        let first = directive(
            0,
            3,
            vec![step(60, &[("replicas", 9), ("memory_mb", 1024)])],
        );
        // The next directive, issued at the step's very instant, decides replicas only.
        let second = ScalingDirective {
            targets: vec![ResourceTarget {
                resource: "replicas".into(),
                target: 4,
                ..Default::default()
            }],
            ..directive(60, 4, vec![])
        };
        let at = |m: i64, t: i64| TargetChange {
            at_ms: m * MIN,
            target: t,
        };
        // Replicas: the step's 9 and the directive's 4 at the same instant: 4 wins.
        assert_eq!(
            schedule([&first, &second], "replicas"),
            vec![at(0, 3), at(60, 4)]
        );
        // Memory: the directive says nothing of it, so the step due at its issue holds.
        assert_eq!(
            schedule([&first, &second], "memory_mb"),
            vec![at(0, 512), at(60, 1024)]
        );
    }

    #[test]
    fn a_same_instant_override_back_to_the_target_in_force_is_no_change() {
        let first = directive(0, 3, vec![step(60, &[("replicas", 9)])]);
        let second = directive(60, 3, vec![]);
        assert_eq!(
            schedule([&first, &second], "replicas"),
            vec![TargetChange {
                at_ms: 0,
                target: 3
            }]
        );
    }

    #[test]
    fn a_step_beyond_the_longest_plan_is_ignored() {
        let far = MAX_AHEAD_MS / MIN + 1;
        let d = directive(0, 3, vec![step(far, &[("replicas", 50)])]);
        assert_eq!(d.next_due_after(0), None);
        assert_eq!(d.target_at("replicas", i64::MAX), Some(3));
        assert_eq!(
            schedule([&d], "replicas"),
            vec![TargetChange {
                at_ms: 0,
                target: 3
            }]
        );
        let last = directive(0, 3, vec![step(MAX_AHEAD_MS / MIN, &[("replicas", 50)])]);
        assert_eq!(last.next_due_after(0), Some(MAX_AHEAD_MS));
    }
}
