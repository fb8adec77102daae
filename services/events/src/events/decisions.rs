//! Decisions and their outcomes: the planner's directives and what the applier did with them.

use serde::{Deserialize, Serialize};

use crate::event::impl_event;

/// Set resources of an app to targets (`presage.directives`): one directive per app per
/// decision, its first target also in the top-level fields.
///
/// Targets rather than changes, so applying the same directive twice is harmless.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingDirective {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    /// e.g. "replicas".
    pub resource: String,
    pub target: i64,
    /// The last directive's target for this resource; `None` for the first.
    #[serde(default)]
    pub previous_target: Option<i64>,
    pub forecast_value: f64,
    pub effective_at_ms: i64,
    pub issued_at_ms: i64,
    /// The policy rule that decided.
    pub policy: String,
    pub reason: String,
    pub lineage: Vec<String>,
    /// `live` (the applier applies it), `shadow` (a shadow policy's: published, never applied)
    /// or `backtest`.
    pub mode: String,
    /// Every resource decided together, the first being the top-level one.
    pub targets: Vec<ResourceTarget>,
    /// The forecast decided from, its model, that model's MASE and whether it was a cold start.
    pub forecast_id: String,
    pub model: String,
    pub model_score: Option<f64>,
    pub cold_start: bool,
    /// The forecast was missing, stale or not trusted: decided on the observed metric.
    pub fallback: bool,
    /// Targets scheduled for later instants of the forecast's path, in due order; the next
    /// directive of the app supersedes the steps not yet due (see [`crate::plan`]).
    #[serde(default)]
    pub plan: Vec<PlannedStep>,
}

/// Targets a directive schedules for a later instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// When to set the targets: `effective_at_ms` minus the policy's lead.
    pub due_at_ms: i64,
    /// The instant whose forecast demand the step provisions for.
    pub effective_at_ms: i64,
    pub targets: Vec<PlannedTarget>,
}

/// One resource's scheduled target within a [`PlannedStep`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlannedTarget {
    pub resource: String,
    pub target: i64,
    pub forecast_value: f64,
}

/// One resource's target within a directive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceTarget {
    pub resource: String,
    pub target: i64,
    pub previous_target: Option<i64>,
    pub forecast_value: f64,
    /// The rule, e.g. `scaling_policies[0] target_tracking replicas<-rps`.
    pub policy: String,
    pub reason: String,
    /// The demand needs more than the policy's max: held at max.
    pub at_max: bool,
}

impl_event!(
    ScalingDirective,
    "presage.ScalingDirective",
    include_str!("../../../../schemas/scaling_directive.avsc"),
    // Before plans: records on the topic from earlier planners.
    earlier: [include_str!("../../../../schemas/earlier/scaling_directive.1.avsc")]
);

/// What one hook did with one directive (`presage.applied`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    pub directive_id: String,
    pub hook: String,
    /// "applied" | "rejected" | "failed" | "rolled_back" | "superseded".
    pub status: String,
    /// Why it was not applied; `None` when applied.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub config_path: Option<String>,
    #[serde(default)]
    pub backup_path: Option<String>,
    pub applied_at_ms: i64,
    /// The directive id first.
    pub lineage: Vec<String>,
    /// How many times the hook was tried (transient failures are retried); the outcome is the
    /// last try's.
    #[serde(default = "one")]
    pub attempts: i32,
    /// When the input was decided: a directive's `issued_at_ms`, a fragment's `window_end_ms`.
    /// With `resources`, what an applier rebuilds "newest applied per resource" from.
    #[serde(default)]
    pub decided_at_ms: i64,
    /// The resources the directive set; empty for a fragment.
    #[serde(default)]
    pub resources: Vec<String>,
}

fn one() -> i32 {
    1
}

impl_event!(
    ApplyOutcome,
    "presage.ApplyOutcome",
    include_str!("../../../../schemas/apply_outcome.avsc")
);
