//! What a scaling policy promises instead of naming a quantile, and the reactive side a forecast
//! policy can be combined with.
//!
//! - `target: { under_provisioned: 0.5%, window: 7d }`: the planner provisions at the quantile
//!   of the forecast that its own recent record says keeps windows short of capacity at most
//!   that often (conformal calibration over the last `window`; see the planner's
//!   `calibration`). Written instead of `use:`.
//! - `reactive: { headroom: 20% }`: the target is the higher of the forecast's and the newest
//!   observed value's with that headroom, as AWS pairs predictive with dynamic scaling.
//!
//! Shares are written `0.5%` or as a fraction `0.005`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::finding::Finding;
use crate::model::{ScalingPolicy, Template};
use crate::path::YamlPath;
use crate::Duration;

/// The record a calibration keeps by default: a week holds every hour of every weekday once.
pub const DEFAULT_SLO_WINDOW: Duration = Duration::from_millis(7 * 86_400_000);
/// Shortest record: less than an hour of windows says nothing of a tail.
pub const MIN_SLO_WINDOW: Duration = Duration::from_millis(3_600_000);
/// Longest record: the planner reads it back from the topics on start (see its `main.rs`).
pub const MAX_SLO_WINDOW: Duration = Duration::from_millis(28 * 86_400_000);
/// At most this many windows in a record (each decision takes a quantile over it).
pub const MAX_SLO_WINDOWS: u64 = 50_000;
/// The highest reactive headroom (500%): more is a typo for a fraction.
pub const MAX_REACTIVE_HEADROOM: f64 = 5.0;

/// `target: { under_provisioned: 0.5% }`: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloTarget {
    /// The share of windows allowed to be short of capacity, as a fraction (0.005 = 0.5%).
    #[serde(deserialize_with = "share")]
    pub under_provisioned: f64,
    /// How far back the policy's record of forecasts and observed windows goes.
    #[serde(default = "default_window")]
    pub window: Duration,
}

fn default_window() -> Duration {
    DEFAULT_SLO_WINDOW
}

/// `reactive: { headroom: 20% }`: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactiveSide {
    /// The newest observed value is provisioned for with this much headroom (0.2 = 20%).
    #[serde(deserialize_with = "share")]
    pub headroom: f64,
}

/// A share written `0.5%` (a percentage) or `0.005` (a fraction).
pub fn share<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    deserializer.deserialize_any(ShareVisitor)
}

struct ShareVisitor;

impl Visitor<'_> for ShareVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a percentage like 0.5% or a fraction like 0.005")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<f64, E> {
        let number = text.trim().strip_suffix('%').ok_or_else(|| {
            E::custom(format!(
                "{text:?} is not a share: expected a percentage like 0.5% or a fraction like 0.005"
            ))
        })?;
        number
            .trim()
            .parse::<f64>()
            .map(|p| p / 100.0)
            .map_err(|_| E::custom(format!("{text:?} is not a percentage: expected like 0.5%")))
    }
}

/// A share as templates write it: `0.5%`.
pub fn percent(share: f64) -> String {
    // to a thousandth of a percent, so 0.005 reads 0.5%, not 0.49999999999999994%
    format!("{}%", (share * 100_000.0).round() / 1000.0)
}

