//! Avro single-object encoding of events.
//!
//! Layout: `C3 01`, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer's schema,
//! then the Avro binary datum. The fingerprint lets a consumer refuse a payload written with
//! another schema before reading a byte of it, and name that schema in the error, which is
//! what goes to the dead-letter topic.

use apache_avro::{from_avro_datum, from_value, to_avro_datum, to_value};

use crate::{
    guard, mismatch,
    registry::{fingerprint_of, name_of_fingerprint},
    Event,
};

/// The two bytes every single-object payload starts with.
pub const MARKER: [u8; 2] = [0xC3, 0x01];
/// Marker plus fingerprint.
pub const HEADER_LEN: usize = 10;

/// Why an event could not be encoded or a payload decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The struct does not fit its own schema: the Rust type drifted from the `.avsc`.
    #[error("cannot encode {schema}: the value does not fit its Avro schema: {reason}")]
    Encode {
        schema: &'static str,
        reason: String,
    },
    #[error(
        "payload of {len} bytes is too short for Avro single-object encoding (header is 10 bytes)"
    )]
    TooShort { len: usize },
    #[error("not an Avro single-object payload: starts with {:02x} {:02x}, expected c3 01", .found[0], .found[1])]
    BadMarker { found: [u8; 2] },
    /// The payload is one of our events, but not the expected one.
    #[error("expected a {expected} payload, got a {found} payload")]
    WrongSchema {
        expected: &'static str,
        found: &'static str,
    },
    /// The fingerprint is none of our schemas (another producer, or an older schema version).
    #[error("expected a {expected} payload, got unknown schema fingerprint {}", hex::encode(.fingerprint))]
    UnknownSchema {
        expected: &'static str,
        fingerprint: [u8; 8],
    },
    /// The header is right but the datum is not a valid value of the schema.
    #[error("bad {schema} datum: {reason}")]
    BadDatum {
        schema: &'static str,
        reason: String,
    },
}

/// Encodes an event as an Avro single-object payload.
///
/// The value is validated against the schema, so a struct that drifted from its `.avsc` fails
/// here rather than producing bytes no consumer can read.
pub fn encode<E: Event>(event: &E) -> Result<Vec<u8>, CodecError> {
    let schema = E::schema();
    let encode_error = |e: apache_avro::Error| CodecError::Encode {
        schema: E::NAME,
        reason: concise(e),
    };
    let value = to_value(event).map_err(encode_error)?;
    let datum = to_avro_datum(schema, value).map_err(|e| {
        // The datum writer consumed the value; serializing again on this (rare) path keeps
        // the happy path free of a copy.
        let explained = to_value(event)
            .ok()
            .and_then(|value| mismatch::explain(&value, schema));
        match explained {
            Some(reason) => CodecError::Encode {
                schema: E::NAME,
                reason,
            },
            None => encode_error(e),
        }
    })?;

    let mut out = Vec::with_capacity(HEADER_LEN + datum.len());
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&fingerprint_of(schema));
    out.extend_from_slice(&datum);
    Ok(out)
}

/// Decodes an Avro single-object payload written with `E`'s schema.
pub fn decode<E: Event>(bytes: &[u8]) -> Result<E, CodecError> {
    let (fingerprint, datum) = split_header(bytes)?;
    let schema = E::schema();
    if let Some((writer, _)) = E::earlier_schemas()
        .iter()
        .find(|(_, earlier)| *earlier == fingerprint)
    {
        return decode_earlier::<E>(writer, datum);
    }
    if fingerprint != fingerprint_of(schema) {
        return Err(match name_of_fingerprint(&fingerprint) {
            Some(found) => CodecError::WrongSchema {
                expected: E::NAME,
                found,
            },
            None => CodecError::UnknownSchema {
                expected: E::NAME,
                fingerprint,
            },
        });
    }

    let bad_datum = |reason: String| CodecError::BadDatum {
        schema: E::NAME,
        reason,
    };
    // The Avro reader trusts length prefixes when it allocates; check them against the payload
    // first so a corrupt length cannot ask for gigabytes.
    guard::check_datum(schema, datum).map_err(bad_datum)?;
    let mut reader = datum;
    let value = from_avro_datum(schema, &mut reader, None).map_err(|e| bad_datum(concise(e)))?;
    from_value::<E>(&value).map_err(|e| bad_datum(concise(e)))
}

/// A payload written with an earlier version of `E`'s schema: read with that schema, resolved
/// to the current one (added fields take their defaults).
fn decode_earlier<E: Event>(writer: &apache_avro::Schema, datum: &[u8]) -> Result<E, CodecError> {
    let bad_datum = |reason: String| CodecError::BadDatum {
        schema: E::NAME,
        reason,
    };
    guard::check_datum(writer, datum).map_err(bad_datum)?;
    let mut reader = datum;
    let value = from_avro_datum(writer, &mut reader, Some(E::schema()))
        .map_err(|e| bad_datum(concise(e)))?;
    from_value::<E>(&value).map_err(|e| bad_datum(concise(e)))
}

/// The name of our schema a payload was written with, from its header; `None` when the bytes
/// are not a single-object payload or the fingerprint is not one of ours.
pub fn schema_name_of(bytes: &[u8]) -> Option<&'static str> {
    let (fingerprint, _) = split_header(bytes).ok()?;
    name_of_fingerprint(&fingerprint)
}

fn split_header(bytes: &[u8]) -> Result<([u8; 8], &[u8]), CodecError> {
    if bytes.len() < HEADER_LEN {
        return Err(CodecError::TooShort { len: bytes.len() });
    }
    let (header, datum) = bytes.split_at(HEADER_LEN);
    if header[..2] != MARKER {
        return Err(CodecError::BadMarker {
            found: [header[0], header[1]],
        });
    }
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&header[2..]);
    Ok((fingerprint, datum))
}

/// apache-avro's validation error prints the whole value and schema; keep only the reason.
fn concise(error: apache_avro::Error) -> String {
    match error.into_details() {
        apache_avro::error::Details::ValidationWithReason { reason, .. } => reason,
        other => other.to_string(),
    }
}
