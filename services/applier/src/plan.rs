//! Merging a directive into a copy of the configuration, and checking the copy against the
//! template's validation rules. The live configuration is never touched here.

use std::path::Path;

use presage_events::ScalingDirective;
use presage_template::{ConfigFormat, ConfigurationHook, Template};
use serde_json::{json, Value};

use crate::document::set_path;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("configuration is not valid {format:?}: {message}")]
    Unreadable {
        format: ConfigFormat,
        message: String,
    },
    #[error("cannot render configuration as {format:?}: {message}")]
    Unwritable {
        format: ConfigFormat,
        message: String,
    },
}

/// A copy of `current` (or of the bootstrap document, if there is no configuration yet) with the
/// directive's target written where the hook says.
pub fn plan_change(
    current: Option<&Value>,
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
) -> Value {
    let mut candidate = current.cloned().unwrap_or_else(|| template.bootstrap_doc());
    set_path(
        &mut candidate,
        &hook.key_for(&directive.resource),
        json!(directive.target),
    );
    candidate
}

/// Every rule the candidate breaks, with why; a rule that cannot be evaluated (a path missing
/// from the configuration) is broken too: an unchecked configuration is never applied.
pub fn check_rules(candidate: &Value, template: &Template) -> Vec<String> {
    template
        .rules()
        .iter()
        .filter_map(|rule| match rule.check(candidate) {
            Ok(true) => None,
            Ok(false) => Some(format!("rule `{}` is false", rule.source())),
            Err(err) => Some(format!(
                "rule `{}` cannot be evaluated: {err}",
                rule.source()
            )),
        })
        .collect()
}

/// The hook's format, or else the file's extension (`.json` is JSON, anything else YAML).
pub fn format_of(hook: &ConfigurationHook, path: &Path) -> ConfigFormat {
    hook.format
        .unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
            Some("json") => ConfigFormat::Json,
            _ => ConfigFormat::Yaml,
        })
}

pub fn parse_config(text: &str, format: ConfigFormat) -> Result<Value, PlanError> {
    let unreadable = |message: String| PlanError::Unreadable { format, message };
    match format {
        ConfigFormat::Json => serde_json::from_str(text).map_err(|e| unreadable(e.to_string())),
        ConfigFormat::Yaml => serde_yaml::from_str(text).map_err(|e| unreadable(e.to_string())),
    }
}

pub fn render(doc: &Value, format: ConfigFormat) -> Result<String, PlanError> {
    let unwritable = |message: String| PlanError::Unwritable { format, message };
    match format {
        ConfigFormat::Json => serde_json::to_string_pretty(doc)
            .map(|s| s + "\n")
            .map_err(|e| unwritable(e.to_string())),
        ConfigFormat::Yaml => serde_yaml::to_string(doc).map_err(|e| unwritable(e.to_string())),
    }
}
