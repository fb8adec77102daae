//! docker-compose.yml must be a stack a user can run: this machine has no Docker engine, so this
//! is how the file stays true. It may only use commands, services, flags and environment
//! variables the CLI really has; it builds one image and reuses it; every file a container reads
//! comes from the repository (mounted, or copied into the image by the Dockerfile); Kafka is
//! reachable from the host; every service is health-checked on /readyz and scraped by the
//! provisioned Prometheus, which Grafana reads with the Presage dashboard.

#[path = "common/deploy.rs"]
mod deploy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deploy::{as_strings, assert_cli_reads, image_copies, port_of, text, IMAGE, ROOT};
use yaml_serde::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    let mut value: Value = yaml_serde::from_str(&read(path)).expect("valid YAML");
    // `<<: *anchor` is how the file shares settings: resolve it as Compose does.
    value.apply_merge().expect("merge keys");
    value
}

fn compose() -> Value {
    yaml("docker-compose.yml")
}

fn services(compose: &Value) -> Vec<(String, Value)> {
    compose["services"]
        .as_mapping()
        .expect("services")
        .iter()
        .map(|(name, service)| (name.as_str().unwrap().to_string(), service.clone()))
        .collect()
}

fn env_of(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_mapping()
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), text(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// The service a container runs with `presage run SERVICE`, if it does.
fn presage_service(service: &Value) -> Option<String> {
    let argv = as_strings(&service["command"]);
    (argv.first().map(String::as_str) == Some("presage")
        && argv.get(1).map(String::as_str) == Some("run"))
    .then(|| argv[2].clone())
}

/// The repository file behind a path inside a container: a bind mount or, in a container of the
/// Presage image, a file the Dockerfile copied.
fn repository_file(
    container_path: &str,
    mounts: &[(String, String)],
    presage_image: bool,
) -> Option<PathBuf> {
    deploy::repository_file(container_path, mounts).or_else(|| {
        presage_image
            .then(image_copies)
            .and_then(|copies| deploy::repository_file(container_path, &copies))
    })
}

/// A service's bind mounts from the repository: (container path, source relative to the
/// repository).
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    as_strings(&service["volumes"])
        .iter()
        .filter(|v| v.starts_with('.'))
        .map(|v| {
            let mut parts = v.split(':');
            let source = parts.next().unwrap().trim_start_matches("./").to_string();
            (parts.next().expect("a container path").to_string(), source)
        })
        .collect()
}

#[test]
fn every_presage_command_service_flag_and_variable_in_compose_exists_in_the_cli() {
    let mut run = BTreeSet::new();
    for (name, service) in services(&compose()) {
        let argv = as_strings(&service["command"]);
        if argv.first().map(String::as_str) != Some("presage") {
            continue;
        }
        if let Some(service_name) = presage_service(&service) {
            run.insert(service_name);
        }
        assert_cli_reads(&name, &argv, &env_of(&service));
    }
    let all: BTreeSet<String> = presage_cli::SERVICES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(run, all, "compose runs every service");
}

/// The compose file's `PRESAGE_METRICS_LISTEN` reaches a service only if its binary reads the
/// shared metrics settings: the check above takes that on trust, this holds every service to it.
#[test]
fn every_service_binary_reads_the_shared_metrics_settings() {
    for service in presage_cli::SERVICES {
        let main = read(&format!("services/{service}/src/main.rs"));
        assert!(
            main.contains("MetricsArgs") && main.contains(".start("),
            "presage-{service} does not flatten and start presage_runner::MetricsArgs"
        );
    }
}

#[test]
fn the_setup_step_creates_the_topics_and_publishes_only_the_demo_template() {
    let cli = presage_cli::command();
    let compose = compose();
    let script = as_strings(&compose["services"]["setup"]["command"]).join(" ");
    for (command, sub) in [("topics", "create"), ("templates", "publish")] {
        assert!(
            script.contains(&format!("presage {command} {sub}")),
            "{script}"
        );
        let found = cli
            .find_subcommand(command)
            .and_then(|c| c.find_subcommand(sub));
        assert!(found.is_some(), "presage {command} {sub} does not exist");
    }
    // The other examples scrape and write addresses the stack lacks: their dead letters and
    // rejected outcomes would flood the logs.
    let published: Vec<&str> = script
        .split("templates publish")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(published, ["/app/templates/grid-demand.yaml"], "{script}");
    let file = repository_file(published[0], &[], true).expect("the template is in the image");
    assert!(file.is_file(), "{}", file.display());
}

