//! Where an application runs: on which compute nodes (`placement`), and, on a node, in which
//! cgroup (a `cgroup` source's `cgroup`). Node-local collectors and appliers (`--node NAME`)
//! serve only the apps placed on their node; the central ones (no `--node`) serve the others.
//!
//! ```yaml
//! placement: { nodes: [node-a, node-b] }
//! dynamic_metadata:
//!   sources:
//!     - { id: api, kind: cgroup, cgroup: { path: /sys/fs/cgroup/system.slice/api.service } }
//!     - { id: worker, kind: cgroup, cgroup: { pid_file: /run/worker.pid } }
//! ```

use serde::{Deserialize, Serialize};

use crate::model::{Source, Template};

/// The nodes an application runs on. Absent: the app is not node-local, and is served by the
/// collector and applier started without `--node`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Node names, as node-local services are started with (`--node NAME`).
    #[serde(default)]
    pub nodes: Vec<String>,
}

/// Which cgroup (v2) a `cgroup` source reads: one of `path` or `pid_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupSelector {
    /// The cgroup's directory, e.g. `/sys/fs/cgroup/system.slice/api.service`.
    #[serde(default)]
    pub path: Option<String>,
    /// A file holding the pid of a process of the app: its cgroup is the one `/proc/<pid>/cgroup`
    /// names, under the node's cgroup2 mount.
    #[serde(default)]
    pub pid_file: Option<String>,
}

impl CgroupSelector {
    /// The files the collector reads to find the cgroup, with the field naming each: what the
    /// operator's allow-list (`paths`) must grant.
    pub fn paths(&self) -> Vec<(&str, &'static str)> {
        let mut out = Vec::new();
        if let Some(path) = &self.path {
            out.push((path.as_str(), "path"));
        }
        if let Some(pid_file) = &self.pid_file {
            out.push((pid_file.as_str(), "pid_file"));
        }
        out
    }
}

/// Which node, if any, a collector or applier serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeScope<'a> {
    /// Started without `--node`: the apps with no `placement`.
    Central,
    /// Started with `--node NAME`: the apps placed on `NAME`.
    Node(&'a str),
}

impl<'a> NodeScope<'a> {
    pub fn of(node: Option<&'a str>) -> Self {
        node.map_or(NodeScope::Central, NodeScope::Node)
    }

    /// Whether a service in this scope serves `template`. An app is served by exactly one
    /// scope per node: its nodes' node-local services when placed, the central ones otherwise,
    /// so a central applier and node-local appliers never apply one directive twice.
    pub fn serves(&self, template: &Template) -> bool {
        match (self, &template.placement) {
            (NodeScope::Central, placement) => placement.is_none(),
            (NodeScope::Node(node), Some(placement)) => placement.nodes.iter().any(|n| n == node),
            (NodeScope::Node(_), None) => false,
        }
    }
}

/// What a node name may be: a Kubernetes node name is a DNS subdomain, and the name also goes
/// into a consumer group id, so the same letters: 1 to 253 of lowercase letters, digits, `-`
/// and `.`, starting and ending with a letter or digit.
pub fn is_node_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=253).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// The cgroup selector of a source, if it is a `cgroup` source with one.
pub fn cgroup_of(source: &Source) -> Option<&CgroupSelector> {
    source.cgroup.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(placement: Option<&[&str]>) -> Template {
        let mut t: Template =
            yaml_serde::from_str("app: a\ndynamic_metadata: {}\n").expect("template");
        t.placement = placement.map(|nodes| Placement {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
        });
        t
    }

    #[test]
    fn a_placed_app_is_served_on_its_nodes_only_and_an_unplaced_one_centrally_only() {
        let both = template(Some(&["a", "b"]));
        let unplaced = template(None);
        assert!(NodeScope::Node("a").serves(&both));
        assert!(NodeScope::Node("b").serves(&both));
        assert!(!NodeScope::Node("c").serves(&both));
        assert!(!NodeScope::Central.serves(&both));
        assert!(NodeScope::Central.serves(&unplaced));
        assert!(!NodeScope::Node("a").serves(&unplaced));
        assert_eq!(NodeScope::of(None), NodeScope::Central);
        assert_eq!(NodeScope::of(Some("a")), NodeScope::Node("a"));
    }

    #[test]
    fn node_names_are_dns_subdomains() {
        for good in ["a", "node-1", "ip-10-0-0-1.ec2.internal"] {
            assert!(is_node_name(good), "{good}");
        }
        for bad in [
            "",
            "Node",
            "-a",
            "a-",
            "a b",
            "a/b",
            "a_b",
            &"x".repeat(254),
        ] {
            assert!(!is_node_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_selector_asks_for_each_file_it_reads() {
        let selector = CgroupSelector {
            path: Some("/sys/fs/cgroup/api".into()),
            pid_file: Some("/run/api.pid".into()),
        };
        assert_eq!(
            selector.paths(),
            vec![("/sys/fs/cgroup/api", "path"), ("/run/api.pid", "pid_file")]
        );
    }
}
