//! The spool's bound: what an append must evict so the spool's files stay within `max` bytes.
//!
//! When the spool is full the *oldest* samples go. A backlog is only worth anything once the
//! broker is back, and then the recent past is what the pipeline acts on: the planner scales
//! on the latest demand and the forecaster refits on the most recent history. Dropping the
//! newest instead would keep hours-old readings and throw away the present. Eviction takes
//! whole segments (the oldest files), so it costs an unlink, never a rewrite. Pure.

/// What an append evicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eviction {
    /// How many of the oldest segments to delete.
    pub segments: usize,
    /// How many leading records of the batch itself cannot be kept: only when the batch alone
    /// is larger than the bound (its oldest records go, as the spool's would).
    pub skipped: usize,
}

impl Eviction {
    pub fn is_none(&self) -> bool {
        self.segments == 0 && self.skipped == 0
    }
}

/// The eviction that makes room for a batch of records of `incoming` framed sizes, given the
/// spool's segments' sizes (oldest first), within `max` bytes.
pub fn plan(segments: &[u64], incoming: &[u64], max: u64) -> Eviction {
    let mut skipped = 0;
    let mut batch: u64 = incoming.iter().sum();
    while batch > max && skipped < incoming.len() {
        batch -= incoming[skipped];
        skipped += 1;
    }
    let mut total: u64 = segments.iter().sum();
    let mut evicted = 0;
    while total + batch > max && evicted < segments.len() {
        total -= segments[evicted];
        evicted += 1;
    }
    Eviction {
        segments: evicted,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_that_fits_evicts_nothing() {
        assert!(plan(&[400, 400], &[100, 100], 1000).is_none());
        assert!(plan(&[], &[1000], 1000).is_none());
    }

    #[test]
    fn the_oldest_segments_go_until_the_batch_fits() {
        assert_eq!(
            plan(&[300, 300, 300], &[150, 150], 1000),
            Eviction {
                segments: 1,
                skipped: 0
            }
        );
        assert_eq!(
            plan(&[300, 300, 300], &[500], 1000),
            Eviction {
                segments: 2,
                skipped: 0
            }
        );
    }

    #[test]
    fn a_batch_larger_than_the_bound_keeps_its_newest_records_and_empties_the_spool() {
        assert_eq!(
            plan(&[300], &[400, 400, 400], 1000),
            Eviction {
                segments: 1,
                skipped: 1
            }
        );
        assert_eq!(
            plan(&[], &[2000, 10], 1000),
            Eviction {
                segments: 0,
                skipped: 1
            }
        );
    }
}
