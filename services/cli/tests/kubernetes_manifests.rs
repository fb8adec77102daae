//! deploy/kubernetes must deploy what the CLI really runs: this machine has no cluster, so this
//! is how the manifests stay true. Every service has a Deployment running `presage run SERVICE`
//! with only flags and variables the CLI has, probes on its metrics port (/healthz alive, /readyz
//! ready), resources, and a Service that the ServiceMonitor and the plain Prometheus scrape
//! configuration both find; the applier and the collector read the operator's allow-list from a
//! ConfigMap, and every file a container names is in the image or mounted.

#[path = "common/deploy.rs"]
mod deploy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deploy::{
    as_strings, assert_cli_reads, image_copies, port_of, repository_file, text, IMAGE, ROOT,
};
use yaml_serde::Value;

const MANIFESTS: &str = "deploy/kubernetes";

/// Every YAML document under deploy/kubernetes, with the file it is in (read once).
fn documents() -> Vec<(PathBuf, Value)> {
    static DOCUMENTS: std::sync::OnceLock<Vec<(PathBuf, Value)>> = std::sync::OnceLock::new();
    DOCUMENTS.get_or_init(read_documents).clone()
}

fn read_documents() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(ROOT).join(MANIFESTS)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Documents are separated by a `---` line (what kubectl splits on).
        for document in text.split("\n---\n") {
            let value: Value = yaml_serde::from_str(document)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if !value.is_null() {
                documents.push((file.clone(), value));
            }
        }
    }
    documents
}

fn of_kind(kind: &str) -> Vec<Value> {
    documents()
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().expect("a name")
}

fn config_map(name: &str) -> BTreeMap<String, String> {
    let found = of_kind("ConfigMap")
        .into_iter()
        .find(|c| self::name(c) == name)
        .unwrap_or_else(|| panic!("no ConfigMap {name}"));
    found["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), text(v)))
        .collect()
}

/// A container's environment as the kubelet builds it: `envFrom` ConfigMaps, then `env` (which
/// wins), values from ConfigMap keys resolved.
fn environment(container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        let map = source["configMapRef"]["name"]
            .as_str()
            .expect("envFrom a ConfigMap");
        env.extend(config_map(map));
    }
    for var in container["env"].as_sequence().into_iter().flatten() {
        let key = var["name"].as_str().unwrap().to_string();
        let from = &var["valueFrom"]["configMapKeyRef"];
        let value = if from.is_mapping() {
            let map = config_map(from["name"].as_str().unwrap());
            let key = from["key"].as_str().unwrap();
            map.get(key)
                .unwrap_or_else(|| panic!("ConfigMap {from:?} has no {key}"))
                .clone()
        } else {
            text(&var["value"])
        };
        env.insert(key, value);
    }
    env
}

fn argv(container: &Value) -> Vec<String> {
    let mut argv = as_strings(&container["command"]);
    argv.extend(as_strings(&container["args"]));
    argv
}

