//! The two baselines every policy is scored against, computed on the same demand:
//!
//! - **reactive**, like a Kubernetes HPA with the policy's capacity per unit: at the end of each
//!   window (not every 15 s as an HPA syncs: it sees what the recipe sees, the window's value,
//!   and has no 10% tolerance) it asks for `ceil(observed / per_unit)` units, scales up at once and down only to the
//!   highest recommendation of the last 5 minutes (HPA's default scale-down stabilization), and
//!   its new units take the same provisioning delay. It runs through the planner's own
//!   `decide_reactive`, so floors and stabilization are the live code's.
//! - **oracle**, with perfect foresight: each window's need is in service when the window
//!   starts (with hopping windows, when the previous one ends: each instant is scored by the
//!   first window over it). Within the policy's `max` no capacity is less under-provisioned, and none that is
//!   never under-provisioned costs less.

use presage_planner::policy::{decide_reactive, PolicyState};
use presage_planner::scheduled_floor;
use presage_template::{Duration, ScalingPolicy, Stabilization, Zone};

use crate::capacity::Action;
use crate::report::DemandStep;
use crate::score::demand_pieces;

/// Kubernetes HPA's default scale-down stabilization window.
pub const HPA_SCALE_DOWN_STABILIZATION_MS: u64 = 5 * 60_000;

/// The reactive baseline's targets, decided at each window's end (scheduled floors on `zone`,
/// the template's clock).
pub fn reactive(policy: &ScalingPolicy, zone: Zone, demand: &[DemandStep]) -> Vec<Action> {
    reactive_with_headroom(policy, zone, demand, 0.0)
}

/// The reactive baseline provisioning for `demand × (1 + headroom)`: a target utilisation of
/// `1 / (1 + headroom)` (0.25 → 80%), as an HPA's `averageUtilization` would be tuned.
pub fn reactive_with_headroom(
    policy: &ScalingPolicy,
    zone: Zone,
    demand: &[DemandStep],
    headroom: f64,
) -> Vec<Action> {
    let hpa = ScalingPolicy {
        lead_time: None,
        max_step_up: None,
        max_step_down: None,
        cooldown: None,
        stabilization: Stabilization {
            up: Duration::from_millis(0),
            down: Duration::from_millis(HPA_SCALE_DOWN_STABILIZATION_MS),
        },
        fallback: None,
        ..policy.clone()
    };
    let mut state = PolicyState::default();
    let mut actions = Vec::new();
    for step in demand {
        let now = step.end_ms;
        let floor = scheduled_floor(&hpa, zone, now);
        let Some(decision) = decide_reactive(
            &hpa,
            &mut state,
            now,
            step.value,
            headroom,
            floor,
            "reactive baseline",
        ) else {
            continue;
        };
        if decision.previous != Some(decision.target) {
            actions.push(Action {
                at_ms: now,
                target: decision.target,
            });
        }
    }
    actions
}

/// The oracle's targets: each window's need, from the window's start (scheduled floors on
/// `zone`, the template's clock).
pub fn oracle(policy: &ScalingPolicy, zone: Zone, demand: &[DemandStep]) -> Vec<Action> {
    let mut actions: Vec<Action> = Vec::new();
    // Each window's need from where it starts counting (see `demand_pieces`).
    for step in demand_pieces(demand) {
        let start = step.start_ms;
        let floor = scheduled_floor(policy, zone, start)
            .map_or(policy.min, |f| f.max(policy.min))
            .min(policy.max);
        let need = (step.value / policy.per_unit)
            .ceil()
            .clamp(policy.min, policy.max);
        let target = need.max(floor) as i64;
        if actions.last().is_none_or(|last| last.target != target) {
            actions.push(Action {
                at_ms: start,
                target,
            });
        }
    }
    actions
}
