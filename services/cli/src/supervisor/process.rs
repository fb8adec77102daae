//! Starting, signalling and waiting for children: the operating-system edge of supervision.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Starts `command` in a process group of its own, with no stdin, dying with `presage up`.
///
/// Its own group, because a terminal's Ctrl-C signals the whole foreground group: the broker
/// would stop at the moment the services start committing. Only `presage up` should hear it,
/// and stop the children in order. No stdin, because a background group reading the terminal
/// is stopped by SIGTTIN.
///
/// Must be called from the thread that lives as long as the process (the main thread):
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits.
pub fn spawn_isolated(command: &mut Command) -> io::Result<Child> {
    command.process_group(0).stdin(Stdio::null());
    die_with_parent(command);
    command.spawn()
}

/// SIGKILL the child when `presage up` dies, even by SIGKILL, where no shutdown code runs.
/// SIGKILL rather than SIGTERM: the broker would get it at the same moment as the services, so
/// their commits would fail anyway, and a crash is what every service already recovers from;
/// what matters is that nothing outlives its supervisor and holds the port and the data.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the hook runs between fork and exec and calls only async-signal-safe functions
    // (prctl, getppid) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then the signal will never come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Elsewhere there is no portable equivalent: a SIGKILLed `presage up` leaves its children
/// running (in their own process groups) until they are stopped by hand.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Sends `signal` to the child, unless it has already been reaped (its pid may be reused).
pub fn signal(child: &mut Child, signal: libc::c_int) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: kill(2) on our own unreaped child's pid with a valid signal number.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
    }
}

/// Waits for the child to exit until `deadline`; `None` if it is still running then.
pub fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50).min(deadline - now));
    }
}
