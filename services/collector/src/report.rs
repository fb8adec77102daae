//! The durable report of samples the spool dropped because it was full: a dead letter of kind
//! `spool_overflow` on `presage.dlq`, built from the spool's count alone, so the report sent
//! again after a crash is the same record with the same id. Pure.

use presage_events::{event_id, DeadLetter};

use crate::spool::Overflow;

pub const KIND: &str = "spool_overflow";
pub const STAGE: &str = "collector";

/// The dead letter reporting `overflow`. `raw_topic` is where the samples were headed; the
/// payload is the count as JSON, for tools (the reason says the same for people).
pub fn dead_letter(overflow: &Overflow, raw_topic: &str, max_bytes: u64) -> DeadLetter {
    let range = format!("{}..={}", overflow.first_seq, overflow.last_seq);
    let payload = format!(
        "{{\"dropped_records\":{},\"dropped_bytes\":{},\"first_seq\":{},\"last_seq\":{},\"first_dropped_at_ms\":{},\"last_dropped_at_ms\":{},\"spool_max_bytes\":{max_bytes}}}",
        overflow.records,
        overflow.bytes,
        overflow.first_seq,
        overflow.last_seq,
        overflow.first_at_ms,
        overflow.last_at_ms,
    );
    DeadLetter {
        // The drop time is part of the id: a spool started afresh numbers its records from 0
        // again, and its first report must not look like a duplicate of an old one.
        event_id: event_id(&[
            "dead-letter",
            STAGE,
            KIND,
            &range,
            &overflow.first_at_ms.to_string(),
        ]),
        app: String::new(),
        template_version: String::new(),
        stage: STAGE.to_string(),
        source_topic: raw_topic.to_string(),
        source_partition: -1,
        source_offset: -1,
        key: None,
        payload: payload.into_bytes(),
        kind: KIND.to_string(),
        reason: format!(
            "collector spool full ({max_bytes} bytes): dropped the {} oldest unsent samples ({} bytes) while the broker was away",
            overflow.records, overflow.bytes
        ),
        failed_at_ms: overflow.last_at_ms,
        lineage: format!("spool:{range}"),
    }
}

/// The number of samples a `spool_overflow` dead letter reports, read back from its payload.
pub fn dropped_records(letter: &DeadLetter) -> Option<u64> {
    let text = std::str::from_utf8(&letter.payload).ok()?;
    let after = text.split("\"dropped_records\":").nth(1)?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overflow(first_at_ms: i64) -> Overflow {
        Overflow {
            records: 12,
            bytes: 2400,
            first_seq: 3,
            last_seq: 40,
            first_at_ms,
            last_at_ms: first_at_ms + 900,
        }
    }

    #[test]
    fn the_report_states_the_count_and_is_the_same_record_every_time() {
        let letter = dead_letter(&overflow(1_000), "presage.metrics.raw", 4096);
        assert_eq!(letter.kind, "spool_overflow");
        assert_eq!(letter.stage, "collector");
        assert_eq!(dropped_records(&letter), Some(12));
        assert!(
            letter.reason.contains("dropped the 12 oldest"),
            "{}",
            letter.reason
        );
        assert_eq!(letter.failed_at_ms, 1_900);
        assert_eq!(
            letter,
            dead_letter(&overflow(1_000), "presage.metrics.raw", 4096)
        );
    }

    #[test]
    fn a_later_overflow_over_the_same_sequence_numbers_is_another_report() {
        let first = dead_letter(&overflow(1_000), "presage.metrics.raw", 4096);
        let later = dead_letter(&overflow(9_000), "presage.metrics.raw", 4096);
        assert_ne!(first.event_id, later.event_id);
    }
}
