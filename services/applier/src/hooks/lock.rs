//! One shadow flow per live file at a time, across processes: an advisory `flock` on a lock file
//! beside the configuration, held from before recovery until the outcome is recorded.
//!
//! Why `flock` on a separate file: the live file is replaced by rename, so a lock on it would
//! be on an inode that stops being the live file mid-flow. The kernel drops the lock when its
//! holder dies (SIGKILL included), so a crashed applier never leaves a file locked; Rust opens
//! files close-on-exec, so test and reload commands do not inherit it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Held while alive; dropping it (or dying) releases the lock.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until this process holds the lock on `path` (created if missing).
    pub fn acquire(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock(2) on a descriptor this function owns, with a valid operation.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Self { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
