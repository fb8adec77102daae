//! Hooks apply a directive or a metadata fragment to the running application.

mod command;
mod file;
mod files;
mod flow;
mod grant;
mod http;
mod kubernetes;
mod lock;
mod process;

pub use file::apply_file_hook;
pub use grant::Granted;
pub use http::apply_http_hook;
pub use lock::FileLock;

use std::collections::HashSet;

use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_template::{ConfigurationHook, HookKind, Template};

use crate::applied::Applied;
use crate::fragment::fragment_patch;
use crate::outcome::{outcome, outcome_id, Details, Input, Status};
use crate::plan::directive_patch;
use crate::retry::Try;

/// Applies `directive` through `hook` and says what became of it (retrying transient failures
/// as the hook's `retry` says). A hook asking for a command, path or URL `grant` does not hold
/// is `rejected` before anything runs. Never panics on bad input: every failure is an outcome
/// with a reason.
pub fn apply(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    apply_unless_superseded(template, hook, directive, None, grant, now_ms)
}

fn apply_unless_superseded(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    if let Some(refused) = refused(template, hook, directive.into(), grant, now_ms) {
        return refused;
    }
    match hook.kind {
        HookKind::File
        | HookKind::Env
        | HookKind::Command
        | HookKind::Kubernetes
        | HookKind::Http => apply_patch(
            template,
            hook,
            directive.into(),
            &directive_patch(hook, directive),
            superseded,
            grant,
            now_ms,
        ),
    }
}

/// A change, given as a patch, through its hook's shadow flow: a file or env hook's, a command
/// hook's, an http hook's.
fn apply_patch(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input,
    patch: &serde_json::Value,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    match hook.kind {
        HookKind::File | HookKind::Env => {
            file::apply_patch_to_file(template, hook, input, patch, superseded, grant, now_ms)
        }
        HookKind::Command => {
            command::apply_commands(template, hook, input, patch, superseded, grant, now_ms)
        }
        HookKind::Kubernetes => {
            kubernetes::apply_change(template, hook, input, patch, superseded, grant, now_ms)
        }
        HookKind::Http => {
            http::apply_change(template, hook, input, patch, superseded, grant, now_ms)
        }
    }
}

/// The `rejected` outcome of a hook that asks for more than the operator granted; None when
/// it asks for nothing more. Checked before anything else, so nothing of the hook runs.
fn refused(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input,
    grant: &Granted,
    now_ms: i64,
) -> Option<ApplyOutcome> {
    let reason = grant.refusal(template, hook)?;
    tracing::warn!(app = %input.app, hook = %hook.name, %reason, "hook refused");
    Some(finish(
        input,
        hook,
        Try::permanent(Status::Rejected, reason),
        1,
        now_ms,
    ))
}

/// The outcome of `input` at `hook`: a try's status, reason and backup, after `attempts`
/// tries, naming where the hook acts ([`location`]).
pub(crate) fn finish(
    input: impl Into<Input>,
    hook: &ConfigurationHook,
    t: Try,
    attempts: u32,
    now_ms: i64,
) -> ApplyOutcome {
    outcome(
        input,
        &hook.name,
        t.status,
        Details {
            reason: t.reason,
            config_path: location(hook),
            backup_path: t.backup_path,
            attempts,
        },
        now_ms,
    )
}

/// Where a hook acts, as an outcome names it: its file, or its URL without credentials.
pub(crate) fn location(hook: &ConfigurationHook) -> Option<String> {
    match hook.kind {
        HookKind::File | HookKind::Env => hook.path.clone(),
        HookKind::Http => hook.url.as_deref().map(presage_events::redact_url),
        // The command as the template writes it, placeholders and all.
        HookKind::Command => hook.apply.as_ref().map(|argv| argv.join(" ")),
        HookKind::Kubernetes => hook.kubernetes.as_ref().map(|k| k.workload.key()),
    }
}

/// Applies a metadata fragment through `hook` and says what became of it: a body that is not a
/// patch (see [`crate::fragment`]) is `rejected` at every hook with nothing written; a `file`
/// hook (every kind) runs the same shadow flow as for a directive. Never panics on bad input.
pub fn apply_fragment(
    template: &Template,
    hook: &ConfigurationHook,
    fragment: &MetadataFragment,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    if let Some(refused) = refused(template, hook, fragment.into(), grant, now_ms) {
        return refused;
    }
    let patch = match fragment_patch(fragment) {
        Ok(patch) => patch,
        Err(err) => {
            let reason = format!(
                "metadata fragment of recipe `{}` refused: {err}",
                fragment.recipe
            );
            return finish(
                fragment,
                hook,
                Try::permanent(Status::Rejected, reason),
                1,
                now_ms,
            );
        }
    };
    apply_patch(template, hook, fragment.into(), &patch, None, grant, now_ms)
}

/// The one writer of live configurations in a process.
///
/// The live files are the state, and every apply reads the file afresh. What the applier
/// remembers besides is what `presage.applied` says ([`Applied`]): which outcomes are already
/// published (an input replayed after its outcome was published is not applied or published
/// again) and, per resource, when the newest applied directive was decided, so a directive
/// decided earlier that arrives later (the planner publishes from two loops, and inputs are
/// replayed after a crash) does not undo a newer one. The shell feeds it the topic's recent
/// outcomes when a partition is assigned ([`Applier::learn`]).
///
/// It also gives exclusion within the process: its methods take `&mut self`, so a process that
/// routes every apply through one `Applier` (the binary shares one behind `Arc<Mutex<_>>`
/// between its directive loop and its fragment loop) never runs two shadow flows at once.
/// Between processes, each file's flow runs under that file's lock ([`FileLock`]).
#[derive(Debug, Default)]
pub struct Applier {
    applied: Applied,
    /// What the operator granted; [`Applier::default`] grants nothing.
    grant: Granted,
    /// How long each hook run took since the last [`Applier::take_hook_timings`], by kind.
    hook_timings: Vec<(&'static str, std::time::Duration)>,
}

impl Applier {
    pub fn new(grant: Granted) -> Self {
        Self {
            applied: Applied::default(),
            grant,
            hook_timings: Vec::new(),
        }
    }

