//! The frontier at an SLO: for each contender, the cheapest setting whose under-provisioned
//! time is at most the SLO, and every setting tried on the way (cost against under-provisioning).
//!
//! - **forecast policy**, by the quantile it provisions for (`use: pNN`): the planner core is
//!   replayed over what the replay fed it (observations and forecasts, in order) with only the
//!   policy's `use` changed. The forecasts do not depend on the policy, so the forecaster is not
//!   run again.
//! - **reactive baseline**, by headroom: it provisions for demand × (1 + headroom), i.e. a target
//!   utilisation of 1 / (1 + headroom).
//! - **combined**: the higher of the forecast policy's target and the reactive one's, over a
//!   small grid of (quantile, headroom).
//! - **oracle**: one point, nothing to tune.
//!
//! Search: each setting runs on a ladder, cheapest first. A coarse pass evaluates every few
//! rungs, then bisection narrows the step between the last coarse rung that misses the SLO and
//! the first that meets it. That finds the cheapest rung when under-provisioning falls as the
//! setting rises (it does, but for noise: a higher quantile can shift a stabilization window).
//! Every evaluated point is kept; the choice is the cheapest evaluated point that meets the SLO,
//! and the curve says when it was not monotone over the points evaluated.

use std::collections::BTreeMap;
use std::sync::Arc;

use presage_planner::{Planner, LIVE};
use presage_template::{ForecastBound, ScalingPolicy, Template, Zone};

use crate::baseline::reactive_with_headroom;
use crate::capacity::{simulate, Action};
use crate::combined::higher_of;
use crate::replay::PlannerInput;
use crate::report::{DemandStep, FrontierCurve, FrontierKind, FrontierPoint, Score};
use crate::score::score;

/// Combined contenders try these quantiles (rungs of the forecast ladder)…
const COMBINED_QUANTILES: [f64; 6] = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99];
/// …with each of these headrooms for the reactive part.
const COMBINED_HEADROOMS: [f64; 8] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0];
/// Headroom rungs are 1% of demand apart, up to this much (1000% = eleven times the demand).
const HEADROOM_RUNGS: usize = 1001;
/// The coarse passes' strides (rungs), then bisection.
const QUANTILE_STRIDE: usize = 4;
const HEADROOM_STRIDE: usize = 50;

/// The quantiles tried for a forecast policy: p50 to p90 by 5, p91 to p99 by 1, p99.1 to p99.9
/// by 0.1, p99.95 and p99.99.
pub fn quantile_ladder() -> Vec<f64> {
    let mut ladder: Vec<f64> = (10..=18).map(|i| f64::from(i) / 20.0).collect();
    ladder.extend((91..=99).map(|i| f64::from(i) / 100.0));
    ladder.extend((991..=999).map(|i| f64::from(i) / 1000.0));
    ladder.extend([0.9995, 0.9999]);
    ladder
}

/// `p97.5`, `p99.95`.
pub fn quantile_name(q: f64) -> String {
    format!("p{}", (q * 10_000.0).round() / 100.0)
}

/// `+25%`.
pub fn headroom_name(h: f64) -> String {
    format!("+{}%", (h * 1000.0).round() / 10.0)
}

/// How a setting's capacity is scored: the series' demand over its scored range, the
/// policy's units, delay and starting units.
#[derive(Debug, Clone, Copy)]
pub struct Scoring<'a> {
    pub demand: &'a [DemandStep],
    pub from_ms: i64,
    pub scored_from_ms: i64,
    pub scored_to_ms: i64,
    pub per_unit: f64,
    pub delay_ms: i64,
    pub initial: i64,
}

impl Scoring<'_> {
    pub fn score(&self, actions: &[Action]) -> Score {
        let capacity = simulate(self.initial, self.from_ms, actions, self.delay_ms);
        score(
            self.demand,
            &capacity,
            self.per_unit,
            self.scored_from_ms,
            self.scored_to_ms,
            0,
        )
    }
}

