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
use crate::journal::{Intent, Journal, Phase};
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

/// Journals the intent of a hook whose only state is the application's (http, kubernetes), when
/// it has a `state_dir`: the state read before the switch and the candidate, then the phase
/// `rolling_back` before the previous state is put back. Without a `state_dir` it records
/// nothing and the hook behaves as if it had no journal.
pub(super) struct Recorder<'a> {
    at: Option<(&'a Beside, &'a mut Journal)>,
    input: &'a Input,
    hook: &'a str,
    attempt: u32,
    intent: Option<Intent>,
}

impl<'a> Recorder<'a> {
    /// A recorder writing to `journal` at `beside`.
    pub(super) fn journaled(
        beside: &'a Beside,
        journal: &'a mut Journal,
        input: &'a Input,
        hook: &'a str,
        attempt: u32,
    ) -> Self {
        Self {
            at: Some((beside, journal)),
            input,
            hook,
            attempt,
            intent: None,
        }
    }

    /// A recorder of a hook without a `state_dir`: records nothing.
    pub(super) fn none(input: &'a Input, hook: &'a str) -> Self {
        Self {
            at: None,
            input,
            hook,
            attempt: 1,
            intent: None,
        }
    }

    /// Records, before the switch, what is about to change. An error means nothing may be
    /// switched: a crash would leave a change no restart could roll back.
    /// `target` is what the change is sent to (a URL, a workload), so a recovery after the
    /// template moved the hook converges nothing at the new target.
    pub(super) fn begin(
        &mut self,
        target: &str,
        previous: String,
        candidate: String,
    ) -> Result<(), String> {
        let Some((beside, journal)) = self.at.as_mut() else {
            return Ok(());
        };
        let intent = Intent {
            input: self.input.clone(),
            hook: self.hook.to_string(),
            previous: Some(previous),
            candidate,
            attempt: self.attempt,
            phase: Phase::Swapping,
            target: Some(target.to_string()),
        };
        journal.intent = Some(intent.clone());
        if let Err(reason) = beside.store_journal(journal) {
            journal.intent = None;
            return Err(format!("journaling the change: {reason}"));
        }
        self.intent = Some(intent);
        Ok(())
    }

    /// Records, before the previous state is put back, that a rollback is under way. Failing to
    /// record it, the rollback still runs (a restart would then check the change again).
    pub(super) fn rolling_back(&mut self, reason: &str) {
        let (Some((beside, journal)), Some(intent)) = (self.at.as_mut(), &self.intent) else {
            return;
        };
        journal.intent = Some(Intent {
            phase: Phase::RollingBack {
                reason: reason.to_string(),
            },
            ..intent.clone()
        });
        if let Err(e) = beside.store_journal(journal) {
            tracing::error!(hook = %self.hook, error = %e, "could not record the rollback in the journal; rolling back anyway");
        }
    }
}

/// Converges, at start, what a crash left of the last change of `hook` journaled at `beside`;
/// a hook that never journaled a change here has no journal, and nothing is created.
pub(super) fn recover_at(
    beside: &Beside,
    hook: &ConfigurationHook,
    now_ms: i64,
    converge: impl FnOnce(&mut Journal, &Intent) -> Result<Try, String>,
) {
    if !beside.journal.exists() {
        return;
    }
    if let Err(reason) = lock_and_converge(beside, hook, now_ms, converge) {
        tracing::error!(hook = %hook.name, %reason, "could not recover the hook's interrupted change");
    }
}
