//! What a prediction algorithm knows about the values of its series before any model is fitted:
//! whether they are never negative, and whether they are whole numbers (counts). The
//! forecaster applies these to every forecast after the fit (see the forecaster's
//! `constraints` module); `auto`, the default, learns each from the history a fit uses.
//!
//! ```yaml
//! prediction_algorithms:
//!   - target: departures
//!     constraints: {non_negative: auto, integer: true}
//!     max_groups: 200
//! ```

use serde::{Deserialize, Serialize};

/// The most `group_by` combinations of one recipe output that one prediction algorithm of an app
/// forecasts, and the default of `max_groups`: each group is a series with its own history and
/// fits, so an output that grows a label value per request (a user id, a trace id) would
/// otherwise grow the forecaster without bound.
pub const MAX_GROUPS: usize = 1_000;

/// `constraints:` of a prediction algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// No point, lower or upper bound below zero (requests, queue lengths, counts).
    #[serde(default)]
    pub non_negative: Learned,
    /// Whole numbers (counts): the lower bound is rounded down and the upper bound up; the
    /// point stays a mean.
    #[serde(default)]
    pub integer: Learned,
}

/// A constraint the template states (`true`, `false`) or leaves to the history (`auto`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Learned {
    /// Holds when every value of the history a fit uses has the property.
    #[default]
    Auto,
    Always,
    Never,
}

impl Learned {
    /// Whether the constraint applies, given whether the history has the property.
    pub fn holds(self, history_has_it: bool) -> bool {
        match self {
            Learned::Auto => history_has_it,
            Learned::Always => true,
            Learned::Never => false,
        }
    }
}

impl Serialize for Learned {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Learned::Auto => serializer.serialize_str("auto"),
            Learned::Always => serializer.serialize_bool(true),
            Learned::Never => serializer.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for Learned {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Learned;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false or auto")
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Learned, E> {
                Ok(if v { Learned::Always } else { Learned::Never })
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Learned, E> {
                match v {
                    "auto" => Ok(Learned::Auto),
                    other => Err(E::custom(format!(
                        "{other:?} is not a constraint setting: expected true, false or auto"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

pub(crate) fn default_max_groups() -> usize {
    MAX_GROUPS
}
