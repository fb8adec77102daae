//! The `kubernetes` hook: a Deployment's or StatefulSet's replicas (through the `scale`
//! subresource), its container's memory and CPU requests and limits, and the container's env
//! variables, changed through the Kubernetes API with kube-rs. The API server and its
//! credentials are the operator's (`--kubeconfig`, `KUBECONFIG`, in-cluster); which workloads
//! may be changed is the operator's allow-list.
//!
//! The shadow flow of one try: read the workload (and its scale); the configuration document
//! it stands for (the bootstrap with the replicas and quantities the workload has now, see
//! [`workload::document`]); the change merged into a copy; the template's rules on the copy
//! (refused: nothing is sent but the reads); the workload's owned parts as they must become;
//! the test, a server-side dry run (`dryRun=All`) of exactly those writes (failing: nothing
//! changed); the switch, the same writes for real, each a replace carrying the resourceVersion
//! just read (409: re-read and written again); the check, a read back compared with what was
//! written; on a failing switch or check, the rollback writes back the owned parts as first
//! read. One outcome.
//!
//! Crash semantics. The hook keeps no state of its own: the API server holds the workload, and
//! each try starts from what it reads there. After SIGKILL before the switch nothing changed;
//! after it, the input (not yet committed, as its outcome was not published) is replayed on
//! restart, reads the changed workload, finds the owned parts already as wanted and writes
//! nothing, and its check reads them back. What is lost is the rollback of a switch whose
//! check would have failed: the replay takes the changed workload as the previous state.

mod api;
mod quantity;
mod workload;

use presage_events::ApplyOutcome;
use presage_template::kubernetes::KubernetesHook;
use presage_template::{ConfigurationHook, Template};
use serde_json::Value;

use self::api::{ApiError, Cluster, WorkloadApi};
use self::workload::{document, mismatches, owned, target, Owned};
use super::grant::Granted;
use crate::outcome::{Input, Status};
use crate::plan::{check_rules, plan_patch};
use crate::retry::{wait_before, Try};

/// The shadow flow of a kubernetes hook for any change, given as a patch (see
/// [`crate::plan::directive_patch`]), tried again as the hook's `retry` says.
pub(crate) fn apply_change(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input,
    patch: &Value,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    let outcome = |t: Try, attempts: u32| super::finish(input.clone(), hook, t, attempts, now_ms);
    if let Some(reason) = superseded {
        return outcome(Try::permanent(Status::Superseded, reason), 1);
    }
    let Some(k) = &hook.kubernetes else {
        let reason = "kubernetes hook has no kubernetes block".to_string();
        return outcome(Try::permanent(Status::Failed, reason), 1);
    };
    if let Err(why) = grant.workload(&k.workload) {
        let reason = format!("{why}: nothing was sent");
        return outcome(Try::permanent(Status::Rejected, reason), 1);
    }
    let policy = hook.retry();
    let mut attempt = 1;
    loop {
        let t = try_once(template, hook, k, patch, grant);
        match wait_before(&policy, &t, attempt + 1) {
            Some(wait) => {
                tracing::warn!(input = %input.event_id, hook = %hook.name, attempt, reason = ?t.reason, wait_ms = wait.as_millis() as u64, "kubernetes change failed; trying again");
                std::thread::sleep(wait);
                attempt += 1;
            }
            None => return outcome(t, attempt),
        }
    }
}

/// What a failed request makes of a try: a workload not found fails and a refused object is
/// rejected, neither worth repeating; anything else may pass.
fn failed(doing: &str, err: ApiError) -> Try {
    match err {
        ApiError::NotFound(why) => Try::permanent(Status::Failed, format!("{doing}: {why}")),
        ApiError::Invalid(why) => Try::permanent(
            Status::Rejected,
            format!("{doing}: the API server refused the object: {why}"),
        ),
        ApiError::NotGranted(why) => Try::permanent(
            Status::Rejected,
            format!("{doing}: {why}: nothing was sent"),
        ),
        ApiError::Conflict(why) | ApiError::Other(why) => {
            Try::transient(Status::Failed, format!("{doing}: {why}"), None)
        }
    }
}

/// The owned parts of the workload as the server has them now.
fn read(api: &WorkloadApi, k: &KubernetesHook) -> Result<Owned, ApiError> {
    let object = api.get()?;
    let replicas = match &k.replicas {
        Some(_) => api
            .get_scale()?
            .spec
            .and_then(|s| s.replicas)
            .map(i64::from),
        None => None,
    };
    owned(k, &object, replicas).map_err(ApiError::NotFound)
}

fn try_once(
    template: &Template,
    hook: &ConfigurationHook,
    k: &KubernetesHook,
    patch: &Value,
    grant: &Granted,
) -> Try {
    let cluster = match Cluster::connect(grant.kubeconfig()) {
        Ok(cluster) => cluster,
        Err(why) => return Try::transient(Status::Failed, why, None),
    };
    let api = cluster.workload(&k.workload, grant);
    let previous = match read(&api, k) {
        Ok(previous) => previous,
        Err(err) => return failed("nothing changed", err),
    };
    let current = document(hook, k, &previous, template.bootstrap_doc());
    let candidate = plan_patch(Some(&current), template, patch);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return Try::permanent(Status::Rejected, violations.join("; "));
    }
    let wanted = match target(hook, k, &candidate, &previous) {
        Ok(wanted) => wanted,
        Err(why) => {
            let reason = format!("refused before anything was sent: {why}");
            return Try::permanent(Status::Rejected, reason);
        }
    };
    if let Err(err) = api.write(&wanted, true) {
        return failed("dry run failed, nothing changed", err);
    }
    if let Err(err) = api.write(&wanted, false) {
        return roll_back(&api, &previous, failed("the change failed", err));
    }
    let after = match read(&api, k) {
        Ok(after) => mismatches(k, &wanted, &after),
        Err(err) => vec![format!("reading it back: {err}")],
    };
    if !after.is_empty() {
        let reason = format!("check after the change failed: {}", after.join("; "));
        return roll_back(
            &api,
            &previous,
            Try::transient(Status::Failed, reason, None),
        );
    }
    Try::applied(None)
}

/// Writes back the owned parts as first read, after `failure` (a failed switch or check). A
/// switch that failed halfway (the container changed, the scale refused) is undone the same
/// way; one that changed nothing leaves nothing to write, and the outcome is the failure's.
fn roll_back(api: &WorkloadApi, previous: &Owned, failure: Try) -> Try {
    let reason = failure.reason.clone().unwrap_or_default();
    match api.write(previous, false) {
        Ok(true) => Try::transient(
            Status::RolledBack,
            format!("{reason}; the previous spec was put back"),
            None,
        ),
        Ok(false) => Try {
            reason: Some(format!("{reason}; the workload is as it was")),
            ..failure
        },
        Err(err) => Try::transient(
            Status::Failed,
            format!("{reason}; ROLLBACK FAILED: {err}"),
            None,
        ),
    }
}
