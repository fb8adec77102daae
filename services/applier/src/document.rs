//! Dotted paths into a configuration document (`resources.replicas`), and merging one document
//! into another.

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

/// Merges `patch` into `doc`: where both hold an object, key by key (keys only in `doc` are
/// kept); anywhere else the patch's value replaces the document's, whatever either holds: a
/// scalar, an array (arrays are replaced whole, never concatenated), or `null`.
pub fn deep_merge(doc: &mut Value, patch: &Value) {
    match (doc, patch) {
        (Value::Object(doc), Value::Object(patch)) => {
            for (key, value) in patch {
                match doc.get_mut(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        doc.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (doc, patch) => *doc = patch.clone(),
    }
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

    #[test]
    fn merging_goes_key_by_key_through_objects_and_keeps_what_the_patch_does_not_name() {
        let mut doc = json!({
            "resources": {"replicas": 3, "memory_mb": 512},
            "config": {"worker_threads": 8, "cache": {"mb": 256, "ttl_s": 60}},
        });
        deep_merge(
            &mut doc,
            &json!({"config": {"worker_threads": 12, "cache": {"mb": 300}, "new": true}}),
        );
        assert_eq!(
            doc,
            json!({
                "resources": {"replicas": 3, "memory_mb": 512},
                "config": {"worker_threads": 12, "cache": {"mb": 300, "ttl_s": 60}, "new": true},
            })
        );
    }

    #[test]
    fn anything_but_an_object_on_both_sides_is_replaced_whole() {
        let mut doc = json!({
            "config": {"hosts": ["a", "b"], "limit": {"soft": 1}, "mode": "fast", "off": 1},
        });
        deep_merge(
            &mut doc,
            &json!({"config": {"hosts": ["c"], "limit": 5, "mode": {"name": "slow"}, "off": null}}),
        );
        assert_eq!(
            doc,
            json!({"config": {"hosts": ["c"], "limit": 5, "mode": {"name": "slow"}, "off": null}})
        );
    }

    #[test]
    fn merging_a_patch_built_by_set_path_is_set_path() {
        // A directive becomes a patch this way; it must change exactly what set_path changes,
        // including replacing a non-object in the way.
        for (start, path) in [
            (
                json!({"resources": {"replicas": 3, "memory_mb": 512}}),
                "resources.replicas",
            ),
            (json!({"resources": 4}), "resources.replicas"),
            (json!({"spec": {"scale": "x"}}), "spec.scale.nodes"),
            (json!({}), "resources.replicas"),
        ] {
            let mut by_path = start.clone();
            set_path(&mut by_path, path, json!(7));
            let mut patch = json!({});
            set_path(&mut patch, path, json!(7));
            let mut by_merge = start.clone();
            deep_merge(&mut by_merge, &patch);
            assert_eq!(by_merge, by_path, "{start} + {path}");
        }
    }
}
