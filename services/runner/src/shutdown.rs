//! Graceful shutdown: SIGINT/SIGTERM raise a flag that every loop checks between records, so
//! the record in hand is finished and its offset committed before the process exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag raised by SIGINT or SIGTERM.
    pub fn on_signals() -> std::io::Result<Self> {
        let shutdown = Self::default();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, shutdown.0.clone())?;
        }
        Ok(shutdown)
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed)
    }

    /// Sleeps up to `duration`, waking early when shutdown is requested.
    pub fn sleep(&self, duration: std::time::Duration) {
        let step = std::time::Duration::from_millis(50);
        let deadline = std::time::Instant::now() + duration;
        while !self.requested() {
            let now = std::time::Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep(step.min(deadline - now));
        }
    }
}
