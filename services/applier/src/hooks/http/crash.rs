//! An http hook's change a crash interrupted, converged from its journal (a hook with a
//! `state_dir`): the journal's intent holds the configuration read before the change (its
//! `previous`) and [`Sent`] (its `candidate`), so a restart still knows the state to put back.
//!
//! Phase `swapping` (the change may or may not have been sent, its check was pending): the
//! configuration is read back; not holding the change, it was never sent (or never took), and
//! nothing is sent now (`failed`, nothing changed); holding it, the hook's check is run again,
//! and failing, the previous configuration is sent back (`rolled_back`). Phase `rolling_back`:
//! the previous configuration is sent again. A server that cannot be reached leaves the intent
//! in the journal, to be converged before the hook's next change.

use presage_template::ConfigurationHook;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::files::Beside;
use super::super::grant::Granted;
use super::client::Client;
use super::{change, check, roll_back};
use crate::journal::{Intent, Journal, Phase};
use crate::outcome::Status;
use crate::retry::Try;

/// What an http hook journals as its intent's candidate: enough to check the change and to
/// undo it the way it was sent, even if the template changed since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Sent {
    /// The whole candidate configuration.
    pub document: Value,
    /// The change (a merge patch): what a read-back must hold, and what a `PATCH` sent.
    pub change: Value,
    /// The method the change was sent with, to send the previous state back with.
    pub method: String,
}

/// Converges the interrupted change `intent` describes; `Err`: the server could not be reached
/// (or the hook refused), and the intent stays for the next try.
pub(super) fn converge(
    hook: &ConfigurationHook,
    beside: &Beside,
    journal: &mut Journal,
    intent: &Intent,
    grant: &Granted,
) -> Result<Try, String> {
    let unreadable = |why: String| {
        let reason = format!(
            "the journaled change is unreadable ({why}): nothing sent; repair or remove the \
             hook's journal in its state_dir"
        );
        Ok(Try::permanent(Status::Failed, reason))
    };
    let sent: Sent = match serde_json::from_str(&intent.candidate) {
        Ok(sent) => sent,
        Err(e) => return unreadable(e.to_string()),
    };
    let previous: Value = match intent.previous.as_deref().map(serde_json::from_str) {
        Some(Ok(previous)) => previous,
        Some(Err(e)) => return unreadable(e.to_string()),
        None => return unreadable("no previous configuration".into()),
    };
    let Some(url) = hook.url.as_deref() else {
        return Ok(Try::permanent(
            Status::Failed,
            "http hook has no url".into(),
        ));
    };
    if let Some(was) = intent.target.as_deref().filter(|was| *was != url) {
        let reason = format!(
            "interrupted by a crash, and the hook now sends to {} instead of {}: the \
             interrupted change is not converged; nothing sent",
            presage_events::redact_url(url),
            presage_events::redact_url(was)
        );
        return Ok(Try::permanent(Status::Failed, reason));
    }
    let settings = hook.http_settings();
    let client = Client::new(hook, &settings, grant).map_err(|f| f.reason().to_string())?;
    let read_url = settings.read.as_deref().unwrap_or(url);
    tracing::warn!(input = %intent.input.event_id, hook = %intent.hook, phase = ?intent.phase, "converging an http change a crash interrupted");
    let reason = match &intent.phase {
        Phase::RollingBack { reason } => {
            format!("{reason}; interrupted by a crash while rolling back")
        }
        Phase::Swapping => {
            let live = client
                .get_json(read_url)
                .map_err(|f| format!("reading the configuration: {}", f.reason()))?;
            if !change::holds(&live, &sent.change) {
                let reason = "interrupted by a crash before the change took effect: the \
                              configuration does not hold it; nothing sent";
                return Ok(Try::transient(Status::Failed, reason.into(), None));
            }
            match check(&client, &settings, read_url, &sent.change) {
                Ok(()) => return Ok(Try::applied(None)),
                Err(why) => {
                    format!("interrupted by a crash while checking; then check failed: {why}")
                }
            }
        }
    };
    // A crash during this send converges here again, in phase `rolling_back`, and sends the
    // same previous state.
    if matches!(intent.phase, Phase::Swapping) {
        journal.intent = Some(Intent {
            phase: Phase::RollingBack {
                reason: reason.clone(),
            },
            ..intent.clone()
        });
        if let Err(e) = beside.store_journal(journal) {
            tracing::error!(hook = %hook.name, error = %e, "could not record the rollback in the journal; rolling back anyway");
        }
    }
    Ok(roll_back(
        &client,
        &sent.method,
        url,
        &sent.change,
        &previous,
        reason,
    ))
}
