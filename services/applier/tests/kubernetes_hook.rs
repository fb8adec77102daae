//! The kubernetes hook against a local HTTP server that answers the Kubernetes API endpoints a
//! hook uses as the API documents them: GET and PUT of a Deployment
//! (`/apis/apps/v1/namespaces/{ns}/deployments/{name}`) and of its `scale` subresource, with
//! `dryRun=All`, resourceVersion concurrency (a PUT carrying a stale resourceVersion is 409
//! Conflict), 404 NotFound and 422 Invalid as `Status` objects. The hook reaches it through a
//! kubeconfig the test writes, so the client, its configuration and its credentials are kube-rs's
//! own. The server records every request: the tests assert on what really reached it.
//!
//! With a `state_dir` the hook's crash semantics are proven with SIGKILL: this test binary
//! starts itself again as a child (`crash_child`) that applies a change, and the server kills
//! the child at a chosen request (the rollback's write, the check's read); a new `Applier` then
//! recovers from the journal as a restarted applier would.
//!
//! A test against a real cluster runs when `PRESAGE_TEST_KUBECONFIG` names a kubeconfig (see
//! `a_real_cluster_scales_a_deployment_and_reads_it_back`).

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use presage_applier::hooks::{Applier, Granted};
use presage_applier::journal::Journal;
use presage_events::{ApplyOutcome, ResourceTarget, ScalingDirective};
use presage_template::authority::Allow;
use presage_template::Template;
use serde_json::{json, Value};

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    dry_run: bool,
    body: Value,
    authorization: Option<String>,
}

impl Seen {
    fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// What the server does besides answering as the API documents.
#[derive(Debug, Default)]
struct Faults {
    /// The next this many real (not dry-run) writes meet a concurrent writer: the stored
    /// resourceVersion moves on first, so the write is a 409.
    conflicts: u32,
    /// Dry runs answer with this status and message (an admission webhook saying no).
    dry_run_fails: Option<(u16, String)>,
    /// Every write answers 422: the object is invalid.
    invalid: bool,
    /// A real write of the Deployment stores this memory limit instead of the one sent (a
    /// mutating admission webhook capping it).
    cap_memory_limit: Option<String>,
    /// SIGKILL this process at this request, once, leaving the request unanswered and unstored.
    kill: Option<(u32, KillAt)>,
    /// Real (not dry-run) writes received so far, the killed one included.
    real_writes: usize,
}

/// Where the server kills the process applying a change.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KillAt {
    /// At the nth real write (1: the change; 2: the rollback after a failing check).
    RealWrite(usize),
    /// At the first read after a real write: the check.
    Check,
}

#[derive(Default)]
struct Cluster {
    /// Deployments and StatefulSets by `plural/namespace/name`.
    deployments: HashMap<String, Value>,
    resource_version: u64,
    faults: Faults,
    seen: Vec<Seen>,
}

