//! Avro single-object decoding of every event type: random bytes (half of them behind a valid
//! header, so the datum reader is reached), and valid encodings of random values of the
//! schema, mutated (bit flips, truncations, splices, lengths and counts made huge).

use std::collections::HashMap;

use apache_avro::schema::{ArraySchema, MapSchema, RecordSchema};
use apache_avro::types::Value;
use apache_avro::Schema;
use presage_events::codec::MARKER;
use presage_events::registry::rabin_fingerprint;
use presage_events::{
    ApplyOutcome, DeadLetter, DerivedMetric, Event, Forecast, MetadataFragment, RawSample,
    ScalingDirective, TemplateVersion,
};

use super::Target;
use crate::mutate;
use crate::rng::Rng;

macro_rules! avro_target {
    ($name:literal, $ty:ty) => {
        Target {
            name: $name,
            reads: concat!("Avro single-object ", stringify!($ty)),
            generate: generate::<$ty>,
            run: run::<$ty>,
        }
    };
}

pub(super) fn targets() -> Vec<Target> {
    vec![
        avro_target!("avro-raw-sample", RawSample),
        avro_target!("avro-derived-metric", DerivedMetric),
        avro_target!("avro-metadata-fragment", MetadataFragment),
        avro_target!("avro-forecast", Forecast),
        avro_target!("avro-scaling-directive", ScalingDirective),
        avro_target!("avro-apply-outcome", ApplyOutcome),
        avro_target!("avro-template-version", TemplateVersion),
        avro_target!("avro-dead-letter", DeadLetter),
    ]
}

fn generate<E: Event>(rng: &mut Rng) -> Vec<u8> {
    let schema = E::schema();
    match rng.below(5) {
        0 => {
            let n = rng.below(64);
            let mut out = if rng.one_in(2) {
                header(schema)
            } else {
                Vec::new()
            };
            out.extend(rng.bytes(n));
            out
        }
        1 => valid(rng, schema),
        _ => {
            let (a, b) = (valid(rng, schema), valid(rng, schema));
            // Keep the header most of the time: a mutated header only tests the first check.
            let mut mutated = mutate::bytes(rng, &a[10..], &b[10..]);
            if rng.one_in(6) {
                mutated = mutate::bytes(rng, &a, &b);
            } else {
                mutated.splice(0..0, header(schema));
            }
            mutated
        }
    }
}

fn run<E: Event>(input: &[u8]) {
    let _ = presage_events::schema_name_of(input);
    if let Ok(event) = presage_events::decode::<E>(input) {
        // What was read with the schema is a value of the schema: it must write back.
        if let Err(e) = presage_events::encode(&event) {
            panic!("decoded {} does not encode again: {e}", E::NAME);
        }
    }
}

fn header(schema: &Schema) -> Vec<u8> {
    let mut out = MARKER.to_vec();
    out.extend_from_slice(&rabin_fingerprint(schema));
    out
}

/// A valid payload: header, then a random value of the schema.
fn valid(rng: &mut Rng, schema: &Schema) -> Vec<u8> {
    let mut out = header(schema);
    match apache_avro::to_avro_datum(schema, value(rng, schema, 0)) {
        Ok(datum) => out.extend(datum),
        Err(e) => panic!("a generated value does not fit its own schema: {e}"),
    }
    out
}

/// A random value of `schema`.
fn value(rng: &mut Rng, schema: &Schema, depth: usize) -> Value {
    let count = |rng: &mut Rng| if depth > 3 { 0 } else { rng.below(4) };
    match schema {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Boolean(rng.one_in(2)),
        Schema::Int => Value::Int(rng.interesting_i64() as i32),
        Schema::Long => Value::Long(rng.interesting_i64()),
        Schema::TimestampMillis => Value::TimestampMillis(rng.interesting_i64()),
        Schema::Float => Value::Float(rng.interesting_f64() as f32),
        Schema::Double => Value::Double(rng.interesting_f64()),
        Schema::Bytes => {
            let n = rng.below(16);
            Value::Bytes(rng.bytes(n))
        }
        Schema::String => Value::String(string(rng)),
        Schema::Array(ArraySchema { items, .. }) => Value::Array(
            (0..count(rng))
                .map(|_| value(rng, items, depth + 1))
                .collect(),
        ),
        // At most one entry: a map's entries are written in its HashMap's order, which would
        // make the same seed give different bytes.
        Schema::Map(MapSchema { types, .. }) => Value::Map(
            (0..count(rng).min(1))
                .map(|_| (string(rng), value(rng, types, depth + 1)))
                .collect::<HashMap<_, _>>(),
        ),
        Schema::Union(union) => {
            let i = rng.below(union.variants().len());
            Value::Union(i as u32, Box::new(value(rng, &union.variants()[i], depth)))
        }
        Schema::Record(RecordSchema { fields, .. }) => Value::Record(
            fields
                .iter()
                .map(|f| (f.name.clone(), value(rng, &f.schema, depth + 1)))
                .collect(),
        ),
        other => panic!("the fuzz generator does not know the Avro type {other:?}: add it"),
    }
}

fn string(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => String::new(),
        1 => rng
            .pick(&[
                "checkout",
                "http.rps",
                "presage.metrics.raw/0@12..40",
                "{\"a\":1}",
                "applied",
                "é☃\u{0}",
            ])
            .to_string(),
        _ => {
            let n = rng.below(12);
            super::random_text(rng, &['a', 'z', '.', '-', '_', '0', '9', '{', '"'], n)
        }
    }
}