/// One image, built once: seven identical builds would take seven times as long.
#[test]
fn one_image_is_built_once_and_every_presage_container_reuses_it() {
    let compose = compose();
    let builders: Vec<String> = services(&compose)
        .into_iter()
        .filter(|(_, service)| !service["build"].is_null())
        .map(|(name, _)| name)
        .collect();
    assert_eq!(builders, ["setup"], "exactly one service builds the image");
    assert_eq!(compose["services"]["setup"]["image"].as_str(), Some(IMAGE));
    for (name, service) in services(&compose) {
        let argv = as_strings(&service["command"]);
        if name == "setup" || argv.first().map(String::as_str) != Some("presage") {
            continue;
        }
        assert_eq!(service["image"].as_str(), Some(IMAGE), "{name}: image");
        // Never looked for on a registry, where `presage` could be someone else's image.
        assert_eq!(
            service["pull_policy"].as_str(),
            Some("never"),
            "{name}: pull_policy"
        );
    }
}

/// The Compose file's counterpart of `presage up`'s supervision: a long-running container that
/// crashes comes back, the one-shot setup is retried only until it succeeds (`unless-stopped`
/// would run it again after every success), and the services start once Kafka answers.
#[test]
fn long_running_containers_restart_and_services_wait_for_a_healthy_kafka() {
    let compose = compose();
    for (name, service) in services(&compose) {
        let restart = service["restart"].as_str();
        if name == "setup" {
            assert_eq!(restart, Some("on-failure"), "{name}: restart policy");
        } else {
            assert!(
                matches!(restart, Some("unless-stopped" | "always")),
                "{name}: a long-running container needs `restart: unless-stopped`, has {restart:?}"
            );
        }
        // A dependency on a healthy container is only as good as that container's healthcheck.
        if let Some(dependencies) = service["depends_on"].as_mapping() {
            for (dependency, condition) in dependencies {
                let dependency = dependency.as_str().unwrap();
                assert!(
                    compose["services"][dependency].is_mapping(),
                    "{name} depends on {dependency}, which is not a service"
                );
                if condition["condition"].as_str() == Some("service_healthy") {
                    assert!(
                        compose["services"][dependency]["healthcheck"]["test"].is_sequence(),
                        "{name} waits for {dependency} to be healthy, which has no healthcheck"
                    );
                }
            }
        }
        if presage_service(&service).is_some() {
            assert_eq!(
                service["depends_on"]["kafka"]["condition"].as_str(),
                Some("service_healthy"),
                "{name}: waits for Kafka"
            );
            assert_eq!(
                service["depends_on"]["setup"]["condition"].as_str(),
                Some("service_completed_successfully"),
                "{name}: waits for the topics and templates"
            );
        }
    }
}

/// Each service's metrics port: from its own PRESAGE_METRICS_LISTEN.
fn metrics_port(name: &str, service: &Value) -> u16 {
    let env = env_of(service);
    let listen = env
        .get("PRESAGE_METRICS_LISTEN")
        .unwrap_or_else(|| panic!("{name}: no PRESAGE_METRICS_LISTEN"));
    assert!(
        listen.starts_with("0.0.0.0:"),
        "{name}: {listen} is not reachable by Prometheus in another container"
    );
    port_of(listen)
}

/// Every service serves /metrics, /healthz and /readyz, and its healthcheck asks /readyz on that
/// port with the `readyz` script the image carries.
#[test]
fn every_service_is_healthy_only_when_its_readyz_answers() {
    let compose = compose();
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.contains("COPY deploy/docker/readyz /usr/local/bin/readyz"),
        "the image carries the healthcheck script"
    );
    let mut ports_in_namespace: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for (name, service) in services(&compose) {
        if presage_service(&service).is_none() {
            continue;
        }
        let port = metrics_port(&name, &service);
        let test = as_strings(&service["healthcheck"]["test"]);
        assert_eq!(
            test,
            ["CMD", "readyz", &port.to_string()],
            "{name}: healthcheck on its own /readyz"
        );
        let namespace = service["network_mode"]
            .as_str()
            .and_then(|mode| mode.strip_prefix("service:"))
            .unwrap_or(&name)
            .to_string();
        ports_in_namespace.entry(namespace).or_default().push(port);
    }
    // Containers sharing a network namespace cannot listen on one port: the collector shares the
    // demo workload's, which serves the demo page on 9464.
    let demo = as_strings(&compose["services"]["demo-workload"]["command"]);
    let demo_listen = &demo[demo.iter().position(|a| a == "--demo-listen").unwrap() + 1];
    ports_in_namespace
        .entry("demo-workload".into())
        .or_default()
        .push(port_of(demo_listen));
    for (namespace, ports) in ports_in_namespace {
        let distinct: BTreeSet<_> = ports.iter().collect();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "{namespace}: ports {ports:?} collide"
        );
    }
}

