//! Dynamic metadata fragments: a recipe's `fragments.set` assignments evaluated against one
//! window's output and rendered as a nested document, e.g.
//! `config.worker_threads = clamp(ceil(rps / 50), 2, 32)` → `{"config":{"worker_threads":12}}`.

use presage_events::{event_id, DerivedMetric, MetadataFragment};
use presage_template::{Assignment, FragmentFormat};
use serde_json::{Map, Value};

/// What an assignment's expression can read: `value` and the recipe's own name (the output),
/// `n`, each join alias, and `labels.<group_by label>`.
pub fn scope(derived: &DerivedMetric) -> Value {
    let mut scope = Map::new();
    scope.insert("value".into(), Value::from(derived.value));
    scope.insert(derived.recipe.clone(), Value::from(derived.value));
    scope.insert("n".into(), Value::from(derived.sample_count));
    for (alias, value) in &derived.signals {
        scope.insert(alias.clone(), Value::from(*value));
    }
    scope.insert(
        "labels".into(),
        Value::Object(
            derived
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        ),
    );
    Value::Object(scope)
}

/// The fragment of one derived metric.
pub fn render_fragment(
    derived: &DerivedMetric,
    format: FragmentFormat,
    set: &[Assignment],
) -> Result<MetadataFragment, String> {
    let scope = scope(derived);
    let mut document = Value::Object(Map::new());
    for assignment in set {
        let value = assignment
            .expr
            .eval_value(&scope)
            .map_err(|e| format!("`{}`: {e}", assignment.path))?;
        set_path(&mut document, &assignment.path, value);
    }
    let (format_name, body) = match format {
        FragmentFormat::Json => ("json", document.to_string()),
        FragmentFormat::Yaml => (
            "yaml",
            yaml_serde::to_string(&document).map_err(|e| e.to_string())?,
        ),
    };
    Ok(MetadataFragment {
        event_id: event_id(&["fragment", &derived.event_id]),
        app: derived.app.clone(),
        template_version: derived.template_version.clone(),
        recipe: derived.recipe.clone(),
        format: format_name.to_string(),
        body,
        window_end_ms: derived.window_end_ms,
        lineage: vec![derived.event_id.clone()],
    })
}

fn set_path(document: &mut Value, path: &str, value: Value) {
    let mut node = document;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        node = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}
