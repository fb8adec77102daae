//! A series' observations on its window grid, bounded in length, with the values of the
//! regressors the template names at each window.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub value: f64,
    /// One value per regressor named by the prediction algorithm, in its order; NaN when the
    /// window carried no such signal.
    pub regressors: Vec<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    /// window start (ms) → observation
    points: BTreeMap<i64, Observation>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        Self {
            points: BTreeMap::new(),
            capacity: capacity.max(2),
        }
    }

    /// Records an observation; a repeated window replaces the older value (a replayed window
    /// carries the same value, so replays are harmless). A value that is not a finite number is
    /// not recorded: it would poison every fit it falls into. The oldest points beyond the
    /// capacity are dropped.
    pub fn record(&mut self, at_ms: i64, observation: Observation) {
        if !observation.value.is_finite() {
            return;
        }
        self.points.insert(at_ms, observation);
        while self.points.len() > self.capacity {
            self.points.pop_first();
        }
    }

    /// Drops the points before `from_ms`: history is bounded in time as well as in count, so a
    /// restarted forecaster that re-reads a time span holds the same points.
    pub fn forget_before(&mut self, from_ms: i64) {
        while self
            .points
            .first_key_value()
            .is_some_and(|(t, _)| *t < from_ms)
        {
            self.points.pop_first();
        }
    }

    /// Changes the bound (a new template version may keep more or less history).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(2);
        while self.points.len() > self.capacity {
            self.points.pop_first();
        }
    }

    pub fn get(&self, at_ms: i64) -> Option<&Observation> {
        self.points.get(&at_ms)
    }

    pub fn last_at(&self) -> Option<i64> {
        self.points.last_key_value().map(|(t, _)| *t)
    }

    /// The first recorded window at or after `at_ms`.
    pub fn first_at_or_after(&self, at_ms: i64) -> Option<i64> {
        self.points.range(at_ms..).next().map(|(t, _)| *t)
    }

    /// Recorded windows strictly after `from_ms` up to and including `to_ms`, oldest first.
    pub fn times_between(&self, from_ms: i64, to_ms: i64) -> Vec<i64> {
        if to_ms <= from_ms {
            return Vec::new();
        }
        self.points
            .range(from_ms + 1..=to_ms)
            .map(|(t, _)| *t)
            .collect()
    }

    /// The observations in `[from_ms, until_ms]`, oldest first. Fits take their window by time,
    /// not by count: a gap then shortens the window instead of reaching further back, and the
    /// grid laid over it stays bounded.
    pub fn window(&self, from_ms: i64, until_ms: i64) -> Vec<(i64, &Observation)> {
        if until_ms < from_ms {
            return Vec::new();
        }
        self.points
            .range(from_ms..=until_ms)
            .map(|(t, o)| (*t, o))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}
