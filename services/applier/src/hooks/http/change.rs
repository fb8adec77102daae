//! What an http hook sends and how it knows the change took: pure functions over JSON.

use serde_json::{Map, Value};

/// Whether `doc` holds every value `patch` sets (a read-back check: the server may add fields
/// of its own, such as a version, but must hold what was sent).
pub(super) fn holds(doc: &Value, patch: &Value) -> bool {
    match (doc, patch) {
        (Value::Object(doc), Value::Object(patch)) => patch
            .iter()
            .all(|(key, want)| doc.get(key).is_some_and(|have| holds(have, want))),
        (have, want) => same(have, want),
    }
}

/// Equal values, where numbers compare by value (`7` and `7.0` are one target).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The merge patch (RFC 7396) that undoes `patch` on `previous`: at every path the patch sets,
/// the previous value, or `null` (remove) where there was none.
pub(super) fn undo_patch(patch: &Value, previous: &Value) -> Value {
    let Value::Object(fields) = patch else {
        return previous.clone();
    };
    let undo: Map<String, Value> = fields
        .iter()
        .map(|(key, set)| {
            let before = previous.get(key);
            let value = match (set, before) {
                (Value::Object(_), Some(before @ Value::Object(_))) => undo_patch(set, before),
                (_, Some(before)) => before.clone(),
                (_, None) => Value::Null,
            };
            (key.clone(), value)
        })
        .collect();
    Value::Object(undo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_read_back_holds_the_change_even_with_fields_the_server_added() {
        let doc = json!({"resources": {"replicas": 7.0, "memory_mb": 1024}, "version": 12});
        assert!(holds(&doc, &json!({"resources": {"replicas": 7}})));
        assert!(!holds(&doc, &json!({"resources": {"replicas": 8}})));
        assert!(!holds(&doc, &json!({"config": {"threads": 4}})));
    }

    #[test]
    fn the_undo_of_a_patch_puts_back_each_previous_value_and_removes_what_was_new() {
        let previous = json!({"resources": {"replicas": 3, "memory_mb": 1024}, "config": {}});
        let patch = json!({"resources": {"replicas": 7}, "config": {"threads": 4}});
        assert_eq!(
            undo_patch(&patch, &previous),
            json!({"resources": {"replicas": 3}, "config": {"threads": null}})
        );
    }
}