struct FakeApiServer {
    state: Arc<Mutex<Cluster>>,
    port: u16,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

impl FakeApiServer {
    fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(Cluster::default()));
        let thread = {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    if state.lock().unwrap().kill_now(&request) {
                        continue; // dropped: the request dies with its client
                    }
                    let (code, answer) = state.lock().unwrap().answer(&request, &body);
                    let response = tiny_http::Response::from_string(answer.to_string())
                        .with_status_code(code)
                        .with_header(
                            "Content-Type: application/json"
                                .parse::<tiny_http::Header>()
                                .unwrap(),
                        );
                    let _ = request.respond(response);
                }
            })
        };
        FakeApiServer {
            state,
            port,
            server,
            thread: Some(thread),
        }
    }

    /// A Deployment `shop/api` with one container `api`.
    fn with_deployment(self, replicas: i64) -> Self {
        self.state.lock().unwrap().put_deployment(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "uid": "u-1"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [
                        {"name": "api", "image": "shop/api:1",
                         "resources": {"limits": {"memory": "512Mi", "cpu": "1"},
                                       "requests": {"memory": "512Mi", "cpu": "500m"}},
                         "env": [{"name": "LOG_LEVEL", "value": "info"}]},
                        {"name": "proxy", "image": "envoy:1"}
                    ]}
                }
            }
        }));
        self
    }

    fn faults(&self, set: impl FnOnce(&mut Faults)) {
        set(&mut self.state.lock().unwrap().faults);
    }

    fn deployment(&self) -> Value {
        self.workload("deployments/shop/api")
    }

    /// A stored workload by `plural/namespace/name`.
    fn workload(&self, key: &str) -> Value {
        self.state.lock().unwrap().deployments[key].clone()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn writes(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(Seen::is_write).collect()
    }

    fn real_writes(&self) -> Vec<Seen> {
        self.writes().into_iter().filter(|s| !s.dry_run).collect()
    }

    /// A kubeconfig pointing at this server with a bearer token, written into `dir`.
    fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\n\
             clusters: [{{name: fake, cluster: {{server: \"http://127.0.0.1:{}\"}}}}]\n\
             users: [{{name: presage, user: {{token: s3cr3t-token}}}}]\n\
             contexts: [{{name: fake, context: {{cluster: fake, user: presage, namespace: default}}}}]\n\
             current-context: fake\n",
            self.port
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Cluster {
    /// Whether `request` is where [`Faults::kill`] says: then the process is SIGKILLed.
    fn kill_now(&mut self, request: &tiny_http::Request) -> bool {
        let real_write =
            request.method().as_str() != "GET" && !request.url().contains("dryRun=All");
        if real_write {
            self.faults.real_writes += 1;
        }
        let Some((pid, at)) = self.faults.kill else {
            return false;
        };
        let here = match at {
            KillAt::RealWrite(n) => real_write && self.faults.real_writes == n,
            KillAt::Check => request.method().as_str() == "GET" && self.faults.real_writes > 0,
        };
        if here {
            self.faults.kill = None;
            // SAFETY: kill(2) on the child process this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        here
    }

    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    fn put_deployment(&mut self, mut object: Value) {
        object["metadata"]["resourceVersion"] = json!(self.next_version());
        let plural = match object["kind"].as_str() {
            Some("StatefulSet") => "statefulsets",
            _ => "deployments",
        };
        let key = format!(
            "{plural}/{}/{}",
            object["metadata"]["namespace"].as_str().unwrap(),
            object["metadata"]["name"].as_str().unwrap()
        );
        self.deployments.insert(key, object);
    }

    fn answer(&mut self, request: &tiny_http::Request, body: &str) -> (u16, Value) {
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let seen = Seen {
            method: request.method().to_string(),
            path: path.to_string(),
            dry_run: query.split('&').any(|p| p == "dryRun=All"),
            body: serde_json::from_str(body).unwrap_or(Value::Null),
            authorization: request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string()),
        };
        self.seen.push(seen.clone());
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (plural, namespace, name, scale) = match parts[..] {
            ["apis", "apps", "v1", "namespaces", ns, plural @ ("deployments" | "statefulsets"), name] => {
                (plural, ns, name, false)
            }
            ["apis", "apps", "v1", "namespaces", ns, plural @ ("deployments" | "statefulsets"), name, "scale"] => {
                (plural, ns, name, true)
            }
            _ => {
                return (
                    404,
                    status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    ),
                )
            }
        };
        let key = format!("{plural}/{namespace}/{name}");
        let Some(current) = self.deployments.get(&key).cloned() else {
            let message = format!("{plural}.apps \"{name}\" not found");
            return (404, status(404, "NotFound", &message));
        };
        let version = current["metadata"]["resourceVersion"].clone();
        match (seen.method.as_str(), scale) {
            ("GET", false) => (200, current),
            ("GET", true) => (200, scale_of(&current)),
            ("PUT", _) => {
                if self.faults.invalid {
                    let message = format!(
                        "Deployment.apps \"{name}\" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: must be less than or equal to memory limit"
                    );
                    return (422, status(422, "Invalid", &message));
                }
                if seen.dry_run {
                    if let Some((code, message)) = &self.faults.dry_run_fails {
                        return (*code, status(*code, "Forbidden", message));
                    }
                } else if self.faults.conflicts > 0 {
                    // Someone else wrote the Deployment just before this write.
                    self.faults.conflicts -= 1;
                    self.put_deployment(current.clone());
                }
                let version_now = &self.deployments[&key]["metadata"]["resourceVersion"];
                if seen.body["metadata"]["resourceVersion"] != *version_now {
                    let message = format!(
                        "Operation cannot be fulfilled on deployments.apps \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    );
                    return (409, status(409, "Conflict", &message));
                }
                let mut next = if scale {
                    let mut next = current.clone();
                    next["spec"]["replicas"] = seen.body["spec"]["replicas"].clone();
                    next
                } else {
                    seen.body.clone()
                };
                if let (Some(cap), false) = (&self.faults.cap_memory_limit, scale) {
                    next["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                        ["memory"] = json!(cap);
                }
                if seen.dry_run {
                    next["metadata"]["resourceVersion"] = version;
                } else {
                    self.put_deployment(next.clone());
                    next = self.deployments[&key].clone();
                }
                (200, if scale { scale_of(&next) } else { next })
            }
            _ => (405, status(405, "MethodNotAllowed", "method not allowed")),
        }
    }
}

fn scale_of(deployment: &Value) -> Value {
    let meta = &deployment["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                     "resourceVersion": meta["resourceVersion"], "uid": meta["uid"]},
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {"replicas": deployment["spec"]["replicas"], "selector": "app=api"}
    })
}

/// A template whose kubernetes hook changes `shop/Deployment/api`: replicas through scale,
/// memory_mb as the container's memory limit and request, worker_threads as an env variable.
fn template(extra: &str) -> Template {
    template_mapping(
        extra,
        "replicas: replicas\n        \
         memory: { resource: memory_mb, unit: Mi, set: [limit, request] }\n        \
         env: { WORKER_THREADS: \"{config.worker_threads}\" }\n",
    )
}

/// A template whose kubernetes hook changes only the replicas of `shop/Deployment/api`.
fn replicas_only() -> Template {
    template_mapping("", "replicas: replicas\n")
}

fn template_mapping(extra: &str, mapping: &str) -> Template {
    let text = format!(
        "app: shop\n\
         bootstrap: {{ resources: {{ replicas: 2, memory_mb: 512 }}, config: {{ worker_threads: 4 }} }}\n\
         dynamic_metadata:\n  \
           validation_rules: [\"resources.replicas <= 20\", \"resources.memory_mb <= 4096\"]\n  \
           configuration_hooks:\n    \
           - name: cluster\n      kind: kubernetes\n{extra}      kubernetes:\n        \
               workload: {{ kind: Deployment, namespace: shop, name: api, container: api }}\n        \
               {mapping}"
    );
    presage_template::parse(&text, "shop.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn directive(resource: &str, target: i64) -> ScalingDirective {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    ScalingDirective {
        event_id: format!("d-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: resource.into(),
        target,
        targets: vec![ResourceTarget {
            resource: resource.into(),
            target,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The hook's outcome for `d` with `allow` as the operator's allow-list.
fn apply_with(
    server: &FakeApiServer,
    t: &Template,
    d: &ScalingDirective,
    allow: &str,
) -> ApplyOutcome {
    let dir = tempfile::tempdir().unwrap();
    let allow = Allow::parse(allow, "allow.yaml").unwrap_or_else(|e| panic!("{e}"));
    let grant = Granted::new(allow, PathBuf::from("/"))
        .with_kubeconfig(Some(server.kubeconfig(dir.path())));
    let mut outcomes = Applier::new(grant).apply_directive(t, d, 1);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    outcomes.remove(0)
}

fn apply(server: &FakeApiServer, t: &Template, d: &ScalingDirective) -> ApplyOutcome {
    apply_with(server, t, d, "kubernetes: [shop/Deployment/api]\n")
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn reason(o: &ApplyOutcome) -> &str {
    o.reason.as_deref().unwrap_or_default()
}

#[test]
fn replicas_change_through_the_scale_subresource_after_a_dry_run() {
    let server = FakeApiServer::start().with_deployment(3);
    let before = server.deployment();
    let o = apply(&server, &replicas_only(), &directive("replicas", 7));
    assert_eq!(o.status, "applied", "{o:?}");
    assert_eq!(server.deployment()["spec"]["replicas"], 7);
    assert_eq!(
        container(&server.deployment()),
        container(&before),
        "the container is untouched"
    );
    let writes = server.writes();
    let scale = "/apis/apps/v1/namespaces/shop/deployments/api/scale";
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes[0].dry_run && writes[0].path == scale && writes[0].method == "PUT");
    assert!(!writes[1].dry_run && writes[1].path == scale);
    assert_eq!(writes[1].body["spec"]["replicas"], 7);
    assert_eq!(writes[1].body["kind"], "Scale");
    // The write carried the resourceVersion it read.
    assert_eq!(
        writes[1].body["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    // Every request carried the kubeconfig's credentials, and the outcome names the workload.
    assert!(server
        .seen()
        .iter()
        .all(|s| s.authorization.as_deref() == Some("Bearer s3cr3t-token")));
    assert_eq!(o.config_path.as_deref(), Some("shop/Deployment/api"));
    assert!(!format!("{o:?}").contains("s3cr3t"), "{o:?}");
}

#[test]
fn memory_changes_as_the_container_s_limit_and_request_with_its_unit() {
    let server = FakeApiServer::start().with_deployment(3);
    let o = apply(&server, &template(""), &directive("memory_mb", 1024));
    assert_eq!(o.status, "applied", "{o:?}");
    let live = server.deployment();
    assert_eq!(
        container(&live)["resources"],
        json!({"limits": {"memory": "1024Mi", "cpu": "1"}, "requests": {"memory": "1024Mi", "cpu": "500m"}})
    );
    assert_eq!(
        live["spec"]["replicas"], 3,
        "replicas are not the directive's"
    );
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][1],
        json!({"name": "proxy", "image": "envoy:1"})
    );
    let writes = server.writes();
    let deployment = "/apis/apps/v1/namespaces/shop/deployments/api";
    assert_eq!(
        writes.len(),
        2,
        "dry run and switch of the Deployment only: {writes:?}"
    );
    assert!(writes
        .iter()
        .all(|w| w.path == deployment && w.method == "PUT"));
    assert!(writes[0].dry_run && !writes[1].dry_run);
}

#[test]
fn an_env_variable_of_the_container_is_set_from_the_configuration() {
    let server = FakeApiServer::start().with_deployment(3);
    let t = template("");
    // A metadata-driven change: the same hook takes a fragment setting config.worker_threads.
    let fragment = presage_events::MetadataFragment {
        event_id: "f-1".into(),
        app: "shop".into(),
        template_version: "v1".into(),
        recipe: "threads".into(),
        format: "json".into(),
        body: r#"{"config": {"worker_threads": 12}}"#.into(),
        window_end_ms: 1,
        lineage: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let allow = Allow::parse("kubernetes: [shop/*]\n", "allow.yaml").unwrap();
    let grant = Granted::new(allow, PathBuf::from("/"))
        .with_kubeconfig(Some(server.kubeconfig(dir.path())));
    let outcomes = Applier::new(grant).apply_fragment(&t, &fragment, 1);
    assert_eq!(outcomes[0].status, "applied", "{outcomes:?}");
    assert_eq!(
        container(&server.deployment())["env"],
        json!([{"name": "LOG_LEVEL", "value": "info"}, {"name": "WORKER_THREADS", "value": "12"}])
    );
    // A directive afterwards keeps the variable: the workload's value (12) is read back into
    // the configuration document the change is merged into, not the bootstrap's (4).
    let o = apply(&server, &t, &directive("replicas", 5));
    assert_eq!(o.status, "applied", "{o:?}");
    assert_eq!(server.deployment()["spec"]["replicas"], 5);
    assert_eq!(container(&server.deployment())["env"][1]["value"], "12");
}

#[test]
fn a_change_a_rule_refuses_sends_no_mutating_request() {
    let server = FakeApiServer::start().with_deployment(3);
    let o = apply(&server, &template(""), &directive("replicas", 50));
    assert_eq!(o.status, "rejected", "{o:?}");
    assert!(reason(&o).contains("resources.replicas <= 20"), "{o:?}");
    assert!(server.writes().is_empty(), "{:?}", server.writes());
    assert!(!server.seen().is_empty(), "the current state was read");
    assert_eq!(server.deployment()["spec"]["replicas"], 3);
}

#[test]
fn a_failing_dry_run_changes_nothing() {
    let server = FakeApiServer::start().with_deployment(3);
    server.faults(|f| {
        f.dry_run_fails = Some((403, "admission webhook \"quota\" denied the request".into()))
    });
    let t = template("      retry: { attempts: 1 }\n");
    let o = apply(&server, &t, &directive("memory_mb", 2048));
    assert_eq!(o.status, "failed", "{o:?}");
    assert!(
        reason(&o).contains("dry run failed, nothing changed"),
        "{o:?}"
    );
    assert!(reason(&o).contains("quota"), "{o:?}");
    assert!(server.real_writes().is_empty(), "{:?}", server.writes());
    assert_eq!(server.writes().len(), 1, "one dry run");
    assert_eq!(
        container(&server.deployment())["resources"]["limits"]["memory"],
        "512Mi"
    );
}

#[test]
fn a_conflict_is_read_again_and_written_with_the_new_resource_version() {
    let server = FakeApiServer::start().with_deployment(3);
    server.faults(|f| f.conflicts = 2);
    let o = apply(&server, &replicas_only(), &directive("replicas", 6));
    assert_eq!(o.status, "applied", "{o:?}");
    assert_eq!(server.deployment()["spec"]["replicas"], 6);
    let real = server.real_writes();
    assert_eq!(real.len(), 3, "two conflicts, then the write: {real:?}");
    let versions: Vec<&Value> = real
        .iter()
        .map(|w| &w.body["metadata"]["resourceVersion"])
        .collect();
    assert!(
        versions[0] != versions[1] && versions[1] != versions[2],
        "{versions:?}"
    );
    // Each write after a conflict read the scale again first.
    let seen = server.seen();
    let puts: Vec<usize> = (0..seen.len())
        .filter(|&i| seen[i].method == "PUT" && !seen[i].dry_run)
        .collect();
    for pair in puts.windows(2) {
        let between = &seen[pair[0] + 1..pair[1]];
        assert!(
            between
                .iter()
                .any(|s| s.method == "GET" && s.path.ends_with("/scale")),
            "{between:?}"
        );
    }
    assert_eq!(
        o.attempts, 1,
        "conflicts are re-read within the try, not retried as failures"
    );
}

#[test]
fn a_failing_check_puts_the_previous_spec_back() {
    let server = FakeApiServer::start().with_deployment(3);
    // A mutating webhook caps the memory limit: what is read back is not what was written.
    server.faults(|f| f.cap_memory_limit = Some("768Mi".into()));
    let before = container(&server.deployment()).clone();
    let t = template("      retry: { attempts: 1 }\n");
    let o = apply(&server, &t, &directive("memory_mb", 2048));
    assert_eq!(o.status, "rolled_back", "{o:?}");
    assert!(
        reason(&o).contains("limits.memory is 768Mi, expected 2048Mi"),
        "{o:?}"
    );
    let real = server.real_writes();
    assert_eq!(real.len(), 2, "the change, then the rollback: {real:?}");
    assert_eq!(
        container(&real[0].body)["resources"]["limits"]["memory"],
        "2048Mi"
    );
    let put_back = container(&real[1].body);
    assert_eq!(
        put_back["resources"], before["resources"],
        "the previous spec was sent back"
    );
    assert_eq!(put_back["env"], before["env"]);
}

#[test]
fn a_missing_workload_fails_and_an_invalid_object_is_rejected_without_retries() {
    let server = FakeApiServer::start(); // no Deployment at all
    let t = template("      retry: { attempts: 3, backoff: 10ms }\n");
    let o = apply(&server, &t, &directive("replicas", 4));
    assert_eq!(o.status, "failed", "{o:?}");
    assert!(reason(&o).contains("not found"), "{o:?}");
    assert_eq!(o.attempts, 1, "a 404 is not retried");
    assert!(server.writes().is_empty());

    let server = FakeApiServer::start().with_deployment(3);
    server.faults(|f| f.invalid = true);
    let o = apply(&server, &t, &directive("memory_mb", 1024));
    assert_eq!(o.status, "rejected", "{o:?}");
    assert!(
        reason(&o).contains("the API server refused the object"),
        "{o:?}"
    );
    assert!(reason(&o).contains("422"), "{o:?}");
    assert_eq!(o.attempts, 1, "a 422 is never retried");
    assert_eq!(
        server.writes().len(),
        1,
        "one dry run, refused: {:?}",
        server.writes()
    );
    assert!(server.real_writes().is_empty());
}

#[test]
fn a_workload_not_granted_gets_no_request() {
    let server = FakeApiServer::start().with_deployment(3);
    for allow in [
        "kubernetes: [shop/Deployment/web, billing/*]\n",
        "urls: [http://127.0.0.1:1/]\n",
        "",
    ] {
        let o = apply_with(&server, &template(""), &directive("replicas", 4), allow);
        assert_eq!(o.status, "rejected", "{o:?}");
        assert!(reason(&o).contains("shop/Deployment/api"), "{o:?}");
        assert!(reason(&o).contains("allow-list rule `kubernetes`"), "{o:?}");
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

/// Against a real cluster: `PRESAGE_TEST_KUBECONFIG` names a kubeconfig whose user may create
/// namespaces and Deployments. The test creates namespace `presage-test-<pid>` with a
/// Deployment `api` (through kubectl, as an operator would), scales it through the hook, reads
/// it back, and deletes the namespace.
#[test]
fn a_real_cluster_scales_a_deployment_and_reads_it_back() {
    let Some(kubeconfig) = std::env::var_os("PRESAGE_TEST_KUBECONFIG") else {
        eprintln!(
            "skipped: PRESAGE_TEST_KUBECONFIG is not set, so no real cluster is reachable \
             (the hook is tested against the local API server above)"
        );
        return;
    };
    let kubectl = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl on PATH");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kubectl {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    };
    let ns = format!("presage-test-{}", std::process::id());
    kubectl(&["create", "namespace", &ns], None);
    let manifest = format!(
        "{{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {{\"name\": \"api\", \"namespace\": \"{ns}\"}}, \
         \"spec\": {{\"replicas\": 1, \"selector\": {{\"matchLabels\": {{\"app\": \"api\"}}}}, \"template\": {{\"metadata\": \
         {{\"labels\": {{\"app\": \"api\"}}}}, \"spec\": {{\"containers\": [{{\"name\": \"api\", \"image\": \"registry.k8s.io/pause:3.9\"}}]}}}}}}}}"
    );
    kubectl(&["apply", "-f", "-"], Some(&manifest));
    let text = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 1 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    \
         - {{ name: cluster, kind: kubernetes, kubernetes: {{ workload: {{ kind: Deployment, namespace: {ns}, name: api }}, replicas: replicas }} }}\n"
    );
    let t = presage_template::parse(&text, "real.yaml").unwrap_or_else(|e| panic!("{e}"));
    let allow = Allow::parse(
        &format!("kubernetes: [{ns}/Deployment/api]\n"),
        "allow.yaml",
    )
    .unwrap();
    let grant =
        Granted::new(allow, PathBuf::from("/")).with_kubeconfig(Some(kubeconfig.clone().into()));
    let outcomes = Applier::new(grant).apply_directive(&t, &directive("replicas", 2), 1);
    let replicas = kubectl(
        &[
            "get",
            "deployment",
            "api",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        None,
    );
    kubectl(&["delete", "namespace", &ns, "--wait=false"], None);
    assert_eq!(outcomes[0].status, "applied", "{outcomes:?}");
    assert_eq!(replicas.trim(), "2");
}

/// `presage validate --allow` locates each violation with `position_of(text, violation.at)`
/// (services/cli/src/check.rs): a kubernetes hook's is at its `workload`.
#[test]
fn the_allow_list_names_the_workload_a_template_asks_for_at_its_line_and_column() {
    let text = "app: shop\nbootstrap: { resources: { replicas: 2 } }\ndynamic_metadata:\n  configuration_hooks:\n    \
                - name: cluster\n      kind: kubernetes\n      kubernetes:\n        \
                workload: { kind: StatefulSet, namespace: shop, name: db }\n        replicas: replicas\n";
    let t = presage_template::parse(text, "shop.yaml").unwrap_or_else(|e| panic!("{e}"));
    let narrow = Allow::parse("kubernetes: [shop/Deployment/*]\n", "allow.yaml").unwrap();
    let violations = narrow.check(&t, Path::new("/"));
    assert_eq!(violations.len(), 1, "{violations:?}");
    let v = &violations[0];
    assert_eq!(v.asked, "shop/StatefulSet/db");
    assert!(
        v.to_string().contains("allow-list rule `kubernetes`"),
        "{v}"
    );
    assert_eq!(presage_template::position_of(text, &v.at), Some((8, 19)));
    let wide = Allow::parse("kubernetes: [shop/*]\n", "allow.yaml").unwrap();
    assert!(wide.check(&t, Path::new("/")).is_empty());
    // A bad entry of the allow-list is reported at its own line and column.
    let err = Allow::parse(
        "kubernetes:\n  - shop/Deployment/api\n  - \"*/*\"\n",
        "allow.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("allow.yaml:3:5") && err.contains("names its namespace"),
        "{err}"
    );
}

#[test]
fn the_shipped_example_is_granted_by_its_allow_list_and_by_nothing_less() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let t = presage_template::load(&root.join("templates/kubernetes-api.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let allow = Allow::load(&root.join("deploy/allow-kubernetes-api.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(allow.check(&t, Path::new("/")).is_empty());
    let hook = &t.dynamic_metadata.configuration_hooks[0];
    let k = hook.kubernetes.as_ref().expect("a kubernetes hook");
    assert_eq!(k.workload.key(), "web/Deployment/storefront");
    assert_eq!(Allow::covering([&t], Path::new("/")), allow);
    assert!(!Allow::none().check(&t, Path::new("/")).is_empty());
}

#[test]
fn a_statefulset_scales_through_its_own_scale_subresource() {
    let server = FakeApiServer::start();
    server.state.lock().unwrap().put_deployment(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "uid": "u-2"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}
    }));
    let text = "app: shop\nbootstrap: { resources: { replicas: 3 } }\ndynamic_metadata:\n  \
                configuration_hooks:\n    - { name: db, kind: kubernetes, kubernetes: { workload: \
                { kind: StatefulSet, namespace: shop, name: db }, replicas: replicas } }\n";
    let t = presage_template::parse(text, "db.yaml").unwrap_or_else(|e| panic!("{e}"));
    let o = apply_with(
        &server,
        &t,
        &directive("replicas", 5),
        "kubernetes: [shop/StatefulSet/db]\n",
    );
    assert_eq!(o.status, "applied", "{o:?}");
    assert_eq!(
        server.workload("statefulsets/shop/db")["spec"]["replicas"],
        5
    );
    let paths: Vec<String> = server.writes().iter().map(|w| w.path.clone()).collect();
    assert_eq!(
        paths,
        ["/apis/apps/v1/namespaces/shop/statefulsets/db/scale"; 2]
    );
}

/// What a replay after SIGKILL meets: the input's change is already in force (the switch ran,
/// the outcome was never published). A new applier (as after a restart) reads the workload,
/// finds the owned parts as wanted, sends no write at all, and its check reads them back.
#[test]
fn a_replayed_change_already_in_force_writes_nothing_and_is_applied() {
    let server = FakeApiServer::start().with_deployment(3);
    let t = template("");
    let d = directive("memory_mb", 1024);
    assert_eq!(apply(&server, &t, &d).status, "applied");
    let written = server.writes().len();
    let version = server.deployment()["metadata"]["resourceVersion"].clone();
    let replayed = apply(&server, &t, &d);
    assert_eq!(replayed.status, "applied", "{replayed:?}");
    assert_eq!(server.writes().len(), written, "{:?}", server.writes());
    assert_eq!(server.deployment()["metadata"]["resourceVersion"], version);
}

/// The environment variable that makes [`crash_child`] apply a change (it names the test's
/// work directory); unset, it does nothing.
const CHILD: &str = "PRESAGE_KUBERNETES_CRASH_CHILD";

/// The memory template with a `state_dir` under `dir`, applying in one try.
fn journaled_template(dir: &Path) -> Template {
    template(&format!(
        "      retry: {{ attempts: 1 }}\n      state_dir: \"{}/state/\"\n",
        dir.display()
    ))
}

fn crash_directive() -> ScalingDirective {
    ScalingDirective {
        event_id: "d-crash".into(),
        ..directive("memory_mb", 2048)
    }
}

/// Not a test of its own: the process the crash tests start and the fake API server SIGKILLs
/// mid-change. It applies [`crash_directive`] through [`journaled_template`] with the
/// kubeconfig in the directory `CHILD` names, as the applier does.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD).map(PathBuf::from) else {
        return;
    };
    // Not before the server knows whom to kill.
    while !dir.join("armed").exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let t = journaled_template(&dir);
    let grant = Granted::covering(&t).with_kubeconfig(Some(dir.join("kubeconfig")));
    let outcomes = Applier::new(grant).apply_directive(&t, &crash_directive(), 1);
    panic!("the server did not kill this process: {outcomes:?}");
}

/// Starts [`crash_child`] against `server`, which SIGKILLs it where `at` says; returns once it
/// is dead.
fn killed_child(server: &FakeApiServer, dir: &Path, at: KillAt) {
    server.kubeconfig(dir);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the child test process");
    server.faults(|f| f.kill = Some((child.id(), at)));
    std::fs::write(dir.join("armed"), "").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child ended otherwise: {status}"
    );
}

/// The journal the state_dir holds for the hook.
fn journal_of(dir: &Path) -> Journal {
    let bytes = std::fs::read(dir.join("state/.shop.cluster.presage-journal")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The applier after a restart: recovery at start, then the interrupted input replayed.
fn restarted(server: &FakeApiServer, dir: &Path) -> (Journal, ApplyOutcome) {
    let t = journaled_template(dir);
    let grant = Granted::covering(&t).with_kubeconfig(Some(server.kubeconfig(dir)));
    let mut applier = Applier::new(grant);
    applier.recover(&t, 5);
    let journal = journal_of(dir);
    let mut replayed = applier.apply_directive(&t, &crash_directive(), 6);
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    (journal, replayed.remove(0))
}

#[test]
fn with_a_state_dir_killed_while_rolling_back_the_restart_puts_the_previous_spec_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeApiServer::start().with_deployment(3);
    let before = container(&server.deployment())["resources"].clone();
    // A mutating webhook caps the limit: the check fails, and the rollback is killed.
    server.faults(|f| f.cap_memory_limit = Some("768Mi".into()));
    killed_child(&server, dir.path(), KillAt::RealWrite(2));
    assert_eq!(
        container(&server.deployment())["resources"]["limits"]["memory"],
        "768Mi",
        "killed with the failed change in force"
    );
    let intent = journal_of(dir.path()).intent.expect("an intent journaled");
    assert!(
        format!("{:?}", intent.phase).contains("RollingBack"),
        "{intent:?}"
    );
    server.faults(|f| f.cap_memory_limit = None);
    let writes = server.real_writes().len();

    let (journal, replayed) = restarted(&server, dir.path());
    assert_eq!(journal.intent, None);
    let outcome = &journal.outcomes[0];
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert!(
        reason(outcome).contains("interrupted by a crash while rolling back"),
        "{outcome:?}"
    );
    assert_eq!(
        container(&server.deployment())["resources"],
        before,
        "the previous spec is back"
    );
    assert_eq!(server.real_writes().len(), writes + 1, "one rollback write");
    assert_eq!(&replayed, outcome, "the replay gets the recorded outcome");
    assert_eq!(server.real_writes().len(), writes + 1, "and writes nothing");
}

#[test]
fn with_a_state_dir_killed_while_checking_a_failing_check_rolls_the_change_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeApiServer::start().with_deployment(3);
    let before = container(&server.deployment())["resources"].clone();
    server.faults(|f| f.cap_memory_limit = Some("768Mi".into()));
    killed_child(&server, dir.path(), KillAt::Check);
    assert_eq!(server.real_writes().len(), 1, "killed after the change");
    server.faults(|f| f.cap_memory_limit = None);

    let (journal, replayed) = restarted(&server, dir.path());
    let outcome = &journal.outcomes[0];
    assert_eq!(outcome.status, "rolled_back", "{outcome:?}");
    assert!(
        reason(outcome).contains("interrupted by a crash while changing")
            && reason(outcome).contains("768Mi"),
        "{outcome:?}"
    );
    assert_eq!(container(&server.deployment())["resources"], before);
    assert_eq!(&replayed, outcome);
    assert_eq!(
        server.real_writes().len(),
        2,
        "the change, then the rollback"
    );
}

#[test]
fn with_a_state_dir_killed_while_checking_a_change_in_force_is_applied_without_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeApiServer::start().with_deployment(3);
    killed_child(&server, dir.path(), KillAt::Check);
    let (journal, replayed) = restarted(&server, dir.path());
    let outcome = &journal.outcomes[0];
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    assert_eq!(
        container(&server.deployment())["resources"]["limits"]["memory"],
        "2048Mi"
    );
    assert_eq!(&replayed, outcome);
    assert_eq!(server.real_writes().len(), 1, "only the change itself");
}
