//! A metric's observations on its window grid, bounded in length.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct History {
    /// window start (ms) → (value, event id of the derived metric)
    points: BTreeMap<i64, (f64, String)>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        Self {
            points: BTreeMap::new(),
            capacity: capacity.max(2),
        }
    }

    /// Records an observation; a repeated window replaces the older value.
    pub fn record(&mut self, at_ms: i64, value: f64, event_id: &str) {
        self.points.insert(at_ms, (value, event_id.to_string()));
        while self.points.len() > self.capacity {
            self.points.pop_first();
        }
    }

    pub fn value_at(&self, at_ms: i64) -> Option<f64> {
        self.points.get(&at_ms).map(|(v, _)| *v)
    }

    pub fn last(&self) -> Option<(i64, f64)> {
        self.points.last_key_value().map(|(t, (v, _))| (*t, *v))
    }

    pub fn iter(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.points.iter().map(|(t, (v, _))| (*t, *v))
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}
