//! Every event schema we own, and the fingerprint table that maps payloads back to them.

use std::sync::OnceLock;

use apache_avro::{rabin::Rabin, Schema};

use crate::{
    ApplyOutcome, DeadLetter, DerivedMetric, Event, Forecast, MetadataFragment, RawSample,
    ScalingDirective, TemplateVersion,
};

/// Every event schema: (full Avro name, file name in `schemas/`, parsed schema).
///
/// A new event type must be added here; the drift tests fail on any `.avsc` file that is not.
pub fn all_schemas() -> Vec<(&'static str, &'static str, &'static Schema)> {
    vec![
        (RawSample::NAME, "raw_sample.avsc", RawSample::schema()),
        (
            DerivedMetric::NAME,
            "derived_metric.avsc",
            DerivedMetric::schema(),
        ),
        (
            MetadataFragment::NAME,
            "metadata_fragment.avsc",
            MetadataFragment::schema(),
        ),
        (Forecast::NAME, "forecast.avsc", Forecast::schema()),
        (
            ScalingDirective::NAME,
            "scaling_directive.avsc",
            ScalingDirective::schema(),
        ),
        (
            ApplyOutcome::NAME,
            "apply_outcome.avsc",
            ApplyOutcome::schema(),
        ),
        (
            TemplateVersion::NAME,
            "template_version.avsc",
            TemplateVersion::schema(),
        ),
        (DeadLetter::NAME, "dead_letter.avsc", DeadLetter::schema()),
    ]
}

/// The CRC-64-AVRO (Rabin) fingerprint of a schema's parsing canonical form, in the 8-byte
/// little-endian order the single-object header uses.
pub fn rabin_fingerprint(schema: &Schema) -> [u8; 8] {
    let bytes = schema.fingerprint::<Rabin>().bytes;
    let mut out = [0u8; 8];
    // Rabin's output size is fixed at 8 bytes, so this copies the whole fingerprint.
    out.copy_from_slice(&bytes[..8]);
    out
}

struct Known {
    name: &'static str,
    schema: &'static Schema,
    fingerprint: [u8; 8],
}

/// Computing a fingerprint serializes the schema to its canonical form, so it is done once per
/// schema rather than once per message.
fn known() -> &'static [Known] {
    static KNOWN: OnceLock<Vec<Known>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        all_schemas()
            .into_iter()
            .map(|(name, _, schema)| Known {
                name,
                schema,
                fingerprint: rabin_fingerprint(schema),
            })
            .collect()
    })
}

/// The name of our schema with this fingerprint, if any.
pub(crate) fn name_of_fingerprint(fingerprint: &[u8]) -> Option<&'static str> {
    known()
        .iter()
        .find(|k| k.fingerprint == fingerprint)
        .map(|k| k.name)
}

/// The fingerprint of an event schema: cached for ours (recognised by address, since each is
/// parsed once into a static), computed for any other `Event` implementation.
pub(crate) fn fingerprint_of(schema: &'static Schema) -> [u8; 8] {
    known()
        .iter()
        .find(|k| std::ptr::eq(k.schema, schema))
        .map_or_else(|| rabin_fingerprint(schema), |k| k.fingerprint)
}
