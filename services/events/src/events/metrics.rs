//! Measurements: raw samples from the collector, and what the recipe-processor derives from them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::impl_event;

/// One raw measurement from a template source (`presage.metrics.raw`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawSample {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    /// Id of the template source, e.g. "api".
    pub source: String,
    pub metric: String,
    /// A BTreeMap so that iteration order, and anything derived from it (ids, SQL rows), is
    /// deterministic.
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub event_time_ms: i64,
    /// The read that produced the sample, e.g. "scrape:api@1717000000000".
    pub lineage: String,
}

impl_event!(
    RawSample,
    "presage.RawSample",
    include_str!("../../../../schemas/raw_sample.avsc")
);

/// One recipe's value over one closed window (`presage.metrics.derived`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DerivedMetric {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    pub recipe: String,
    /// Inclusive.
    pub window_start_ms: i64,
    /// Exclusive.
    pub window_end_ms: i64,
    pub value: f64,
    pub sample_count: i64,
    /// The recipe's `group_by` labels for this output.
    pub labels: BTreeMap<String, String>,
    /// Joined external signals by alias.
    pub signals: BTreeMap<String, f64>,
    /// Where the window's raw samples were read: partition and offset range.
    pub raw_partition: i32,
    pub raw_first_offset: i64,
    pub raw_last_offset: i64,
    /// The raw input range, `<topic>/<partition>@<first>..<last>`.
    pub lineage: Vec<String>,
}

impl_event!(
    DerivedMetric,
    "presage.DerivedMetric",
    include_str!("../../../../schemas/derived_metric.avsc")
);

/// Dynamic metadata rendered from a recipe window (`presage.metadata.fragments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataFragment {
    pub event_id: String,
    pub app: String,
    pub template_version: String,
    pub recipe: String,
    /// "json" or "yaml".
    pub format: String,
    pub body: String,
    pub window_end_ms: i64,
    pub lineage: Vec<String>,
}

impl_event!(
    MetadataFragment,
    "presage.MetadataFragment",
    include_str!("../../../../schemas/metadata_fragment.avsc")
);
