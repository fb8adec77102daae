//! Plans: the targets a forecast's path needs after its lead instant, scheduled in the
//! directive (`presage_events::plan` says how they are applied).
//!
//! From the state the immediate decision left, every later point of the forecast up to the
//! policy's `plan.ahead` is decided as if at its due time (the point's instant less `lead_time`,
//! as the immediate point is): sized by the same rule as the immediate target (`use` or the
//! SLO's chosen headroom, the `reactive` side on the newest observed value), over `per_unit`,
//! within `[floor, max]` with the scheduled floor of the due time, then stabilization, step
//! limits and cooldown as if each step were decided then. The instants where the target
//! changes are the directive's steps, and only they are kept in the policy's state: once due,
//! each becomes the target in force and its recommendation and held-at-max (derived from the
//! step's value and target, [`crate::policy::implied`]) join the state, so a planner restarted
//! from its directives, which carry exactly the steps, holds the same state as one that ran on.

use presage_events::{PlannedStep, PlannedTarget};
use presage_template::{ScalingPolicy, Zone};

use crate::planner::scheduled_floor;
use crate::policy::{implied, need, point_at_lead, settle, PolicyInput, PolicyState, Sizing};

/// One simulated instant of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// When the target is set: `effective_at_ms` less the policy's `lead_time`.
    pub due_at_ms: i64,
    /// The forecast point's instant this instant provisions for.
    pub effective_at_ms: i64,
    /// The target in force from `due_at_ms`.
    pub target: i64,
    /// The value provisioned for (the sized forecast, or the reactive side's need).
    pub forecast_value: f64,
    /// The recommendation the decision at this instant adds to the stabilization history once
    /// due (`None`: read back for a policy the template no longer has).
    pub recommendation: Option<i64>,
    /// Whether the target is held at max from here.
    pub at_max: bool,
    /// Whether the target changes here (a step of the directive's plan).
    pub step: bool,
}

impl Planned {
    /// An instant as a directive's step states it (due, effective instant, target, value), with
    /// what that implies under `policy` (see [`implied`]; `None`: the policy is gone).
    pub(crate) fn from_step(
        policy: Option<&ScalingPolicy>,
        due_at_ms: i64,
        effective_at_ms: i64,
        target: i64,
        forecast_value: f64,
        step: bool,
    ) -> Self {
        let (recommendation, at_max) = policy.map_or((None, false), |p| {
            let (r, at_max) = implied(p, forecast_value, target);
            (Some(r), at_max)
        });
        Planned {
            due_at_ms,
            effective_at_ms,
            target,
            forecast_value,
            recommendation,
            at_max,
            step,
        }
    }
}

/// The steps of a plan: what its directive carries, hence what a policy's state keeps.
pub(crate) fn steps_only(planned: &[Planned]) -> Vec<Planned> {
    planned.iter().filter(|p| p.step).cloned().collect()
}

/// The plan of `policy` from a forecast, simulated forward from `after` (the state the
/// immediate decision left). Empty without `plan` on the policy.
pub(crate) fn simulate(
    policy: &ScalingPolicy,
    after: &PolicyState,
    sizing: &Sizing,
    input: &PolicyInput<'_>,
    zone: Zone,
) -> Vec<Planned> {
    let Some(plan) = policy.plan else {
        return Vec::new();
    };
    let now = input.issued_at_ms;
    let Some(first) = point_at_lead(policy, now, input.points) else {
        return Vec::new();
    };
    let lead = policy.lead_time.map_or(0, |d| d.as_millis_i64());
    let until = now.saturating_add(plan.ahead.as_millis_i64());
    let mut sim = PolicyState {
        planned: Vec::new(),
        ..after.clone()
    };
    let mut out = Vec::new();
    for point in input
        .points
        .iter()
        .filter(|p| p.at_ms > first.at_ms && p.at_ms <= until)
    {
        let due = point.at_ms - lead;
        if due <= now {
            continue; // only a point before the lead's (never, points are in order)
        }
        let before = sim.current.map(|(target, _)| target);
        let floor = scheduled_floor(policy, zone, due);
        let at_due = PolicyInput {
            issued_at_ms: due,
            scheduled_floor: floor,
            ..input.clone()
        };
        let (value, what) = need(policy, sizing, point, &at_due, due);
        // A point that is not a number decides nothing: the target holds.
        let Some(decision) = settle(policy, &mut sim, due, value, point.at_ms, floor, what) else {
            continue;
        };
        // The same recommendation and held-at-max as the simulated decision's (settle derives
        // them by `implied` too), computed as a restarted planner derives them from the step.
        out.push(Planned::from_step(
            Some(policy),
            due,
            point.at_ms,
            decision.target,
            value,
            before != Some(decision.target),
        ));
    }
    out
}

