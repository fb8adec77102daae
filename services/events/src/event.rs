//! The [`Event`] trait: what the codec needs to know about an event type.

use serde::{de::DeserializeOwned, Serialize};

/// A Presage wire event: a serde type bound to one embedded Avro record schema.
pub trait Event: Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + 'static {
    /// Full Avro name, e.g. "presage.RawSample".
    const NAME: &'static str;

    /// The parsed schema, parsed once from the embedded `.avsc`.
    fn schema() -> &'static apache_avro::Schema;

    /// The event's deterministic id (see [`crate::event_id`]).
    fn event_id(&self) -> &str;

    /// The app id, which is also the Kafka key.
    fn app(&self) -> &str;

    /// Earlier versions of the schema, with their fingerprints: a payload written with one of
    /// them is read with it and resolved to the current schema (fields added since take their
    /// Avro defaults), so records already on a topic still decode after a field is added.
    fn earlier_schemas() -> &'static [(apache_avro::Schema, [u8; 8])] {
        &[]
    }
}

/// Parses an embedded `.avsc`.
///
/// The text is compiled into the binary and every schema is parsed by the test suite, so a
/// failure here is a build defect rather than bad input: panicking with the schema's name is
/// the most useful thing to do.
pub(crate) fn parse_embedded(name: &str, avsc: &str) -> apache_avro::Schema {
    match apache_avro::Schema::parse_str(avsc) {
        Ok(schema) => schema,
        Err(e) => panic!("embedded Avro schema {name} does not parse: {e}"),
    }
}

/// Implements [`Event`] for a struct with `event_id` and `app` fields, bound to an embedded
/// `.avsc` (pass `include_str!` at the call site so the path is relative to the event's file).
macro_rules! impl_event {
    ($ty:ty, $name:literal, $avsc:expr) => {
        $crate::event::impl_event!($ty, $name, $avsc, earlier: []);
    };
    ($ty:ty, $name:literal, $avsc:expr, earlier: [$($earlier:expr),* $(,)?]) => {
        impl $crate::Event for $ty {
            fn earlier_schemas() -> &'static [(apache_avro::Schema, [u8; 8])] {
                static EARLIER: std::sync::OnceLock<Vec<(apache_avro::Schema, [u8; 8])>> =
                    std::sync::OnceLock::new();
                EARLIER.get_or_init(|| {
                    vec![$({
                        let schema = $crate::event::parse_embedded($name, $earlier);
                        let fingerprint = $crate::registry::rabin_fingerprint(&schema);
                        (schema, fingerprint)
                    }),*]
                })
            }

            const NAME: &'static str = $name;

            fn schema() -> &'static apache_avro::Schema {
                static SCHEMA: std::sync::OnceLock<apache_avro::Schema> =
                    std::sync::OnceLock::new();
                SCHEMA.get_or_init(|| $crate::event::parse_embedded($name, $avsc))
            }

            fn event_id(&self) -> &str {
                &self.event_id
            }

            fn app(&self) -> &str {
                &self.app
            }
        }
    };
}
pub(crate) use impl_event;
