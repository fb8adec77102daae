//! Merging a change into a copy of the configuration, and checking the copy against the
//! template's validation rules. The live configuration is never touched here.
//!
//! A directive and a metadata fragment become the same thing before they are merged: a patch, a
//! nested document of the paths they set (a directive sets one path, the hook's key for its
//! resource; a fragment's body is already such a document, see [`crate::fragment`]). Both then
//! go through [`plan_patch`].

use std::path::Path;

use presage_events::ScalingDirective;
use presage_template::{ConfigFormat, ConfigurationHook, HookKind, Template};
use serde_json::{json, Value};

use crate::document::{deep_merge, set_path};

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
    /// A candidate the hook's file cannot hold as asked (an env value with a line break): the
    /// change is refused, not failed.
    #[error("{0}")]
    Refused(String),
}

/// A copy of `current` (or of the bootstrap document, if there is no configuration yet) with the
/// directive's target written where the hook says.
pub fn plan_change(
    current: Option<&Value>,
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
) -> Value {
    plan_patch(current, template, &directive_patch(hook, directive))
}

/// The directive as a patch: `{"resources": {"replicas": 7, "memory_mb": 4096}}`, each target
/// nested under whatever path the hook's `keys` give its resource. A directive without a
/// `targets` list (older producers) sets its top-level resource.
pub fn directive_patch(hook: &ConfigurationHook, directive: &ScalingDirective) -> Value {
    let mut patch = json!({});
    if directive.targets.is_empty() {
        set_path(
            &mut patch,
            &hook.key_for(&directive.resource),
            json!(directive.target),
        );
    }
    for target in &directive.targets {
        set_path(
            &mut patch,
            &hook.key_for(&target.resource),
            json!(target.target),
        );
    }
    patch
}

/// A copy of `current` (or of the bootstrap document, if there is no configuration yet) with
/// `patch` deep-merged into it (see [`deep_merge`]).
pub fn plan_patch(current: Option<&Value>, template: &Template, patch: &Value) -> Value {
    let mut candidate = current.cloned().unwrap_or_else(|| template.bootstrap_doc());
    deep_merge(&mut candidate, patch);
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
        ConfigFormat::Yaml => yaml_serde::from_str(text).map_err(|e| unreadable(e.to_string())),
    }
}

pub fn render(doc: &Value, format: ConfigFormat) -> Result<String, PlanError> {
    let unwritable = |message: String| PlanError::Unwritable { format, message };
    match format {
        ConfigFormat::Json => serde_json::to_string_pretty(doc)
            .map(|s| s + "\n")
            .map_err(|e| unwritable(e.to_string())),
        ConfigFormat::Yaml => yaml_serde::to_string(doc).map_err(|e| unwritable(e.to_string())),
    }
}

/// The candidate as the text to write over the live file's `previous` text: a YAML file keeps
/// its comments, key order and layout where the change is a few scalars (see
/// [`crate::yaml_edit`]); otherwise the whole document is written, keys in the order the live
/// file had them (new keys after).
pub fn render_over(
    previous: Option<&str>,
    doc: &Value,
    format: ConfigFormat,
) -> Result<String, PlanError> {
    if format == ConfigFormat::Yaml {
        if let Some(text) = previous.and_then(|text| crate::yaml_edit::edit_in_place(text, doc)) {
            return Ok(text);
        }
    }
    render(doc, format)
}

/// The configuration document a hook's live file (`text`, at `path`) stands for: the file
/// itself (YAML or JSON), or for an env hook the bootstrap with its variables' values read back
/// (see [`crate::envfile`]).
pub fn live_document(
    template: &Template,
    hook: &ConfigurationHook,
    path: &Path,
    text: &str,
) -> Result<Value, PlanError> {
    match hook.kind {
        HookKind::Env => Ok(crate::envfile::document_of(hook, template, text)),
        _ => parse_config(text, format_of(hook, path)),
    }
}

