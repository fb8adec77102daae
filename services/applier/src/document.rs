//! Dotted paths into a configuration document (`resources.replicas`).

use serde_json::{Map, Value};

/// Sets `path` in `doc`, creating objects along the way; a non-object in the way is replaced.
pub fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut node = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let object = node.as_object_mut().expect("made an object above");
        if parts.peek().is_none() {
            object.insert(part.to_string(), value);
            return;
        }
        node = object
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

pub fn get_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, part| node.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_nested_keys_and_keeps_siblings() {
        let mut doc = json!({"resources": {"replicas": 3, "memory_mb": 512}, "config": {"a": 1}});
        set_path(&mut doc, "resources.replicas", json!(7));
        set_path(&mut doc, "spec.scale.nodes", json!(2));
        assert_eq!(
            doc,
            json!({"resources": {"replicas": 7, "memory_mb": 512}, "config": {"a": 1}, "spec": {"scale": {"nodes": 2}}})
        );
        assert_eq!(get_path(&doc, "spec.scale.nodes"), Some(&json!(2)));
        assert_eq!(get_path(&doc, "spec.nothing"), None);
    }
}
