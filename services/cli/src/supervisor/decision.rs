//! What the supervisor does when a child exits: restart it after a delay, or leave it stopped.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use super::backoff::Backoff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    /// Start it again after `delay`; `attempt` counts consecutive restarts (it drives the delay).
    Restart { attempt: u32, delay: Duration },
    /// Shutting down: an exit now, clean or not, is what was asked for.
    StayStopped,
}

/// The decision for a child that exited after running `ran_for`, started as attempt `previous`.
/// Any exit while the stack runs is a restart, a zero exit status too: the stack runs until it
/// is told to stop, and a service that returns early is as absent as one that crashed.
pub fn after_exit(
    backoff: &Backoff,
    shutting_down: bool,
    previous: u32,
    ran_for: Duration,
) -> AfterExit {
    if shutting_down {
        return AfterExit::StayStopped;
    }
    let attempt = backoff.next_attempt(previous, ran_for);
    AfterExit::Restart {
        attempt,
        delay: backoff.delay(attempt),
    }
}

/// How a child ended, for logs: an exit code, or the signal that killed it (by name, since an
/// operator reads "SIGKILL" as the OOM killer or a `kill -9` faster than "signal 9").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Code(i32),
    Signal(i32),
}

impl From<ExitStatus> for Ending {
    fn from(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Ending::Code(code),
            (None, Some(signal)) => Ending::Signal(signal),
            // Stopped or continued children are not reported by wait without WUNTRACED.
            (None, None) => Ending::Code(-1),
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ending::Code(code) => write!(f, "exit code {code}"),
            Ending::Signal(signal) => match signal_name(signal) {
                Some(name) => write!(f, "signal {name}"),
                None => write!(f, "signal {signal}"),
            },
        }
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn nothing_is_restarted_during_shutdown_whatever_its_exit() {
        let backoff = Backoff::default();
        assert_eq!(
            after_exit(&backoff, true, 0, secs(5)),
            AfterExit::StayStopped
        );
        assert_eq!(
            after_exit(&backoff, true, 3, secs(0)),
            AfterExit::StayStopped
        );
    }

    #[test]
    fn a_first_crash_is_restarted_after_one_second() {
        assert_eq!(
            after_exit(&Backoff::default(), false, 0, secs(5)),
            AfterExit::Restart {
                attempt: 1,
                delay: secs(1)
            }
        );
    }

    #[test]
    fn a_child_crashing_again_at_once_waits_twice_as_long() {
        assert_eq!(
            after_exit(&Backoff::default(), false, 1, secs(1)),
            AfterExit::Restart {
                attempt: 2,
                delay: secs(2)
            }
        );
    }

    #[test]
    fn endings_name_the_signal_or_give_the_code() {
        // Raw wait statuses: the low 7 bits are the terminating signal, else the code is in
        // bits 8..16.
        assert_eq!(Ending::from(ExitStatus::from_raw(9)), Ending::Signal(9));
        assert_eq!(Ending::from(ExitStatus::from_raw(3 << 8)), Ending::Code(3));
        assert_eq!(Ending::Signal(libc::SIGKILL).to_string(), "signal SIGKILL");
        assert_eq!(Ending::Signal(64).to_string(), "signal 64");
        assert_eq!(Ending::Code(0).to_string(), "exit code 0");
    }
}
