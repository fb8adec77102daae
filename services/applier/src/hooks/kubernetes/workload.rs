//! The parts of a Deployment or StatefulSet a `kubernetes` hook owns, read from and written
//! into the object as the API server returns it (JSON), and the configuration document they
//! stand for. Pure: the requests are in `api.rs`.
//!
//! The hook owns the replicas (when it maps a resource to them) and, of its container, the
//! `resources` and `env` (when it maps memory, CPU or env variables). A rollback puts back
//! exactly those parts as they were read, so nothing else of the object is touched.

use presage_template::kubernetes::{KubernetesHook, Quantity};
use presage_template::{placeholders, ConfigurationHook, Piece};
use serde_json::{json, Value};

use super::quantity;
use crate::argv::{substitute, value_of_text};
use crate::document::{get_path, set_path};

/// The owned parts of a workload at one moment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Owned {
    /// `spec.replicas` as the scale subresource gives it; None when the hook maps no replicas.
    pub replicas: Option<i64>,
    /// The container's `resources` and `env`; None when the hook changes neither.
    pub container: Option<ContainerParts>,
}

/// A container's `resources` and `env`, `None` where the container has none.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerParts {
    pub resources: Option<Value>,
    pub env: Option<Value>,
}

/// The named container of the object's pod template.
fn container<'a>(object: &'a Value, name: &str) -> Result<&'a Value, String> {
    object
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .ok_or_else(|| format!("the workload's pod template has no container `{name}`"))
}

/// The owned parts of `object` (a workload as the API returns it), with `replicas` as read
/// from the scale subresource.
pub fn owned(k: &KubernetesHook, object: &Value, replicas: Option<i64>) -> Result<Owned, String> {
    let container = match (&k.workload.container, k.changes_container()) {
        (Some(name), true) => {
            let c = container(object, name)?;
            Some(ContainerParts {
                resources: c.get("resources").cloned(),
                env: c.get("env").cloned(),
            })
        }
        _ => None,
    };
    Ok(Owned {
        replicas: k.replicas.as_ref().and(replicas),
        container,
    })
}

fn quantities(k: &KubernetesHook) -> impl Iterator<Item = (&'static str, &Quantity)> {
    [("memory", &k.memory), ("cpu", &k.cpu)]
        .into_iter()
        .filter_map(|(name, q)| q.as_ref().map(|q| (name, q)))
}

/// A number as the configuration document holds it: whole numbers as integers.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!((value * 1e6).round() / 1e6)
    }
}

/// The configuration document the workload stands for: `base` (the bootstrap) with the
/// replicas and the quantities the workload has now, each in its resource's unit and where the
/// hook's `keys` put it, and the value of each env variable that is one placeholder
/// (`"{config.threads}"`) where the placeholder reads it. A quantity or variable the container
/// does not set keeps the base's value.
pub fn document(hook: &ConfigurationHook, k: &KubernetesHook, now: &Owned, base: Value) -> Value {
    let mut doc = base;
    let env = now.container.as_ref().and_then(|c| c.env.as_ref());
    for (var, text) in &k.env {
        let pieces = placeholders(text).unwrap_or_default();
        let [Piece::Hole(hole)] = pieces.as_slice() else {
            continue;
        };
        let entry = env.and_then(Value::as_array).and_then(|list| {
            let entry = list.iter().find(|e| e["name"] == var.as_str())?;
            entry.get("value")?.as_str()
        });
        if let Some(value) = entry {
            set_path(
                &mut doc,
                &hook.placeholder_path(&hole.name),
                value_of_text(value),
            );
        }
    }
    if let (Some(resource), Some(replicas)) = (&k.replicas, now.replicas) {
        set_path(&mut doc, &hook.key_for(resource), json!(replicas));
    }
    let resources = now.container.as_ref().and_then(|c| c.resources.as_ref());
    for (name, q) in quantities(k) {
        let read = q.set.iter().find_map(|bound| {
            let text = resources?.get(bound.key())?.get(name)?.as_str()?;
            let plain = quantity::parse(text).ok()?;
            Some(plain / quantity::unit_value(&q.unit)?)
        });
        if let Some(value) = read {
            set_path(&mut doc, &hook.key_for(&q.resource), number(value));
        }
    }
    doc
}