impl PolicyState {
    /// Takes the plan's steps due at or before `now` as decided: each one's recommendation
    /// joins the stabilization history and its target becomes the target in force from its due
    /// time, exactly as the applier applies the plan in force. Later ones stay planned.
    pub fn advance_to(&mut self, now: i64) {
        let due = self.planned.partition_point(|p| p.due_at_ms <= now);
        for planned in self.planned.drain(..due).collect::<Vec<_>>() {
            if let Some(recommendation) = planned.recommendation {
                self.recommendations
                    .push_back((planned.due_at_ms, recommendation));
            }
            if self.current.map(|(target, _)| target) != Some(planned.target) {
                self.current = Some((planned.target, planned.due_at_ms));
            }
            self.at_max = planned.at_max;
            self.decided_at = Some(
                self.decided_at
                    .map_or(planned.due_at_ms, |at| at.max(planned.due_at_ms)),
            );
        }
    }

    /// The steps of the plan in force (target changes only), as (due, target).
    pub fn planned_steps(&self) -> Vec<(i64, i64)> {
        self.planned
            .iter()
            .filter(|p| p.step)
            .map(|p| (p.due_at_ms, p.target))
            .collect()
    }
}

/// The directive's plan from each resource's planned instants: one step per due instant,
/// carrying every resource whose target changes then, in due order.
pub(crate) fn steps(plans: &[(&str, &[Planned])]) -> Vec<PlannedStep> {
    let mut steps: Vec<PlannedStep> = Vec::new();
    let mut all: Vec<(&str, &Planned)> = plans
        .iter()
        .flat_map(|(resource, planned)| planned.iter().filter(|p| p.step).map(|p| (*resource, p)))
        .collect();
    all.sort_by_key(|(_, p)| p.due_at_ms);
    for (resource, p) in all {
        let target = PlannedTarget {
            resource: resource.to_string(),
            target: p.target,
            forecast_value: p.forecast_value,
        };
        match steps.last_mut() {
            Some(step) if step.due_at_ms == p.due_at_ms => {
                step.effective_at_ms = step.effective_at_ms.min(p.effective_at_ms);
                step.targets.push(target);
            }
            _ => steps.push(PlannedStep {
                due_at_ms: p.due_at_ms,
                effective_at_ms: p.effective_at_ms,
                targets: vec![target],
            }),
        }
    }
    steps
}

/// The most steps a reason lists one by one; the rest are counted.
const LISTED: usize = 6;

/// A plan in a few words for the directive's reason: `plan replicas 6→14 at 06:50Z, 14→9 at
/// 21:10Z` (UTC times of day at which each step falls due).
pub fn summary(resource: &str, from: Option<i64>, planned: &[Planned]) -> Option<String> {
    let mut previous = from;
    let mut said = Vec::new();
    for p in planned.iter().filter(|p| p.step) {
        let was = previous.map_or("?".to_string(), |t| t.to_string());
        said.push(format!("{was}→{} at {}", p.target, clock(p.due_at_ms)));
        previous = Some(p.target);
    }
    if said.is_empty() {
        return None;
    }
    let more = said.len().saturating_sub(LISTED);
    said.truncate(LISTED);
    let tail = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    Some(format!("plan {resource} {}{tail}", said.join(", ")))
}

/// `HH:MMZ`: the UTC time of day of an instant.
fn clock(at_ms: i64) -> String {
    let minutes = at_ms.div_euclid(60_000).rem_euclid(1440);
    format!("{:02}:{:02}Z", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    /// A template may plan exactly as far ahead as a directive's steps are carried out.
    #[test]
    fn templates_plan_no_further_than_plans_are_carried_out() {
        assert_eq!(
            presage_template::plan::MAX_AHEAD.as_millis_i64(),
            presage_events::plan::MAX_AHEAD_MS
        );
    }
}
