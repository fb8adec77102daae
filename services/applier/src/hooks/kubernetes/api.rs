//! The requests a `kubernetes` hook makes, through kube-rs on a current-thread Tokio runtime of
//! the hook's own (the applier is synchronous). Every request checks the operator's grant for
//! the workload first ([`Granted::workload`]), so no code path reaches a workload not granted.
//!
//! Writes are replaces carrying the resourceVersion read (the workload's, or its `scale`
//! subresource's): a write that lost a race gets 409 and is re-read and tried again, up to
//! [`CONFLICT_TRIES`] times.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::autoscaling::v1::Scale;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use presage_template::kubernetes::Workload;
use serde_json::Value;

use super::workload::{with_container, Owned};
use crate::hooks::grant::Granted;

/// How many times a write that met a newer resourceVersion (409) is re-read and tried again.
pub const CONFLICT_TRIES: u32 = 5;

/// How long connecting and each request may take: an unreachable API server fails the try
/// (to be retried as the hook's `retry` says) instead of holding the applier.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request failed, as the hook's outcome distinguishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 404: the workload (or its container) is not there.
    NotFound(String),
    /// 422 (or 400): the API server refused the object; the same object would be refused again.
    Invalid(String),
    /// 409 after [`CONFLICT_TRIES`] re-reads.
    Conflict(String),
    /// The grant does not cover the workload: nothing was sent.
    NotGranted(String),
    /// Anything else (unreachable, 5xx, 403): may pass on a later try.
    Other(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::NotFound(m)
            | ApiError::Invalid(m)
            | ApiError::Conflict(m)
            | ApiError::NotGranted(m)
            | ApiError::Other(m) => f.write_str(m),
        }
    }
}

fn classify(what: &str, err: kube::Error) -> ApiError {
    match err {
        kube::Error::Api(resp) => {
            let message = format!("{what}: {} ({} {})", resp.message, resp.code, resp.reason);
            match resp.code {
                404 => ApiError::NotFound(message),
                400 | 422 => ApiError::Invalid(message),
                409 => ApiError::Conflict(message),
                _ => ApiError::Other(message),
            }
        }
        other => ApiError::Other(format!("{what}: {other}")),
    }
}

/// A client of the operator's cluster and the runtime its requests run on.
pub struct Cluster {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl Cluster {
    /// Connects as the operator configured: `kubeconfig` when given (`--kubeconfig`), else
    /// kube-rs's inference (`KUBECONFIG`, `~/.kube/config`, the in-cluster service account).
    pub fn connect(kubeconfig: Option<&Path>) -> Result<Cluster, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the kubernetes hook's runtime: {e}"))?;
        let client = runtime.block_on(async {
            let mut config = match kubeconfig {
                Some(path) => {
                    let file = Kubeconfig::read_from(path)
                        .map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
                    Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                        .await
                        .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
                }
                None => Config::infer()
                    .await
                    .map_err(|e| format!("no Kubernetes configuration found: {e}"))?,
            };
            config.connect_timeout = Some(CONNECT_TIMEOUT);
            config.read_timeout = Some(REQUEST_TIMEOUT);
            config.write_timeout = Some(REQUEST_TIMEOUT);
            Client::try_from(config).map_err(|e| format!("creating the Kubernetes client: {e}"))
        })?;
        Ok(Cluster { runtime, client })
    }

    /// The requests for one workload, each checked against `grant`.
    pub fn workload<'a>(&'a self, workload: &'a Workload, grant: &'a Granted) -> WorkloadApi<'a> {
        let gvk = GroupVersionKind::gvk("apps", "v1", workload.kind.as_str());
        let resource = ApiResource::from_gvk_with_plural(&gvk, workload.kind.plural());
        WorkloadApi {
            cluster: self,
            api: Api::namespaced_with(self.client.clone(), &workload.namespace, &resource),
            workload,
            grant,
        }
    }
}

pub struct WorkloadApi<'a> {
    cluster: &'a Cluster,
    api: Api<DynamicObject>,
    workload: &'a Workload,
    grant: &'a Granted,
}

fn params(dry_run: bool) -> PostParams {
    PostParams {
        dry_run,
        field_manager: Some("presage".into()),
    }
}

