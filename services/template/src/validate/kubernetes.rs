//! The fields of `kubernetes` hooks (see [`crate::kubernetes`]): the workload's names as the
//! API server would take them, the resources it maps and their units, the container's env
//! variables and their placeholders. A `kubernetes:` block on another kind, and fields a
//! kubernetes hook never reads, are reported rather than silently ignored.

use std::collections::HashSet;

use crate::finding::Finding;
use crate::kubernetes::{KubernetesHook, Quantity, QUANTITY_UNITS};
use crate::model::{ConfigurationHook, HookKind, Template};
use crate::path::YamlPath;

use super::actuation::text_placeholders;

pub(super) fn check(t: &Template, h: &ConfigurationHook, p: &YamlPath, out: &mut Vec<Finding>) {
    let name = &h.name;
    if h.kind != HookKind::Kubernetes {
        if h.kubernetes.is_some() {
            out.push(Finding::at_key(
                p.key("kubernetes"),
                format!(
                    "kubernetes does not apply to hook {name:?}: it is a kubernetes hook's \
                     workload and mapping"
                ),
            ));
        }
        return;
    }
    let Some(k) = &h.kubernetes else {
        out.push(
            Finding::at(
                p.clone(),
                format!(
                    "kubernetes hook {name:?} has no kubernetes block: expected kubernetes: \
                     {{ workload: {{ kind: Deployment, namespace: shop, name: api, container: \
                     api }}, replicas: replicas }}"
                ),
            )
            .reading([p.key("kubernetes")]),
        );
        return;
    };
    if h.test.is_some() {
        out.push(Finding::at_key(
            p.key("test"),
            format!(
                "test does not apply to a kubernetes hook ({name:?}): its test is the API \
                 server's dry run of the change"
            ),
        ));
    }
    let kp = p.key("kubernetes");
    workload(k, name, &kp, out);
    if k.replicas.is_none() && k.memory.is_none() && k.cpu.is_none() && k.env.is_empty() {
        out.push(Finding::at(
            kp.clone(),
            format!(
                "kubernetes hook {name:?} changes nothing: expected replicas, memory, cpu or env"
            ),
        ));
    }
    if let Some(resource) = &k.replicas {
        resource_name(resource, &kp.key("replicas"), out);
    }
    let mut seen = HashSet::new();
    for (field, quantity) in [("memory", &k.memory), ("cpu", &k.cpu)] {
        if let Some(q) = quantity {
            self::quantity(q, field, &kp.key(field), out);
            if !seen.insert(q.resource.as_str()) {
                out.push(Finding::at(
                    kp.key(field).key("resource"),
                    format!(
                        "resource {:?} is mapped to memory too: expected one quantity per resource",
                        q.resource
                    ),
                ));
            }
        }
    }
    let doc = t.bootstrap_doc();
    for (var, value) in &k.env {
        let at = kp.key("env").key(var);
        if !is_env_name(var) {
            out.push(Finding::at_key(
                at.clone(),
                format!(
                    "{var:?} is not an environment variable name Kubernetes takes: expected \
                     letters, digits, `_`, `-` and `.`, not starting with a digit"
                ),
            ));
        }
        text_placeholders(h, &doc, value, &at, out);
    }
}

fn workload(k: &KubernetesHook, hook: &str, kp: &YamlPath, out: &mut Vec<Finding>) {
    let wp = kp.key("workload");
    let w = &k.workload;
    for (field, value) in [("namespace", &w.namespace), ("name", &w.name)] {
        if let Some(why) = dns_name_problem(value, if field == "namespace" { 63 } else { 253 }) {
            out.push(Finding::at(
                wp.key(field),
                format!("workload {field} {value:?} of hook {hook:?} {why}"),
            ));
        }
    }
    match &w.container {
        Some(c) => {
            if let Some(why) = dns_name_problem(c, 63).or_else(|| {
                c.contains('.')
                    .then(|| "holds a `.`: expected a DNS label".to_string())
            }) {
                out.push(Finding::at(
                    wp.key("container"),
                    format!("container {c:?} of hook {hook:?} {why}"),
                ));
            }
        }
        None if k.changes_container() => out.push(
            Finding::at(
                wp.clone(),
                format!(
                    "workload of hook {hook:?} names no container, and memory, cpu or env \
                     change one: expected container: <name in the pod template>"
                ),
            )
            .reading([wp.key("container")]),
        ),
        None => {}
    }
}

