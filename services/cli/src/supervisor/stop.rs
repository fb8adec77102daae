//! Stopping the stack in order: the services first, while the broker still answers, so each
//! can commit its offsets on the way out; the broker last.

use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::supervised::Supervised;

/// How long a child may take to stop after SIGTERM before it gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(10);

pub fn stop_in_order(
    services: &mut [Supervised],
    broker: Option<&mut Supervised>,
    backoff: &Backoff,
    grace: Duration,
) {
    tracing::info!(services = services.len(), "stopping the services");
    stop_together(services, backoff, grace);
    if let Some(broker) = broker {
        tracing::info!("services stopped; stopping the local broker");
        stop_together(std::slice::from_mut(broker), backoff, grace);
    }
}

/// SIGTERM to all, one shared grace period (they stop in parallel), then SIGKILL stragglers.
fn stop_together(children: &mut [Supervised], backoff: &Backoff, grace: Duration) {
    for child in children.iter_mut() {
        child.ask_to_stop();
    }
    let deadline = Instant::now() + grace;
    for child in children.iter_mut() {
        if !child.await_exit(backoff, deadline) {
            child.kill(backoff);
        }
    }
}
