//! Scaling policies: how a forecast becomes a target. Each policy kind of the template maps to
//! one implementation of [`ScalingRule`].

use presage_events::ForecastPoint;
use presage_template::{ForecastBound, ScalingPolicy};

/// What a policy sees: the forecast points and the target it set last time, if any.
#[derive(Debug, Clone)]
pub struct PolicyInput<'a> {
    pub issued_at_ms: i64,
    pub points: &'a [ForecastPoint],
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Previous {
    pub target: i64,
    pub issued_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub target: i64,
    pub forecast_value: f64,
    pub effective_at_ms: i64,
    pub reason: String,
}

pub trait ScalingRule {
    /// `None` when the policy holds (no change, cooldown, or nothing to act on).
    fn decide(&self, input: &PolicyInput<'_>) -> Option<Decision>;
}

/// Target tracking: enough units that each carries at most `per_unit` of the forecast demand,
/// for the demand expected `lead_time` from now, clamped to `[min, max]` and to the step limits.
pub struct TargetTracking<'a>(pub &'a ScalingPolicy);

impl ScalingRule for TargetTracking<'_> {
    fn decide(&self, input: &PolicyInput<'_>) -> Option<Decision> {
        let policy = self.0;
        let lead_ms = policy.lead_time.map(|d| d.as_millis() as i64).unwrap_or(0);
        let wanted_at = input.issued_at_ms + lead_ms;
        // The first point at or after the lead time; the last point if the horizon is shorter.
        let point = input
            .points
            .iter()
            .find(|p| p.at_ms >= wanted_at)
            .or_else(|| input.points.last())?;
        let value = match policy.use_bound {
            ForecastBound::Point => point.point,
            ForecastBound::Upper => point.upper,
            ForecastBound::Lower => point.lower,
        };
        if !value.is_finite() {
            return None;
        }
        let raw = (value / policy.per_unit).ceil();
        let mut target = raw.clamp(policy.min, policy.max) as i64;
        let mut notes = vec![format!(
            "{bound:?} forecast {value:.3} / per_unit {per} = {raw} units",
            bound = policy.use_bound,
            per = policy.per_unit
        )];
        if raw < policy.min || raw > policy.max {
            notes.push(format!("clamped to [{}, {}]", policy.min, policy.max));
        }
        if let Some(previous) = input.previous {
            if let Some(up) = policy.max_step_up {
                let limit = previous.target + up as i64;
                if target > limit {
                    target = limit;
                    notes.push(format!("step up limited to +{up}"));
                }
            }
            if let Some(down) = policy.max_step_down {
                let limit = previous.target - down as i64;
                if target < limit {
                    target = limit;
                    notes.push(format!("step down limited to -{down}"));
                }
            }
            if target == previous.target {
                return None;
            }
            if target < previous.target {
                let cooldown = policy.cooldown.map(|d| d.as_millis() as i64).unwrap_or(0);
                if input.issued_at_ms - previous.issued_at_ms < cooldown {
                    return None;
                }
            }
        }
        Some(Decision {
            target,
            forecast_value: value,
            effective_at_ms: point.at_ms,
            reason: notes.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::Duration;

    fn policy() -> ScalingPolicy {
        serde_yaml::from_str(
            "{ resource: replicas, metric: rps, per_unit: 100, min: 2, max: 20, max_step_up: 4, max_step_down: 1, cooldown: 10m }",
        )
        .unwrap()
    }

    fn points(values: &[(i64, f64)]) -> Vec<ForecastPoint> {
        values
            .iter()
            .map(|&(at_ms, v)| ForecastPoint {
                at_ms,
                point: v,
                lower: v - 50.0,
                upper: v + 50.0,
            })
            .collect()
    }

    #[test]
    fn provisions_for_the_upper_bound_at_the_lead_time() {
        let mut policy = policy();
        policy.lead_time = Some("2m".parse::<Duration>().unwrap());
        let pts = points(&[(60_000, 100.0), (120_000, 640.0), (180_000, 900.0)]);
        let decision = TargetTracking(&policy)
            .decide(&PolicyInput {
                issued_at_ms: 0,
                points: &pts,
                previous: None,
            })
            .unwrap();
        // upper = 690 at t=2m → ceil(6.9) = 7
        assert_eq!(decision.target, 7);
        assert_eq!(decision.effective_at_ms, 120_000);
        assert_eq!(decision.forecast_value, 690.0);
    }

    #[test]
    fn clamps_to_min_and_max() {
        let policy = policy();
        let low = points(&[(1, 10.0)]);
        let high = points(&[(1, 99_999.0)]);
        let rule = TargetTracking(&policy);
        let input = |pts| PolicyInput {
            issued_at_ms: 0,
            points: pts,
            previous: None,
        };
        assert_eq!(rule.decide(&input(&low)).unwrap().target, 2);
        assert_eq!(rule.decide(&input(&high)).unwrap().target, 20);
    }

    #[test]
    fn limits_the_step_up_and_holds_an_unchanged_target() {
        let policy = policy();
        let pts = points(&[(1, 1_450.0)]); // upper 1500 → 15
        let previous = Some(Previous {
            target: 5,
            issued_at_ms: 0,
        });
        let decision = TargetTracking(&policy)
            .decide(&PolicyInput {
                issued_at_ms: 1,
                points: &pts,
                previous,
            })
            .unwrap();
        assert_eq!(decision.target, 9);
        let same = Some(Previous {
            target: 15,
            issued_at_ms: 0,
        });
        assert!(TargetTracking(&policy)
            .decide(&PolicyInput {
                issued_at_ms: 1,
                points: &pts,
                previous: same
            })
            .is_none());
    }

    #[test]
    fn scales_down_only_after_the_cooldown() {
        let policy = policy();
        let pts = points(&[(1, 350.0)]); // upper 400 → 4, step down limited to 9
        let previous = Some(Previous {
            target: 10,
            issued_at_ms: 0,
        });
        let rule = TargetTracking(&policy);
        assert!(rule
            .decide(&PolicyInput {
                issued_at_ms: 5 * 60_000,
                points: &pts,
                previous
            })
            .is_none());
        let later = rule
            .decide(&PolicyInput {
                issued_at_ms: 11 * 60_000,
                points: &pts,
                previous,
            })
            .unwrap();
        assert_eq!(later.target, 9);
    }
}
