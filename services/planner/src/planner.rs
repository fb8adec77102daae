//! The planner's state: the latest template of each app and the last target each policy set.

use std::collections::HashMap;
use std::sync::Arc;

use presage_events::{event_id, Forecast, ScalingDirective};
use presage_template::{PolicyKind, Template};

use crate::policy::{PolicyInput, Previous, ScalingRule, TargetTracking};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("no template for app {0:?}: publish one with `presage templates publish`")]
    UnknownApp(String),
}

#[derive(Default)]
pub struct Planner {
    templates: HashMap<String, (String, Arc<Template>)>,
    last: HashMap<(String, String), Previous>,
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_template(&mut self, version: &str, template: Arc<Template>) {
        self.templates
            .insert(template.app.clone(), (version.to_string(), template));
    }

    /// Every policy of the forecast's app that tracks the forecast's metric decides; a policy
    /// that changes its target yields a directive stating the new target (not a delta), so
    /// applying a directive twice is harmless.
    pub fn on_forecast(&mut self, forecast: &Forecast) -> Result<Vec<ScalingDirective>, PlanError> {
        let (version, template) = self
            .templates
            .get(&forecast.app)
            .ok_or_else(|| PlanError::UnknownApp(forecast.app.clone()))?;
        let mut directives = Vec::new();
        for (index, policy) in template
            .dynamic_metadata
            .scaling_policies
            .iter()
            .enumerate()
        {
            if policy.metric != forecast.metric {
                continue;
            }
            let slot = (forecast.app.clone(), policy.resource.clone());
            let previous = self.last.get(&slot).copied();
            let input = PolicyInput {
                issued_at_ms: forecast.issued_at_ms,
                points: &forecast.points,
                previous,
            };
            let decision = match policy.kind {
                PolicyKind::TargetTracking => TargetTracking(policy).decide(&input),
            };
            let Some(decision) = decision else { continue };
            self.last.insert(
                slot,
                Previous {
                    target: decision.target,
                    issued_at_ms: forecast.issued_at_ms,
                },
            );
            directives.push(ScalingDirective {
                event_id: event_id(&["directive", &forecast.event_id, &policy.resource]),
                app: forecast.app.clone(),
                template_version: version.clone(),
                resource: policy.resource.clone(),
                target: decision.target,
                previous_target: previous.map(|p| p.target),
                forecast_value: decision.forecast_value,
                effective_at_ms: decision.effective_at_ms,
                issued_at_ms: forecast.issued_at_ms,
                policy: format!(
                    "scaling_policies[{index}] target_tracking {}←{}",
                    policy.resource, policy.metric
                ),
                reason: format!("{} (model {})", decision.reason, forecast.model),
                lineage: std::iter::once(forecast.event_id.clone())
                    .chain(forecast.lineage.iter().cloned())
                    .collect(),
            });
        }
        Ok(directives)
    }
}
