//! The record of what became of a directive or a metadata fragment at one hook.

use presage_events::{event_id, ApplyOutcome, MetadataFragment, ScalingDirective};

/// The input event an outcome answers: a scaling directive or a metadata fragment. Its id is the
/// outcome's `directive_id` (the schema's name for "the event applied") and its lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input<'a> {
    pub event_id: &'a str,
    pub app: &'a str,
    pub template_version: &'a str,
}

impl<'a> From<&'a ScalingDirective> for Input<'a> {
    fn from(directive: &'a ScalingDirective) -> Self {
        Self {
            event_id: &directive.event_id,
            app: &directive.app,
            template_version: &directive.template_version,
        }
    }
}

impl<'a> From<&'a MetadataFragment> for Input<'a> {
    fn from(fragment: &'a MetadataFragment) -> Self {
        Self {
            event_id: &fragment.event_id,
            app: &fragment.app,
            template_version: &fragment.template_version,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Swapped in (and reloaded and checked, where the hook says so).
    Applied,
    /// Broke a validation rule, or (a fragment) its body is not a patch: nothing was written.
    Rejected,
    /// The test or the write failed before the swap: the live configuration is unchanged.
    Failed,
    /// Swapped in, then the reload or the post-swap check failed: the previous version is back.
    RolledBack,
    /// A directive decided before one already applied for the same resources: not written.
    Superseded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::RolledBack => "rolled_back",
            Status::Superseded => "superseded",
        }
    }
}

pub struct Details {
    pub reason: Option<String>,
    pub config_path: Option<String>,
    pub backup_path: Option<String>,
}

/// `applied_at_ms` is the applier's clock: applying is an act in the world, not a replayable
/// decision. The id depends only on the input event and hook, so a replayed directive's (or
/// fragment's) outcome is recognised as the same outcome.
pub fn outcome<'a>(
    input: impl Into<Input<'a>>,
    hook: &str,
    status: Status,
    details: Details,
    applied_at_ms: i64,
) -> ApplyOutcome {
    let input = input.into();
    ApplyOutcome {
        event_id: event_id(&["applied", input.event_id, hook]),
        app: input.app.to_string(),
        template_version: input.template_version.to_string(),
        directive_id: input.event_id.to_string(),
        hook: hook.to_string(),
        status: status.as_str().to_string(),
        reason: details.reason,
        config_path: details.config_path,
        backup_path: details.backup_path,
        applied_at_ms,
        lineage: vec![input.event_id.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_details() -> Details {
        Details {
            reason: None,
            config_path: None,
            backup_path: None,
        }
    }

    #[test]
    fn a_fragment_s_outcome_names_the_fragment_and_has_an_id_from_it_and_the_hook() {
        let fragment = MetadataFragment {
            event_id: "f-1".into(),
            app: "shop".into(),
            template_version: "v9".into(),
            recipe: "rps".into(),
            format: "json".into(),
            body: "{}".into(),
            window_end_ms: 60_000,
            lineage: vec!["d-0".into()],
        };
        let applied = outcome(&fragment, "cfg", Status::Applied, no_details(), 5);
        assert_eq!(applied.event_id, event_id(&["applied", "f-1", "cfg"]));
        assert_eq!(applied.directive_id, "f-1");
        assert_eq!(applied.lineage, vec!["f-1".to_string()]);
        assert_eq!(
            (applied.app.as_str(), applied.template_version.as_str()),
            ("shop", "v9")
        );
        assert_ne!(
            applied.event_id,
            outcome(&fragment, "other", Status::Applied, no_details(), 5).event_id,
            "one outcome per hook"
        );
    }
}
