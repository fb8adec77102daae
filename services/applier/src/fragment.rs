//! Metadata fragments as changes to a configuration.
//!
//! A fragment's body is a nested document of the paths its recipe assigns, in JSON or YAML:
//! `{"config": {"worker_threads": 12}}`, or `config: {worker_threads: 12}`. It becomes a patch
//! that [`crate::plan::plan_patch`] deep-merges into a copy of the configuration, exactly as a
//! directive's patch is. A body that cannot be such a patch is refused here, before any hook
//! looks at it: the applier never guesses what a malformed fragment meant.

use presage_events::MetadataFragment;
use serde_json::Value;

/// The top-level sections of a configuration document a fragment may set; validation rules read
/// the same two (`config.cache_mb <= resources.memory_mb / 2`).
pub const SECTIONS: [&str; 2] = ["config", "resources"];

/// Why a fragment's body is not a patch the applier will merge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    #[error("format {0:?} is neither \"json\" nor \"yaml\"")]
    UnknownFormat(String),
    #[error("body is not valid {format}: {message}")]
    Unparsable {
        format: &'static str,
        message: String,
    },
    #[error("body must be a mapping with `config` and/or `resources` at the top, not {found}")]
    NotAnObject { found: &'static str },
    #[error("body sets nothing: it needs `config` and/or `resources` at the top")]
    Empty,
    #[error("body may set only `config` and `resources` at the top, not {keys}")]
    UnknownSections { keys: String },
    #[error("body's `{section}` must be a mapping of settings, not {found}")]
    SectionNotAnObject {
        section: &'static str,
        found: &'static str,
    },
}

/// The fragment's body as a patch, or why it is refused.
pub fn fragment_patch(fragment: &MetadataFragment) -> Result<Value, FragmentError> {
    parse_body(&fragment.format, &fragment.body)
}

/// Parses `body` in `format` (`json` or `yaml`, as the event schema spells them) and checks that
/// it is a mapping whose top-level keys are only `config` and `resources`, each itself a mapping
/// (a scalar there would replace a whole section of the configuration).
pub fn parse_body(format: &str, body: &str) -> Result<Value, FragmentError> {
    let parsed = match format {
        "json" => serde_json::from_str::<Value>(body).map_err(|e| FragmentError::Unparsable {
            format: "JSON",
            message: e.to_string(),
        })?,
        "yaml" => {
            // yaml_serde's own limit lets a few KB of aliases of one anchor expand to gigabytes:
            // the template's size, nesting and alias bounds hold for fragment bodies too.
            presage_template::check_yaml_bounds(body, "fragment body").map_err(|e| {
                FragmentError::Unparsable {
                    format: "YAML",
                    message: e.to_string(),
                }
            })?;
            yaml_serde::from_str::<Value>(body).map_err(|e| FragmentError::Unparsable {
                format: "YAML",
                message: e.to_string(),
            })?
        }
        other => return Err(FragmentError::UnknownFormat(other.to_string())),
    };
    let Value::Object(sections) = &parsed else {
        let found = match parsed {
            Value::Null => "an empty document",
            ref other => kind_of(other),
        };
        return Err(FragmentError::NotAnObject { found });
    };
    if sections.is_empty() {
        return Err(FragmentError::Empty);
    }
    let unknown: Vec<String> = sections
        .keys()
        .filter(|key| !SECTIONS.contains(&key.as_str()))
        .map(|key| format!("`{key}`"))
        .collect();
    if !unknown.is_empty() {
        return Err(FragmentError::UnknownSections {
            keys: unknown.join(", "),
        });
    }
    for section in SECTIONS {
        if let Some(value) = sections.get(section).filter(|v| !v.is_object()) {
            return Err(FragmentError::SectionNotAnObject {
                section,
                found: kind_of(value),
            });
        }
    }
    Ok(parsed)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_json_body_is_the_patch_it_spells() {
        assert_eq!(
            parse_body("json", r#"{"config":{"worker_threads":12}}"#),
            Ok(json!({"config": {"worker_threads": 12}}))
        );
    }

    #[test]
    fn a_yaml_body_is_the_same_patch_as_its_json_equivalent() {
        let yaml =
            "config:\n  worker_threads: 12\n  cache:\n    mb: 300\nresources:\n  memory_mb: 2048\n";
        let json =
            r#"{"config":{"worker_threads":12,"cache":{"mb":300}},"resources":{"memory_mb":2048}}"#;
        assert_eq!(parse_body("yaml", yaml), parse_body("json", json));
        assert!(parse_body("yaml", yaml).is_ok());
    }

    #[test]
    fn a_body_that_does_not_parse_is_refused_with_the_parser_s_reason() {
        let err = parse_body("json", r#"{"config": {"worker_threads": 12"#).unwrap_err();
        assert!(
            matches!(&err, FragmentError::Unparsable { format: "JSON", .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("body is not valid JSON: "),
            "{err}"
        );

        let err = parse_body("yaml", "config: [unclosed\n").unwrap_err();
        assert!(
            err.to_string().starts_with("body is not valid YAML: "),
            "{err}"
        );
    }

    #[test]
    fn a_format_other_than_json_or_yaml_is_refused() {
        assert_eq!(
            parse_body("toml", "[config]\nworker_threads = 12\n"),
            Err(FragmentError::UnknownFormat("toml".into()))
        );
    }

    #[test]
    fn a_body_that_is_not_a_mapping_is_refused() {
        assert_eq!(
            parse_body("json", "[1, 2]"),
            Err(FragmentError::NotAnObject { found: "a list" })
        );
        assert_eq!(
            parse_body("yaml", "12"),
            Err(FragmentError::NotAnObject { found: "a number" })
        );
        assert_eq!(
            parse_body("yaml", ""),
            Err(FragmentError::NotAnObject {
                found: "an empty document"
            })
        );
        assert_eq!(parse_body("json", "{}"), Err(FragmentError::Empty));
    }

    #[test]
    fn top_level_keys_other_than_config_and_resources_are_refused_by_name() {
        // The shape the recipe-processor emitted before recipes assigned config paths.
        let err = parse_body("json", r#"{"rps": 12.5, "window_end_ms": 60000}"#).unwrap_err();
        assert_eq!(
            err,
            FragmentError::UnknownSections {
                keys: "`rps`, `window_end_ms`".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "body may set only `config` and `resources` at the top, not `rps`, `window_end_ms`"
        );
        assert!(parse_body("json", r#"{"config": {"a": 1}, "spec": {}}"#).is_err());
    }

    #[test]
    fn a_section_that_is_not_a_mapping_is_refused_rather_than_replacing_the_section() {
        assert_eq!(
            parse_body("yaml", "config: 12\n"),
            Err(FragmentError::SectionNotAnObject {
                section: "config",
                found: "a number"
            })
        );
        assert_eq!(
            parse_body("json", r#"{"config": {}, "resources": null}"#),
            Err(FragmentError::SectionNotAnObject {
                section: "resources",
                found: "null"
            })
        );
    }
}
