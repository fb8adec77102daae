//! When the run loop restores a partition's state ([`crate::Stage::restore`]).
//!
//! As soon as the first fetch after the assignment says which of two cases the partition is in:
//!
//! - **Records to read** from where the group resumes (held inputs a checkpoint named, or
//!   anything produced since): before the first of them, with its offset. Restoring earlier
//!   would gain nothing (that record is already fetched), and would let a stage whose state
//!   moves with the wall clock (the recipe-processor's idle clock) run before the inputs it
//!   still holds are read again: it could close a window whose samples are on their way.
//! - **Read to its end with no record** (nothing to replay: a quiet partition): right then, at
//!   the offset the group resumes from. Waiting for the next record, as the loop once did,
//!   left a stage restarted in a quiet stretch without its state until the next sample (hours,
//!   overnight): the recipe-processor emitted no quiet window until the morning, then all of
//!   them at once.
//!
//! Either way `restore` runs once per assignment, before any record of the partition reaches
//! the stage, with the offset reading resumes from: what every stage's `restore` assumes (the
//! forecaster reads history before it, the planner and applier read back what they published).
//! A partition revoked is restored again if it comes back.
//!
//! The first end of a held partition also tells the stage it has **caught up**
//! ([`crate::Stage::caught_up`]): every record that was on the partition when it was assigned
//! has reached the stage (after its restore, when the partition had nothing to read). Once per
//! assignment, like `restore`. A stage acting on the wall clock over state read again (the
//! applier's pending plans) waits for it, so that it does not act before a later record on
//! the partition, already written, changed that state.

use std::collections::HashSet;

/// The partitions restored since they were assigned, and those read to their end since.
#[derive(Debug, Default)]
pub(crate) struct Restores {
    restored: HashSet<i32>,
    caught_up: HashSet<i32>,
}

impl Restores {
    /// A record of `partition` is in hand: whether its state must be restored first (it is
    /// the partition's first since the assignment, and the partition was not read to its end
    /// before it).
    pub(crate) fn before_record(&mut self, partition: i32) -> bool {
        self.restored.insert(partition)
    }

    /// `partition` was read to its end: whether to restore it now, which is when the consumer
    /// still `holds` it (a partition end reported for an assignment since revoked is stale)
    /// and no record came before this end.
    pub(crate) fn at_end(&mut self, partition: i32, holds: bool) -> bool {
        holds && self.restored.insert(partition)
    }

    /// `partition` was read to its end, its records up to there (and its restore) handed to
    /// the stage: whether it has caught up just now, which is when the consumer still `holds`
    /// it and no end came before since it was assigned.
    pub(crate) fn caught_up(&mut self, partition: i32, holds: bool) -> bool {
        holds && self.caught_up.insert(partition)
    }

    /// The partition was revoked: if it comes back, it is restored again and catches up again.
    pub(crate) fn forget(&mut self, partition: i32) {
        self.restored.remove(&partition);
        self.caught_up.remove(&partition);
    }
}

/// Where a partition read to its end with no record resumes: the group's committed offset
/// (then the end: no record lay after it), or, with no commit or one below what the log still
/// holds, the log's first offset, where `auto.offset.reset = earliest` started reading (the
/// partition was then empty at its end). Never a guess from the end offset: records produced
/// since the end was reached lie after the resume offset, and a stage reading history before
/// it (the forecaster) must not take them in twice.
pub(crate) fn resume_at_end(committed: Option<i64>, low_watermark: i64) -> i64 {
    committed.map_or(low_watermark, |committed| committed.max(low_watermark))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_restored_once_before_its_first_record() {
        let mut restores = Restores::default();
        assert!(restores.before_record(3));
        assert!(!restores.before_record(3), "its later records");
        assert!(!restores.at_end(3, true), "its end after records");
        assert!(restores.before_record(4), "another partition is its own");
    }

    #[test]
    fn a_partition_read_to_its_end_with_no_record_is_restored_at_its_end_not_at_its_next_record() {
        let mut restores = Restores::default();
        assert!(restores.at_end(0, true));
        assert!(
            !restores.before_record(0),
            "the record that ends the quiet stretch finds the state restored"
        );
        assert!(!restores.at_end(0, true), "a later end");
    }

    #[test]
    fn the_end_of_a_partition_no_longer_held_restores_nothing() {
        let mut restores = Restores::default();
        assert!(!restores.at_end(1, false));
        assert!(
            restores.before_record(1),
            "still to restore when it is held and read"
        );
    }

    #[test]
    fn a_revoked_partition_that_comes_back_is_restored_again() {
        let mut restores = Restores::default();
        assert!(restores.at_end(2, true));
        restores.forget(2);
        assert!(restores.at_end(2, true));
        restores.forget(2);
        assert!(restores.before_record(2));
    }

    #[test]
    fn a_partition_catches_up_once_per_assignment_at_its_first_end_while_held() {
        let mut restores = Restores::default();
        assert!(restores.before_record(5));
        assert!(
            !restores.caught_up(5, false),
            "an end of an assignment since revoked"
        );
        assert!(restores.caught_up(5, true), "its first end while held");
        assert!(!restores.caught_up(5, true), "later ends");
        assert!(restores.caught_up(6, true), "another partition is its own");
        restores.forget(5);
        assert!(
            restores.caught_up(5, true),
            "assigned again: it catches up again"
        );
    }

    #[test]
    fn a_partition_read_to_its_end_resumes_at_its_committed_offset() {
        assert_eq!(resume_at_end(Some(1_200), 0), 1_200);
    }

    #[test]
    fn with_no_commit_or_one_the_log_no_longer_holds_it_resumes_at_the_log_start() {
        assert_eq!(
            resume_at_end(None, 0),
            0,
            "a new group on an empty partition"
        );
        assert_eq!(
            resume_at_end(None, 75),
            75,
            "retention deleted what it held"
        );
        assert_eq!(
            resume_at_end(Some(40), 75),
            75,
            "a commit below the log start: reading was reset to the start"
        );
    }
}
