//! Target tracking on the forecast, as a pure function of the policy, its state and a forecast.
//!
//! In order: the forecast value at `now + lead_time` (mean, a bound, a quantile, or for a
//! `target` SLO the headroom its record calls for, see `calibration`), raised to the newest
//! observed value with the `reactive` headroom if the policy has one and that is higher, over
//! `per_unit` is the raw need; it is held within `[floor, max]` (the floor is `min` or an active
//! scheduled floor); HPA-style stabilization keeps the lowest recommendation of the `up` window
//! for a scale-up and the highest of the `down` window for a scale-down; step limits bound the
//! change; a scale-down waits out the cooldown since the last change. A scheduled floor is always
//! honoured, whatever the step limits say.

use std::collections::VecDeque;

use presage_events::ForecastPoint;
use presage_template::quantiles::normal_quantile;
use presage_template::{ForecastBound, ScalingPolicy};

use crate::calibration;

/// What a policy remembers between decisions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyState {
    /// The target in force, and when it last changed.
    pub current: Option<(i64, i64)>,
    /// Whether the target in force is held at max.
    pub at_max: bool,
    /// The newest decision time: an input older than this (a backlog, or the other loop's
    /// later decision) is not decided again.
    pub decided_at: Option<i64>,
    /// Recent recommendations (decision time, recommendation), oldest first.
    pub recommendations: VecDeque<(i64, i64)>,
    /// The plan in force, its steps not yet due (see [`crate::plan`]): each becomes the target
    /// in force at its due time, as the applier applies it ([`PolicyState::advance_to`]). Only
    /// what the directive carries (its steps), so a planner that read its directives back holds
    /// exactly this.
    pub planned: Vec<crate::plan::Planned>,
    /// The template version the plan in force was made under (that of its directive): a newer
    /// version's next directive carries it no further (the policy may be gone or changed).
    pub plan_version: Option<String>,
}

/// One forecast, as a policy sees it.
#[derive(Debug, Clone)]
pub struct PolicyInput<'a> {
    pub issued_at_ms: i64,
    pub points: &'a [ForecastPoint],
    /// Coverage of the points' bounds (to read quantiles from them).
    pub interval_level: f64,
    /// The scheduled floor in force now, if any (`None`: just `min`).
    pub scheduled_floor: Option<f64>,
    /// A `target` policy's record: its recent windows with the forecasts that provisioned them
    /// (scored by the headroom their rounded-up units needed, see `calibration`).
    pub scores: &'a [calibration::Outcome],
    /// The newest observed value of a window ended by now, for a `reactive` side.
    pub observed: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub target: i64,
    pub previous: Option<i64>,
    pub forecast_value: f64,
    pub effective_at_ms: i64,
    pub reason: String,
    pub at_max: bool,
    pub at_max_changed: bool,
    /// The plan's instants after this decision (empty without `plan`, see [`crate::plan`]).
    pub plan: Vec<crate::plan::Planned>,
    /// Whether the plan's steps differ from those of the plan in force before.
    pub plan_changed: bool,
}

impl Decision {
    /// Whether the directive would say something new: another target, a change in being held
    /// at max, or another plan.
    pub fn changed(&self) -> bool {
        self.previous != Some(self.target) || self.at_max_changed || self.plan_changed
    }
}

/// The value a policy provisions for at one forecast point.
pub fn forecast_value(point: &ForecastPoint, bound: ForecastBound, level: f64) -> f64 {
    match bound {
        ForecastBound::Point => point.point,
        ForecastBound::Upper => point.upper,
        ForecastBound::Lower => point.lower,
        ForecastBound::Quantile(q) => {
            // the interval's half-width is z(level)·σ under normal errors
            let z_level = normal_quantile(0.5 + level / 2.0);
            let sigma = if z_level > 0.0 {
                ((point.upper - point.lower) / 2.0 / z_level).max(0.0)
            } else {
                0.0
            };
            point.point + normal_quantile(q) * sigma
        }
    }
}