/// The `presage` command lines a container runs: its own, or those in its `sh -c` script.
fn presage_command_lines(container: &Value) -> Vec<Vec<String>> {
    let argv = argv(container);
    match argv.first().map(String::as_str) {
        Some("presage") => vec![argv],
        Some("sh") => argv
            .last()
            .unwrap()
            .split("&&")
            .map(|part| {
                part.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|words| words.first().map(String::as_str) == Some("presage"))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every container and init container of a pod template.
fn containers(pod_spec: &Value) -> Vec<Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod_spec[*k].as_sequence().cloned().unwrap_or_default())
        .collect()
}

/// Every workload's pod spec: Deployments and Jobs.
fn pod_specs() -> Vec<(String, Value)> {
    ["Deployment", "Job"]
        .iter()
        .flat_map(|kind| of_kind(kind))
        .map(|w| (name(&w).to_string(), w["spec"]["template"]["spec"].clone()))
        .collect()
}

/// The Deployment running `presage run SERVICE`, and that container.
fn deployment_of(service: &str) -> (Value, Value) {
    for deployment in of_kind("Deployment") {
        for container in containers(&deployment["spec"]["template"]["spec"]) {
            if argv(&container) == ["presage", "run", service] {
                return (deployment, container);
            }
        }
    }
    panic!("no Deployment runs `presage run {service}`")
}

/// The container port a probe or a Service names, by name or number.
fn container_port(container: &Value, port: &Value) -> u16 {
    if let Some(number) = port.as_u64() {
        return number as u16;
    }
    let wanted = port.as_str().expect("a port name or number");
    container["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| p["name"].as_str() == Some(wanted))
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("no container port named {wanted}")) as u16
}

#[test]
fn every_service_has_a_deployment_running_it_from_the_one_image() {
    for service in presage_cli::SERVICES {
        let (deployment, _) = deployment_of(service);
        assert_eq!(
            deployment["metadata"]["namespace"].as_str(),
            Some("presage")
        );
    }
    for (workload, pod) in pod_specs() {
        for container in containers(&pod) {
            if !presage_command_lines(&container).is_empty() {
                assert_eq!(container["image"].as_str(), Some(IMAGE), "{workload}");
            }
        }
    }
}

#[test]
fn every_presage_command_flag_and_variable_exists_in_the_cli() {
    let mut checked = 0;
    for (workload, pod) in pod_specs() {
        for container in containers(&pod) {
            let env = environment(&container);
            for argv in presage_command_lines(&container) {
                assert_cli_reads(&workload, &argv, &env);
                checked += 1;
            }
        }
    }
    // Five services, a topics init container each, the demo workload, the setup job's two.
    assert!(checked >= 13, "only {checked} presage command lines found");
}

#[test]
fn the_setup_job_creates_the_topics_and_publishes_only_the_demo_template() {
    let job = of_kind("Job").pop().expect("a setup Job");
    let lines: Vec<String> = containers(&job["spec"]["template"]["spec"])
        .iter()
        .flat_map(presage_command_lines)
        .map(|argv| argv.join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "presage topics create",
            "presage templates publish /app/templates/grid-demand.yaml"
        ]
    );
}

/// The kubelet probes the pod's IP: the metrics server listens on every address, on the port
/// the probes name; /healthz says the process answers, /readyz that it can take its partitions.
#[test]
fn probes_ask_the_metrics_port_healthz_for_liveness_and_readyz_for_readiness() {
    for service in presage_cli::SERVICES {
        let (_, container) = deployment_of(service);
        let env = environment(&container);
        let listen = env
            .get("PRESAGE_METRICS_LISTEN")
            .unwrap_or_else(|| panic!("{service}: no PRESAGE_METRICS_LISTEN"));
        assert!(listen.starts_with("0.0.0.0:"), "{service}: {listen}");
        let port = port_of(listen);
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = &container[probe]["httpGet"];
            assert_eq!(get["path"].as_str(), Some(path), "{service}: {probe}");
            assert_eq!(
                container_port(&container, &get["port"]),
                port,
                "{service}: {probe} asks another port than {listen}"
            );
        }
        assert_eq!(
            container_port(&container, &Value::from("metrics")),
            port,
            "{service}"
        );
    }
}

/// Pods sharing a network namespace cannot listen on one port: the collector's pod also runs the
/// demo workload, which serves the page the demo template scrapes on 127.0.0.1:9464.
#[test]
fn containers_of_one_pod_listen_on_distinct_ports() {
    for (workload, pod) in pod_specs() {
        let mut ports = Vec::new();
        for container in pod["containers"].as_sequence().unwrap() {
            if let Some(listen) = environment(container).get("PRESAGE_METRICS_LISTEN") {
                ports.push(port_of(listen));
            }
            let argv = argv(container);
            if let Some(i) = argv.iter().position(|a| a == "--demo-listen") {
                ports.push(port_of(&argv[i + 1]));
            }
        }
        let distinct: BTreeSet<_> = ports.iter().collect();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "{workload}: ports {ports:?} collide"
        );
    }
}

