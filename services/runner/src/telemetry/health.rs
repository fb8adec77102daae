//! Readiness: a process is ready when every one of its loops is.
//!
//! A loop is ready when it has read the templates topic, its consumer has joined the group (an
//! assignment arrived, even an empty one: an instance beyond the partition count is ready and
//! idle), every partition's state is rebuilt (stages rebuild before a partition's first record,
//! or when it is read to its end with none), and its consumer does not report the broker away. Liveness (`/healthz`) is only
//! that the process answers: a broker outage is no reason for an orchestrator to restart it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The loops of one process.
#[derive(Default)]
pub struct Health {
    loops: Mutex<Vec<Arc<LoopHealth>>>,
}

/// One loop's readiness, set by the loop as it goes.
#[derive(Debug, Default)]
pub struct LoopHealth {
    name: String,
    templates_loaded: AtomicBool,
    joined: AtomicBool,
    rebuilding: AtomicUsize,
    broker_away: AtomicBool,
    /// Assigned partitions whose state is not rebuilt yet: a stage restores a partition before
    /// its first record, or when it is read to its end with none.
    unsettled: Mutex<BTreeSet<i32>>,
}

impl Health {
    /// A new loop, not ready until it says so.
    pub fn register(&self, name: &str) -> Arc<LoopHealth> {
        let health = Arc::new(LoopHealth {
            name: name.to_string(),
            ..LoopHealth::default()
        });
        self.loops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(health.clone());
        health
    }

    /// Ready, and one line per loop saying what it waits for.
    pub fn readiness(&self) -> (bool, String) {
        let loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        if loops.is_empty() {
            return (false, "starting: no loop has started yet\n".to_string());
        }
        let mut ready = true;
        let mut report = String::new();
        // By name: loops register from their own threads, in no fixed order.
        let mut sorted: Vec<&Arc<LoopHealth>> = loops.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        for one in sorted {
            let waits = one.waiting_for();
            ready &= waits.is_empty();
            let state = if waits.is_empty() {
                "ready".to_string()
            } else {
                format!("waiting for {}", waits.join(", "))
            };
            report.push_str(&format!("{}: {state}\n", one.name));
        }
        (ready, report)
    }
}

impl LoopHealth {
    pub fn templates_loaded(&self) {
        self.templates_loaded.store(true, Ordering::Relaxed);
    }

    /// The group gave the loop an assignment (possibly empty): each partition is unsettled
    /// until [`LoopHealth::settled`].
    pub fn assigned(&self, partitions: impl IntoIterator<Item = i32>) {
        self.unsettled().extend(partitions);
        self.joined.store(true, Ordering::Relaxed);
    }

    /// The group took the assignment away (an eager rebalance revokes all of it before the
    /// next assignment): not a member until the next one.
    pub fn revoked(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut unsettled = self.unsettled();
        for partition in partitions {
            unsettled.remove(&partition);
        }
        self.joined.store(false, Ordering::Relaxed);
    }

    /// A partition's state is rebuilt (restored before its first record, or at its end when no
    /// record came first).
    pub fn settled(&self, partition: i32) {
        self.unsettled().remove(&partition);
    }

    /// The group gave the loop an assignment with nothing to rebuild (the collector, which has
    /// no group, and tests).
    pub fn joined(&self) {
        self.joined.store(true, Ordering::Relaxed);
    }

    fn unsettled(&self) -> std::sync::MutexGuard<'_, BTreeSet<i32>> {
        self.unsettled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Rebuilding a partition's state; not ready until the guard is dropped.
    pub fn rebuilding(self: &Arc<Self>) -> Rebuilding {
        self.rebuilding.fetch_add(1, Ordering::Relaxed);
        Rebuilding(self.clone())
    }

    pub fn broker_away(&self, away: bool) {
        self.broker_away.store(away, Ordering::Relaxed);
    }

    fn waiting_for(&self) -> Vec<&'static str> {
        let mut waits = Vec::new();
        if self.broker_away.load(Ordering::Relaxed) {
            waits.push("the broker");
        }
        if !self.templates_loaded.load(Ordering::Relaxed) {
            waits.push("the templates topic");
        }
        if !self.joined.load(Ordering::Relaxed) {
            waits.push("a partition assignment");
        }
        if self.rebuilding.load(Ordering::Relaxed) > 0 || !self.unsettled().is_empty() {
            waits.push("a partition's state to be rebuilt");
        }
        waits
    }
}

/// While held, its loop is rebuilding state.
pub struct Rebuilding(Arc<LoopHealth>);

impl Drop for Rebuilding {
    fn drop(&mut self) {
        self.0.rebuilding.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_without_loops_is_not_ready() {
        assert!(!Health::default().readiness().0);
    }

    #[test]
    fn a_loop_is_ready_once_templates_are_loaded_and_it_joined_the_group() {
        let health = Health::default();
        let one = health.register("planner");
        let (ready, report) = health.readiness();
        assert!(!ready);
        assert_eq!(
            report,
            "planner: waiting for the templates topic, a partition assignment\n"
        );
        one.templates_loaded();
        one.joined();
        assert_eq!(health.readiness(), (true, "planner: ready\n".to_string()));
    }

    #[test]
    fn assigned_partitions_wait_until_each_is_restored_or_read_to_its_end() {
        let health = Health::default();
        let one = health.register("forecaster");
        one.templates_loaded();
        one.assigned([0, 1]);
        assert!(!health.readiness().0, "no partition settled yet");
        one.settled(0);
        assert!(!health.readiness().0, "partition 1 still unsettled");
        one.settled(1);
        assert!(health.readiness().0);
        // A rebalance takes everything away: not a member until the next assignment.
        one.revoked([0, 1]);
        assert_eq!(
            health.readiness(),
            (
                false,
                "forecaster: waiting for a partition assignment\n".to_string()
            )
        );
        one.assigned([]);
        assert!(
            health.readiness().0,
            "an empty assignment has nothing to rebuild"
        );
    }

    #[test]
    fn every_loop_must_be_ready_and_rebuilding_or_a_broker_away_makes_a_loop_wait() {
        let health = Health::default();
        let first = health.register("planner");
        let second = health.register("planner-observed");
        for one in [&first, &second] {
            one.templates_loaded();
            one.joined();
        }
        assert!(health.readiness().0);
        let guard = second.rebuilding();
        let (ready, report) = health.readiness();
        assert!(!ready);
        assert!(report.contains("planner-observed: waiting for a partition's state to be rebuilt"));
        drop(guard);
        assert!(health.readiness().0);
        first.broker_away(true);
        assert!(!health.readiness().0);
        first.broker_away(false);
        assert!(health.readiness().0);
    }
}
