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
//! Crash semantics. Without a `state_dir` the hook keeps no state of its own: the API server
//! holds the workload, and each try starts from what it reads there. After SIGKILL before the
//! switch nothing changed; after it, the input (not yet committed, as its outcome was not
//! published) is replayed on restart, reads the changed workload, finds the owned parts already
//! as wanted and writes nothing, and its check reads them back. What is lost is the rollback of
//! a switch whose check would have failed (or was failing): the replay takes the changed
//! workload as the previous state. With a `state_dir` the hook journals, before the dry run's
//! real twin, the owned parts as first read and as wanted (under the hook's lock, with the
//! command hook's journal, see [`crate::journal`]), and `rolling_back` before the rollback; a
//! restart (or the replayed input) converges an intent found there: in `swapping`, the workload
//! is read back and, not holding every wanted part, the owned parts as first read are written
//! back (a write that never landed leaves nothing to write: `failed`, as it was); in
//! `rolling_back`, they are written back again. Either way the outcome is recorded.

mod api;
mod quantity;
mod workload;

use presage_events::ApplyOutcome;
use presage_template::kubernetes::KubernetesHook;
use presage_template::{ConfigurationHook, Template};
use serde_json::Value;

use self::api::{ApiError, Cluster, WorkloadApi};
use self::workload::{document, mismatches, owned, target, Owned};
use super::files::Beside;
use super::flow::{self, Recorder};
use super::grant::Granted;
use crate::journal::{Intent, Journal, Phase};
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
    let Some(k) = &hook.kubernetes else {
        let reason = "kubernetes hook has no kubernetes block".to_string();
        return outcome(Try::permanent(Status::Failed, reason), 1);
    };
    if let Err(why) = grant.workload(&k.workload) {
        let reason = format!("{why}: nothing was sent");
        return outcome(Try::permanent(Status::Rejected, reason), 1);
    }
    if let Some(base) = hook.state_base(&input.app) {
        let beside = match Beside::granted(&base, grant) {
            Ok(beside) => beside,
            Err(reason) => return outcome(Try::permanent(Status::Rejected, reason), 1),
        };
        return flow::run(
            &beside,
            hook,
            input.clone(),
            superseded,
            now_ms,
            |journal, intent| converge(hook, k, &beside, journal, intent, grant),
            |input, attempt, journal| {
                let recorder = Recorder::journaled(&beside, journal, input, &hook.name, attempt);
                try_once(template, hook, k, patch, grant, recorder)
            },
        );
    }
    if let Some(reason) = superseded {
        return outcome(Try::permanent(Status::Superseded, reason), 1);
    }
    let policy = hook.retry();
    let mut attempt = 1;
    loop {
        let t = try_once(
            template,
            hook,
            k,
            patch,
            grant,
            Recorder::none(&input, &hook.name),
        );
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

/// Converges, at start, a kubernetes hook's change a crash interrupted (with a `state_dir`).
pub(crate) fn recover(template: &Template, hook: &ConfigurationHook, grant: &Granted, now_ms: i64) {
    let (Some(base), Some(k)) = (hook.state_base(&template.app), &hook.kubernetes) else {
        return;
    };
    match Beside::granted(&base, grant) {
        Ok(beside) => flow::recover_at(&beside, hook, now_ms, |journal, intent| {
            converge(hook, k, &beside, journal, intent, grant)
        }),
        Err(reason) => {
            tracing::error!(hook = %hook.name, %reason, "could not recover the kubernetes hook")
        }
    }
}

/// Converges the interrupted change `intent` describes (see the module's crash semantics);
/// `Err`: the API server could not be reached, and the intent stays for the next try.
fn converge(
    hook: &ConfigurationHook,
    k: &KubernetesHook,
    beside: &Beside,
    journal: &mut Journal,
    intent: &Intent,
    grant: &Granted,
) -> Result<Try, String> {
    let parts = |text: Option<&str>| -> Result<Owned, String> {
        serde_json::from_str(text.ok_or("nothing journaled")?).map_err(|e| e.to_string())
    };
    let (previous, wanted) = match (
        parts(intent.previous.as_deref()),
        parts(Some(&intent.candidate)),
    ) {
        (Ok(previous), Ok(wanted)) => (previous, wanted),
        (Err(why), _) | (_, Err(why)) => {
            let reason = format!(
                "the journaled change is unreadable ({why}): nothing written; repair or remove \
                 the hook's journal in its state_dir"
            );
            return Ok(Try::permanent(Status::Failed, reason));
        }
    };
    if let Some(was) = intent
        .target
        .as_deref()
        .filter(|was| *was != k.workload.key())
    {
        let reason = format!(
            "interrupted by a crash, and the hook now names workload {} instead of {was}: \
             the interrupted change is not converged; nothing written",
            k.workload.key()
        );
        return Ok(Try::permanent(Status::Failed, reason));
    }
    tracing::warn!(input = %intent.input.event_id, hook = %intent.hook, phase = ?intent.phase, "converging a kubernetes change a crash interrupted");
    let cluster = Cluster::connect(grant.kubeconfig())?;
    let api = cluster.workload(&k.workload, grant);
    let reason = match &intent.phase {
        Phase::RollingBack { reason } => {
            format!("{reason}; interrupted by a crash while rolling back")
        }
        Phase::Swapping => {
            let after = read(&api, k).map_err(|err| format!("reading the workload: {err}"))?;
            let missing = mismatches(k, &wanted, &after);
            if missing.is_empty() {
                return Ok(Try::applied(None));
            }
            let reason = format!(
                "interrupted by a crash while changing; the workload does not hold the change: {}",
                missing.join("; ")
            );
            journal.intent = Some(Intent {
                phase: Phase::RollingBack {
                    reason: reason.clone(),
                },
                ..intent.clone()
            });
            if let Err(e) = beside.store_journal(journal) {
                tracing::error!(hook = %hook.name, error = %e, "could not record the rollback in the journal; rolling back anyway");
            }
            reason
        }
    };
    Ok(roll_back(
        &api,
        &previous,
        Try::transient(Status::Failed, reason, None),
    ))
}

fn try_once(
    template: &Template,
    hook: &ConfigurationHook,
    k: &KubernetesHook,
    patch: &Value,
    grant: &Granted,
    mut recorder: Recorder,
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
    let journaled = (
        serde_json::to_string(&previous),
        serde_json::to_string(&wanted),
    );
    let began = match journaled {
        (Ok(previous), Ok(wanted)) => recorder.begin(&k.workload.key(), previous, wanted),
        (Err(e), _) | (_, Err(e)) => Err(format!("journaling the change: {e}")),
    };
    if let Err(why) = began {
        return Try::transient(Status::Failed, format!("{why}; nothing changed"), None);
    }
    if let Err(err) = api.write(&wanted, false) {
        let failure = failed("the change failed", err);
        recorder.rolling_back(failure.reason.as_deref().unwrap_or_default());
        return roll_back(&api, &previous, failure);
    }
    let after = match read(&api, k) {
        Ok(after) => mismatches(k, &wanted, &after),
        Err(err) => vec![format!("reading it back: {err}")],
    };
    if !after.is_empty() {
        let reason = format!("check after the change failed: {}", after.join("; "));
        recorder.rolling_back(&reason);
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
