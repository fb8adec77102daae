//! The steps every journaled hook shares: the file and env hooks' shadow flow
//! ([`super::file`]) and the command hook's ([`super::command`]) differ in what one try does and
//! in how an interrupted try is converged, not in what surrounds them.
//!
//! Under the hook's cross-process lock: converge the intent a crash left (its outcome recorded
//! in the journal, to be returned when its input is replayed); give back an outcome the journal
//! already holds for this input; refuse a superseded input; run tries as the hook's retry policy
//! says (clearing the journal's intent between them); record the outcome in the journal before
//! it is returned for publishing.

use std::fs;

use presage_events::ApplyOutcome;
use presage_template::ConfigurationHook;

use super::files::Beside;
use super::finish;
use super::lock::FileLock;
use crate::journal::{Intent, Journal};
use crate::outcome::{outcome_id, Input, Status};
use crate::retry::{wait_before, Try};

/// The flow of one input through `hook`, whose journal and lock are `beside`. `converge`
/// finishes or undoes the try a crash interrupted (the journal's intent, given); `try_once` is
/// one try (its number given), leaving the journal's intent set once it may have changed the
/// application. `superseded` (a reason): a newer directive for the same resources was applied,
/// so nothing is tried, unless the journal already holds this input's outcome.
pub(super) fn run(
    beside: &Beside,
    hook: &ConfigurationHook,
    input: Input,
    superseded: Option<String>,
    now_ms: i64,
    converge: impl FnOnce(&mut Journal, &Intent) -> Result<Try, String>,
    mut try_once: impl FnMut(&Input, u32, &mut Journal) -> Try,
) -> ApplyOutcome {
    let (_lock, mut journal) = match lock_and_converge(beside, hook, now_ms, converge) {
        Ok(held) => held,
        Err(reason) => {
            let t = Try::transient(Status::Failed, reason, None);
            return finish(input, hook, t, 1, now_ms);
        }
    };
    if let Some(recorded) = journal.recorded(&outcome_id(&input.event_id, &hook.name)) {
        tracing::info!(input = %input.event_id, hook = %hook.name, status = %recorded.status, "outcome already recorded in the journal: not applied again");
        return recorded.clone();
    }
    if let Some(reason) = superseded {
        return finish(
            input,
            hook,
            Try::permanent(Status::Superseded, reason),
            1,
            now_ms,
        );
    }
    let policy = hook.retry();
    let mut attempt = 1;
    let last = loop {
        let t = try_once(&input, attempt, &mut journal);
        match wait_before(&policy, &t, attempt + 1) {
            Some(wait) => {
                // The try is over (nothing changed, or the previous version restored).
                if journal.intent.take().is_some() {
                    if let Err(reason) = beside.store_journal(&journal) {
                        tracing::error!(hook = %hook.name, %reason, "could not clear the journal's intent");
                    }
                }
                tracing::warn!(input = %input.event_id, hook = %hook.name, attempt, status = t.status.as_str(), reason = ?t.reason, wait_ms = wait.as_millis() as u64, "apply failed; trying again");
                std::thread::sleep(wait);
                attempt += 1;
            }
            None => break t,
        }
    };
    let outcome = finish(input, hook, last, attempt, now_ms);
    journal.finish(outcome.clone());
    if let Err(reason) = beside.store_journal(&journal) {
        // The application is settled (applied or restored); only the record of it is missing,
        // so a replay would run the flow again on the settled application.
        tracing::error!(hook = %hook.name, %reason, "could not record the outcome in the journal");
    }
    outcome
}

/// Takes the lock of `beside`, reads its journal, removes the temporary files a crashed flow
/// left, and converges an intent found there with `converge`: the interrupted input's outcome
/// is recorded in the journal.
pub(super) fn lock_and_converge(
    beside: &Beside,
    hook: &ConfigurationHook,
    now_ms: i64,
    converge: impl FnOnce(&mut Journal, &Intent) -> Result<Try, String>,
) -> Result<(FileLock, Journal), String> {
    fs::create_dir_all(&beside.dir)
        .map_err(|e| format!("creating {}: {e}", beside.dir.display()))?;
    let lock = FileLock::acquire(&beside.lock)
        .map_err(|e| format!("locking {}: {e}", beside.lock.display()))?;
    let mut journal = beside.load_journal()?;
    beside.remove_stale();
    if let Some(intent) = journal.intent.clone() {
        let t = converge(&mut journal, &intent)?;
        let recovered = finish(intent.input.clone(), hook, t, intent.attempt, now_ms);
        tracing::warn!(input = %intent.input.event_id, hook = %recovered.hook, status = %recovered.status, reason = ?recovered.reason, "interrupted apply converged");
        journal.finish(recovered);
        beside.store_journal(&journal)?;
    }
    Ok((lock, journal))
}