/// The owned parts as they must become for `candidate` (the configuration document that passed
/// the rules): `previous` with the replicas, quantities and env variables set from it. Err: the
/// candidate has no such value, or one the workload cannot take (a negative quantity, a
/// fractional replica count).
pub fn target(
    hook: &ConfigurationHook,
    k: &KubernetesHook,
    candidate: &Value,
    previous: &Owned,
) -> Result<Owned, String> {
    let value = |resource: &str| {
        let path = hook.key_for(resource);
        get_path(candidate, &path)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("{path} is not a number in the candidate configuration"))
    };
    let mut target = previous.clone();
    if let Some(resource) = &k.replicas {
        let n = value(resource)?;
        if n.fract() != 0.0 || !(0.0..=i32::MAX as f64).contains(&n) {
            return Err(format!("{resource} = {n} is not a replica count"));
        }
        target.replicas = Some(n as i64);
    }
    if let Some(parts) = target.container.as_mut() {
        let resources = parts.resources.get_or_insert_with(|| json!({}));
        for (name, q) in quantities(k) {
            let text = quantity::format(value(&q.resource)?, &q.unit)
                .map_err(|why| format!("{}: {why}", q.resource))?;
            for bound in &q.set {
                set_path(resources, &format!("{}.{name}", bound.key()), json!(text));
            }
        }
        for (var, text) in &k.env {
            let value = substitute(hook, text, candidate, false)
                .map_err(|why| format!("env {var}: {why}"))?;
            set_env(parts.env.get_or_insert_with(|| json!([])), var, &value);
        }
    }
    Ok(target)
}

/// Sets `name` to `value` in a container's env list (replacing a `valueFrom` too).
fn set_env(env: &mut Value, name: &str, value: &str) {
    let entry = json!({ "name": name, "value": value });
    let Some(list) = env.as_array_mut() else {
        *env = json!([entry]);
        return;
    };
    match list.iter_mut().find(|e| e["name"] == name) {
        Some(existing) => *existing = entry,
        None => list.push(entry),
    }
}

/// `object` with its container's `resources` and `env` replaced by `parts` (a part that is
/// `None` is removed).
pub fn with_container(object: &Value, name: &str, parts: &ContainerParts) -> Result<Value, String> {
    let mut copy = object.clone();
    let container = copy
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
        .and_then(|cs| cs.iter_mut().find(|c| c["name"] == name))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("the workload's pod template has no container `{name}`"))?;
    for (key, part) in [("resources", &parts.resources), ("env", &parts.env)] {
        match part {
            Some(value) => container.insert(key.to_string(), value.clone()),
            None => container.remove(key),
        };
    }
    Ok(copy)
}

