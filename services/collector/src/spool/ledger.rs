//! The count of samples the spool dropped because it was full, kept until a report of it has
//! reached the broker. Pure.

/// Samples dropped and not yet reported: how many, their size, the spool sequence numbers they
/// lay between and when the drops happened (epoch ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflow {
    pub records: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_at_ms: i64,
    pub last_at_ms: i64,
}

impl Overflow {
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// `records` more dropped at `at_ms`, with sequence numbers within `first_seq..=last_seq`.
    pub fn add(&mut self, records: u64, bytes: u64, first_seq: u64, last_seq: u64, at_ms: i64) {
        if records == 0 {
            return;
        }
        if self.is_empty() {
            *self = Overflow {
                records,
                bytes,
                first_seq,
                last_seq,
                first_at_ms: at_ms,
                last_at_ms: at_ms,
            };
            return;
        }
        self.records += records;
        self.bytes += bytes;
        self.first_seq = self.first_seq.min(first_seq);
        self.last_seq = self.last_seq.max(last_seq);
        self.last_at_ms = self.last_at_ms.max(at_ms);
    }

    /// Records counted as dropped that reached the broker after all: they were being sent when
    /// their segment was evicted.
    pub fn forgive(&mut self, records: u64, bytes: u64) {
        self.records = self.records.saturating_sub(records);
        self.bytes = self.bytes.saturating_sub(bytes);
        if self.records == 0 {
            *self = Overflow::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_add_up_and_widen_the_range() {
        let mut overflow = Overflow::default();
        overflow.add(3, 300, 10, 12, 1_000);
        overflow.add(2, 200, 20, 21, 2_000);
        assert_eq!(
            overflow,
            Overflow {
                records: 5,
                bytes: 500,
                first_seq: 10,
                last_seq: 21,
                first_at_ms: 1_000,
                last_at_ms: 2_000
            }
        );
    }

    #[test]
    fn forgiving_every_drop_leaves_nothing_to_report() {
        let mut overflow = Overflow::default();
        overflow.add(3, 300, 10, 12, 1_000);
        overflow.forgive(1, 100);
        assert_eq!((overflow.records, overflow.bytes), (2, 200));
        overflow.forgive(2, 200);
        assert!(overflow.is_empty());
        assert_eq!(overflow, Overflow::default());
    }
}
