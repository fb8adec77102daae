//! Published template versions (`presage.templates`, compacted by app).

use serde::{Deserialize, Serialize};

use crate::event::impl_event;

/// A validated template, so every service works from the same version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub event_id: String,
    pub app: String,
    /// Content hash of `body`.
    pub template_version: String,
    pub source_path: String,
    /// The YAML text, exactly as validated.
    pub body: String,
    pub published_at_ms: i64,
    /// e.g. "file:templates/checkout-api.yaml".
    pub lineage: String,
}

impl_event!(
    TemplateVersion,
    "presage.TemplateVersion",
    include_str!("../../../../schemas/template_version.avsc")
);