/// The script the healthchecks run, against a real HTTP server: 200 is healthy, anything else
/// (503 while not ready, nothing listening) is not.
#[test]
fn the_readyz_script_passes_on_200_and_fails_otherwise() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let answering = std::thread::spawn(move || {
        for _ in 0..2 {
            let request = server.recv().unwrap();
            let status = if request.url() == "/readyz" { 200 } else { 503 };
            request
                .respond(tiny_http::Response::from_string("").with_status_code(status))
                .unwrap();
        }
    });
    let script = Path::new(ROOT).join("deploy/docker/readyz");
    let run = |args: &[&str]| {
        std::process::Command::new("bash")
            .arg(&script)
            .args(args)
            .output()
            .expect("bash")
            .status
            .success()
    };
    assert!(run(&[&port.to_string()]), "200 on /readyz is healthy");
    assert!(!run(&[&port.to_string(), "/other"]), "503 is not healthy");
    answering.join().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    assert!(
        !run(&[&closed_port.to_string()]),
        "nothing listening is not healthy"
    );
}

/// `presage tail`, `explain` and `backtest` on the host reach Kafka through a second listener
/// advertised as localhost; containers keep using kafka:9092.
#[test]
fn kafka_is_reachable_from_the_host_through_a_second_listener() {
    let compose = compose();
    let kafka = &compose["services"]["kafka"];
    let env = env_of(kafka);
    let listeners = &env["KAFKA_LISTENERS"];
    let advertised = &env["KAFKA_ADVERTISED_LISTENERS"];
    assert!(listeners.contains("EXTERNAL://:9094"), "{listeners}");
    assert!(listeners.contains("PLAINTEXT://:9092"), "{listeners}");
    assert!(
        advertised.contains("EXTERNAL://localhost:9094"),
        "{advertised}"
    );
    assert!(
        advertised.contains("PLAINTEXT://kafka:9092"),
        "{advertised}"
    );
    assert!(
        env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].contains("EXTERNAL:PLAINTEXT"),
        "the EXTERNAL listener needs a protocol"
    );
    for (name, service) in services(&compose) {
        if presage_service(&service).is_some() || name == "setup" {
            assert_eq!(env_of(&service)["PRESAGE_BROKERS"], "kafka:9092", "{name}");
        }
    }
}

