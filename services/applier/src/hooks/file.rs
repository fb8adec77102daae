//! The file hook's shadow flow (the env hook's too: its live file is an env file, see
//! [`crate::envfile`]): copy the live configuration, merge the change (a directive's
//! target or a fragment's body, both as a patch) into the copy, check the rules, write the copy
//! beside the live file and run the hook's test on it, record the intent in the journal, keep
//! the previous version as `.prev`, swap atomically (fsync, rename, fsync the directory),
//! reload, check, and roll back if the reload or the check fails. A rejected or failed change
//! never touches the live file.
//!
//! The whole flow, recovery included, runs under the file's cross-process lock. It starts by
//! converging whatever a crashed flow left (see [`crate::journal`]), and ends by recording the
//! outcome in the journal before it is returned for publishing: a replayed input gets that
//! outcome back, byte for byte, and its change is not applied a second time.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::{ConfigurationHook, Reload, Template};
use serde_json::Value;

use super::files::{sync_dir, Beside};
use super::flow;
use super::grant::Granted;
use super::http::wait_for_status;
use super::process::{read_pid_file, run_command, signal_number, signal_pid_file};
use crate::journal::{recover, Intent, Journal, Phase, Recovery};
use crate::outcome::{Input, Status};
use crate::plan::{check_rules, directive_patch, live_document, live_text, plan_patch, PlanError};
use crate::retry::Try;

const DEFAULT_TEST_LIMIT: Duration = Duration::from_secs(10);

pub fn apply_file_hook(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    apply_patch_to_file(
        template,
        hook,
        directive.into(),
        &directive_patch(hook, directive),
        None,
        grant,
        now_ms,
    )
}

/// The shadow flow for any change, given as a patch; `input` is the event the outcome answers.
/// `superseded` (a reason) says a newer directive for the same resources was applied: the
/// change is not written, unless the journal already holds this input's outcome.
pub(crate) fn apply_patch_to_file(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input,
    patch: &Value,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    let Some(path) = hook.path.as_deref().map(PathBuf::from) else {
        let t = Try::permanent(Status::Failed, "file hook has no path".into());
        return super::finish(input, hook, t, 1, now_ms);
    };
    let beside = match Beside::granted(&path, grant) {
        Ok(beside) => beside,
        Err(reason) => {
            let t = Try::permanent(Status::Rejected, reason);
            return super::finish(input, hook, t, 1, now_ms);
        }
    };
    flow::run(
        &beside,
        hook,
        input,
        superseded,
        now_ms,
        |journal, intent| converge(&beside, hook, journal, intent, grant),
        |input, attempt, journal| {
            try_once(
                template, hook, patch, &beside, input, attempt, journal, grant,
            )
        },
    )
}

/// Converges what a crashed flow on this file left, at start, before anything else is applied
/// to it: the interrupted input's outcome is recorded in the journal, to be returned when the
/// input is replayed.
pub(crate) fn recover_file(hook: &ConfigurationHook, grant: &Granted, now_ms: i64) {
    let Some(path) = hook.path.as_deref().map(PathBuf::from) else {
        return;
    };
    let converged = Beside::granted(&path, grant).and_then(|beside| {
        flow::lock_and_converge(&beside, hook, now_ms, |journal, intent| {
            converge(&beside, hook, journal, intent, grant)
        })
    });
    if let Err(reason) = converged {
        tracing::error!(hook = %hook.name, %reason, "could not recover the configuration");
    }
}

