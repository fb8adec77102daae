//! One supervised child process: started, restarted with backoff when it exits, stopped on
//! request. The decisions are `decision::after_exit`'s; this file only carries them out.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::decision::{after_exit, AfterExit, Ending};
use super::process;

/// Starts the child afresh (a restart runs the same command as the first start).
pub type Launch = Box<dyn FnMut() -> anyhow::Result<Child>>;

pub struct Supervised {
    name: &'static str,
    launch: Launch,
    state: State,
    /// The consecutive restart the running child is (0: the first start, or after a stable run).
    attempt: u32,
    /// Every restart since `presage up` started, for the logs.
    restarts: u32,
}

enum State {
    Running { child: Child, since: Instant },
    Waiting { until: Instant },
    Stopped,
}

impl Supervised {
    /// Starts the child; a failure to start it the first time is an error of `presage up`.
    pub fn start(name: &'static str, mut launch: Launch) -> anyhow::Result<Self> {
        let child = launch()?;
        Ok(Self::adopt(name, child, launch))
    }

    /// Supervises a child already started (the broker, which is waited for before anything
    /// else runs).
    pub fn adopt(name: &'static str, child: Child, launch: Launch) -> Self {
        tracing::info!(service = %name, pid = child.id(), "started");
        Self {
            name,
            launch,
            state: State::Running {
                child,
                since: Instant::now(),
            },
            attempt: 0,
            restarts: 0,
        }
    }

    /// While the stack runs: notices an exit and schedules the restart, or restarts when due.
    pub fn tick(&mut self, backoff: &Backoff, now: Instant) {
        match &mut self.state {
            State::Running { child, .. } => match child.try_wait() {
                Ok(Some(status)) => self.exited(status, backoff, false, now),
                Ok(None) => {}
                Err(err) => tracing::warn!(service = %self.name, error = %err, "cannot poll child"),
            },
            State::Waiting { until } if now >= *until => self.restart(backoff, now),
            State::Waiting { .. } | State::Stopped => {}
        }
    }

    fn exited(&mut self, status: ExitStatus, backoff: &Backoff, shutting_down: bool, now: Instant) {
        let State::Running { child, since } = &self.state else {
            return;
        };
        let pid = child.id();
        let ran_for = now.saturating_duration_since(*since);
        let ending = Ending::from(status);
        match after_exit(backoff, shutting_down, self.attempt, ran_for) {
            AfterExit::Restart { attempt, delay } => {
                tracing::warn!(
                    service = %self.name,
                    pid,
                    status = %ending,
                    ran_for = ?ran_for,
                    attempt,
                    restarts = self.restarts,
                    delay = ?delay,
                    "exited; restarting after backoff"
                );
                self.attempt = attempt;
                self.state = State::Waiting { until: now + delay };
            }
            AfterExit::StayStopped => {
                tracing::info!(service = %self.name, pid, status = %ending, "stopped");
                self.state = State::Stopped;
            }
        }
    }

    fn restart(&mut self, backoff: &Backoff, now: Instant) {
        match (self.launch)() {
            Ok(child) => {
                self.restarts += 1;
                tracing::info!(
                    service = %self.name,
                    pid = child.id(),
                    attempt = self.attempt,
                    restarts = self.restarts,
                    "restarted"
                );
                self.state = State::Running { child, since: now };
            }
            Err(err) => {
                // A start that fails is a run that ended at once: the schedule climbs.
                self.attempt = backoff.next_attempt(self.attempt, Duration::ZERO);
                let delay = backoff.delay(self.attempt);
                tracing::error!(
                    service = %self.name,
                    error = %format!("{err:#}"),
                    attempt = self.attempt,
                    delay = ?delay,
                    "cannot restart; trying again after backoff"
                );
                self.state = State::Waiting { until: now + delay };
            }
        }
    }

    /// Shutting down: a pending restart is cancelled, a running child gets SIGTERM.
    pub fn ask_to_stop(&mut self) {
        match &mut self.state {
            State::Running { child, .. } => process::signal(child, libc::SIGTERM),
            State::Waiting { .. } => self.state = State::Stopped,
            State::Stopped => {}
        }
    }

    /// Shutting down: waits until `deadline` for the child to exit; whether it did (or had
    /// nothing running).
    pub fn await_exit(&mut self, backoff: &Backoff, deadline: Instant) -> bool {
        let State::Running { child, .. } = &mut self.state else {
            return true;
        };
        match process::wait_until(child, deadline) {
            Ok(Some(status)) => {
                self.exited(status, backoff, true, Instant::now());
                true
            }
            Ok(None) => false,
            Err(err) => {
                tracing::warn!(service = %self.name, error = %err, "cannot wait for child");
                false
            }
        }
    }

    /// Shutting down, after the grace period: SIGKILL for a child still running.
    pub fn kill(&mut self, backoff: &Backoff) {
        let State::Running { child, .. } = &mut self.state else {
            return;
        };
        tracing::warn!(service = %self.name, pid = child.id(), "did not stop in time; killing");
        let _ = child.kill();
        match child.wait() {
            Ok(status) => self.exited(status, backoff, true, Instant::now()),
            Err(_) => self.state = State::Stopped,
        }
    }
}

/// An early return of `presage up` (an error after the broker started) must not leave children.
impl Drop for Supervised {
    fn drop(&mut self) {
        if let State::Running { child, .. } = &mut self.state {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