#[test]
fn every_container_requests_resources_and_has_a_memory_limit() {
    for (workload, pod) in pod_specs() {
        for container in containers(&pod) {
            let resources = &container["resources"];
            let which = format!("{workload}/{}", container["name"].as_str().unwrap());
            assert!(
                resources["requests"]["cpu"].is_string(),
                "{which}: cpu request"
            );
            assert!(
                resources["requests"]["memory"].is_string(),
                "{which}: memory request"
            );
            assert!(
                resources["limits"]["memory"].is_string(),
                "{which}: memory limit"
            );
        }
    }
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), text(v)))
                .collect()
        })
        .unwrap_or_default()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The Kubernetes Service in front of a service's pods.
fn service_of(service: &str) -> Value {
    let (deployment, _) = deployment_of(service);
    let pod_labels = labels(&deployment["spec"]["template"]["metadata"]["labels"]);
    let selector = labels(&deployment["spec"]["selector"]["matchLabels"]);
    assert!(
        selects(&selector, &pod_labels),
        "{service}: the Deployment selects its pods"
    );
    of_kind("Service")
        .into_iter()
        .find(|s| selects(&labels(&s["spec"]["selector"]), &pod_labels))
        .unwrap_or_else(|| panic!("{service}: no Service selects its pods"))
}

