//! Which failed tries are tried again, and how long to wait first.
//!
//! A try that failed for a reason that may pass on its own (a test command that failed, an HTTP
//! 5xx or a connection error, a write error, a rollback after a failing post-swap check) is
//! transient; a change a rule refused, a superseded directive, or a hook that cannot take the
//! change (no path, an HTTP 4xx, a metadata fragment whose body is not a patch) is not: trying
//! again would give the same answer.

use std::time::Duration;

use presage_template::Retry;

use crate::outcome::Status;

/// No wait between tries is ever longer than this, however many doublings the policy asks for.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one try came to: the outcome's status and reason, where the backup is, and whether a
/// failure may pass on a later try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Try {
    pub status: Status,
    pub reason: Option<String>,
    pub backup_path: Option<String>,
    pub transient: bool,
}

impl Try {
    pub fn applied(backup_path: Option<String>) -> Self {
        Self {
            status: Status::Applied,
            reason: None,
            backup_path,
            transient: false,
        }
    }

    /// A failure that a later try may not see: a failing test, a write error, an HTTP 5xx.
    pub fn transient(status: Status, reason: String, backup_path: Option<String>) -> Self {
        Self {
            status,
            reason: Some(reason),
            backup_path,
            transient: true,
        }
    }

    /// A failure every later try would repeat.
    pub fn permanent(status: Status, reason: String) -> Self {
        Self {
            status,
            reason: Some(reason),
            backup_path: None,
            transient: false,
        }
    }
}

/// How long to wait before try number `next` (2 for the first retry), or `None` when the
/// policy's attempts are used up or `last` is not worth repeating. The wait doubles from
/// `backoff` with each retry, up to [`MAX_BACKOFF`].
pub fn wait_before(policy: &Retry, last: &Try, next: u32) -> Option<Duration> {
    if !last.transient || next < 2 || next > policy.attempts {
        return None;
    }
    let doublings = (next - 2).min(16);
    let wait = policy.backoff.as_std().saturating_mul(1 << doublings);
    Some(wait.min(MAX_BACKOFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, backoff_ms: u64) -> Retry {
        Retry {
            attempts,
            backoff: presage_template::Duration::from_millis(backoff_ms),
        }
    }

    fn failed() -> Try {
        Try::transient(Status::Failed, "test exited 1".into(), None)
    }

    #[test]
    fn a_transient_failure_is_retried_with_doubling_waits_until_the_attempts_are_used() {
        let p = policy(4, 500);
        let waits: Vec<Option<Duration>> = (2..=5).map(|n| wait_before(&p, &failed(), n)).collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::from_millis(500)),
                Some(Duration::from_millis(1000)),
                Some(Duration::from_millis(2000)),
                None
            ]
        );
    }

    #[test]
    fn a_rolled_back_try_is_retried_but_a_rejected_or_superseded_one_never() {
        let p = policy(3, 100);
        let rolled_back = Try::transient(Status::RolledBack, "check 503".into(), None);
        assert!(wait_before(&p, &rolled_back, 2).is_some());
        for status in [Status::Rejected, Status::Superseded, Status::Failed] {
            let last = Try::permanent(status, "no".into());
            assert_eq!(wait_before(&p, &last, 2), None, "{status:?}");
        }
        assert_eq!(wait_before(&p, &Try::applied(None), 2), None);
    }

    #[test]
    fn one_attempt_means_no_retry_and_waits_are_capped() {
        assert_eq!(wait_before(&policy(1, 500), &failed(), 2), None);
        assert_eq!(
            wait_before(&policy(10, 20_000), &failed(), 10),
            Some(MAX_BACKOFF)
        );
    }
}
