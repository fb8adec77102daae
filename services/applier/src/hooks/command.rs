//! The command hook: a directive's values handed to programs as argv, never through a shell.
//!
//! The flow, under the hook's lock: converge what a crash left (below); the current values
//! (`read`'s output, else the values this hook last applied as its journal records them, else
//! the bootstrap); the candidate (the change merged into them); the rules on the candidate;
//! every command's argv substituted up front (a value that cannot be passed safely refuses the
//! change before anything runs); `test` with the candidate's values; the intent journaled;
//! `apply`; `check`; on a failing apply or check, the phase `rolling_back` journaled and
//! `rollback` run with the previous values; one outcome, recorded in the journal (with the
//! values now applied) before it is returned.
//!
//! Crash semantics. The journal (`<state_dir>/.<app>.<hook>.presage-journal`) is written whole
//! by rename, so after SIGKILL it holds either no intent (nothing of this input ran but `read`
//! and `test`, which change nothing: the input is applied afresh when replayed) or the intent
//! with the candidate and previous values. An intent found at start (or before the next apply)
//! means `apply` may or may not have run, or run halfway: the hook's `check` is run with the
//! candidate's values, and if it fails the previous values are rolled back; a hook without a
//! `check` runs `apply` again (a directive is a target: applying it twice is applying it once).
//! An intent in phase `rolling_back` runs `rollback` again. Either way the input's outcome is
//! recorded, and a replayed input gets it back instead of running again.

use std::path::PathBuf;

use presage_events::ApplyOutcome;
use presage_template::{ConfigurationHook, Template};
use serde_json::Value;

use super::files::Beside;
use super::flow;
use super::grant::Granted;
use super::process::{run_capturing, run_reading};
use crate::argv::{prepare_commands, substitute_argv, values_from_read};
use crate::journal::{recover_commands, CommandRecovery, Intent, Journal, Phase};
use crate::outcome::{Input, Status};
use crate::plan::{check_rules, plan_patch};
use crate::retry::Try;

/// The shadow flow of a command hook for any change, given as a patch (see
/// [`crate::plan::directive_patch`]); `superseded` as in the file hook.
pub(crate) fn apply_commands(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input,
    patch: &Value,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    let beside = match state_files(hook, &input.app, grant) {
        Ok(beside) => beside,
        Err(t) => return super::finish(input, hook, t, 1, now_ms),
    };
    flow::run(
        &beside,
        hook,
        input,
        superseded,
        now_ms,
        |journal, intent| Ok(converge(&beside, hook, journal, intent, grant)),
        |input, attempt, journal| {
            try_once(
                template, hook, patch, &beside, input, attempt, journal, grant,
            )
        },
    )
}

/// Converges what a crash left of this hook's last apply, at start.
pub(crate) fn recover_command_hook(
    template: &Template,
    hook: &ConfigurationHook,
    grant: &Granted,
    now_ms: i64,
) {
    let beside = match state_files(hook, &template.app, grant) {
        Ok(beside) => beside,
        Err(t) => {
            let reason = t.reason.unwrap_or_default();
            tracing::error!(hook = %hook.name, %reason, "could not recover the command hook");
            return;
        }
    };
    // No journal: this hook never started an apply here, so nothing is created at start.
    if !beside.journal.exists() {
        return;
    }
    let converged = flow::lock_and_converge(&beside, hook, now_ms, |journal, intent| {
        Ok(converge(&beside, hook, journal, intent, grant))
    });
    if let Err(reason) = converged {
        tracing::error!(hook = %hook.name, %reason, "could not recover the command hook");
    }
}

/// The journal and lock of `hook` for `app`, if the operator granted its state directory.
fn state_files(hook: &ConfigurationHook, app: &str, grant: &Granted) -> Result<Beside, Try> {
    let base: PathBuf = hook
        .state_base(app)
        .ok_or_else(|| Try::permanent(Status::Failed, "command hook has no state_dir".into()))?;
    Beside::granted(&base, grant).map_err(|reason| Try::permanent(Status::Rejected, reason))
}

/// Converges an apply a crash interrupted, as [`recover_commands`] decides: `check` (or
/// `apply` again) with the candidate's values, `rollback` with the previous ones.
fn converge(
    beside: &Beside,
    hook: &ConfigurationHook,
    journal: &mut Journal,
    intent: &Intent,
    grant: &Granted,
) -> Try {
    let decision = recover_commands(intent, hook.check.is_some());
    tracing::warn!(input = %intent.input.event_id, hook = %intent.hook, attempt = intent.attempt, ?decision, "converging a command apply a crash interrupted");
    let limit = hook.command_timeout();
    let candidate = parse_values(&intent.candidate);
    match decision {
        CommandRecovery::Check | CommandRecovery::Apply => {
            let argv = match decision {
                CommandRecovery::Check => hook.check.as_ref(),
                _ => hook.apply.as_ref(),
            };
            let ran = match (argv, &candidate) {
                (Some(argv), Ok(doc)) => substitute_argv(hook, argv, doc)
                    .and_then(|argv| run_capturing(&argv, limit, grant)),
                (None, _) => Err("the hook has no such command any more".into()),
                (_, Err(e)) => Err(e.clone()),
            };
            match ran {
                Ok(_) => {
                    journal.applied = Some(intent.candidate.clone());
                    Try::applied(None)
                }
                Err(why) => {
                    let reason = format!("interrupted by a crash; then {why}");
                    roll_back(beside, hook, journal, intent, reason, grant)
                }
            }
        }
        CommandRecovery::RollBack { reason } => {
            roll_back(beside, hook, journal, intent, reason, grant)
        }
    }
}