/// The targets the planner would have given `policy` with `use: bound` instead, from the same
/// inputs (the app's observations and forecasts as the replay fed them, in order).
pub fn replan(
    template: &Template,
    version: &str,
    policy: &ScalingPolicy,
    bound: ForecastBound,
    inputs: &[PlannerInput],
) -> Vec<Action> {
    let mut changed = template.clone();
    // Only this resource's live policies: the others' directives would be read by no one.
    changed
        .dynamic_metadata
        .scaling_policies
        .retain(|p| !p.shadow && p.resource == policy.resource);
    for p in &mut changed.dynamic_metadata.scaling_policies {
        if p.metric == policy.metric {
            *p = ScalingPolicy {
                use_bound: bound,
                ..p.clone()
            };
        }
    }
    let mut planner = Planner::new();
    planner.set_template(version, Arc::new(changed));
    let mut directives = Vec::new();
    for input in inputs {
        let decided = match input {
            PlannerInput::Observed(derived) => planner.on_observed(derived),
            PlannerInput::Forecast(forecast) => planner.on_forecast(forecast),
        };
        // What the planner refused, it refused in the replay too (counted there).
        if let Ok(decided) = decided {
            directives.extend(decided);
        }
    }
    crate::backtest::targets_of(&directives, &template.app, LIVE, &policy.resource)
}

/// Whether the policy states an SLO `target` (the planner then chooses its quantile from its
/// own record, so there is no quantile to search: the policy is scored at its own setting).
pub fn states_slo_target(policy: &ScalingPolicy) -> bool {
    policy.target.is_some()
}

/// How a policy that is not searched is named on its curve: its SLO target, else its `use`.
fn own_setting(policy: &ScalingPolicy) -> String {
    match &policy.target {
        Some(target) => format!(
            "target {}%",
            (target.under_provisioned * 100_000.0).round() / 1000.0
        ),
        None => policy.use_bound.name(),
    }
}

/// What the frontier of one series is built from.
pub struct FrontierInput<'a> {
    pub template: &'a Template,
    pub version: &'a str,
    pub policy: &'a ScalingPolicy,
    pub zone: Zone,
    /// The app's planner inputs, in order.
    pub inputs: &'a [PlannerInput],
    /// The policy's targets as the replay issued them (its own setting).
    pub own: &'a [Action],
    /// The name the policy's contender has in the scorecard.
    pub name: &'a str,
    pub scoring: Scoring<'a>,
    /// The oracle's score.
    pub oracle: Score,
}