fn quantity(q: &Quantity, field: &str, at: &YamlPath, out: &mut Vec<Finding>) {
    resource_name(&q.resource, &at.key("resource"), out);
    if !QUANTITY_UNITS.iter().any(|(unit, _)| *unit == q.unit) {
        let units: Vec<String> = QUANTITY_UNITS
            .iter()
            .map(|(u, _)| format!("{u:?}"))
            .collect();
        out.push(Finding::at(
            at.key("unit"),
            format!(
                "unit {:?} of {field} is not a Kubernetes quantity suffix: expected one of {}",
                q.unit,
                units.join(", ")
            ),
        ));
    }
    if q.set.is_empty() {
        out.push(Finding::at(
            at.key("set"),
            format!("{field} sets nothing: expected set: [limit, request] or one of them"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, bound) in q.set.iter().enumerate() {
        if !seen.insert(*bound) {
            out.push(Finding::at(
                at.key("set").index(i),
                format!("{} is listed twice", bound.key()),
            ));
        }
    }
}

fn resource_name(resource: &str, at: &YamlPath, out: &mut Vec<Finding>) {
    if resource.trim().is_empty() || resource.contains(char::is_whitespace) {
        out.push(Finding::at(
            at.clone(),
            format!("resource {resource:?} is not a resource name: expected one like replicas"),
        ));
    }
}

/// Why `name` is not a DNS-1123 name (lowercase letters, digits, `-` and `.`, starting and
/// ending with a letter or digit, at most `max` characters); None when it is one.
fn dns_name_problem(name: &str, max: usize) -> Option<String> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() {
        Some("is empty: expected a DNS-1123 name like api".into())
    } else if name.len() > max {
        Some(format!("is longer than {max} characters"))
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        || !edge(name.chars().next())
        || !edge(name.chars().last())
    {
        Some(
            "is not a DNS-1123 name: expected lowercase letters, digits, `-` and `.`, starting \
             and ending with a letter or digit"
                .into(),
        )
    } else {
        None
    }
}

/// What the API server takes as an env variable name (`[-._a-zA-Z][-._a-zA-Z0-9]*`).
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    chars.next().is_some_and(|c| ok(c) && !c.is_ascii_digit()) && chars.all(ok)
}

#[cfg(test)]
mod tests {
    /// The errors of a template whose hooks are `hooks` (one line each, from line 5), as
    /// `line:column message`.
    fn errors(hooks: &[&str]) -> Vec<String> {
        let mut text = String::from(
            "app: shop\n\
             bootstrap: { resources: { replicas: 3 }, config: { threads: 4 } }\n\
             dynamic_metadata:\n  configuration_hooks:\n",
        );
        for line in hooks {
            text.push_str(line);
            text.push('\n');
        }
        match crate::parse(&text, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .iter()
                .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
                .collect(),
        }
    }

    fn has(errors: &[String], at: &str, words: &str) {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{at} ")) && e.contains(words)),
            "no `{words}` at {at} in {errors:#?}"
        );
    }

    #[test]
    fn a_well_formed_kubernetes_hook_validates() {
        let e = errors(&[
            "    - name: k8s",
            "      kind: kubernetes",
            "      kubernetes:",
            "        workload: { kind: StatefulSet, namespace: shop, name: db-0.x, container: db }",
            "        replicas: replicas",
            "        cpu: { resource: cpu_millis, unit: m, set: [request] }",
            "        env: { THREADS: \"{config.threads}\", log.level: info }",
        ]);
        assert!(e.is_empty(), "{e:#?}");
    }

    #[test]
    fn each_mistake_is_reported_at_its_line_and_column() {
        let e = errors(&[
            "    - name: k8s",
            "      kind: kubernetes",
            "      path: /etc/x.yaml",
            "      test: { command: [true] }",
            "      kubernetes:",
            "        workload: { kind: Deployment, namespace: Shop, name: \"\" }",
            "        memory: { resource: memory_mb, unit: MB, set: [limit, limit] }",
            "        env: { 1X: \"{nope}\" }",
            "    - { name: f, kind: file, path: /tmp/f.yaml, kubernetes: { workload: { kind: Deployment, namespace: a, name: b } } }",
        ]);
        has(&e, "7:7", "path does not apply to a kubernetes hook");
        has(&e, "8:7", "its test is the API server's dry run");
        has(&e, "10:50", "namespace \"Shop\"");
        has(&e, "10:62", "name \"\"");
        has(&e, "10:19", "names no container");
        has(&e, "11:46", "unit \"MB\"");
        has(&e, "11:63", "limits is listed twice");
        has(&e, "12:16", "not an environment variable name");
        has(&e, "12:21", "unknown placeholder `{nope}`");
        has(&e, "13:49", "kubernetes does not apply to hook \"f\"");
    }

    #[test]
    fn a_kubernetes_hook_without_its_block_or_with_nothing_to_change_is_refused() {
        let e = errors(&["    - { name: k8s, kind: kubernetes }"]);
        has(&e, "5:7", "has no kubernetes block");
        let e = errors(&[
            "    - name: k8s",
            "      kind: kubernetes",
            "      kubernetes: { workload: { kind: Deployment, namespace: a, name: b } }",
        ]);
        has(&e, "7:19", "changes nothing");
        let e = errors(&[
            "    - name: k8s",
            "      kind: kubernetes",
            "      kubernetes: { workload: { kind: Pod, namespace: a, name: b }, replicas: replicas }",
        ]);
        assert!(
            e.iter().any(|e| e.starts_with("7:") && e.contains("Pod")),
            "{e:#?}"
        );
    }
}
