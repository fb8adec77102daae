//! Template scalars read as text and parsed with `FromStr` (a time zone, an aggregate).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::Deserializer;

/// Deserializes a `T` from a string scalar through a visitor, so that the parse error is raised
/// while yaml_serde is at the scalar and carries its path and position (an error raised after
/// `String::deserialize` returns is placed at the enclosing node). `expecting` completes
/// "invalid type: …, expected …" for a scalar that is not a string.
pub(crate) fn deserialize_parsed<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    deserializer.deserialize_str(ParsedVisitor {
        expecting,
        parsed: PhantomData,
    })
}

struct ParsedVisitor<T> {
    expecting: &'static str,
    parsed: PhantomData<fn() -> T>,
}

impl<T> Visitor<'_> for ParsedVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}