/// Every contender's curve at `slo_pct` (%).
pub fn frontier(input: &FrontierInput<'_>, slo_pct: f64) -> Vec<FrontierCurve> {
    let ladder = quantile_ladder();
    let mut quantile_actions: BTreeMap<usize, Vec<Action>> = BTreeMap::new();
    let mut actions_at = |rung: usize| -> Vec<Action> {
        quantile_actions
            .entry(rung)
            .or_insert_with(|| {
                replan(
                    input.template,
                    input.version,
                    input.policy,
                    ForecastBound::Quantile(ladder[rung]),
                    input.inputs,
                )
            })
            .clone()
    };
    let scoring = input.scoring;
    let fixed = states_slo_target(input.policy);

    // The forecast policy, by quantile (or at its own setting when it states an SLO target).
    let forecast = if fixed {
        let own = scoring.score(input.own);
        let point = point(own_setting(input.policy), None, None, own, slo_pct);
        curve(
            input.name,
            FrontierKind::Forecast,
            vec![point],
            "the policy states an SLO target: scored at its own setting (the planner chooses \
             its quantile), not searched"
                .to_string(),
        )
    } else {
        let evaluated = search(ladder.len(), QUANTILE_STRIDE, slo_pct, &mut |rung| {
            scoring.score(&actions_at(rung))
        });
        let points = evaluated
            .iter()
            .map(|(&rung, &s)| {
                let q = ladder[rung];
                point(quantile_name(q), Some(q), None, s, slo_pct)
            })
            .collect();
        curve(
            input.name,
            FrontierKind::Forecast,
            points,
            format!(
                "`use` searched over {} quantiles from p50 to p99.99 (coarse pass, then \
                 bisection); the planner replayed over the recorded forecasts",
                ladder.len()
            ),
        )
    };

    // The reactive baseline, by headroom.
    let headroom = |rung: usize| rung as f64 / 100.0;
    let mut reactive_actions: BTreeMap<u64, Vec<Action>> = BTreeMap::new();
    let mut reactive_at = |h: f64| -> Vec<Action> {
        reactive_actions
            .entry((h * 1000.0).round() as u64)
            .or_insert_with(|| reactive_with_headroom(input.policy, input.zone, scoring.demand, h))
            .clone()
    };
    let evaluated = search(HEADROOM_RUNGS, HEADROOM_STRIDE, slo_pct, &mut |rung| {
        scoring.score(&reactive_at(headroom(rung)))
    });
    let points = evaluated
        .iter()
        .map(|(&rung, &s)| {
            let h = headroom(rung);
            point(headroom_name(h), None, Some(h), s, slo_pct)
        })
        .collect();
    let reactive = curve(
        crate::REACTIVE,
        FrontierKind::Reactive,
        points,
        "provisions for demand × (1 + headroom), a target utilisation of 1 / (1 + headroom); \
         headroom searched from 0% to 1000% by 1% (coarse pass, then bisection)"
            .to_string(),
    );

    // The two combined, over a small grid.
    let mut points = Vec::new();
    let parts: Vec<(Option<f64>, Vec<Action>)> = if fixed {
        vec![(None, input.own.to_vec())]
    } else {
        COMBINED_QUANTILES
            .iter()
            .filter_map(|q| ladder.iter().position(|l| (l - q).abs() < 1e-12))
            .map(|rung| (Some(ladder[rung]), actions_at(rung)))
            .collect()
    };
    for (q, forecast_part) in &parts {
        for &h in &COMBINED_HEADROOMS {
            let actions = higher_of(scoring.initial, forecast_part, &reactive_at(h));
            let name = match q {
                Some(q) => format!("{} {}", quantile_name(*q), headroom_name(h)),
                None => format!("{} {}", own_setting(input.policy), headroom_name(h)),
            };
            points.push(point(name, *q, Some(h), scoring.score(&actions), slo_pct));
        }
    }
    let mut combined = curve(
        &format!("combined: {} + reactive", input.name),
        FrontierKind::Combined,
        points,
        format!(
            "the higher of the policy's target and the reactive one's with headroom; grid of \
             {} quantile(s) × {} headrooms",
            parts.len(),
            COMBINED_HEADROOMS.len()
        ),
    );
    // A grid has no single order: its monotonicity is not a question.
    combined.monotone = true;

    let oracle = curve(
        crate::ORACLE,
        FrontierKind::Oracle,
        vec![point("-".to_string(), None, None, input.oracle, slo_pct)],
        "perfect foresight: nothing to tune".to_string(),
    );
    vec![forecast, reactive, combined, oracle]
}

/// Evaluates rungs of a ladder of `rungs` settings (cheapest first): every `stride`-th and the
/// last, then bisection between the last coarse rung missing the SLO and the first meeting it.
pub fn search(
    rungs: usize,
    stride: usize,
    slo_pct: f64,
    eval: &mut dyn FnMut(usize) -> Score,
) -> BTreeMap<usize, Score> {
    let mut seen: BTreeMap<usize, Score> = BTreeMap::new();
    if rungs == 0 {
        return seen;
    }
    let meets = |s: &Score| s.under_provisioned_pct <= slo_pct;
    let mut coarse: Vec<usize> = (0..rungs).step_by(stride.max(1)).collect();
    if coarse.last() != Some(&(rungs - 1)) {
        coarse.push(rungs - 1);
    }
    for &rung in &coarse {
        seen.insert(rung, eval(rung));
    }
    let Some(at) = coarse.iter().position(|r| meets(&seen[r])) else {
        return seen;
    };
    if at == 0 {
        return seen;
    }
    let (mut missing, mut meeting) = (coarse[at - 1], coarse[at]);
    while meeting - missing > 1 {
        let middle = missing + (meeting - missing) / 2;
        let s = eval(middle);
        seen.insert(middle, s);
        if meets(&s) {
            meeting = middle;
        } else {
            missing = middle;
        }
    }
    seen
}