/// How `actual` (read back after the change) differs from `target` in what the hook set: the
/// replicas, each quantity (compared as amounts: the server may rewrite `1024Mi` as `1Gi`) and
/// each env variable. Empty: the change is in place.
pub fn mismatches(k: &KubernetesHook, target: &Owned, actual: &Owned) -> Vec<String> {
    let mut out = Vec::new();
    if target.replicas.is_some() && target.replicas != actual.replicas {
        out.push(format!(
            "replicas are {:?}, expected {:?}",
            actual.replicas, target.replicas
        ));
    }
    let (Some(want), Some(have)) = (&target.container, &actual.container) else {
        return out;
    };
    let quantity_at = |parts: &ContainerParts, bound: &str, name: &str| {
        let q = parts.resources.as_ref()?.get(bound)?.get(name)?;
        q.as_str().map(str::to_string)
    };
    for (name, q) in quantities(k) {
        for bound in &q.set {
            let wanted = quantity_at(want, bound.key(), name);
            let found = quantity_at(have, bound.key(), name);
            let same = match (&wanted, &found) {
                (Some(a), Some(b)) => quantity::same(a, b),
                (a, b) => a == b,
            };
            if !same {
                out.push(format!(
                    "{}.{name} is {}, expected {}",
                    bound.key(),
                    found.as_deref().unwrap_or("unset"),
                    wanted.as_deref().unwrap_or("unset")
                ));
            }
        }
    }
    let env_value = |parts: &ContainerParts, var: &str| {
        let list = parts.env.as_ref()?.as_array()?;
        let entry = list.iter().find(|e| e["name"] == var)?;
        entry
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    for var in k.env.keys() {
        let (wanted, found) = (env_value(want, var), env_value(have, var));
        if wanted != found {
            out.push(format!(
                "env {var} is {}, expected {}",
                found.as_deref().unwrap_or("unset"),
                wanted.as_deref().unwrap_or("unset")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> ConfigurationHook {
        let t = presage_template::parse(
            "app: shop\n\
             bootstrap: { resources: { replicas: 2, memory_mb: 256 }, config: { threads: 4 } }\n\
             dynamic_metadata:\n  configuration_hooks:\n    \
             - name: k8s\n      kind: kubernetes\n      kubernetes:\n        \
             workload: { kind: Deployment, namespace: shop, name: api, container: api }\n        \
             replicas: replicas\n        \
             memory: { resource: memory_mb, unit: Mi, set: [limit, request] }\n        \
             env: { THREADS: \"{config.threads}\" }\n",
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        t.dynamic_metadata.configuration_hooks[0].clone()
    }

    fn deployment() -> Value {
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "side", "image": "x"},
            {"name": "api", "image": "y",
             "resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "512Mi"}},
             "env": [{"name": "LOG", "value": "info"}, {"name": "THREADS", "valueFrom": {}}]}
        ]}}}})
    }

    #[test]
    fn the_workload_reads_as_a_document_in_the_resources_units() {
        let h = hook();
        let k = h.kubernetes.as_ref().unwrap();
        let now = owned(k, &deployment(), Some(3)).unwrap();
        let base =
            json!({"resources": {"replicas": 2, "memory_mb": 256}, "config": {"threads": 4}});
        let doc = document(&h, k, &now, base);
        // The limit comes first in `set`: 1Gi is 1024 Mi. THREADS comes from a secret
        // (`valueFrom`): the bootstrap's value stands.
        assert_eq!(
            doc,
            json!({"resources": {"replicas": 3, "memory_mb": 1024}, "config": {"threads": 4}})
        );
        let mut set = deployment();
        set["spec"]["template"]["spec"]["containers"][1]["env"][1] =
            json!({"name": "THREADS", "value": "9"});
        let now = owned(k, &set, Some(3)).unwrap();
        let doc = document(&h, k, &now, json!({"config": {"threads": 4}}));
        assert_eq!(
            doc["config"]["threads"], 9,
            "read back where its placeholder reads it"
        );
    }

    #[test]
    fn the_target_sets_replicas_quantities_and_env_and_keeps_the_rest() {
        let h = hook();
        let k = h.kubernetes.as_ref().unwrap();
        let now = owned(k, &deployment(), Some(3)).unwrap();
        let candidate =
            json!({"resources": {"replicas": 5, "memory_mb": 768}, "config": {"threads": 6}});
        let target = target(&h, k, &candidate, &now).unwrap();
        assert_eq!(target.replicas, Some(5));
        let parts = target.container.as_ref().unwrap();
        assert_eq!(
            parts.resources,
            Some(json!({"limits": {"memory": "768Mi"}, "requests": {"memory": "768Mi"}}))
        );
        assert_eq!(
            parts.env,
            Some(json!([{"name": "LOG", "value": "info"}, {"name": "THREADS", "value": "6"}]))
        );
        let object = with_container(&deployment(), "api", parts).unwrap();
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "side", "image": "x"})
        );
        assert_eq!(owned(k, &object, Some(5)).unwrap(), target);
        assert!(mismatches(k, &target, &target).is_empty());
        assert_eq!(
            mismatches(k, &target, &now),
            [
                "replicas are Some(3), expected Some(5)",
                "limits.memory is 1Gi, expected 768Mi",
                "requests.memory is 512Mi, expected 768Mi",
                "env THREADS is unset, expected 6"
            ]
        );
    }

    #[test]
    fn a_value_the_workload_cannot_take_is_refused() {
        let h = hook();
        let k = h.kubernetes.as_ref().unwrap();
        let now = owned(k, &deployment(), Some(3)).unwrap();
        let half =
            json!({"resources": {"replicas": 2.5, "memory_mb": 768}, "config": {"threads": 6}});
        assert!(target(&h, k, &half, &now)
            .unwrap_err()
            .contains("replica count"));
        let negative =
            json!({"resources": {"replicas": 2, "memory_mb": -1}, "config": {"threads": 6}});
        assert!(target(&h, k, &negative, &now).is_err());
        assert!(owned(k, &json!({"spec": {}}), Some(1))
            .unwrap_err()
            .contains("no container `api`"));
    }
}
