//! `plan: { ahead: 12h }` on a scaling policy: besides the target for its lead instant, each
//! directive schedules the targets the forecast's path needs later on (a plan), so capacity
//! follows a ramp the forecast saw even if no newer forecast arrives before it (a forecaster
//! outage, a quiet night before a morning opening). The next directive supersedes the steps not
//! yet due (see `presage_events::plan`).
//!
//! Opt-in: a policy without `plan` issues single-point directives, as before.

use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::model::{ScalingPolicy, Template};
use crate::path::YamlPath;
use crate::Duration;

/// The furthest a plan may reach: 7 days. A directive's step due further past its issue is
/// ignored by whoever carries plans out (`presage_events::plan::MAX_AHEAD_MS`, the same span;
/// the planner's tests hold the two equal), so a template asking for more is refused rather
/// than planning steps no one would apply.
pub const MAX_AHEAD: Duration = Duration::from_millis(7 * 24 * 3_600_000);

/// `plan: { ahead: 12h }`: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanAhead {
    /// How far past the decision the plan reaches: forecast instants up to `issued + ahead`
    /// are planned for (those beyond the forecast's horizon are not there to plan).
    pub ahead: Duration,
}

/// A policy's `plan`, checked where the types cannot: `ahead` positive and at most
/// [`MAX_AHEAD`]; the policy driven by a
/// forecast; the forecast's horizon reaching past the policy's lead (`lead_time` +
/// `provisioning_delay`) by at least one window of its recipe, so there is a later instant to
/// plan for; and `ahead` within that horizon and beyond `lead_time` by a window, so a step can
/// fall into it.
pub(crate) fn check(t: &Template, s: &ScalingPolicy, p: &YamlPath, out: &mut Vec<Finding>) {
    let Some(plan) = s.plan else {
        return;
    };
    let res = &s.resource;
    let at = p.key("plan");
    if plan.ahead.is_zero() {
        out.push(Finding::at(
            at.key("ahead"),
            format!(
                "plan ahead of the scaling policy for {res:?} is 0s: expected how far past each \
                 decision to plan, like 12h"
            ),
        ));
        return;
    }
    if plan.ahead > MAX_AHEAD {
        out.push(Finding::at(
            at.key("ahead"),
            format!(
                "plan ahead {} of the scaling policy for {res:?} is beyond {MAX_AHEAD}: a step \
                 due more than {MAX_AHEAD} after its directive is ignored when plans are carried \
                 out (expected ahead of at most {MAX_AHEAD})",
                plan.ahead
            ),
        ));
        return;
    }
    let algorithms: Vec<(usize, Duration)> = t
        .dynamic_metadata
        .prediction_algorithms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.target == s.metric)
        .map(|(i, a)| (i, a.horizon))
        .collect();
    let Some(&(index, horizon)) = algorithms.iter().max_by_key(|(_, h)| *h) else {
        out.push(
            Finding::at(
                at.clone(),
                format!(
                    "plan on the scaling policy for {res:?}: no prediction forecasts its metric \
                     {:?}, and a plan is made from a forecast's path (expected a \
                     prediction_algorithms entry with target {:?}, or no plan)",
                    s.metric, s.metric
                ),
            )
            .reading([at.clone(), p.key("metric")]),
        );
        return;
    };
    let Some(recipe) = t.recipe(&s.metric) else {
        return; // the unknown metric is reported on its own
    };
    let (_, slide_ms) = recipe.window.size_and_slide_ms();
    let lead = s.lead_time.map_or(0, |d| d.as_millis());
    let delay = s.provisioning_delay.map_or(0, |d| d.as_millis());
    let needed = Duration::from_millis(lead + delay + slide_ms);
    let horizon_at = YamlPath::root()
        .key("dynamic_metadata")
        .key("prediction_algorithms")
        .index(index)
        .key("horizon");
    if horizon < needed {
        out.push(
            Finding::at(
                at.key("ahead"),
                format!(
                    "plan on the scaling policy for {res:?} cannot plan: the forecast of {:?} \
                     reaches {horizon}, not past lead_time plus provisioning_delay by one window \
                     ({needed} needed; expected a longer horizon, or no plan)",
                    s.metric
                ),
            )
            .reading([
                at.key("ahead"),
                horizon_at,
                p.key("lead_time"),
                p.key("provisioning_delay"),
            ]),
        );
    } else if plan.ahead > horizon {
        out.push(
            Finding::at(
                at.key("ahead"),
                format!(
                    "plan ahead {} of the scaling policy for {res:?} is beyond the horizon \
                     {horizon} of the forecast of {:?}: the plan would stop at the horizon \
                     (expected ahead of at most {horizon}, or a longer horizon)",
                    plan.ahead, s.metric
                ),
            )
            .reading([at.key("ahead"), horizon_at]),
        );
    } else if plan.ahead.as_millis() < lead + slide_ms {
        out.push(
            Finding::at(
                at.key("ahead"),
                format!(
                    "plan ahead {} of the scaling policy for {res:?} ends before the first \
                     window after its lead_time: nothing to plan (expected at least {})",
                    plan.ahead,
                    Duration::from_millis(lead + slide_ms)
                ),
            )
            .reading([at.key("ahead"), p.key("lead_time")]),
        );
    }
}