fn point(
    setting: String,
    quantile: Option<f64>,
    headroom: Option<f64>,
    s: Score,
    slo_pct: f64,
) -> FrontierPoint {
    FrontierPoint {
        setting,
        quantile,
        headroom,
        unit_hours: s.unit_hours,
        under_provisioned_pct: s.under_provisioned_pct,
        under_depth_mean_pct: s.under_depth_mean_pct,
        meets: s.under_provisioned_pct <= slo_pct,
    }
}

/// A curve with its choice: the cheapest point meeting the SLO, else the least short.
fn curve(
    name: &str,
    kind: FrontierKind,
    points: Vec<FrontierPoint>,
    note: String,
) -> FrontierCurve {
    let cheapest = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.meets)
        .min_by(|(_, a), (_, b)| a.unit_hours.total_cmp(&b.unit_hours))
        .map(|(i, _)| i);
    let least_short = || {
        points
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| {
                a.under_provisioned_pct
                    .total_cmp(&b.under_provisioned_pct)
                    .then(a.unit_hours.total_cmp(&b.unit_hours))
            })
            .map(|(i, _)| i)
    };
    let monotone = points
        .windows(2)
        .all(|w| w[1].under_provisioned_pct <= w[0].under_provisioned_pct + 1e-9);
    FrontierCurve {
        name: name.to_string(),
        kind,
        chosen: cheapest.or_else(least_short),
        meets: cheapest.is_some(),
        monotone,
        note,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(under: f64, cost: f64) -> Score {
        Score {
            unit_hours: cost,
            slack_pct: 0.0,
            under_provisioned_pct: under,
            under_depth_mean_pct: 0.0,
            under_depth_max_pct: 0.0,
            actions: 0,
            covered_hours: 1.0,
            gap_hours: 0.0,
        }
    }

    #[test]
    fn bisection_finds_the_first_rung_that_meets_a_monotone_curve() {
        // under = 100 − rung, cost = rung: the SLO 37.5 is first met at rung 63.
        let mut calls = 0;
        let seen = search(101, 10, 37.5, &mut |r| {
            calls += 1;
            scored(100.0 - r as f64, r as f64)
        });
        let first = seen
            .iter()
            .find(|(_, s)| s.under_provisioned_pct <= 37.5)
            .map(|(r, _)| *r);
        assert_eq!(first, Some(63));
        assert!(
            seen.contains_key(&62),
            "the rung below was evaluated and misses"
        );
        assert!(calls < 20, "{calls} evaluations");
    }

    #[test]
    fn a_curve_chooses_the_cheapest_meeting_point_even_when_not_monotone() {
        let points = vec![
            point("a".into(), None, None, scored(2.0, 10.0), 1.0),
            point("b".into(), None, None, scored(0.5, 20.0), 1.0),
            point("c".into(), None, None, scored(0.8, 15.0), 1.0),
        ];
        let c = curve("x", FrontierKind::Forecast, points, String::new());
        assert_eq!((c.chosen, c.meets, c.monotone), (Some(2), true, false));
    }

    #[test]
    fn when_nothing_meets_the_least_short_point_is_reported() {
        let points = vec![
            point("a".into(), None, None, scored(2.0, 10.0), 0.1),
            point("b".into(), None, None, scored(0.9, 20.0), 0.1),
        ];
        let c = curve("x", FrontierKind::Reactive, points, String::new());
        assert_eq!((c.chosen, c.meets), (Some(1), false));
    }

    #[test]
    fn settings_read_as_a_template_writes_them() {
        assert_eq!(quantile_name(0.975), "p97.5");
        assert_eq!(quantile_name(0.9995), "p99.95");
        assert_eq!(quantile_name(0.91), "p91");
        assert_eq!(headroom_name(0.25), "+25%");
        let ladder = quantile_ladder();
        assert!(ladder.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((ladder[0], *ladder.last().unwrap()), (0.5, 0.9999));
    }
}
