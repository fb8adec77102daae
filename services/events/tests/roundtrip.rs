//! Every event survives encode then decode unchanged, behind the single-object header.

mod common;

use std::collections::BTreeSet;

use presage_events::{all_schemas, decode, encode, schema_name_of, Event};

/// CRC-64-AVRO as the Avro specification writes it, independent of apache-avro's `Rabin`, so
/// the header is checked against the spec rather than against the code that wrote it.
fn spec_fingerprint(canonical: &str) -> [u8; 8] {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let mut table = [0u64; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut fp = i as u64;
        for _ in 0..8 {
            fp = (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg());
        }
        *slot = fp;
    }
    let mut fp = EMPTY;
    for &b in canonical.as_bytes() {
        fp = (fp >> 8) ^ table[((fp ^ u64::from(b)) & 0xff) as usize];
    }
    fp.to_le_bytes()
}

/// Encodes, checks the header, decodes, compares; returns the event's name for coverage.
fn roundtrip<E: Event + PartialEq>(event: E) -> &'static str {
    let bytes = encode(&event).unwrap_or_else(|e| panic!("{}: {e}", E::NAME));
    assert_eq!(bytes[..2], [0xC3, 0x01], "{}: marker", E::NAME);
    let canonical = E::schema().canonical_form();
    assert_eq!(
        bytes[2..10],
        spec_fingerprint(&canonical),
        "{}: fingerprint",
        E::NAME
    );
    assert!(bytes.len() > 10, "{}: empty datum", E::NAME);
    assert_eq!(schema_name_of(&bytes), Some(E::NAME));

    let back: E = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", E::NAME));
    assert_eq!(back, event, "{}: round trip changed the value", E::NAME);
    E::NAME
}

#[test]
fn every_event_round_trips_with_some_and_none() {
    let covered: BTreeSet<&str> = [
        roundtrip(common::raw_sample()),
        roundtrip(common::raw_sample_sparse()),
        roundtrip(common::derived_metric()),
        roundtrip(common::derived_metric_sparse()),
        roundtrip(common::metadata_fragment()),
        roundtrip(common::forecast()),
        roundtrip(common::scaling_directive()),
        roundtrip(common::scaling_directive_sparse()),
        roundtrip(common::apply_outcome()),
        roundtrip(common::apply_outcome_sparse()),
        roundtrip(common::template_version()),
        roundtrip(common::dead_letter()),
        roundtrip(common::dead_letter_sparse()),
    ]
    .into();
    let all: BTreeSet<&str> = all_schemas().iter().map(|(name, _, _)| *name).collect();
    assert_eq!(covered, all, "a schema without a round-trip test");
}

#[test]
fn encoding_is_deterministic() {
    // Ids are derived from content, and replay compares outputs byte for byte.
    let event = common::forecast();
    assert_eq!(encode(&event).unwrap(), encode(&event.clone()).unwrap());
}

#[test]
fn extreme_values_round_trip() {
    let mut sample = common::raw_sample();
    sample.value = f64::MAX;
    sample.event_time_ms = i64::MIN;
    sample.metric = "päyload ✓ with unicode".into();
    roundtrip(sample);

    let mut letter = common::dead_letter();
    letter.source_partition = i32::MAX;
    letter.source_offset = i64::MAX;
    letter.payload = (0..=255).collect();
    roundtrip(letter);
}

#[test]
fn fingerprints_are_distinct() {
    let fingerprints: BTreeSet<[u8; 8]> = all_schemas()
        .iter()
        .map(|(_, _, schema)| spec_fingerprint(&schema.canonical_form()))
        .collect();
    assert_eq!(fingerprints.len(), all_schemas().len());
}