fn parse_values(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("journaled values are unreadable: {e}"))
}

/// The values in force before the change: what `read` prints, else what this hook last
/// applied, else the bootstrap. Values the journal records but that cannot be read are an
/// error, not the bootstrap: a rollback would otherwise put back values the application never
/// had.
fn current_values(
    template: &Template,
    hook: &ConfigurationHook,
    journal: &Journal,
    grant: &Granted,
) -> Result<Value, Try> {
    let bootstrap = template.bootstrap_doc();
    if let Some(argv) = &hook.read {
        return run_reading(argv, hook.command_timeout(), grant)
            .map_err(|e| format!("reading the current values: {e}"))
            .and_then(|stdout| values_from_read(hook, &stdout, &bootstrap))
            .map_err(|reason| Try::transient(Status::Failed, reason, None));
    }
    let Some(applied) = journal.applied.as_deref() else {
        return Ok(bootstrap);
    };
    match parse_values(applied) {
        Ok(values) if values.is_object() => Ok(values),
        Ok(_) => Err("the journal's last applied values are not a document".to_string()),
        Err(e) => Err(e),
    }
    .map_err(|why| {
        Try::permanent(
            Status::Failed,
            format!("{why}: nothing run; repair or remove the hook's journal in its state_dir"),
        )
    })
}

#[allow(clippy::too_many_arguments)] // one try's whole context, as the file hook's
fn try_once(
    template: &Template,
    hook: &ConfigurationHook,
    patch: &Value,
    beside: &Beside,
    input: &Input,
    attempt: u32,
    journal: &mut Journal,
    grant: &Granted,
) -> Try {
    let limit = hook.command_timeout();
    let current = match current_values(template, hook, journal, grant) {
        Ok(values) => values,
        Err(t) => return t,
    };
    let candidate = plan_patch(Some(&current), template, patch);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return Try::permanent(Status::Rejected, violations.join("; "));
    }
    let prepared = match prepare_commands(hook, &candidate, &current) {
        Ok(prepared) => prepared,
        Err(why) => {
            let reason = format!("refused before anything ran: {why}");
            return Try::permanent(Status::Rejected, reason);
        }
    };
    if let Some(test) = &prepared.test {
        if let Err(why) = run_capturing(test, limit, grant) {
            let reason = format!("test failed, nothing applied: {why}");
            return Try::transient(Status::Failed, reason, None);
        }
    }
    // From here on the application may change: record what is about to happen first.
    let intent = Intent {
        input: input.clone(),
        hook: hook.name.clone(),
        previous: Some(current.to_string()),
        candidate: candidate.to_string(),
        attempt,
        phase: Phase::Swapping,
        target: None,
    };
    journal.intent = Some(intent.clone());
    if let Err(reason) = beside.store_journal(journal) {
        journal.intent = None;
        return Try::transient(Status::Failed, reason, None);
    }
    if let Err(why) = run_capturing(&prepared.apply, limit, grant) {
        let reason = format!("apply failed: {why}");
        return roll_back(beside, hook, journal, &intent, reason, grant);
    }
    if let Some(check) = &prepared.check {
        if let Err(why) = run_capturing(check, limit, grant) {
            let reason = format!("check after apply failed: {why}");
            return roll_back(beside, hook, journal, &intent, reason, grant);
        }
    }
    journal.applied = Some(intent.candidate);
    Try::applied(None)
}

/// Journals the rollback, then runs `rollback` with the previous values. Without a rollback
/// command the previous values cannot be put back: the outcome says so (`failed`).
fn roll_back(
    beside: &Beside,
    hook: &ConfigurationHook,
    journal: &mut Journal,
    intent: &Intent,
    reason: String,
    grant: &Granted,
) -> Try {
    journal.intent = Some(Intent {
        phase: Phase::RollingBack {
            reason: reason.clone(),
        },
        ..intent.clone()
    });
    if let Err(e) = beside.store_journal(journal) {
        tracing::error!(hook = %hook.name, error = %e, "could not record the rollback in the journal; rolling back anyway");
    }
    let Some(argv) = &hook.rollback else {
        let reason =
            format!("{reason}; no rollback command: the previous values were not put back");
        return Try::transient(Status::Failed, reason, None);
    };
    let previous = intent
        .previous
        .as_deref()
        .ok_or_else(|| "no previous values journaled".to_string())
        .and_then(parse_values);
    let ran = previous.and_then(|doc| {
        let argv = substitute_argv(hook, argv, &doc)?;
        run_capturing(&argv, hook.command_timeout(), grant)
    });
    match ran {
        Ok(_) => {
            journal.applied = intent.previous.clone();
            let reason = format!("{reason}; previous values restored by rollback");
            Try::transient(Status::RolledBack, reason, None)
        }
        Err(e) => Try::transient(
            Status::Failed,
            format!("{reason}; ROLLBACK FAILED: {e}"),
            None,
        ),
    }
}