/// The forecast point a policy provisions for: the first at or after `issued_at_ms` plus its
/// lead time, the last one if the horizon is shorter. (The backtest charts this same point.)
pub fn point_at_lead<'a>(
    policy: &ScalingPolicy,
    issued_at_ms: i64,
    points: &'a [ForecastPoint],
) -> Option<&'a ForecastPoint> {
    let lead_ms = policy.lead_time.map_or(0, |d| d.as_millis_i64());
    let wanted_at = issued_at_ms.saturating_add(lead_ms);
    points
        .iter()
        .find(|p| p.at_ms >= wanted_at)
        .or_else(|| points.last())
}

/// How a policy sizes a forecast point, fixed once per forecast: the SLO's choice reads the
/// whole record, and every point of a plan is sized by the same choice as the immediate one.
#[derive(Debug, Clone)]
pub(crate) enum Sizing {
    /// `target`: `mean + z·σ` with the record's chosen headroom.
    Slo(calibration::Choice),
    /// `use`: a bound or quantile of the point.
    Bound(ForecastBound),
}

pub(crate) fn sizing(policy: &ScalingPolicy, input: &PolicyInput<'_>) -> Sizing {
    match policy.target {
        Some(slo) => {
            let needs = calibration::needs(input.scores, policy.per_unit, policy.min);
            Sizing::Slo(calibration::choose(&needs, slo.under_provisioned))
        }
        None => Sizing::Bound(policy.use_bound),
    }
}

/// The value to provision for at `point`, decided at `now`, and the reason's first words: the
/// sized forecast, raised to the `reactive` side's need if the policy has one.
pub(crate) fn need(
    policy: &ScalingPolicy,
    sizing: &Sizing,
    point: &ForecastPoint,
    input: &PolicyInput<'_>,
    now: i64,
) -> (f64, String) {
    let ahead = (point.at_ms - now) / 1000;
    let (value, what) = match sizing {
        Sizing::Slo(choice) => {
            let sigma = calibration::sigma(point, input.interval_level);
            let value = if choice.z == f64::NEG_INFINITY {
                // the record was covered by the floor alone: provision for it
                policy.min * policy.per_unit
            } else {
                // a forecast with no width has nothing to scale: its mean
                point.point + choice.z * sigma
            };
            let what = format!("{}: forecast {value:.1} at +{ahead}s", choice.describe());
            (value, what)
        }
        Sizing::Bound(bound) => {
            let value = forecast_value(point, *bound, input.interval_level);
            let what = format!("{} forecast {value:.1} at +{ahead}s", bound_name(*bound));
            (value, what)
        }
    };
    match policy.reactive {
        Some(reactive) => higher_of_reactive(value, what, input.observed, reactive.headroom),
        None => (value, what),
    }
}

/// Decides the target from a forecast, updating `state`. `None` when there is nothing to act on
/// (no point, or the value is not a number).
pub fn decide(
    policy: &ScalingPolicy,
    state: &mut PolicyState,
    input: &PolicyInput<'_>,
) -> Option<Decision> {
    decide_sized(policy, state, input, &sizing(policy, input))
}

/// [`decide`] with the sizing already chosen (a plan sizes its later points by the same one).
pub(crate) fn decide_sized(
    policy: &ScalingPolicy,
    state: &mut PolicyState,
    input: &PolicyInput<'_>,
    sizing: &Sizing,
) -> Option<Decision> {
    let now = input.issued_at_ms;
    let point = point_at_lead(policy, now, input.points)?;
    let (value, what) = need(policy, sizing, point, input, now);
    settle(
        policy,
        state,
        now,
        value,
        point.at_ms,
        input.scheduled_floor,
        what,
    )
}

/// A combined policy's value: the higher of the forecast's and the newest observed value's with
/// `headroom`, and a reason saying which side won.
pub fn higher_of_reactive(
    forecast: f64,
    what: String,
    observed: Option<f64>,
    headroom: f64,
) -> (f64, String) {
    let Some(observed) = observed.filter(|v| v.is_finite()) else {
        return (
            forecast,
            format!("{what} (reactive side: no observed window yet)"),
        );
    };
    let need = observed * (1.0 + headroom);
    let reactive = format!(
        "observed {observed:.1} with {}% headroom = {need:.1}",
        (headroom * 1000.0).round() / 10.0
    );
    if need > forecast || !forecast.is_finite() {
        (need, format!("reactive side won: {reactive}, above {what}"))
    } else {
        (
            forecast,
            format!("forecast side won: {what}, above reactive {reactive}"),
        )
    }
}