impl WorkloadApi<'_> {
    fn granted(&self) -> Result<(), ApiError> {
        self.grant
            .workload(self.workload)
            .map_err(ApiError::NotGranted)
    }

    /// The workload as the API server has it.
    pub fn get(&self) -> Result<Value, ApiError> {
        self.granted()?;
        let what = format!("reading {}", self.workload);
        let object = self
            .cluster
            .runtime
            .block_on(self.api.get(&self.workload.name))
            .map_err(|e| classify(&what, e))?;
        serde_json::to_value(object).map_err(|e| ApiError::Other(format!("{what}: {e}")))
    }

    /// The scale subresource: its replicas, with the resourceVersion to write it back with.
    pub fn get_scale(&self) -> Result<Scale, ApiError> {
        self.granted()?;
        let what = format!("reading the scale of {}", self.workload);
        self.cluster
            .runtime
            .block_on(self.api.get_scale(&self.workload.name))
            .map_err(|e| classify(&what, e))
    }

    fn replace(&self, object: &Value, dry_run: bool) -> Result<(), ApiError> {
        self.granted()?;
        let what = format!("{} {}", writing(dry_run), self.workload);
        let object: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ApiError::Other(format!("{what}: {e}")))?;
        self.cluster
            .runtime
            .block_on(
                self.api
                    .replace(&self.workload.name, &params(dry_run), &object),
            )
            .map(drop)
            .map_err(|e| classify(&what, e))
    }

    fn replace_scale(&self, scale: &Scale, dry_run: bool) -> Result<(), ApiError> {
        self.granted()?;
        let what = format!("{} the scale of {}", writing(dry_run), self.workload);
        let body =
            serde_json::to_vec(scale).map_err(|e| ApiError::Other(format!("{what}: {e}")))?;
        self.cluster
            .runtime
            .block_on(
                self.api
                    .replace_scale(&self.workload.name, &params(dry_run), body),
            )
            .map(drop)
            .map_err(|e| classify(&what, e))
    }

    /// Makes the owned parts of the workload `want` (a server-side dry run when `dry_run`):
    /// the container through a replace of the workload, the replicas through a replace of its
    /// scale, each carrying the resourceVersion just read and re-read on a conflict. A part
    /// already as wanted is not written. Ok: whether anything was (or would be) written.
    pub fn write(&self, want: &Owned, dry_run: bool) -> Result<bool, ApiError> {
        let mut wrote = false;
        if let (Some(parts), Some(name)) = (&want.container, &self.workload.container) {
            wrote |= self.retrying_conflicts(|| {
                let object = self.get()?;
                let changed = with_container(&object, name, parts).map_err(ApiError::NotFound)?;
                if changed == object {
                    return Ok(false);
                }
                self.replace(&changed, dry_run).map(|()| true)
            })?;
        }
        if let Some(replicas) = want.replicas {
            wrote |= self.retrying_conflicts(|| {
                let mut scale = self.get_scale()?;
                let spec = scale.spec.get_or_insert_with(Default::default);
                if spec.replicas.map(i64::from) == Some(replicas) {
                    return Ok(false);
                }
                spec.replicas = Some(replicas as i32);
                scale.status = None;
                self.replace_scale(&scale, dry_run).map(|()| true)
            })?;
        }
        Ok(wrote)
    }

    fn retrying_conflicts(
        &self,
        mut read_and_write: impl FnMut() -> Result<bool, ApiError>,
    ) -> Result<bool, ApiError> {
        let mut tries = 1;
        loop {
            match read_and_write() {
                Err(ApiError::Conflict(why)) if tries < CONFLICT_TRIES => {
                    tracing::info!(workload = %self.workload, tries, %why, "resourceVersion conflict: reading again");
                    tries += 1;
                }
                Err(ApiError::Conflict(why)) => {
                    return Err(ApiError::Conflict(format!(
                        "{why}; still conflicting after {tries} reads"
                    )))
                }
                other => return other,
            }
        }
    }
}

fn writing(dry_run: bool) -> &'static str {
    if dry_run {
        "dry-running the change of"
    } else {
        "changing"
    }
}
