//! The record of what became of a directive at one hook.

use presage_events::{event_id, ApplyOutcome, ScalingDirective};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Swapped in (and reloaded and checked, where the hook says so).
    Applied,
    /// Broke a validation rule: nothing was written.
    Rejected,
    /// The test or the write failed before the swap: the live configuration is unchanged.
    Failed,
    /// Swapped in, then the reload or the post-swap check failed: the previous version is back.
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::RolledBack => "rolled_back",
        }
    }
}

pub struct Details {
    pub reason: Option<String>,
    pub config_path: Option<String>,
    pub backup_path: Option<String>,
}

/// `applied_at_ms` is the applier's clock: applying is an act in the world, not a replayable
/// decision. The id depends only on the directive and hook, so a replayed directive's outcome
/// is recognised as the same outcome.
pub fn outcome(
    directive: &ScalingDirective,
    hook: &str,
    status: Status,
    details: Details,
    applied_at_ms: i64,
) -> ApplyOutcome {
    ApplyOutcome {
        event_id: event_id(&["applied", &directive.event_id, hook]),
        app: directive.app.clone(),
        template_version: directive.template_version.clone(),
        directive_id: directive.event_id.clone(),
        hook: hook.to_string(),
        status: status.as_str().to_string(),
        reason: details.reason,
        config_path: details.config_path,
        backup_path: details.backup_path,
        applied_at_ms,
        lineage: vec![directive.event_id.clone()],
    }
}