    /// The hook runs timed since the last call: (hook kind, duration), one per outcome.
    pub fn take_hook_timings(&mut self) -> Vec<(&'static str, std::time::Duration)> {
        std::mem::take(&mut self.hook_timings)
    }

    /// One outcome read back from `presage.applied`.
    pub fn learn(&mut self, outcome: &ApplyOutcome) {
        self.applied.learn(outcome);
    }

    /// `count` outcomes were read back and are about to be learnt: every one of them is kept
    /// (see [`Applied::make_room`]).
    pub fn make_room(&mut self, count: usize) {
        self.applied.make_room(count);
    }

    /// The decision time of an applied directive of `app` newer than `decided_at_ms` for any of
    /// `resources`: what supersedes a directive (or a plan step, decided with its plan) decided
    /// then.
    pub fn newer_applied(
        &self,
        app: &str,
        resources: &[String],
        decided_at_ms: i64,
    ) -> Option<i64> {
        self.applied.newer_than(app, resources, decided_at_ms)
    }

    /// Drops what was learnt about the apps of a revoked partition.
    pub fn forget_apps(&mut self, apps: &HashSet<String>) {
        self.applied.forget_apps(apps);
    }

    /// Converges every file of `template`'s hooks that a crash left mid-apply: run at start (and
    /// whenever a template arrives), before anything else is applied to those files.
    pub fn recover(&mut self, template: &Template, now_ms: i64) {
        for hook in &template.dynamic_metadata.configuration_hooks {
            // Without a state_dir neither keeps state of its own to converge.
            if matches!(hook.kind, HookKind::Http | HookKind::Kubernetes)
                && hook.state_dir.is_none()
            {
                continue;
            }
            // A file the operator does not grant is neither read nor written, recovery included.
            match self.grant.refusal(template, hook) {
                None if hook.kind == HookKind::Command => {
                    command::recover_command_hook(template, hook, &self.grant, now_ms)
                }
                None if hook.kind == HookKind::Http => {
                    http::recover(template, hook, &self.grant, now_ms)
                }
                None if hook.kind == HookKind::Kubernetes => {
                    kubernetes::recover(template, hook, &self.grant, now_ms)
                }
                None => file::recover_file(hook, &self.grant, now_ms),
                Some(reason) => {
                    tracing::warn!(app = %template.app, hook = %hook.name, %reason, "not recovering a hook the allow-list does not grant")
                }
            }
        }
    }

    /// The directive through every hook of `template`, in the template's order; hooks whose
    /// outcome for it is already published are skipped.
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
        let input = Input::from(directive);
        let superseded = self
            .applied
            .newer_than(&input.app, &input.resources, input.decided_at_ms)
            .map(|newer| {
                format!(
                    "superseded: a directive decided at {newer} (after this one, decided at {}) \
                     was already applied",
                    directive.issued_at_ms
                )
            });
        let outcomes: Vec<ApplyOutcome> = self
            .unpublished(template, &directive.event_id)
            .into_iter()
            .map(|hook| {
                let started = std::time::Instant::now();
                let outcome = apply_unless_superseded(
                    template,
                    hook,
                    directive,
                    superseded.clone(),
                    &self.grant,
                    now_ms,
                );
                self.hook_timings
                    .push((kind_name(hook.kind), started.elapsed()));
                outcome
            })
            .collect();
        for outcome in &outcomes {
            self.applied.learn(outcome);
        }
        outcomes
    }

    /// The fragment through every hook of `template`, in the template's order; hooks whose
    /// outcome for it is already published are skipped.
    pub fn apply_fragment(
        &mut self,
        template: &Template,
        fragment: &MetadataFragment,
        now_ms: i64,
    ) -> Vec<ApplyOutcome> {
        let outcomes: Vec<ApplyOutcome> = self
            .unpublished(template, &fragment.event_id)
            .into_iter()
            .map(|hook| {
                let started = std::time::Instant::now();
                let outcome = apply_fragment(template, hook, fragment, &self.grant, now_ms);
                self.hook_timings
                    .push((kind_name(hook.kind), started.elapsed()));
                outcome
            })
            .collect();
        for outcome in &outcomes {
            self.applied.learn(outcome);
        }
        outcomes
    }

    fn unpublished<'t>(
        &self,
        template: &'t Template,
        input_id: &str,
    ) -> Vec<&'t ConfigurationHook> {
        template
            .dynamic_metadata
            .configuration_hooks
            .iter()
            .filter(|hook| {
                let published = self
                    .applied
                    .is_published(&outcome_id(input_id, &hook.name));
                if published {
                    tracing::info!(input = %input_id, hook = %hook.name, "outcome already published: not applied again");
                }
                !published
            })
            .collect()
    }
}

/// A hook's kind as metrics label it.
pub fn kind_name(kind: HookKind) -> &'static str {
    match kind {
        HookKind::File => "file",
        HookKind::Http => "http",
        HookKind::Command => "command",
        HookKind::Env => "env",
        HookKind::Kubernetes => "kubernetes",
    }
}

/// Whether a directive is to be applied: mode `live`, or no mode (producers before modes).
pub fn is_live(directive: &ScalingDirective) -> bool {
    directive.mode.is_empty() || directive.mode == "live"
}
