//! The journal kept beside each live configuration file (a command hook's, and an http or
//! kubernetes hook's when it has one, in its granted `state_dir`), and what to do with an apply
//! a crash interrupted. Pure: the hooks read and write the journal (`hooks/files.rs`, under the
//! lock `hooks/flow.rs` takes) and carry out what [`recover`] (a file or env hook) or
//! [`recover_commands`] (a command hook) decides; an http or kubernetes hook decides from the
//! application's state it reads back (`hooks/http/crash.rs`, `hooks/kubernetes.rs`).
//!
//! Before the shadow flow touches the live file (the `.prev` copy, the swap) it records an
//! [`Intent`]: which input, the previous text (exactly as it was live, or none), the candidate
//! text (which passed the rules and the hook's test), and the phase. Before it restores the
//! previous version it records the phase `rolling_back`. When the flow ends it clears the intent
//! and appends the terminal outcome to the journal's short ledger, in the same atomic write.
//! A restarted applier finds an intent left behind and, comparing the live file with the
//! intent's two texts, knows exactly how far the flow got.

use presage_events::ApplyOutcome;
use serde::{Deserialize, Serialize};

use crate::outcome::Input;

/// How many terminal outcomes a journal keeps: enough to answer every input that can still be
/// replayed (those after the last committed offset), few enough to rewrite the file each time.
pub const LEDGER: usize = 64;

/// The journal of one live configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// The apply in progress, if any: present from just before the live file is first touched
    /// until the flow's outcome is recorded.
    pub intent: Option<Intent>,
    /// Terminal outcomes of the latest applies through this file, oldest first. An outcome is
    /// recorded here before it is handed to the runner to publish, so a replayed input gets the
    /// very same outcome (same bytes, `applied_at_ms` included), never a second one.
    pub outcomes: Vec<ApplyOutcome>,
    /// A command hook's values last applied (the candidate document as JSON text), recorded in
    /// the same write as the outcome that applied them: its current state when it has no
    /// `read` command. File and env hooks read their live file instead and leave it empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

/// An apply between "about to touch the live file" and "outcome recorded".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub input: Input,
    pub hook: String,
    /// The live file's text when the flow read it; `None`: there was no live file. A command
    /// hook's previous values, an http hook's configuration as read (JSON), a kubernetes hook's
    /// owned parts of the workload as read (JSON).
    pub previous: Option<String>,
    /// The text being swapped in: it passed the rules and the hook's test. A command hook's
    /// candidate values; an http hook's candidate, change and method (JSON); a kubernetes
    /// hook's owned parts as they must become (JSON).
    pub candidate: String,
    /// Which try of the hook's retry policy this is (1 for the first).
    pub attempt: u32,
    pub phase: Phase,
    /// What the change was sent to, for hooks whose target a template update can move (an http
    /// hook's URL, a kubernetes hook's `namespace/Kind/name`): a crash recovered after such an
    /// update finds another target and converges nothing there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    /// `.prev`, the swap, the reload and the check are under way.
    Swapping,
    /// The reload or the check failed (`reason`): the previous version is being put back.
    RollingBack { reason: String },
}

impl Journal {
    /// The recorded outcome with this id, if the journal still holds it.
    pub fn recorded(&self, outcome_id: &str) -> Option<&ApplyOutcome> {
        self.outcomes.iter().find(|o| o.event_id == outcome_id)
    }

    /// Clears the intent and records `outcome`, keeping the ledger to [`LEDGER`] entries.
    pub fn finish(&mut self, outcome: ApplyOutcome) {
        self.intent = None;
        self.outcomes.retain(|o| o.event_id != outcome.event_id);
        self.outcomes.push(outcome);
        let excess = self.outcomes.len().saturating_sub(LEDGER);
        self.outcomes.drain(..excess);
    }
}

/// What to do about an interrupted apply, given the live file as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The live file is still the previous version: the swap never happened. The candidate
    /// passed the rules and the test, so finish the flow: keep `.prev`, swap, reload, check.
    Swap,
    /// The candidate is live: the reload and the check may not have run (or their result was
    /// lost). Run both; roll back if they fail.
    Verify,
    /// A rollback was under way: put the previous version back (it may already be) and reload.
    RollBack { reason: String },
    /// The live file is neither version: someone other than the applier wrote it after the
    /// crash. Leave it alone; the interrupted input failed.
    LeaveAlone,
}

/// Decides from the intent and the live file's text (`None`: no file) how to converge. Texts
/// are compared exactly: the applier wrote both, byte for byte.
pub fn recover(intent: &Intent, live: Option<&str>) -> Recovery {
    let is_candidate = live == Some(intent.candidate.as_str());
    let is_previous = live == intent.previous.as_deref();
    match &intent.phase {
        Phase::RollingBack { reason } if is_candidate || is_previous => Recovery::RollBack {
            reason: reason.clone(),
        },
        // The candidate wins a tie (a change that wrote the same text): verifying it is what
        // the uninterrupted flow would have done next.
        Phase::Swapping if is_candidate => Recovery::Verify,
        Phase::Swapping if is_previous => Recovery::Swap,
        _ => Recovery::LeaveAlone,
    }
}

