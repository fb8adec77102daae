//! `placement` (the nodes an app runs on) and the `cgroup` of a `cgroup` source: each mistake at
//! its node. A node name that no `--node` can match would leave the app served by nobody, and
//! a cgroup selector on another kind of source would be silently ignored, so both are errors.

use std::path::{Component, Path};

use crate::finding::Finding;
use crate::model::{HookKind, Source, SourceKind, Template};
use crate::path::YamlPath;
use crate::placement::is_node_name;

/// The template's `placement`, if it has one.
pub(super) fn check(t: &Template, root: &YamlPath, out: &mut Vec<Finding>) {
    let Some(placement) = &t.placement else {
        return;
    };
    let at = root.key("placement").key("nodes");
    if placement.nodes.is_empty() {
        // Reads the whole mapping: a misspelt key dropped from it is the error to report.
        out.push(Finding::at(
            root.key("placement"),
            "placement names no nodes: expected nodes: [<node name>, ...] (leave placement \
             out for an app the central collector and applier serve)",
        ));
    }
    for (i, node) in placement.nodes.iter().enumerate() {
        let problem = if !is_node_name(node) {
            "is not a node name: expected 1 to 253 lowercase letters, digits, '-' or '.', \
             starting and ending with a letter or digit (as `--node NAME` is given)"
        } else if placement.nodes[..i].contains(node) {
            "is named twice: expected each node once"
        } else {
            continue;
        };
        out.push(Finding::at(
            at.index(i),
            format!("node {node:?} of placement {problem}"),
        ));
    }
    // Every node's applier applies the app's hooks. A file, env or command hook acts on its own
    // node; an http or kubernetes hook on state all nodes share, which two appliers would
    // read, change and roll back under separate locks, undoing each other.
    if placement.nodes.len() > 1 {
        let hooks = root.key("dynamic_metadata").key("configuration_hooks");
        for (i, hook) in t.dynamic_metadata.configuration_hooks.iter().enumerate() {
            if matches!(hook.kind, HookKind::Http | HookKind::Kubernetes) {
                out.push(Finding::at(
                    hooks.index(i).key("kind"),
                    format!(
                        "hook {:?} changes state every node shares, and the app is placed on {} \
                         nodes, whose appliers would each change it: place the app on one node, \
                         or leave placement out for the central applier",
                        hook.name,
                        placement.nodes.len()
                    ),
                ));
            }
        }
    }
}

/// A source's `cgroup`: required by a `cgroup` source (exactly one of `path` and `pid_file`,
/// each absolute with no `..`), refused on any other kind.
pub(super) fn check_source(s: &Source, p: &YamlPath, out: &mut Vec<Finding>) {
    let id = &s.id;
    let at = p.key("cgroup");
    if s.kind != SourceKind::Cgroup {
        if s.cgroup.is_some() {
            out.push(Finding::at_key(
                at,
                format!(
                    "cgroup does not apply to {} source {id:?}: it is a cgroup source's",
                    s.kind.as_str()
                ),
            ));
        }
        return;
    }
    let Some(selector) = &s.cgroup else {
        out.push(
            Finding::at(
                p.clone(),
                format!(
                    "cgroup source {id:?} has no cgroup: expected cgroup: {{ path: \
                     /sys/fs/cgroup/<slice>/<unit> }} or cgroup: {{ pid_file: /run/<app>.pid }}"
                ),
            )
            .reading([at]),
        );
        return;
    };
    if selector.path.is_some() == selector.pid_file.is_some() {
        out.push(Finding::at(
            at.clone(),
            format!(
                "cgroup of source {id:?} names {}: expected exactly one of path (the cgroup's \
                 directory) and pid_file (a file holding a pid of the app)",
                if selector.path.is_some() {
                    "both path and pid_file"
                } else {
                    "neither path nor pid_file"
                }
            ),
        ));
    }
    for (value, field) in selector.paths() {
        if let Some(problem) = path_problem(value) {
            out.push(Finding::at(
                at.key(field),
                format!("{field} {value:?} of cgroup source {id:?} {problem}"),
            ));
        }
    }
}

