//! The record of what became of a directive or a metadata fragment at one hook.

use presage_events::{event_id, ApplyOutcome, MetadataFragment, ScalingDirective};

/// The input event an outcome answers: a scaling directive or a metadata fragment. Its id is the
/// outcome's `directive_id` (the schema's name for "the event applied") and its lineage; when it
/// was decided and what resources it sets are what "newest applied per resource" is rebuilt from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Input {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    pub decided_at_ms: i64,
    pub resources: Vec<String>,
}

impl From<&ScalingDirective> for Input {
    fn from(directive: &ScalingDirective) -> Self {
        Self {
            event_id: directive.event_id.clone(),
            app: directive.app.clone(),
            template_version: directive.template_version.clone(),
            decided_at_ms: directive.issued_at_ms,
            resources: resources_of(directive),
        }
    }
}

impl From<&MetadataFragment> for Input {
    fn from(fragment: &MetadataFragment) -> Self {
        Self {
            event_id: fragment.event_id.clone(),
            app: fragment.app.clone(),
            template_version: fragment.template_version.clone(),
            decided_at_ms: fragment.window_end_ms,
            resources: Vec::new(),
        }
    }
}

/// Every resource a directive sets: its targets', or its top-level one (older producers).
pub fn resources_of(directive: &ScalingDirective) -> Vec<String> {
    if directive.targets.is_empty() {
        vec![directive.resource.clone()]
    } else {
        directive
            .targets
            .iter()
            .map(|t| t.resource.clone())
            .collect()
    }
}

/// The id of the outcome of `input_id` at `hook`: one per input and hook, whatever became of it.
pub fn outcome_id(input_id: &str, hook: &str) -> String {
    event_id(&["applied", input_id, hook])
}

/// The id of the outcome of `input_id` at `hook` on `node`, as a node-local applier publishes
/// it: two nodes applying one directive publish two outcomes, neither the other's duplicate.
/// The hooks and their journals keep the node-free [`outcome_id`]; the node-local shell turns
/// it into this one on the way to `presage.applied` ([`on_node`]) and back ([`from_node`]).
pub fn node_outcome_id(input_id: &str, hook: &str, node: &str) -> String {
    event_id(&["applied", input_id, hook, "node", node])
}

/// An outcome as the applier on `node` publishes it: its id made the node's.
pub fn on_node(mut outcome: ApplyOutcome, node: &str) -> ApplyOutcome {
    outcome.event_id = node_outcome_id(&outcome.directive_id, &outcome.hook, node);
    outcome
}

/// An outcome read back from `presage.applied`, as the applier on `node` learns it: its own
/// (the id is the node's) with the node-free id the hooks use; another node's, or a central
/// applier's, is `None`: what other nodes applied neither marks an input done here nor makes a
/// directive superseded here.
pub fn from_node(outcome: &ApplyOutcome, node: &str) -> Option<ApplyOutcome> {
    (outcome.event_id == node_outcome_id(&outcome.directive_id, &outcome.hook, node)).then(|| {
        ApplyOutcome {
            event_id: outcome_id(&outcome.directive_id, &outcome.hook),
            ..outcome.clone()
        }
    })
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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub reason: Option<String>,
    pub config_path: Option<String>,
    pub backup_path: Option<String>,
    /// Tries made, the first included (0 is read as 1).
    pub attempts: u32,
}

/// `applied_at_ms` is the applier's clock: applying is an act in the world, not a replayable
/// decision. The id depends only on the input event and hook, so a replayed directive's (or
/// fragment's) outcome is recognised as the same outcome; because the clock makes two builds of
/// it differ, an outcome is built once and then kept (in the file's journal, or on the topic)
/// and never built again for a replay.
pub fn outcome(
    input: impl Into<Input>,
    hook: &str,
    status: Status,
    details: Details,
    applied_at_ms: i64,
) -> ApplyOutcome {
    let input = input.into();
    ApplyOutcome {
        event_id: outcome_id(&input.event_id, hook),
        app: input.app,
        template_version: input.template_version,
        directive_id: input.event_id.clone(),
        hook: hook.to_string(),
        status: status.as_str().to_string(),
        reason: details.reason,
        config_path: details.config_path,
        backup_path: details.backup_path,
        applied_at_ms,
        lineage: vec![input.event_id],
        attempts: details.attempts.max(1) as i32,
        decided_at_ms: input.decided_at_ms,
        resources: input.resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_details() -> Details {
        Details::default()
    }

    #[test]
    fn a_directive_s_outcome_says_when_it_was_decided_what_it_set_and_how_many_tries() {
        let directive = ScalingDirective {
            event_id: "d-1".into(),
            app: "shop".into(),
            template_version: "v9".into(),
            resource: "replicas".into(),
            target: 7,
            issued_at_ms: 1_234,
            targets: vec![
                presage_events::ResourceTarget {
                    resource: "replicas".into(),
                    target: 7,
                    ..Default::default()
                },
                presage_events::ResourceTarget {
                    resource: "memory_mb".into(),
                    target: 2048,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let details = Details {
            attempts: 3,
            ..Details::default()
        };
        let applied = outcome(&directive, "cfg", Status::Applied, details, 5);
        assert_eq!(applied.event_id, outcome_id("d-1", "cfg"));
        assert_eq!(applied.decided_at_ms, 1_234);
        assert_eq!(applied.resources, vec!["replicas", "memory_mb"]);
        assert_eq!(applied.attempts, 3);
        assert_eq!(
            outcome(&directive, "cfg", Status::Failed, no_details(), 5).attempts,
            1,
            "a single try counts as one"
        );
    }

    #[test]
    fn two_nodes_publish_two_outcomes_and_each_learns_back_only_its_own() {
        let directive = ScalingDirective {
            event_id: "d-1".into(),
            app: "shop".into(),
            ..Default::default()
        };
        let plain = outcome(&directive, "env", Status::Applied, no_details(), 5);
        let on_a = on_node(plain.clone(), "node-a");
        let on_b = on_node(plain.clone(), "node-b");
        assert_ne!(on_a.event_id, on_b.event_id);
        assert_ne!(on_a.event_id, plain.event_id, "nor a central applier's");
        assert_eq!(on_a.event_id, node_outcome_id("d-1", "env", "node-a"));
        assert_eq!(from_node(&on_a, "node-a"), Some(plain.clone()));
        assert_eq!(from_node(&on_b, "node-a"), None);
        assert_eq!(from_node(&plain, "node-a"), None, "a central applier's");
        assert_eq!(
            (on_a.directive_id.as_str(), on_a.hook.as_str()),
            ("d-1", "env"),
            "what the planner matches on is unchanged"
        );
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
