//! Riding out a broker that is away: every stage waits and retries with backoff instead of
//! exiting, so a broker restart (or a service started before its broker) costs time, not data.

use std::time::{Duration, Instant};

use crate::shutdown::Shutdown;

/// Exponential backoff: `first`, doubled at every failure, never above `cap`; [`Backoff::reset`]
/// after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap: cap.max(first),
            next: first,
            failures: 0,
        }
    }

    /// The backoff every stage uses against the broker: 100 ms doubling to 5 s.
    pub fn for_broker() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The wait before the next attempt, counting one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.failures += 1;
        self.next = (self.next * 2).min(self.cap);
        delay
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.next = self.first;
        self.failures = 0;
    }
}

/// The operation gave up because shutdown was requested while it was still failing.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by shutdown while {what} kept failing (last error: {last})")]
pub struct Interrupted {
    pub what: String,
    pub last: String,
}

/// Calls `attempt` until it succeeds, sleeping with [`Backoff::for_broker`] between failures and
/// logging them (the first, then at most one line per 30 s). Returns [`Interrupted`] if shutdown
/// is requested first.
pub fn retry_until<T>(
    what: &str,
    shutdown: &Shutdown,
    mut attempt: impl FnMut() -> anyhow::Result<T>,
) -> Result<T, Interrupted> {
    let mut backoff = Backoff::for_broker();
    let mut log = QuietLog::every(Duration::from_secs(30));
    let started = Instant::now();
    loop {
        match attempt() {
            Ok(value) => {
                if backoff.failures() > 0 {
                    tracing::info!(
                        what,
                        failures = backoff.failures(),
                        waited_ms = started.elapsed().as_millis() as u64,
                        "succeeded after retries"
                    );
                }
                return Ok(value);
            }
            Err(err) => {
                if shutdown.requested() {
                    return Err(Interrupted {
                        what: what.to_string(),
                        last: format!("{err:#}"),
                    });
                }
                let delay = backoff.next_delay();
                if log.due() {
                    tracing::warn!(what, error = %format!("{err:#}"), failures = backoff.failures(), retry_in_ms = delay.as_millis() as u64, "failed; retrying (is the broker away?)");
                }
                shutdown.sleep(delay);
            }
        }
    }
}

/// Lets a repeated warning through once per period, so an outage logs a line, not a storm.
#[derive(Debug)]
pub struct QuietLog {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl QuietLog {
    pub fn every(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Whether to log now; otherwise the occurrence is counted in [`QuietLog::suppressed`].
    pub fn due(&mut self) -> bool {
        let due = self.last.is_none_or(|at| at.elapsed() >= self.every);
        if due {
            self.last = Some(Instant::now());
        } else {
            self.suppressed += 1;
        }
        due
    }

    /// Occurrences not logged since the last line that was, then reset.
    pub fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<u128> = (0..5).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        assert_eq!(backoff.failures(), 5);
        backoff.reset();
        assert_eq!(backoff.failures(), 0);
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn retry_until_returns_the_first_success_after_failures() {
        let shutdown = Shutdown::default();
        let mut calls = 0;
        let value = retry_until("test", &shutdown, || {
            calls += 1;
            if calls < 3 {
                anyhow::bail!("broker away")
            } else {
                Ok(calls * 10)
            }
        })
        .unwrap();
        assert_eq!((value, calls), (30, 3));
    }

    #[test]
    fn retry_until_gives_up_with_the_last_error_once_shutdown_is_requested() {
        let shutdown = Shutdown::default();
        shutdown.request();
        let err = retry_until("reading templates", &shutdown, || -> anyhow::Result<()> {
            anyhow::bail!("all brokers down")
        })
        .unwrap_err();
        assert_eq!(err.what, "reading templates");
        assert!(err.last.contains("all brokers down"), "{err}");
    }

    #[test]
    fn a_quiet_log_lets_one_line_through_per_period_and_counts_the_rest() {
        let mut log = QuietLog::every(Duration::from_secs(3600));
        assert!(log.due());
        assert!(!log.due());
        assert!(!log.due());
        assert_eq!(log.take_suppressed(), 2);
        assert_eq!(log.take_suppressed(), 0);
    }
}
