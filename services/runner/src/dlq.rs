//! Dead letters: a record that cannot be decoded or processed is kept, with the reason and where
//! it came from, instead of being dropped or stopping the stage.

use presage_events::{event_id, DeadLetter};

use crate::stage::Outgoing;

/// At most this much of the failed record is kept in a dead letter: enough to diagnose it, and
/// small enough that the dead letter itself never exceeds the broker's size limit (a dead
/// letter wrapping a 1 MB input would be refused in turn).
pub const MAX_DEAD_LETTER_PAYLOAD: usize = 64 * 1024;

/// What kind of failure sent a record to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadKind {
    /// Not an event of the type the stage reads.
    Undecodable,
    /// The stage refused it or failed on it.
    Unprocessable,
    /// An event-time sample that arrived after every window it belonged to had closed.
    Late,
    /// An output the broker refused for its size: kept here (truncated) instead of making the
    /// stage fail on the same input forever.
    Oversized,
    /// A sample whose value is NaN or infinite (it would make its whole window's value one).
    NonFinite,
    /// A sample with more labels, or a longer label key or value, than a stage accepts.
    LabelLimit,
    /// A sample of a new series past its app's or recipe's series limit.
    SeriesLimit,
}

impl DeadKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeadKind::Undecodable => "undecodable",
            DeadKind::Unprocessable => "unprocessable",
            DeadKind::Late => "late",
            DeadKind::Oversized => "oversized",
            DeadKind::NonFinite => "non_finite",
            DeadKind::LabelLimit => "label_limit",
            DeadKind::SeriesLimit => "series_limit",
        }
    }
}

/// Where a record came from: the dead letter's origin, and the position a stage sees.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

pub fn dead_letter(
    stage: &str,
    origin: &Origin<'_>,
    kind: DeadKind,
    reason: &str,
    now_ms: i64,
) -> DeadLetter {
    let key = origin.key.map(|k| String::from_utf8_lossy(k).into_owned());
    let lineage = format!("{}/{}@{}", origin.topic, origin.partition, origin.offset);
    DeadLetter {
        // The same record failing again in the same stage gets the same id.
        event_id: event_id(&["dead-letter", stage, &lineage]),
        app: key.clone().unwrap_or_default(),
        template_version: String::new(),
        stage: stage.to_string(),
        source_topic: origin.topic.to_string(),
        source_partition: origin.partition,
        source_offset: origin.offset,
        key,
        payload: kept(origin.payload).to_vec(),
        kind: kind.as_str().to_string(),
        reason: with_truncation(reason, origin.payload.len()),
        failed_at_ms: now_ms,
        lineage,
    }
}

/// The dead letter of an output the broker refused for its size. Its origin is the output
/// itself (topic, key, the head of its payload): the stage's inputs are committed past it.
pub fn oversized_output(stage: &str, record: &Outgoing, reason: &str, now_ms: i64) -> DeadLetter {
    let lineage = format!("{}:{}", record.topic, record.event_id);
    DeadLetter {
        event_id: event_id(&["dead-letter", stage, "oversized", &record.event_id]),
        app: record.key.clone(),
        template_version: String::new(),
        stage: stage.to_string(),
        source_topic: record.topic.clone(),
        source_partition: -1,
        source_offset: -1,
        key: Some(record.key.clone()),
        payload: kept(&record.payload).to_vec(),
        kind: DeadKind::Oversized.as_str().to_string(),
        reason: with_truncation(
            &format!(
                "output {} of {} bytes to {} refused: {reason}",
                record.event_id,
                record.payload.len(),
                record.topic
            ),
            record.payload.len(),
        ),
        failed_at_ms: now_ms,
        lineage,
    }
}

fn kept(payload: &[u8]) -> &[u8] {
    &payload[..payload.len().min(MAX_DEAD_LETTER_PAYLOAD)]
}

/// The reason as recorded: URLs in it lose their credentials (client errors quote the URL they
/// failed on), and a truncated payload says so.
fn with_truncation(reason: &str, size: usize) -> String {
    let reason = presage_events::redact_text(reason);
    if size > MAX_DEAD_LETTER_PAYLOAD {
        format!(
            "{reason} (payload truncated: first {MAX_DEAD_LETTER_PAYLOAD} of {size} bytes kept)"
        )
    } else {
        reason
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_in_the_reason_loses_its_credentials() {
        let origin = Origin {
            topic: "presage.templates",
            partition: 0,
            offset: 3,
            key: Some(b"shop"),
            payload: b"x",
        };
        let letter = dead_letter(
            "collector",
            &origin,
            DeadKind::Unprocessable,
            "GET https://scraper:hunter2@metrics.internal:9100/metrics: connection refused",
            0,
        );
        assert_eq!(
            letter.reason,
            "GET https://***@metrics.internal:9100/metrics: connection refused"
        );
    }

    #[test]
    fn a_dead_letter_keeps_the_head_of_a_large_input_and_says_how_large_it_was() {
        let payload = vec![7u8; 1_000_000];
        let origin = Origin {
            topic: "presage.metrics.raw",
            partition: 2,
            offset: 41,
            key: Some(b"shop"),
            payload: &payload,
        };
        let letter = dead_letter("recipe-processor", &origin, DeadKind::Undecodable, "bad", 5);
        assert_eq!(letter.payload.len(), MAX_DEAD_LETTER_PAYLOAD);
        assert!(
            letter.reason.starts_with("bad (payload truncated"),
            "{}",
            letter.reason
        );
        assert!(
            letter.reason.contains("of 1000000 bytes"),
            "{}",
            letter.reason
        );
        let small = Origin {
            payload: b"abc",
            ..origin
        };
        let letter = dead_letter("recipe-processor", &small, DeadKind::Undecodable, "bad", 5);
        assert_eq!(
            (letter.payload.as_slice(), letter.reason.as_str()),
            (&b"abc"[..], "bad")
        );
    }

    #[test]
    fn an_oversized_output_becomes_a_truncated_dead_letter_named_after_it() {
        let record = Outgoing {
            topic: "presage.metrics.raw".into(),
            key: "shop".into(),
            event_id: "e-1".into(),
            payload: vec![1u8; 2_000_000],
            timestamp_ms: None,
        };
        let letter = oversized_output("collector", &record, "MessageSizeTooLarge", 9);
        assert_eq!(letter.kind, "oversized");
        assert_eq!(letter.payload.len(), MAX_DEAD_LETTER_PAYLOAD);
        assert!(
            letter.reason.contains(
                "e-1 of 2000000 bytes to presage.metrics.raw refused: MessageSizeTooLarge"
            ),
            "{}",
            letter.reason
        );
        assert_eq!(
            letter.event_id,
            oversized_output("collector", &record, "other", 10).event_id,
            "one id per refused output"
        );
    }
}