#[test]
fn every_service_exposes_its_metrics_port_through_a_kubernetes_service() {
    for service in presage_cli::SERVICES {
        let (_, container) = deployment_of(service);
        let kube_service = service_of(service);
        let port = kube_service["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some("metrics"))
            .unwrap_or_else(|| panic!("{service}: no port named metrics"))
            .clone();
        let target = container_port(&container, &port["targetPort"]);
        assert_eq!(
            target,
            container_port(&container, &Value::from("metrics")),
            "{service}"
        );
        let annotations = labels(&kube_service["metadata"]["annotations"]);
        assert_eq!(annotations["prometheus.io/scrape"], "true", "{service}");
        assert_eq!(annotations["prometheus.io/path"], "/metrics", "{service}");
        assert_eq!(
            annotations["prometheus.io/port"],
            target.to_string(),
            "{service}"
        );
    }
}

/// With the Prometheus Operator, the ServiceMonitor selects every Presage Service and scrapes
/// its `metrics` port.
#[test]
fn the_service_monitor_scrapes_every_service() {
    let monitor = of_kind("ServiceMonitor").pop().expect("a ServiceMonitor");
    let spec = &monitor["spec"];
    let endpoint = &spec["endpoints"][0];
    assert_eq!(endpoint["port"].as_str(), Some("metrics"));
    assert_eq!(endpoint["path"].as_str(), Some("/metrics"));
    let match_labels = labels(&spec["selector"]["matchLabels"]);
    for service in presage_cli::SERVICES {
        let kube_service = service_of(service);
        let service_labels = labels(&kube_service["metadata"]["labels"]);
        assert!(
            selects(&match_labels, &service_labels),
            "{service}: not selected"
        );
        for expression in spec["selector"]["matchExpressions"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert_eq!(expression["operator"].as_str(), Some("In"));
            let key = expression["key"].as_str().unwrap();
            let values = as_strings(&expression["values"]);
            assert!(
                service_labels.get(key).is_some_and(|v| values.contains(v)),
                "{service}: {key} not in {values:?}"
            );
        }
        let namespace = kube_service["metadata"]["namespace"].as_str().unwrap();
        assert!(
            as_strings(&spec["namespaceSelector"]["matchNames"]).contains(&namespace.to_string())
        );
    }
}

/// Without the operator, deploy/prometheus/kubernetes.yml finds the same Services through the
/// Kubernetes API: its `keep` rules must let every Presage Service through.
#[test]
fn the_plain_prometheus_scrape_configuration_keeps_every_service() {
    let file =
        std::fs::read_to_string(Path::new(ROOT).join("deploy/prometheus/kubernetes.yml")).unwrap();
    let config: Value = yaml_serde::from_str(&file).unwrap();
    let job = &config["scrape_configs"][0];
    assert_eq!(
        job["kubernetes_sd_configs"][0]["role"].as_str(),
        Some("endpointslice")
    );
    let keeps: Vec<(String, String)> = job["relabel_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|r| r["action"].as_str() == Some("keep"))
        .map(|r| (as_strings(&r["source_labels"]).join(";"), text(&r["regex"])))
        .collect();
    assert!(!keeps.is_empty());
    // The discovered labels of a Service (Prometheus sanitises names to [a-zA-Z0-9_]).
    let sanitise = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    for service in presage_cli::SERVICES {
        let kube_service = service_of(service);
        let mut discovered = BTreeMap::new();
        for (key, value) in labels(&kube_service["metadata"]["labels"]) {
            discovered.insert(
                format!("__meta_kubernetes_service_label_{}", sanitise(&key)),
                value,
            );
        }
        for (key, value) in labels(&kube_service["metadata"]["annotations"]) {
            discovered.insert(
                format!("__meta_kubernetes_service_annotation_{}", sanitise(&key)),
                value,
            );
        }
        discovered.insert(
            "__meta_kubernetes_endpointslice_port_name".into(),
            "metrics".into(),
        );
        for (source, regex) in &keeps {
            let value = discovered
                .get(source)
                .map(String::as_str)
                .unwrap_or_default();
            assert_eq!(value, regex, "{service}: `keep` on {source} drops it");
        }
    }
}

/// The applier and the collector read the operator's allow-list from a ConfigMap, and it grants
/// the demo template what it needs and nothing more, as the compose stack's does.
#[test]
fn the_applier_and_collector_mount_an_allow_list_that_fits_the_demo_template() {
    use presage_template::authority::Allow;

    for service in ["applier", "collector"] {
        let (deployment, container) = deployment_of(service);
        let path = environment(&container)
            .get("PRESAGE_ALLOW")
            .unwrap_or_else(|| panic!("{service}: no PRESAGE_ALLOW"))
            .clone();
        let text = config_map_file(&deployment, &container, &path)
            .unwrap_or_else(|| panic!("{service}: {path} is not mounted from a ConfigMap"));
        let allow = Allow::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        let root = Path::new(ROOT);
        let demo = presage_template::load(&root.join("templates/grid-demand.yaml")).unwrap();
        let violations = allow.check(&demo, Path::new("/app"));
        assert!(violations.is_empty(), "{service}: {violations:?}");
        let checkout = presage_template::load(&root.join("templates/checkout-api.yaml")).unwrap();
        assert!(
            !allow.check(&checkout, Path::new("/app")).is_empty(),
            "the list grants more than the demo needs"
        );
    }
}

/// The text of a file a container reads from a mounted ConfigMap, if it is one.
fn config_map_file(deployment: &Value, container: &Value, path: &str) -> Option<String> {
    let volumes = deployment["spec"]["template"]["spec"]["volumes"].as_sequence()?;
    container["volumeMounts"]
        .as_sequence()?
        .iter()
        .find_map(|mount| {
            let key = path
                .strip_prefix(mount["mountPath"].as_str()?)?
                .strip_prefix('/')?;
            let volume = volumes.iter().find(|v| v["name"] == mount["name"])?;
            let map = volume["configMap"]["name"].as_str()?;
            config_map(map).get(key).cloned()
        })
}

/// Every file under /app a container's command or environment names is in the image.
#[test]
fn every_file_a_container_names_is_in_the_image() {
    let copies = image_copies();
    for (workload, pod) in pod_specs() {
        for container in containers(&pod) {
            if container["image"].as_str() != Some(IMAGE) {
                continue;
            }
            let mut named: Vec<String> = argv(&container)
                .iter()
                .flat_map(|a| a.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .collect();
            named.extend(environment(&container).into_values());
            for path in named.iter().filter(|p| p.starts_with("/app/")) {
                let file = repository_file(path, &copies)
                    .unwrap_or_else(|| panic!("{workload}: {path} is not in the image"));
                assert!(
                    file.exists(),
                    "{workload}: {path} ({}) does not exist",
                    file.display()
                );
            }
        }
    }
}

/// `kubectl apply -k deploy/kubernetes` applies every manifest (a file left out would never be
/// deployed); the ServiceMonitor alone is apart, since it needs the operator's CRDs.
#[test]
fn the_kustomization_lists_every_manifest_in_one_namespace() {
    let dir = Path::new(ROOT).join(MANIFESTS);
    let kustomization: Value =
        yaml_serde::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let listed: BTreeSet<String> = as_strings(&kustomization["resources"])
        .into_iter()
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
    let namespace = kustomization["namespace"].as_str().unwrap();
    assert!(of_kind("Namespace").iter().any(|n| name(n) == namespace));
    for (file, object) in documents() {
        let kind = object["kind"].as_str().unwrap_or_default();
        if ["Namespace", "Kustomization"].contains(&kind) {
            continue;
        }
        assert_eq!(
            object["metadata"]["namespace"].as_str(),
            Some(namespace),
            "{}: {kind} {}",
            file.display(),
            name(&object)
        );
    }
}

/// `(apiGroup, resource, verb)` of every rule of a Role or ClusterRole.
fn permissions(role: &Value) -> BTreeSet<(String, String, String)> {
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_sequence().expect("rules") {
        for group in as_strings(&rule["apiGroups"]) {
            for resource in as_strings(&rule["resources"]) {
                for verb in as_strings(&rule["verbs"]) {
                    granted.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    granted
}

/// The applier runs as its own ServiceAccount, bound in its namespace to a Role granting what
/// the `kubernetes` hook does and nothing more: get and update (the hook's replaces, real and
/// dry-run) on each workload kind it knows and that kind's scale subresource. No cluster-wide
/// grant, and no other workload runs as the applier.
#[test]
fn the_applier_may_get_and_update_only_the_workloads_and_scales_its_kubernetes_hook_changes() {
    use presage_template::kubernetes::WorkloadKind;

    let (deployment, _) = deployment_of("applier");
    let pod = &deployment["spec"]["template"]["spec"];
    let account = pod["serviceAccountName"]
        .as_str()
        .expect("the applier names its ServiceAccount");
    assert_ne!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    let namespace = deployment["metadata"]["namespace"].as_str().unwrap();
    assert!(
        of_kind("ServiceAccount")
            .iter()
            .any(|a| name(a) == account && a["metadata"]["namespace"].as_str() == Some(namespace)),
        "no ServiceAccount {namespace}/{account}"
    );
    for (workload, other) in pod_specs() {
        if workload != name(&deployment) {
            assert_ne!(
                other["serviceAccountName"].as_str(),
                Some(account),
                "{workload} runs as the applier"
            );
        }
    }
    assert!(of_kind("ClusterRole").is_empty() && of_kind("ClusterRoleBinding").is_empty());

    let bindings: Vec<Value> = of_kind("RoleBinding")
        .into_iter()
        .filter(|b| {
            b["subjects"].as_sequence().into_iter().flatten().any(|s| {
                s["kind"].as_str() == Some("ServiceAccount")
                    && s["name"].as_str() == Some(account)
                    && s["namespace"].as_str() == Some(namespace)
            })
        })
        .collect();
    assert!(!bindings.is_empty(), "no RoleBinding names {account}");
    let kinds = [WorkloadKind::Deployment, WorkloadKind::StatefulSet];
    let expected: BTreeSet<(String, String, String)> = kinds
        .iter()
        .flat_map(|k| [k.plural().to_string(), format!("{}/scale", k.plural())])
        .flat_map(|resource| {
            ["get", "update"].map(|verb| ("apps".to_string(), resource.clone(), verb.to_string()))
        })
        .collect();
    for binding in bindings {
        let role_ref = &binding["roleRef"];
        assert_eq!(role_ref["kind"].as_str(), Some("Role"), "{binding:?}");
        assert_eq!(
            role_ref["apiGroup"].as_str(),
            Some("rbac.authorization.k8s.io")
        );
        let role = of_kind("Role")
            .into_iter()
            .find(|r| {
                name(r) == role_ref["name"].as_str().unwrap()
                    && r["metadata"]["namespace"] == binding["metadata"]["namespace"]
            })
            .unwrap_or_else(|| panic!("the Role {role_ref:?} is not in the manifests"));
        assert_eq!(permissions(&role), expected, "Role {}", name(&role));
    }
}