/// Finishes or undoes an apply a crash interrupted, as the intent and the live file say.
fn converge(
    beside: &Beside,
    hook: &ConfigurationHook,
    journal: &mut Journal,
    intent: &Intent,
    grant: &Granted,
) -> Result<Try, String> {
    let live = beside
        .read_live()
        .map_err(|e| format!("reading {}: {e}", beside.live.display()))?;
    let decision = recover(intent, live.as_deref());
    tracing::warn!(input = %intent.input.event_id, hook = %intent.hook, attempt = intent.attempt, ?decision, "converging an apply a crash interrupted");
    Ok(match decision {
        Recovery::Swap => match swap(beside, intent) {
            Ok(()) => verify_or_roll_back(beside, hook, journal, grant),
            Err(reason) => Try::transient(
                Status::Failed,
                format!("finishing an interrupted swap: {reason}"),
                None,
            ),
        },
        Recovery::Verify => verify_or_roll_back(beside, hook, journal, grant),
        Recovery::RollBack { reason } => roll_back(beside, hook, intent, reason, grant),
        Recovery::LeaveAlone => Try::permanent(
            Status::Failed,
            format!(
                "interrupted by a crash; {} was since written by someone else, and is left as it is",
                beside.live.display()
            ),
        ),
    })
}

/// One try of the flow, up to the swapped, reloaded and checked file or its restored previous
/// version. Leaves the journal's intent set once the live file may have been touched.
#[allow(clippy::too_many_arguments)] // one try's whole context; a struct for it would only rename these
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
    let path = &beside.live;
    let previous = match beside.read_live() {
        Ok(text) => text,
        Err(err) => {
            let reason = format!("reading {}: {err}", path.display());
            return Try::transient(Status::Failed, reason, None);
        }
    };
    let current = match previous
        .as_deref()
        .map(|text| live_document(template, hook, path, text))
    {
        None => None,
        Some(Ok(doc)) => Some(doc),
        Some(Err(e)) => {
            let reason = format!("live configuration {}: {e}", path.display());
            return Try::permanent(Status::Failed, reason);
        }
    };
    let candidate = plan_patch(current.as_ref(), template, patch);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return Try::permanent(Status::Rejected, violations.join("; "));
    }
    let text = match live_text(hook, path, previous.as_deref(), &candidate) {
        Ok(text) => text,
        Err(PlanError::Refused(why)) => return Try::permanent(Status::Rejected, why),
        Err(e) => return Try::permanent(Status::Failed, e.to_string()),
    };
    // A reload that cannot be done is known before the swap: nothing is swapped for it.
    if let Err(reason) = reload_possible(hook, grant) {
        let reason = format!("reload cannot be done, nothing swapped: {reason}");
        return Try::transient(Status::Failed, reason, None);
    }

    let shadow = beside.temp("shadow");
    if let Err(e) = beside.write_synced(&shadow, text.as_bytes()) {
        let _ = fs::remove_file(&shadow);
        let reason = format!("writing shadow {}: {e}", shadow.display());
        return Try::transient(Status::Failed, reason, None);
    }
    if let Some(argv) = hook.test.as_ref().and_then(|t| t.command.as_ref()) {
        if let Err(reason) = run_command(
            argv,
            Some(&shadow.display().to_string()),
            limit(hook),
            grant,
        ) {
            let _ = fs::remove_file(&shadow);
            let reason = format!("test failed on the shadow configuration: {reason}");
            return Try::transient(Status::Failed, reason, None);
        }
    }
    let _ = fs::remove_file(&shadow);

    // From here on the live file may change: record what is about to happen first.
    let intent = Intent {
        input: input.clone(),
        hook: hook.name.clone(),
        previous,
        candidate: text,
        attempt,
        phase: Phase::Swapping,
        target: None,
    };
    journal.intent = Some(intent.clone());
    if let Err(reason) = beside.store_journal(journal) {
        journal.intent = None;
        return Try::transient(Status::Failed, reason, None);
    }
    if let Err(reason) = swap(beside, &intent) {
        // Nothing is swapped: the live file is the previous version.
        journal.intent = None;
        return Try::transient(Status::Failed, reason, None);
    }
    verify_or_roll_back(beside, hook, journal, grant)
}

/// Keeps the previous version as `.prev` (written from the intent's text, never copied from
/// the live file: after a crash the live file may already be the candidate), then swaps the
/// candidate in. Each step is a whole-file replace, so a crash leaves every file whole.
fn swap(beside: &Beside, intent: &Intent) -> Result<(), String> {
    if let Some(previous) = &intent.previous {
        beside
            .replace(&beside.prev, previous.as_bytes())
            .map_err(|e| format!("keeping previous version {}: {e}", beside.prev.display()))?;
    }
    beside
        .replace(&beside.live, intent.candidate.as_bytes())
        .map_err(|e| format!("swapping {} into place: {e}", beside.live.display()))
}