/// Decides the target from an observed value when the forecast cannot be trusted: the value
/// with the fallback's headroom, through the same floors, limits and stabilization.
pub fn decide_reactive(
    policy: &ScalingPolicy,
    state: &mut PolicyState,
    now: i64,
    observed: f64,
    headroom: f64,
    scheduled_floor: Option<f64>,
    why: &str,
) -> Option<Decision> {
    let value = observed * (1.0 + headroom);
    let what = format!(
        "fell back ({why}): observed {observed:.1} with {:.0}% headroom = {value:.1}",
        headroom * 100.0
    );
    settle(policy, state, now, value, now, scheduled_floor, what)
}

/// From the value to provision for, to the target.
pub(crate) fn settle(
    policy: &ScalingPolicy,
    state: &mut PolicyState,
    now: i64,
    value: f64,
    effective_at_ms: i64,
    scheduled_floor: Option<f64>,
    what: String,
) -> Option<Decision> {
    if !value.is_finite() || state.decided_at.is_some_and(|at| now < at) {
        return None;
    }
    let mut notes = Vec::new();
    let raw = units(policy, value);
    notes.push(format!(
        "{what} / {} per unit = {raw} units",
        policy.per_unit
    ));
    let floor = scheduled_floor
        .map_or(policy.min, |f| f.max(policy.min))
        .min(policy.max);
    if floor > policy.min {
        notes.push(format!("scheduled floor {floor}"));
    }
    // Like HPA, the history holds recommendations within [min, max]; a scheduled floor applies
    // after stabilization, so it lasts exactly its window.
    let recommendation = recommendation_of(policy, raw);

    let previous = state.current.map(|(target, _)| target);
    let window = policy
        .stabilization
        .up
        .max(policy.stabilization.down)
        .as_millis_i64();
    // A second decision at the same instant (forecast and fallback) replaces the first.
    if state
        .recommendations
        .back()
        .is_some_and(|(at, _)| *at == now)
    {
        state.recommendations.pop_back();
    }
    state.recommendations.push_back((now, recommendation));
    while state
        .recommendations
        .front()
        .is_some_and(|(at, _)| *at < now.saturating_sub(window))
    {
        state.recommendations.pop_front();
    }

    let target = match state.current {
        None => recommendation,
        Some((current, changed_at)) => {
            let within = |span: presage_template::Duration| {
                let from = now.saturating_sub(span.as_millis_i64());
                state
                    .recommendations
                    .iter()
                    .filter(move |(at, _)| *at >= from)
                    .map(|(_, r)| *r)
            };
            let lowest_up = within(policy.stabilization.up)
                .min()
                .unwrap_or(recommendation);
            let highest_down = within(policy.stabilization.down)
                .max()
                .unwrap_or(recommendation);
            let mut target = if lowest_up > current {
                if lowest_up < recommendation {
                    notes.push(format!(
                        "stabilized up to {lowest_up} (lowest of the last {})",
                        policy.stabilization.up
                    ));
                }
                lowest_up
            } else if highest_down < current {
                if highest_down > recommendation {
                    notes.push(format!(
                        "stabilized down to {highest_down} (highest of the last {})",
                        policy.stabilization.down
                    ));
                }
                highest_down
            } else {
                if recommendation != current {
                    notes.push(format!(
                        "held at {current} by stabilization (recommended {recommendation})"
                    ));
                }
                current
            };
            if let Some(up) = policy.max_step_up {
                let limit = current + up as i64;
                if target > limit {
                    target = limit;
                    notes.push(format!("step up limited to +{up}"));
                }
            }
            if let Some(down) = policy.max_step_down {
                let limit = current - down as i64;
                if target < limit {
                    target = limit;
                    notes.push(format!("step down limited to -{down}"));
                }
            }
            if target < current {
                let cooldown = policy.cooldown.map_or(0, |d| d.as_millis_i64());
                if now - changed_at < cooldown {
                    notes.push(format!(
                        "held at {current}: scale-down cooldown {} since the last change",
                        policy.cooldown.unwrap_or_default()
                    ));
                    target = current;
                }
            }
            target
        }
    };
    let floored = target.max(floor as i64);
    if floored > target {
        notes.push(format!("scheduled floor {floor} overrides: {floored}"));
    }
    let capped = floored.min(policy.max as i64);
    if capped < floored {
        notes.push(format!("capped at max {}", policy.max));
    }
    let target = capped;
    let at_max = held_at_max(policy, raw, target);
    if at_max {
        notes.push(format!("held at max {} (demand needs {raw})", policy.max));
    } else if raw > policy.max {
        notes.push(format!("demand needs {raw}, above max {}", policy.max));
    }
    let at_max_changed = state.current.is_some() && state.at_max != at_max;
    match state.current {
        Some((current, _)) if current == target => {}
        _ => state.current = Some((target, now)),
    }
    state.at_max = at_max;
    state.decided_at = Some(now);
    Some(Decision {
        target,
        previous,
        forecast_value: value,
        effective_at_ms,
        reason: notes.join("; "),
        at_max,
        at_max_changed,
        plan: Vec::new(),
        plan_changed: false,
    })
}

