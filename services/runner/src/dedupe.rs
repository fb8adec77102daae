//! Drops events whose id was already handled. The broker has no transactions, so a crash between
//! producing output and committing input can replay an input; because event ids are derived from
//! their inputs, the replayed output carries the same id and the next stage drops it here.

use std::collections::{HashSet, VecDeque};

/// A bounded set of recently seen event ids; the oldest are forgotten first.
#[derive(Debug)]
pub struct SeenIds {
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl SeenIds {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            seen: HashSet::new(),
        }
    }

    /// Records `id`; returns false if it had been seen already.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_reported_once() {
        let mut seen = SeenIds::new(10);
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        assert!(seen.first_time("b"));
    }

    #[test]
    fn the_oldest_id_is_forgotten_when_full() {
        let mut seen = SeenIds::new(2);
        assert!(seen.first_time("a"));
        assert!(seen.first_time("b"));
        assert!(seen.first_time("c"));
        assert!(seen.first_time("a"), "a was evicted by c");
        assert!(!seen.first_time("c"));
    }
}
