//! When a crashed child is started again: exponential backoff, forgotten once it ran stably.

use std::time::Duration;

/// The restart schedule of one supervised process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first restart after a stable run.
    pub first: Duration,
    /// No delay exceeds this: a child crashing on a broken broker is retried at this pace.
    pub max: Duration,
    /// A child that ran at least this long counts as healthy: its next crash starts the
    /// schedule over instead of waiting `max` for a fault that happens once a day.
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before the `attempt`-th consecutive restart (1-based): `first`, doubling, capped
    /// at `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        // 2^31 × any non-zero `first` is far beyond any sane `max`; the cap keeps the shift valid.
        let doublings = attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The consecutive attempt a restart is, after a child that ran `ran_for` exited, given the
    /// attempt that started it (0 for the first start).
    pub fn next_attempt(&self, previous: u32, ran_for: Duration) -> u32 {
        if ran_for >= self.stable_after {
            1
        } else {
            previous.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delays_start_at_one_second_and_double_up_to_thirty() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (1..=8).map(|a| backoff.delay(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn the_delay_stays_at_the_cap_for_any_number_of_attempts() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(33), secs(30));
        assert_eq!(backoff.delay(u32::MAX), secs(30));
    }

    #[test]
    fn quick_crashes_climb_the_schedule() {
        let backoff = Backoff::default();
        let mut attempt = 0;
        for _ in 0..4 {
            attempt = backoff.next_attempt(attempt, secs(2));
        }
        assert_eq!(attempt, 4);
        assert_eq!(backoff.delay(attempt), secs(8));
    }

    #[test]
    fn a_crash_after_a_stable_run_starts_the_schedule_over() {
        let backoff = Backoff::default();
        assert_eq!(backoff.next_attempt(6, secs(60)), 1);
        assert_eq!(backoff.delay(backoff.next_attempt(6, secs(3600))), secs(1));
        assert_eq!(backoff.next_attempt(6, secs(59)), 7);
    }
}