/// The text to swap in for `candidate`, written over the live file's `previous` text: the
/// configuration ([`render_over`]), or for an env hook the env file with the hook's variables
/// set ([`crate::envfile::text_of`]; a value it cannot hold is [`PlanError::Refused`]).
pub fn live_text(
    hook: &ConfigurationHook,
    path: &Path,
    previous: Option<&str>,
    candidate: &Value,
) -> Result<String, PlanError> {
    match hook.kind {
        HookKind::Env => {
            crate::envfile::text_of(hook, previous, candidate).map_err(PlanError::Refused)
        }
        _ => render_over(previous, candidate, format_of(hook, path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        presage_template::parse(
            "app: shop\n\
             bootstrap: { resources: { replicas: 3, memory_mb: 1024 }, config: { worker_threads: 8 } }\n\
             dynamic_metadata:\n  \
               configuration_hooks:\n    \
                 - { name: cfg, kind: file, path: /tmp/x.yaml, keys: { nodes: spec.scale.nodes } }\n",
            "test.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn directive(resource: &str, target: i64) -> ScalingDirective {
        ScalingDirective {
            event_id: "d".into(),
            app: "shop".into(),
            template_version: "v1".into(),
            resource: resource.into(),
            target,
            previous_target: None,
            forecast_value: 0.0,
            effective_at_ms: 0,
            issued_at_ms: 0,
            policy: "test".into(),
            reason: "test".into(),
            lineage: vec![],
            ..Default::default()
        }
    }

    #[test]
    fn a_directive_is_a_patch_of_its_target_at_the_hook_s_key() {
        let t = template();
        let hook = &t.dynamic_metadata.configuration_hooks[0];
        assert_eq!(
            directive_patch(hook, &directive("replicas", 7)),
            json!({"resources": {"replicas": 7}})
        );
        assert_eq!(
            directive_patch(hook, &directive("nodes", 2)),
            json!({"spec": {"scale": {"nodes": 2}}})
        );
    }

    #[test]
    fn with_no_configuration_yet_the_change_lands_on_the_bootstrap() {
        let t = template();
        let hook = &t.dynamic_metadata.configuration_hooks[0];
        assert_eq!(
            plan_change(None, &t, hook, &directive("replicas", 7)),
            json!({"resources": {"replicas": 7, "memory_mb": 1024}, "config": {"worker_threads": 8}})
        );
        assert_eq!(
            plan_patch(None, &t, &json!({"config": {"worker_threads": 12}})),
            json!({"resources": {"replicas": 3, "memory_mb": 1024}, "config": {"worker_threads": 12}})
        );
    }

    #[test]
    fn a_patch_lands_on_a_copy_of_the_current_configuration() {
        let t = template();
        let current =
            json!({"resources": {"replicas": 5}, "config": {"worker_threads": 8, "log": "info"}});
        let planned = plan_patch(
            Some(&current),
            &t,
            &json!({"config": {"worker_threads": 12}}),
        );
        assert_eq!(
            planned,
            json!({"resources": {"replicas": 5}, "config": {"worker_threads": 12, "log": "info"}})
        );
        assert_eq!(
            current["config"]["worker_threads"], 8,
            "the current document is not touched"
        );
    }

    #[test]
    fn an_env_hook_s_live_file_is_read_and_written_as_an_env_file_and_a_file_hook_s_as_its_format()
    {
        let t = presage_template::parse(
            "app: shop\nbootstrap: { resources: { replicas: 3 }, config: { tier: \"a\\nB=c\" } }\n\
             dynamic_metadata:\n  configuration_hooks:\n    \
             - { name: env, kind: env, path: /tmp/a.env, vars: { REPLICAS: \"{replicas}\", TIER: \"{config.tier}\" } }\n    \
             - { name: cfg, kind: file, path: /tmp/a.yaml }\n",
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let [env, file] = &t.dynamic_metadata.configuration_hooks[..] else {
            panic!("two hooks")
        };
        let path = Path::new("/tmp/a.env");
        let doc = live_document(&t, env, path, "# mine\nREPLICAS=5\n").unwrap();
        assert_eq!(doc["resources"]["replicas"], json!(5));
        // A value that would add a line to the env file is refused, not failed.
        match live_text(env, path, Some("# mine\n"), &doc) {
            Err(PlanError::Refused(why)) => assert!(why.contains("line break"), "{why}"),
            other => panic!("{other:?}"),
        }
        let path = Path::new("/tmp/a.yaml");
        let doc = live_document(&t, file, path, "resources:\n  replicas: 5 # mine\n").unwrap();
        let mut candidate = doc.clone();
        candidate["resources"]["replicas"] = json!(6);
        let text = live_text(
            file,
            path,
            Some("resources:\n  replicas: 5 # mine\n"),
            &candidate,
        );
        assert_eq!(text.unwrap(), "resources:\n  replicas: 6 # mine\n");
        assert!(matches!(
            live_document(&t, file, path, "resources: [unclosed\n"),
            Err(PlanError::Unreadable { .. })
        ));
    }
}
