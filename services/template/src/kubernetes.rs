//! A `kubernetes` hook's own fields: which workload it changes and how each directive resource
//! lands on it. The API server and its credentials are the operator's (kubeconfig, in-cluster
//! service account, `--kubeconfig`), never the template's; which workloads may be changed is the
//! operator's allow-list (`kubernetes:` rule, see [`WorkloadGrant`]).
//!
//! ```yaml
//! - name: cluster
//!   kind: kubernetes
//!   kubernetes:
//!     workload: { kind: Deployment, namespace: shop, name: api, container: api }
//!     replicas: replicas                                  # through the scale subresource
//!     memory: { resource: memory_mb, unit: Mi, set: [limit, request] }
//!     cpu: { resource: cpu_millis, unit: m, set: [request] }
//!     env: { WORKER_THREADS: "{config.worker_threads}" }  # placeholders as an env hook's vars
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesHook {
    pub workload: Workload,
    /// The directive resource whose target becomes the workload's replicas, set through the
    /// `scale` subresource.
    #[serde(default)]
    pub replicas: Option<String>,
    /// A resource whose target becomes the container's memory request and/or limit.
    #[serde(default)]
    pub memory: Option<Quantity>,
    /// A resource whose target becomes the container's CPU request and/or limit.
    #[serde(default)]
    pub cpu: Option<Quantity>,
    /// Environment variables of the container, each value a text with placeholders (as an env
    /// hook's `vars`), filled in from the candidate configuration document.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl KubernetesHook {
    /// Whether the hook changes the container (resources or env), not only the replicas.
    pub fn changes_container(&self) -> bool {
        self.memory.is_some() || self.cpu.is_some() || !self.env.is_empty()
    }
}

/// The workload a hook changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// The container whose resources and env are changed; needed unless only replicas are.
    #[serde(default)]
    pub container: Option<String>,
}

impl Workload {
    /// `namespace/Kind/name`, as the allow-list grants it.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind.as_str(), self.name)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }

    /// The resource's plural name in API paths (`/apis/apps/v1/.../deployments/api`).
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
        }
    }
}

/// A directive resource written as a Kubernetes quantity: `memory_mb` 512 with unit `Mi` is
/// `512Mi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    /// The directive resource (a key of the configuration document's `resources`, or where the
    /// hook's `keys` put it).
    pub resource: String,
    /// The suffix the target is written with: `Ki Mi Gi Ti` (powers of 1024), `k M G T`
    /// (powers of 1000), `m` (thousandths, CPU millicores), or `""` (plain units: bytes, cores).
    #[serde(default)]
    pub unit: String,
    /// Which of the container's settings take it: `request`, `limit`, or both.
    #[serde(default = "both")]
    pub set: Vec<Bound>,
}

fn both() -> Vec<Bound> {
    vec![Bound::Limit, Bound::Request]
}

/// The units a [`Quantity`] may be written in, with what one of each is worth.
pub const QUANTITY_UNITS: [(&str, f64); 10] = [
    ("", 1.0),
    ("m", 0.001),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Request,
    Limit,
}

impl Bound {
    /// The key under a container's `resources` (`requests`, `limits`).
    pub fn key(self) -> &'static str {
        match self {
            Bound::Request => "requests",
            Bound::Limit => "limits",
        }
    }
}

/// One entry of the allow-list's `kubernetes:` rule: `namespace/Kind/name`, with `*` standing
/// for any kind or name (`shop/*` = every workload of namespace shop, `shop/Deployment/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadGrant {
    namespace: String,
    kind: Option<String>,
    name: Option<String>,
}

impl WorkloadGrant {
    pub fn parse(text: &str) -> Result<WorkloadGrant, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let any = |part: &str| (part != "*").then(|| part.to_string());
        let grant = match parts[..] {
            [namespace, "*"] => WorkloadGrant {
                namespace: namespace.into(),
                kind: None,
                name: None,
            },
            [namespace, kind, name] => WorkloadGrant {
                namespace: namespace.into(),
                kind: any(kind),
                name: any(name),
            },
            _ => {
                return Err(format!(
                    "`{text}` is not namespace/Kind/name or namespace/* (e.g. shop/Deployment/api)"
                ))
            }
        };
        if grant.namespace.is_empty() || grant.namespace == "*" {
            return Err(format!(
                "`{text}`: a grant names its namespace (no `*` namespace: every workload of \
                 the cluster is not least authority)"
            ));
        }
        if let Some(kind) = &grant.kind {
            if WorkloadKind::parse(kind).is_none() {
                return Err(format!(
                    "`{text}`: kind `{kind}` is not Deployment or StatefulSet"
                ));
            }
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("`{text}` has an empty part"));
        }
        Ok(grant)
    }

    /// Exactly one workload.
    pub fn exactly(workload: &Workload) -> WorkloadGrant {
        WorkloadGrant {
            namespace: workload.namespace.clone(),
            kind: Some(workload.kind.as_str().to_string()),
            name: Some(workload.name.clone()),
        }
    }

    pub fn covers(&self, workload: &Workload) -> bool {
        self.namespace == workload.namespace
            && self
                .kind
                .as_deref()
                .is_none_or(|k| k == workload.kind.as_str())
            && self.name.as_deref().is_none_or(|n| n == workload.name)
    }
}

impl fmt::Display for WorkloadGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.name) {
            (None, None) => write!(f, "{}/*", self.namespace),
            (kind, name) => write!(
                f,
                "{}/{}/{}",
                self.namespace,
                kind.as_deref().unwrap_or("*"),
                name.as_deref().unwrap_or("*")
            ),
        }
    }
}

impl WorkloadKind {
    fn parse(text: &str) -> Option<WorkloadKind> {
        match text {
            "Deployment" => Some(WorkloadKind::Deployment),
            "StatefulSet" => Some(WorkloadKind::StatefulSet),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            namespace: "shop".into(),
            name: "api".into(),
            container: None,
        }
    }

    #[test]
    fn a_grant_covers_its_namespace_kind_and_name_with_stars_for_any() {
        let covers = |g: &str| WorkloadGrant::parse(g).unwrap().covers(&api());
        assert!(covers("shop/Deployment/api"));
        assert!(covers("shop/*"));
        assert!(covers("shop/Deployment/*"));
        assert!(covers("shop/*/api"));
        assert!(!covers("shop/StatefulSet/api"));
        assert!(!covers("shop/Deployment/web"));
        assert!(!covers("billing/*"));
    }

    #[test]
    fn a_grant_without_a_namespace_or_with_an_unknown_kind_is_refused() {
        for bad in [
            "*",
            "*/*",
            "shop",
            "shop/Pod/api",
            "/Deployment/api",
            "a/b/c/d",
            "shop//x",
        ] {
            assert!(WorkloadGrant::parse(bad).is_err(), "{bad}");
        }
        let g = WorkloadGrant::parse("shop/Deployment/*").unwrap();
        assert_eq!(g.to_string(), "shop/Deployment/*");
        assert_eq!(
            WorkloadGrant::exactly(&api()).to_string(),
            "shop/Deployment/api"
        );
    }
}