/// Why a path a collector reads cannot be used: the allow-list grants absolute paths, matched
/// lexically, so a relative one or one climbing with `..` is refused here rather than at the read.
fn path_problem(path: &str) -> Option<&'static str> {
    let path = Path::new(path);
    if !path.is_absolute() {
        Some("is relative: expected an absolute path")
    } else if path.components().any(|c| c == Component::ParentDir) {
        Some("contains `..`: expected a path without it")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn errors(text: &str) -> Vec<String> {
        match parse(text, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(errors) => errors.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    const SOURCES: &str = "dynamic_metadata:\n  sources:\n";

    #[test]
    fn a_placed_app_with_a_cgroup_source_by_path_or_pid_file_is_valid() {
        let text = format!(
            "app: a\nplacement: {{ nodes: [node-a, node-b] }}\n{SOURCES}    - {{ id: api, kind: cgroup, cgroup: {{ path: /sys/fs/cgroup/api }} }}\n    - {{ id: w, kind: cgroup, cgroup: {{ pid_file: /run/w.pid }} }}\n"
        );
        let template = parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(template.placement.unwrap().nodes, vec!["node-a", "node-b"]);
    }

    #[test]
    fn bad_node_names_an_empty_placement_and_duplicates_are_reported_at_their_node() {
        let found = errors(&format!(
            "app: a\nplacement:\n  nodes: [ok, Bad_Node, ok]\n{SOURCES}    - {{ id: h, kind: host }}\n"
        ));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("t.yaml:3:15") && found[0].contains("is not a node name"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("t.yaml:3:25") && found[1].contains("named twice"),
            "{found:?}"
        );
        let empty = errors(&format!(
            "app: a\nplacement: {{ nodes: [] }}\n{SOURCES}    - {{ id: h, kind: host }}\n"
        ));
        assert!(
            empty.len() == 1 && empty[0].contains("placement names no nodes"),
            "{empty:?}"
        );
        let unknown = errors(&format!(
            "app: a\nplacement: {{ node: a }}\n{SOURCES}    - {{ id: h, kind: host }}\n"
        ));
        assert!(
            unknown.len() == 1 && unknown[0].starts_with("t.yaml:2:14"),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_cgroup_source_needs_exactly_one_absolute_selector() {
        let none = errors(&format!(
            "app: a\n{SOURCES}    - {{ id: c, kind: cgroup }}\n"
        ));
        assert!(
            none.len() == 1 && none[0].starts_with("t.yaml:4:7") && none[0].contains("no cgroup"),
            "{none:?}"
        );
        let both = errors(&format!(
            "app: a\n{SOURCES}    - id: c\n      kind: cgroup\n      cgroup: {{ path: /sys/fs/cgroup/x, pid_file: /run/x.pid }}\n"
        ));
        assert!(
            both.len() == 1 && both[0].starts_with("t.yaml:6:15") && both[0].contains("both"),
            "{both:?}"
        );
        let relative = errors(&format!(
            "app: a\n{SOURCES}    - id: c\n      kind: cgroup\n      cgroup:\n        pid_file: run/x.pid\n"
        ));
        assert!(
            relative.len() == 1
                && relative[0].starts_with("t.yaml:7:19")
                && relative[0].contains("relative"),
            "{relative:?}"
        );
        let climbing = errors(&format!(
            "app: a\n{SOURCES}    - id: c\n      kind: cgroup\n      cgroup:\n        path: /sys/fs/cgroup/../../etc\n"
        ));
        assert!(
            climbing.len() == 1 && climbing[0].contains("contains `..`"),
            "{climbing:?}"
        );
    }

    #[test]
    fn the_example_edge_cache_template_is_node_local_and_reads_its_service_s_cgroup() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/edge-cache.yaml"
        );
        let t = crate::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.placement.as_ref().unwrap().nodes,
            vec!["edge-1", "edge-2"]
        );
        let cache = t.source("cache").expect("cgroup source");
        assert_eq!(cache.kind, crate::SourceKind::Cgroup);
        assert!(cache.cgroup.as_ref().is_some_and(|c| c.path.is_some()));
    }

    #[test]
    fn an_app_on_several_nodes_cannot_have_hooks_on_shared_state() {
        let found = errors(
            "app: a\nplacement: { nodes: [node-a, node-b] }\nbootstrap: { resources: { replicas: 2 } }\ndynamic_metadata:\n  configuration_hooks:\n    \
             - { name: env, kind: env, path: /etc/a.env, vars: { N: \"{replicas}\" } }\n    \
             - { name: api, kind: http, url: \"http://127.0.0.1:7000/config\" }\n",
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("t.yaml:7:26: ") && found[0].contains("placed on 2 nodes"),
            "{found:#?}"
        );
        let one_node = errors(
            "app: a\nplacement: { nodes: [node-a] }\ndynamic_metadata:\n  configuration_hooks:\n    \
             - { name: api, kind: http, url: \"http://127.0.0.1:7000/config\" }\n",
        );
        assert!(one_node.is_empty(), "{one_node:#?}");
    }

    #[test]
    fn a_cgroup_selector_on_another_kind_is_reported_at_its_key() {
        let found = errors(&format!(
            "app: a\n{SOURCES}    - id: h\n      kind: host\n      cgroup: {{ path: /sys/fs/cgroup/x }}\n"
        ));
        assert!(
            found.len() == 1
                && found[0].starts_with("t.yaml:6:7")
                && found[0].contains("cgroup does not apply to host source"),
            "{found:?}"
        );
    }
}