/// Reloads and checks the swapped-in candidate; on failure records the rollback in the journal
/// and restores the previous version.
fn verify_or_roll_back(
    beside: &Beside,
    hook: &ConfigurationHook,
    journal: &mut Journal,
    grant: &Granted,
) -> Try {
    let Some(intent) = journal.intent.clone() else {
        return Try::transient(Status::Failed, "no apply in progress".into(), None);
    };
    let backup = backup_of(beside, &intent);
    match reload_and_check(hook, limit(hook), grant) {
        Ok(()) => Try::applied(backup),
        Err(reason) => {
            let rolling_back = Intent {
                phase: Phase::RollingBack {
                    reason: reason.clone(),
                },
                ..intent
            };
            journal.intent = Some(rolling_back.clone());
            if let Err(e) = beside.store_journal(journal) {
                tracing::error!(hook = %hook.name, error = %e, "could not record the rollback in the journal; rolling back anyway");
            }
            roll_back(beside, hook, &rolling_back, reason, grant)
        }
    }
}

/// Puts the previous version back (by rename, so the application never sees a half-written
/// file; or removes the file the flow created) and reloads.
fn roll_back(
    beside: &Beside,
    hook: &ConfigurationHook,
    intent: &Intent,
    reason: String,
    grant: &Granted,
) -> Try {
    let restored = match &intent.previous {
        Some(previous) => beside.replace(&beside.live, previous.as_bytes()),
        None => match fs::remove_file(&beside.live) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => {
                sync_dir(&beside.dir);
                Ok(())
            }
        },
    };
    let _ = reload(hook, limit(hook), grant);
    let reason = match restored {
        Ok(()) => format!("{reason}; previous configuration restored"),
        Err(e) => format!("{reason}; RESTORE FAILED: {e}"),
    };
    Try::transient(Status::RolledBack, reason, backup_of(beside, intent))
}

fn backup_of(beside: &Beside, intent: &Intent) -> Option<String> {
    intent
        .previous
        .is_some()
        .then(|| beside.prev.display().to_string())
}

fn limit(hook: &ConfigurationHook) -> Duration {
    hook.test
        .as_ref()
        .and_then(|t| t.within)
        .map(|d| d.as_std())
        .unwrap_or(DEFAULT_TEST_LIMIT)
}

/// Whether the reload's signal is known and its pid file names one process (an application
/// restarting may be rewriting it: a later try may pass).
fn reload_possible(hook: &ConfigurationHook, grant: &Granted) -> Result<(), String> {
    match hook.reload.as_ref() {
        Some(Reload {
            signal: Some(signal),
            pid_file: Some(pid_file),
            ..
        }) => {
            signal_number(signal)?;
            read_pid_file(pid_file, grant).map(|_| ())
        }
        _ => Ok(()),
    }
}

fn reload(hook: &ConfigurationHook, limit: Duration, grant: &Granted) -> Result<(), String> {
    let Some(reload) = &hook.reload else {
        return Ok(());
    };
    if let Some(argv) = &reload.command {
        run_command(argv, None, limit, grant).map_err(|e| format!("reload failed: {e}"))?;
    }
    if let (Some(signal), Some(pid_file)) = (&reload.signal, &reload.pid_file) {
        signal_pid_file(signal, pid_file, grant).map_err(|e| format!("reload failed: {e}"))?;
    }
    Ok(())
}

fn reload_and_check(
    hook: &ConfigurationHook,
    limit: Duration,
    grant: &Granted,
) -> Result<(), String> {
    reload(hook, limit, grant)?;
    if let Some(test) = &hook.test {
        if let Some(url) = &test.http {
            wait_for_status(url, test.expect.unwrap_or(200), limit, grant)
                .map_err(|e| format!("check after swap failed: {e}"))?;
        }
    }
    Ok(())
}
