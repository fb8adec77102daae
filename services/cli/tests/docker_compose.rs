//! docker-compose.yml must only use commands, services, flags and environment variables that
//! the CLI really has: this machine has no Docker engine, so this is how the file stays true.

use std::collections::BTreeSet;

use clap::Command;

fn compose() -> serde_yaml::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docker-compose.yml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("docker-compose.yml"))
        .expect("valid YAML")
}

/// Every environment variable and long flag a (sub)command accepts.
fn accepted(command: &Command) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut env = BTreeSet::new();
    let mut flags = BTreeSet::new();
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env() {
            env.insert(name.to_string_lossy().into_owned());
        }
        if let Some(long) = arg.get_long() {
            flags.insert(format!("--{long}"));
        }
    }
    (env, flags)
}

fn as_strings(value: &serde_yaml::Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_presage_command_service_flag_and_variable_in_compose_exists_in_the_cli() {
    let cli = presage_cli::command();
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let mut checked_services = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        let argv = as_strings(&service["command"]);
        if argv.first().map(String::as_str) != Some("presage") {
            continue;
        }
        let sub = cli
            .find_subcommand(&argv[1])
            .unwrap_or_else(|| panic!("{name}: `presage {}` is not a command", argv[1]));
        let (env, flags) = accepted(sub);
        if argv[1] == "run" {
            let service_name = &argv[2];
            assert!(
                presage_cli::SERVICES.contains(&service_name.as_str()),
                "{name}: unknown service {service_name}"
            );
            checked_services.insert(service_name.clone());
        }
        for flag in argv.iter().filter(|a| a.starts_with("--")) {
            assert!(
                flags.contains(flag),
                "{name}: `presage {}` has no flag {flag}",
                argv[1]
            );
        }
        if let Some(vars) = service["environment"].as_mapping() {
            for key in vars.keys().filter_map(|k| k.as_str()) {
                if key.starts_with("PRESAGE_") {
                    assert!(
                        env.contains(key),
                        "{name}: `presage {}` does not read {key}; it reads {env:?}",
                        argv[1]
                    );
                }
            }
        }
    }
    let all: BTreeSet<String> = presage_cli::SERVICES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(checked_services, all, "compose runs every service");
}

#[test]
fn the_setup_step_uses_real_subcommands() {
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
}

/// The Compose file's counterpart of `presage up`'s supervision: a long-running container that
/// crashes comes back, the one-shot setup is retried only until it succeeds (`unless-stopped`
/// would run it again after every success), and the services start once Kafka answers.
#[test]
fn long_running_containers_restart_and_services_wait_for_a_healthy_kafka() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    for (name, service) in services {
        let name = name.as_str().unwrap();
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
                if condition["condition"].as_str() == Some("service_healthy") {
                    assert!(
                        compose["services"][dependency]["healthcheck"]["test"].is_sequence(),
                        "{name} waits for {dependency} to be healthy, which has no healthcheck"
                    );
                }
            }
        }
        let argv = as_strings(&service["command"]);
        if argv.get(1).map(String::as_str) == Some("run") {
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

/// The compose stack grants the applier and the collector exactly what the demo template needs,
/// from the operator's file: without it they would reject every hook and read no source.
#[test]
fn the_applier_and_collector_get_an_allow_list_that_fits_the_demo_template() {
    use presage_template::authority::Allow;

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
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
        let file = std::path::Path::new(root).join(mounted);
        let allow = Allow::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let demo =
            presage_template::load(&std::path::Path::new(root).join("templates/grid-demand.yaml"))
                .expect("the demo template");
        // The image's working directory, where the applier resolves relative hook paths.
        let violations = allow.check(&demo, std::path::Path::new("/app"));
        assert!(violations.is_empty(), "{service}: {violations:?}");
        let checkout =
            presage_template::load(&std::path::Path::new(root).join("templates/checkout-api.yaml"))
                .expect("the full example");
        assert!(
            !allow
                .check(&checkout, std::path::Path::new("/app"))
                .is_empty(),
            "the compose list grants more than the demo needs"
        );
    }
}
