//! Records a stage gave up on (`presage.dlq`).

use serde::{Deserialize, Serialize};

use crate::event::impl_event;

/// A record that could not be decoded or processed, kept byte for byte with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event_id: String,
    /// "" when unknown (e.g. the payload did not decode and the record had no key).
    pub app: String,
    /// "" when unknown.
    pub template_version: String,
    /// The stage that gave up, e.g. "recipe-processor".
    pub stage: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    /// The record key as UTF-8, if it had one.
    #[serde(default)]
    pub key: Option<String>,
    /// Serialized as Avro `bytes`; plain serde would make it an array of ints.
    #[serde(with = "apache_avro::serde_avro_bytes")]
    pub payload: Vec<u8>,
    /// `undecodable`, `unprocessable` or `late`.
    pub kind: String,
    pub reason: String,
    pub failed_at_ms: i64,
    /// `<topic>/<partition>@<offset>`, e.g. "presage.forecasts/2@4711".
    pub lineage: String,
}

impl_event!(
    DeadLetter,
    "presage.DeadLetter",
    include_str!("../../../../schemas/dead_letter.avsc")
);