/// What to do about a command hook's interrupted apply. A command leaves nothing to compare
/// (unlike a live file), so what the intent says is all there is: the `apply` may or may not
/// have run, or run halfway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRecovery {
    /// Run the hook's `check` with the candidate's values: passing, the candidate is applied;
    /// failing, roll back.
    Check,
    /// No check to tell: run `apply` again with the candidate's values (a directive is a target,
    /// so applying it twice is applying it once), then roll back if it fails.
    Apply,
    /// A rollback was under way: run `rollback` with the previous values again.
    RollBack { reason: String },
}

/// Decides how to converge a command hook's interrupted apply; `has_check`: the hook has a
/// `check` command.
pub fn recover_commands(intent: &Intent, has_check: bool) -> CommandRecovery {
    match &intent.phase {
        Phase::RollingBack { reason } => CommandRecovery::RollBack {
            reason: reason.clone(),
        },
        Phase::Swapping if has_check => CommandRecovery::Check,
        Phase::Swapping => CommandRecovery::Apply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "resources:\n  replicas: 3\n";
    const NEW: &str = "resources:\n  replicas: 7\n";

    fn intent(previous: Option<&str>, phase: Phase) -> Intent {
        Intent {
            input: Input {
                event_id: "d-1".into(),
                app: "shop".into(),
                template_version: "v1".into(),
                decided_at_ms: 100,
                resources: vec!["replicas".into()],
            },
            hook: "cfg".into(),
            previous: previous.map(str::to_string),
            candidate: NEW.into(),
            attempt: 1,
            phase,
            target: None,
        }
    }

    fn rolling_back() -> Phase {
        Phase::RollingBack {
            reason: "check after swap failed: HTTP 503".into(),
        }
    }

    #[test]
    fn a_crash_before_the_swap_finishes_the_swap() {
        assert_eq!(
            recover(&intent(Some(OLD), Phase::Swapping), Some(OLD)),
            Recovery::Swap
        );
        assert_eq!(
            recover(&intent(None, Phase::Swapping), None),
            Recovery::Swap,
            "no live file before, none now"
        );
    }

    #[test]
    fn a_crash_after_the_swap_verifies_the_candidate() {
        assert_eq!(
            recover(&intent(Some(OLD), Phase::Swapping), Some(NEW)),
            Recovery::Verify
        );
        assert_eq!(
            recover(&intent(None, Phase::Swapping), Some(NEW)),
            Recovery::Verify
        );
        assert_eq!(
            recover(&intent(Some(NEW), Phase::Swapping), Some(NEW)),
            Recovery::Verify,
            "a change to the same text is verified, not swapped again"
        );
    }

    #[test]
    fn a_crash_during_a_rollback_finishes_the_rollback_wherever_it_stopped() {
        let reason = "check after swap failed: HTTP 503".to_string();
        for live in [Some(NEW), Some(OLD)] {
            assert_eq!(
                recover(&intent(Some(OLD), rolling_back()), live),
                Recovery::RollBack {
                    reason: reason.clone()
                },
                "{live:?}"
            );
        }
        assert_eq!(
            recover(&intent(None, rolling_back()), None),
            Recovery::RollBack { reason },
            "the file the flow created is already gone"
        );
    }

    #[test]
    fn a_live_file_someone_else_wrote_is_left_alone() {
        let theirs = Some("resources:\n  replicas: 12\n");
        assert_eq!(
            recover(&intent(Some(OLD), Phase::Swapping), theirs),
            Recovery::LeaveAlone
        );
        assert_eq!(
            recover(&intent(Some(OLD), rolling_back()), theirs),
            Recovery::LeaveAlone
        );
        assert_eq!(
            recover(&intent(Some(OLD), Phase::Swapping), None),
            Recovery::LeaveAlone,
            "deleted by someone else"
        );
    }

    fn applied(id: &str) -> ApplyOutcome {
        crate::outcome::outcome(
            intent(None, Phase::Swapping).input,
            id,
            crate::outcome::Status::Applied,
            Default::default(),
            1,
        )
    }

    #[test]
    fn an_interrupted_command_is_checked_applied_again_or_rolled_back() {
        let swapping = intent(Some(OLD), Phase::Swapping);
        assert_eq!(recover_commands(&swapping, true), CommandRecovery::Check);
        assert_eq!(recover_commands(&swapping, false), CommandRecovery::Apply);
        let rolling = intent(Some(OLD), rolling_back());
        for has_check in [true, false] {
            assert_eq!(
                recover_commands(&rolling, has_check),
                CommandRecovery::RollBack {
                    reason: "check after swap failed: HTTP 503".into()
                }
            );
        }
    }

    #[test]
    fn finishing_clears_the_intent_and_keeps_the_latest_outcomes() {
        let mut journal = Journal {
            intent: Some(intent(Some(OLD), Phase::Swapping)),
            outcomes: Vec::new(),
            applied: None,
        };
        for n in 0..LEDGER + 5 {
            journal.finish(applied(&format!("hook-{n}")));
        }
        assert_eq!(journal.intent, None);
        assert_eq!(journal.outcomes.len(), LEDGER);
        let first_kept = applied("hook-5").event_id;
        assert!(journal.recorded(&first_kept).is_some());
        assert!(journal.recorded(&applied("hook-4").event_id).is_none());
        // the same outcome twice is kept once
        journal.finish(applied("hook-5"));
        assert_eq!(journal.outcomes.len(), LEDGER);
        assert_eq!(journal.outcomes.last().unwrap().event_id, first_kept);
    }
}
