//! Dead letters: a record that cannot be decoded or processed is kept, with the reason and where
//! it came from, instead of being dropped or stopping the stage.

use presage_events::{event_id, DeadLetter};

/// What kind of failure sent a record to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadKind {
    /// Not an event of the type the stage reads.
    Undecodable,
    /// The stage refused it or failed on it.
    Unprocessable,
    /// An event-time sample that arrived after every window it belonged to had closed.
    Late,
}

impl DeadKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeadKind::Undecodable => "undecodable",
            DeadKind::Unprocessable => "unprocessable",
            DeadKind::Late => "late",
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
        payload: origin.payload.to_vec(),
        kind: kind.as_str().to_string(),
        reason: reason.to_string(),
        failed_at_ms: now_ms,
        lineage,
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
