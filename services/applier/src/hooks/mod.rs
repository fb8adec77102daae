//! Hooks apply a directive or a metadata fragment to the running application.

mod file;
mod http;
mod process;

pub use file::apply_file_hook;
pub use http::{apply_http_hook, fragment_at_http_hook};

use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_template::{ConfigurationHook, HookKind, Template};

use crate::fragment::fragment_patch;
use crate::outcome::{outcome, Details, Status};

/// Applies `directive` through `hook` and says what became of it. Never panics on bad input:
/// every failure is an outcome with a reason.
pub fn apply(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    now_ms: i64,
) -> ApplyOutcome {
    match hook.kind {
        HookKind::File => apply_file_hook(template, hook, directive, now_ms),
        HookKind::Http => apply_http_hook(template, hook, directive, now_ms),
    }
}

/// Applies a metadata fragment through `hook` and says what became of it: a body that is not a
/// patch (see [`crate::fragment`]) is `rejected` at every hook with nothing written; a `file`
/// hook runs the same shadow flow as for a directive; an `http` hook does not take fragments
/// (see [`fragment_at_http_hook`]). Never panics on bad input.
pub fn apply_fragment(
    template: &Template,
    hook: &ConfigurationHook,
    fragment: &MetadataFragment,
    now_ms: i64,
) -> ApplyOutcome {
    let patch = match fragment_patch(fragment) {
        Ok(patch) => patch,
        Err(err) => {
            let location = match hook.kind {
                HookKind::File => hook.path.clone(),
                HookKind::Http => hook.url.clone(),
            };
            return outcome(
                fragment,
                &hook.name,
                Status::Rejected,
                Details {
                    reason: Some(format!(
                        "metadata fragment of recipe `{}` refused: {err}",
                        fragment.recipe
                    )),
                    config_path: location,
                    backup_path: None,
                },
                now_ms,
            );
        }
    };
    match hook.kind {
        HookKind::File => {
            file::apply_patch_to_file(template, hook, fragment.into(), &patch, now_ms)
        }
        HookKind::Http => fragment_at_http_hook(hook, fragment, now_ms),
    }
}

/// The one writer of live configurations in a process.
///
/// The live files are the state, and every apply reads the file afresh; the applier remembers
/// only when each resource's applied directive was decided, so a directive decided earlier that
/// arrives later (the planner publishes from two loops) does not undo a newer one. What it adds
/// besides is exclusion: its methods take `&mut self`, so a process that routes
/// every apply through one `Applier` (the binary shares one behind `Arc<Mutex<_>>` between its
/// directive loop and its fragment loop) never runs two shadow flows at once. A directive and a
/// fragment then never write, swap or roll back the same file concurrently, and each merges on
/// top of the document the other last swapped in.
#[derive(Debug, Default)]
pub struct Applier {
    /// (app, resource) → issue time of the newest directive applied for it.
    newest: std::collections::HashMap<(String, String), i64>,
}

impl Applier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The directive through every hook of `template`, in the template's order.
    pub fn apply_directive(
        &mut self,
        template: &Template,
        directive: &ScalingDirective,
        now_ms: i64,
    ) -> Vec<ApplyOutcome> {
        // Shadow (and backtest) directives are published to be watched, never applied.
        if !is_live(directive) {
            tracing::debug!(directive = %directive.event_id, mode = %directive.mode, "not a live directive: not applied");
            return Vec::new();
        }
        let resources: Vec<(String, String)> = if directive.targets.is_empty() {
            vec![(directive.app.clone(), directive.resource.clone())]
        } else {
            directive
                .targets
                .iter()
                .map(|t| (directive.app.clone(), t.resource.clone()))
                .collect()
        };
        let newer = resources
            .iter()
            .filter_map(|r| self.newest.get(r).copied())
            .filter(|at| *at > directive.issued_at_ms)
            .max();
        if let Some(newer) = newer {
            let reason = format!(
                "superseded: a directive decided at {newer} (after this one, decided at {}) was \
                 already applied",
                directive.issued_at_ms
            );
            return template
                .dynamic_metadata
                .configuration_hooks
                .iter()
                .map(|hook| {
                    outcome(
                        directive,
                        &hook.name,
                        Status::Superseded,
                        Details {
                            reason: Some(reason.clone()),
                            config_path: None,
                            backup_path: None,
                        },
                        now_ms,
                    )
                })
                .collect();
        }
        let outcomes: Vec<ApplyOutcome> = template
            .dynamic_metadata
            .configuration_hooks
            .iter()
            .map(|hook| apply(template, hook, directive, now_ms))
            .collect();
        if outcomes
            .iter()
            .any(|o| o.status == Status::Applied.as_str())
        {
            for resource in resources {
                self.newest.insert(resource, directive.issued_at_ms);
            }
        }
        outcomes
    }

    /// The fragment through every hook of `template`, in the template's order.
    pub fn apply_fragment(
        &mut self,
        template: &Template,
        fragment: &MetadataFragment,
        now_ms: i64,
    ) -> Vec<ApplyOutcome> {
        template
            .dynamic_metadata
            .configuration_hooks
            .iter()
            .map(|hook| apply_fragment(template, hook, fragment, now_ms))
            .collect()
    }
}

/// Whether a directive is to be applied: mode `live`, or no mode (producers before modes).
pub fn is_live(directive: &ScalingDirective) -> bool {
    directive.mode.is_empty() || directive.mode == "live"
}