/// A policy's `target` and `reactive`, checked where the types cannot: the SLO strictly between
/// 0% and 50%, a record window between [`MIN_SLO_WINDOW`] and [`MAX_SLO_WINDOW`] holding at
/// most [`MAX_SLO_WINDOWS`] of the metric's windows and enough of them to calibrate the SLO,
/// a finite headroom from 0 to [`MAX_REACTIVE_HEADROOM`].
pub(crate) fn check(t: &Template, s: &ScalingPolicy, p: &YamlPath, out: &mut Vec<Finding>) {
    let res = &s.resource;
    if let Some(target) = &s.target {
        let at = p.key("target");
        let slo = target.under_provisioned;
        if !(slo.is_finite() && slo > 0.0 && slo < 0.5) {
            out.push(Finding::at(
                at.key("under_provisioned"),
                format!(
                    "under_provisioned {} of the scaling policy for {res:?} is not between 0% and \
                     50%: expected the share of windows that may be short of capacity, like 0.5%",
                    percent(slo)
                ),
            ));
        }
        let window = target.window;
        if window < MIN_SLO_WINDOW || window > MAX_SLO_WINDOW {
            out.push(Finding::at(
                at.key("window"),
                format!(
                    "window {window} of the scaling policy for {res:?} is not between \
                     {MIN_SLO_WINDOW} and {MAX_SLO_WINDOW}: expected how far back its record of \
                     forecasts and demand goes, like 7d"
                ),
            ));
        } else if let Some(recipe) = t.recipe(&s.metric) {
            let (_, slide_ms) = recipe.window.size_and_slide_ms();
            let windows = window.as_millis() / slide_ms.max(1);
            let needed = needed_windows(slo);
            if windows > MAX_SLO_WINDOWS {
                out.push(Finding::at(
                    at.key("window"),
                    format!(
                        "window {window} of the scaling policy for {res:?} holds {windows} \
                         windows of recipe {:?}: at most {MAX_SLO_WINDOWS} (a shorter window)",
                        s.metric
                    ),
                ));
            } else if slo.is_finite() && slo > 0.0 && slo < 0.5 && windows < needed {
                out.push(
                    Finding::at(
                        at.key("window"),
                        format!(
                            "window {window} of the scaling policy for {res:?} holds {windows} \
                             windows of recipe {:?}: calibrating under_provisioned {} needs at \
                             least {needed} (a longer window, or a looser SLO)",
                            s.metric,
                            percent(slo)
                        ),
                    )
                    .reading([at.key("window"), at.key("under_provisioned")]),
                );
            }
        }
    }
    if let Some(reactive) = &s.reactive {
        let h = reactive.headroom;
        if !(h.is_finite() && (0.0..=MAX_REACTIVE_HEADROOM).contains(&h)) {
            out.push(Finding::at(
                p.key("reactive").key("headroom"),
                format!(
                    "reactive headroom {} of the scaling policy for {res:?} is not between 0% and \
                     {}: expected how far above the newest observed value to provision, like 20%",
                    percent(h),
                    percent(MAX_REACTIVE_HEADROOM)
                ),
            ));
        }
    }
}

/// The rank (1-based, from the smallest) of the split-conformal (1 − `slo`) quantile among `n`
/// scores: ceil((n + 1)(1 − slo)). Above `n`, the record is too short for the quantile to exist.
pub fn conformal_rank(n: usize, slo: f64) -> usize {
    // less a hair, so that 200 × 0.995 is 199 whichever way the product rounds
    ((n as f64 + 1.0) * (1.0 - slo) - 1e-9).ceil().max(1.0) as usize
}

/// The fewest scores whose conformal (1 − `slo`) quantile exists: the smallest n with
/// [`conformal_rank`] at most n.
pub fn needed_windows(slo: f64) -> u64 {
    if !(slo > 0.0 && slo < 1.0) {
        return u64::MAX;
    }
    let mut n = ((1.0 - slo) / slo).floor().max(1.0) as usize;
    while conformal_rank(n, slo) > n {
        n += 1;
    }
    n as u64
}

/// `use:` and `target:` both on one policy: one names the quantile, the other asks the planner to
/// choose it. Read from the document, as `use` has a default the model cannot tell from a
/// written one.
pub(crate) fn use_with_target(doc: &yaml_serde::Value) -> Vec<Finding> {
    let policies = doc
        .get("dynamic_metadata")
        .and_then(|dm| dm.get("scaling_policies"))
        .and_then(|p| p.as_sequence());
    let Some(policies) = policies else {
        return Vec::new();
    };
    let root = YamlPath::root()
        .key("dynamic_metadata")
        .key("scaling_policies");
    policies
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let given = |key: &str| p.get(key).is_some_and(|v| !v.is_null());
            given("use") && given("target")
        })
        .map(|(i, _)| {
            Finding::at_key(
                root.index(i).key("use"),
                "use and target both given on one scaling policy: use names the quantile to \
                 provision at, target asks the planner to choose it for an SLO; keep one",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_read_as_percentages_or_fractions() {
        let t: SloTarget = yaml_serde::from_str("{ under_provisioned: 0.5% }").unwrap();
        assert!((t.under_provisioned - 0.005).abs() < 1e-12);
        assert_eq!(t.window, DEFAULT_SLO_WINDOW);
        let t: SloTarget = yaml_serde::from_str("{ under_provisioned: 0.02, window: 3d }").unwrap();
        assert!((t.under_provisioned - 0.02).abs() < 1e-12);
        assert_eq!(t.window.as_millis(), 3 * 86_400_000);
        let r: ReactiveSide = yaml_serde::from_str("{ headroom: 20% }").unwrap();
        assert!((r.headroom - 0.2).abs() < 1e-12);
        let e = yaml_serde::from_str::<SloTarget>("{ under_provisioned: half }").unwrap_err();
        assert!(e.to_string().contains("not a share"), "{e}");
        assert_eq!(percent(0.005), "0.5%");
    }

    #[test]
    fn the_fewest_windows_a_quantile_needs() {
        // ceil(200 × 0.995) = 199 <= 199; with 198 it would be the 199th of 198
        assert_eq!(needed_windows(0.005), 199);
        assert_eq!(needed_windows(0.05), 19);
        assert_eq!(needed_windows(0.3), 3);
    }
}