/// Only what a user opens is published, on the loopback address (none of it asks for a
/// password): Grafana, Prometheus and Kafka's external listener.
#[test]
fn grafana_prometheus_and_kafka_are_the_published_ports() {
    let mut published = BTreeMap::new();
    for (name, service) in services(&compose()) {
        for port in as_strings(&service["ports"]) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name}: {port} is published beyond this host"
            );
            published.insert(name.clone(), port);
        }
    }
    let expected: BTreeMap<String, String> = [
        ("grafana", "127.0.0.1:3000:3000"),
        ("kafka", "127.0.0.1:9094:9094"),
        ("prometheus", "127.0.0.1:9090:9090"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(published, expected);
}

/// Prometheus scrapes every service where it serves its metrics: the service's own host name, or
/// the container whose network namespace it shares.
#[test]
fn prometheus_scrapes_every_service() {
    let compose = compose();
    let prometheus = &compose["services"]["prometheus"];
    assert!(
        bind_mounts(prometheus).contains(&(
            "/etc/prometheus/prometheus.yml".into(),
            "deploy/prometheus/prometheus.yml".into()
        )),
        "the scrape configuration is mounted where prometheus reads it"
    );
    let config = yaml("deploy/prometheus/prometheus.yml");
    let targets: BTreeSet<String> = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|job| {
            job["static_configs"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|group| as_strings(&group["targets"]))
        .collect();
    let mut scraped = 0;
    for (name, service) in services(&compose) {
        if presage_service(&service).is_none() {
            continue;
        }
        let host = service["network_mode"]
            .as_str()
            .and_then(|mode| mode.strip_prefix("service:"))
            .unwrap_or(&name);
        let target = format!("{host}:{}", metrics_port(&name, &service));
        assert!(
            targets.contains(&target),
            "{name}: {target} is not scraped: {targets:?}"
        );
        scraped += 1;
    }
    assert_eq!(scraped, presage_cli::SERVICES.len());
}

/// Grafana reads the compose stack's Prometheus and loads deploy/grafana/presage.json.
#[test]
fn grafana_is_provisioned_with_prometheus_and_the_presage_dashboard() {
    let compose = compose();
    let grafana = &compose["services"]["grafana"];
    let mounts = bind_mounts(grafana);
    let provisioning = |file: &str| {
        repository_file(&format!("/etc/grafana/provisioning/{file}"), &mounts, false)
            .unwrap_or_else(|| panic!("provisioning/{file} is not mounted"))
    };
    let datasources: Value = yaml_serde::from_str(
        &std::fs::read_to_string(provisioning("datasources/prometheus.yaml")).unwrap(),
    )
    .unwrap();
    let source = &datasources["datasources"][0];
    assert_eq!(source["type"].as_str(), Some("prometheus"));
    assert_eq!(source["url"].as_str(), Some("http://prometheus:9090"));
    let dashboards: Value = yaml_serde::from_str(
        &std::fs::read_to_string(provisioning("dashboards/presage.yaml")).unwrap(),
    )
    .unwrap();
    let folder = dashboards["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    let dashboard = repository_file(&format!("{folder}/presage.json"), &mounts, false)
        .expect("the dashboard is mounted where the provider reads");
    let expected = Path::new(ROOT).join("deploy/grafana/presage.json");
    assert_eq!(
        dashboard.canonicalize().unwrap(),
        expected.canonicalize().unwrap()
    );
    // It opens on the Presage dashboard.
    let home = &env_of(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"];
    let home = repository_file(home, &mounts, false).expect("the home dashboard is mounted");
    assert_eq!(
        home.canonicalize().unwrap(),
        expected.canonicalize().unwrap()
    );
}

/// Nothing from outside the repository: every bind mount is a path in it (the read-only ones
/// exist), and every file a container's command or environment names under /app is mounted or
/// in the image.
#[test]
fn every_file_a_container_reads_comes_from_the_repository() {
    let compose = compose();
    let declared: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .map(|v| {
            v.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let root = Path::new(ROOT).canonicalize().unwrap();
    for (name, service) in services(&compose) {
        for volume in as_strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if !source.starts_with('.') && !source.starts_with('/') {
                assert!(
                    declared.contains(source),
                    "{name}: volume {source} is not declared"
                );
                continue;
            }
            assert!(
                source.starts_with("./") && !source.contains(".."),
                "{name}: {source} is outside the repository"
            );
            if volume.ends_with(":ro") {
                let path = root.join(source);
                assert!(path.exists(), "{name}: {} does not exist", path.display());
            }
        }
        let mounts = bind_mounts(&service);
        let presage_image = service["image"].as_str() == Some(IMAGE);
        let mut named: Vec<String> = as_strings(&service["command"])
            .iter()
            .flat_map(|a| a.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        named.extend(env_of(&service).into_values());
        for path in named.iter().filter(|p| p.starts_with("/app/")) {
            let file = repository_file(path, &mounts, presage_image)
                .unwrap_or_else(|| panic!("{name}: {path} is neither mounted nor in the image"));
            assert!(
                file.exists(),
                "{name}: {path} is {}, which does not exist",
                file.display()
            );
        }
    }
    // The image's files must also be in the build context.
    let ignored = read(".dockerignore");
    for (_, source) in image_copies() {
        assert!(
            Path::new(ROOT).join(&source).exists(),
            "COPY {source}: missing"
        );
        for pattern in ignored
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            assert!(
                !(source == pattern || source.starts_with(&format!("{pattern}/"))),
                "COPY {source}: excluded by .dockerignore ({pattern})"
            );
        }
    }
}

/// The compose stack grants the applier and the collector exactly what the demo template needs,
/// from the operator's file: without it they would reject every hook and read no source.
#[test]
fn the_applier_and_collector_get_an_allow_list_that_fits_the_demo_template() {
    use presage_template::authority::Allow;

    let compose = compose();
    for service in ["applier", "collector"] {
        let path = compose["services"][service]["environment"]["PRESAGE_ALLOW"]
            .as_str()
            .unwrap_or_else(|| panic!("{service} has no PRESAGE_ALLOW"));
        let volumes = as_strings(&compose["services"][service]["volumes"]);
        let mounted = volumes
            .iter()
            .find_map(|v| v.strip_suffix(":ro")?.strip_suffix(path)?.strip_suffix(':'))
            .unwrap_or_else(|| panic!("{service}: {path} is not mounted: {volumes:?}"));
        let file = Path::new(ROOT).join(mounted);
        let allow = Allow::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let demo = presage_template::load(&Path::new(ROOT).join("templates/grid-demand.yaml"))
            .expect("the demo template");
        // The image's working directory, where the applier resolves relative hook paths.
        let violations = allow.check(&demo, Path::new("/app"));
        assert!(violations.is_empty(), "{service}: {violations:?}");
        let checkout = presage_template::load(&Path::new(ROOT).join("templates/checkout-api.yaml"))
            .expect("the full example");
        assert!(
            !allow.check(&checkout, Path::new("/app")).is_empty(),
            "the compose list grants more than the demo needs"
        );
    }
}