/// The whole units `value` needs (before `[min, max]`).
fn units(policy: &ScalingPolicy, value: f64) -> f64 {
    (value / policy.per_unit).ceil()
}

/// The recommendation a decision adds to the stabilization history: the units within
/// `[min, max]` (like HPA's).
fn recommendation_of(policy: &ScalingPolicy, raw: f64) -> i64 {
    raw.clamp(policy.min, policy.max) as i64
}

/// Whether `target` is held at max: demand needs more units than `max` allows.
fn held_at_max(policy: &ScalingPolicy, raw: f64, target: i64) -> bool {
    raw > policy.max && target == policy.max as i64
}

/// What a decision that provisioned for `value` and set `target` left behind besides its
/// target: its recommendation and whether it is held at max. A plan's step carries its value
/// and target, so a planner that reads the step back from the directive derives the same
/// (see [`crate::plan`]).
pub(crate) fn implied(policy: &ScalingPolicy, value: f64, target: i64) -> (i64, bool) {
    let raw = units(policy, value);
    (
        recommendation_of(policy, raw),
        held_at_max(policy, raw, target),
    )
}

fn bound_name(bound: ForecastBound) -> String {
    bound.name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> ScalingPolicy {
        yaml_serde::from_str(&format!(
            "{{ resource: replicas, metric: rps, per_unit: 100, use: mean, min: 1, max: 20{extra} }}"
        ))
        .unwrap()
    }

    /// Decides on a one-point forecast of `value` at minute `minute`.
    fn at(policy: &ScalingPolicy, state: &mut PolicyState, minute: i64, value: f64) -> i64 {
        let points = [ForecastPoint {
            at_ms: minute * 60_000,
            point: value,
            lower: value,
            upper: value,
        }];
        let input = PolicyInput {
            issued_at_ms: minute * 60_000,
            points: &points,
            interval_level: 0.9,
            scheduled_floor: None,
            scores: &[],
            observed: None,
        };
        decide(policy, state, &input).unwrap().target
    }

    #[test]
    fn a_scale_down_takes_the_highest_recommendation_of_the_down_window() {
        // recommendations 5, 4, 5, 4, 6, 3 a minute apart, down window 2m
        let p = policy(", stabilization: { down: 2m }");
        let mut s = PolicyState::default();
        let targets: Vec<i64> = [500.0, 400.0, 500.0, 400.0, 600.0, 300.0, 300.0, 300.0]
            .iter()
            .enumerate()
            .map(|(m, v)| at(&p, &mut s, m as i64, *v))
            .collect();
        // minute 1: max(5, 4) = 5 holds; minute 5: max(4, 6, 3) = 6; minute 6: max(6, 3, 3) = 6;
        // minute 7: max(3, 3, 3) = 3
        assert_eq!(targets, vec![5, 5, 5, 5, 6, 6, 6, 3]);
    }

    #[test]
    fn a_scale_up_takes_the_lowest_recommendation_of_the_up_window() {
        let p = policy(", stabilization: { up: 1m }");
        let mut s = PolicyState::default();
        let targets: Vec<i64> = [300.0, 900.0, 900.0, 500.0]
            .iter()
            .enumerate()
            .map(|(m, v)| at(&p, &mut s, m as i64, *v))
            .collect();
        // minute 1: min(3, 9) = 3 holds; minute 2: min(9, 9) = 9; minute 3: down to 5 at once
        assert_eq!(targets, vec![3, 3, 9, 5]);
    }

    #[test]
    fn a_scale_down_waits_out_the_cooldown_since_the_last_change() {
        let p = policy(", cooldown: 5m");
        let mut s = PolicyState::default();
        assert_eq!(at(&p, &mut s, 0, 800.0), 8);
        assert_eq!(at(&p, &mut s, 3, 200.0), 8, "3 minutes after the change");
        assert_eq!(at(&p, &mut s, 5, 200.0), 2);
        // a scale-up is never held
        assert_eq!(at(&p, &mut s, 6, 900.0), 9);
    }

    #[test]
    fn a_scheduled_floor_wins_over_the_step_limit() {
        let p = policy(", max_step_up: 1");
        let mut s = PolicyState::default();
        assert_eq!(at(&p, &mut s, 0, 100.0), 1);
        let points = [ForecastPoint {
            at_ms: 60_000,
            point: 100.0,
            lower: 100.0,
            upper: 100.0,
        }];
        let input = PolicyInput {
            issued_at_ms: 60_000,
            points: &points,
            interval_level: 0.9,
            scheduled_floor: Some(6.0),
            scores: &[],
            observed: None,
        };
        let d = decide(&p, &mut s, &input).unwrap();
        assert_eq!((d.target, d.previous), (6, Some(1)));
        assert!(d.reason.contains("scheduled floor 6"), "{}", d.reason);
    }

    /// A one-point forecast at minute 0 of mean `mean`, 90% upper bound `upper`.
    fn one_point(mean: f64, upper: f64) -> [ForecastPoint; 1] {
        [ForecastPoint {
            at_ms: 0,
            point: mean,
            lower: 2.0 * mean - upper,
            upper,
        }]
    }

    fn decide_on(
        p: &ScalingPolicy,
        points: &[ForecastPoint],
        scores: &[calibration::Outcome],
        observed: Option<f64>,
    ) -> Decision {
        let input = PolicyInput {
            issued_at_ms: 0,
            points,
            interval_level: 0.9,
            scheduled_floor: None,
            scores,
            observed,
        };
        decide(p, &mut PolicyState::default(), &input).unwrap()
    }

    #[test]
    fn the_higher_of_forecast_and_reactive_need_is_the_target_and_the_reason_says_which() {
        let p = policy(", reactive: { headroom: 20% }");
        let points = one_point(500.0, 600.0);
        // observed 600 × 1.2 = 720 over the forecast's 500: 8 units
        let d = decide_on(&p, &points, &[], Some(600.0));
        assert_eq!(d.target, 8);
        assert!((d.forecast_value - 720.0).abs() < 1e-9);
        assert!(d.reason.starts_with("reactive side won"), "{}", d.reason);
        // observed 300 × 1.2 = 360 under it: the forecast's 5
        let d = decide_on(&p, &points, &[], Some(300.0));
        assert_eq!(d.target, 5);
        assert!(d.reason.starts_with("forecast side won"), "{}", d.reason);
        // nothing observed yet (or an unknown window): the forecast alone, said so
        let d = decide_on(&p, &points, &[], Some(f64::NAN));
        assert_eq!(d.target, 5);
        assert!(d.reason.contains("no observed window yet"), "{}", d.reason);
    }

    #[test]
    fn the_reactive_side_goes_through_the_same_limits() {
        let p = policy(", reactive: { headroom: 50% }, max_step_up: 2");
        let mut s = PolicyState::default();
        assert_eq!(at(&p, &mut s, 0, 100.0), 1);
        let points = [ForecastPoint {
            at_ms: 60_000,
            point: 100.0,
            lower: 100.0,
            upper: 100.0,
        }];
        let input = PolicyInput {
            issued_at_ms: 60_000,
            points: &points,
            interval_level: 0.9,
            scheduled_floor: None,
            scores: &[],
            observed: Some(1000.0),
        };
        let d = decide(&p, &mut s, &input).unwrap();
        // 1500 asks for 15 units; the step limit allows 1 + 2
        assert_eq!(d.target, 3);
        assert!(d.reason.contains("step up limited to +2"), "{}", d.reason);
    }

    #[test]
    fn an_slo_policy_provisions_at_its_records_quantile_and_says_so() {
        let p = policy_without_use(", target: { under_provisioned: 1% }");
        // σ = 100 / z(0.95): the forecast 1000, upper 1100
        let points = one_point(1000.0, 1000.0 + 100.0);
        let sigma = 100.0 / normal_quantile(0.95);
        // 400 windows of 1099 forecast at 1000 − i (σ 100), i = 1..400: errors (99 + i)/100,
        // but 11 units (1100) cover each, reached just above headroom i/100. For 1%: rank 397
        // → 3.97, where the raw errors would ask for 4.96
        let scores: Vec<calibration::Outcome> = (1..=400)
            .map(|i| calibration::Outcome {
                mean: 1000.0 - f64::from(i),
                sigma: 100.0,
                value: 1099.0,
            })
            .collect();
        let d = decide_on(&p, &points, &scores, None);
        assert!((d.forecast_value - (1000.0 + 3.97 * sigma)).abs() < 1e-6);
        assert_eq!(d.target, ((1000.0 + 3.97 * sigma) / 100.0).ceil() as i64);
        let errors: Vec<f64> = scores.iter().map(calibration::Outcome::error).collect();
        assert!((calibration::choose(&errors, 0.01).z - 4.96).abs() < 1e-9);
        assert!(
            d.reason.contains("chosen for under_provisioned ≤ 1%")
                && d.reason.contains(
                    "conformal quantile of 400 recent windows' headroom needed once rounded up \
                     to whole units (3 short at it"
                ),
            "{}",
            d.reason
        );
        // a stricter SLO on the same record never provisions less
        let strict = policy_without_use(", target: { under_provisioned: 0.5% }");
        assert!(decide_on(&strict, &points, &scores, None).forecast_value >= d.forecast_value);
        // no record yet: the normal quantile
        let d = decide_on(&p, &points, &[], None);
        assert!((d.forecast_value - (1000.0 + normal_quantile(0.99) * sigma)).abs() < 1e-6);
        assert!(d.reason.contains("p99 (mean + 2.33σ)"), "{}", d.reason);
    }

    #[test]
    fn an_slo_policy_whose_record_the_floor_covered_provisions_for_the_floor() {
        let p = policy_without_use(", target: { under_provisioned: 1% }");
        // 400 windows of at most 100 (one unit, the floor), forecast at 80 ± a little
        let scores: Vec<calibration::Outcome> = (0..400)
            .map(|i| calibration::Outcome {
                mean: 80.0,
                sigma: 5.0,
                value: f64::from(i % 101),
            })
            .collect();
        let d = decide_on(&p, &one_point(1000.0, 1100.0), &scores, None);
        assert_eq!((d.target, d.forecast_value), (1, 100.0));
        assert!(
            d.reason
                .starts_with("the floor alone chosen for under_provisioned ≤ 1%: the conformal"),
            "{}",
            d.reason
        );
    }

    fn policy_without_use(extra: &str) -> ScalingPolicy {
        yaml_serde::from_str(&format!(
            "{{ resource: replicas, metric: rps, per_unit: 100, min: 1, max: 200{extra} }}"
        ))
        .unwrap()
    }
}
