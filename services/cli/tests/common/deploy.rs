//! What the deployment tests (`docker_compose.rs`, `kubernetes_manifests.rs`) share: the
//! repository and its image, YAML values as text, and what a `presage` command line may say,
//! taken from the clap definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::{Args as _, Command};
use yaml_serde::Value;

/// The repository.
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The image every Presage container runs (docker-compose.yml builds it; the manifests name it).
pub const IMAGE: &str = "presage:local";

/// A YAML sequence's strings (nothing for anything else).
pub fn as_strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A scalar as the container sees it: a string as it is, a number or boolean as YAML writes it.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => yaml_serde::to_string(other).unwrap().trim().to_string(),
    }
}

/// The port of a `host:port` listen address.
pub fn port_of(listen: &str) -> u16 {
    listen
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{listen} has no port"))
}

/// The long flags and environment variables a command line reads.
#[derive(Default)]
pub struct Accepted {
    pub command: String,
    pub flags: BTreeSet<String>,
    pub env: BTreeSet<String>,
}

impl Accepted {
    fn add(&mut self, command: &Command) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env() {
                self.env.insert(name.to_string_lossy().into_owned());
            }
            if let Some(long) = arg.get_long() {
                self.flags.insert(format!("--{long}"));
            }
        }
    }
}

/// What `presage ARGS…` reads: its (sub)command's flags and variables, and for `presage run
/// SERVICE` also the settings every service binary has (`presage run` execs the service with the
/// same environment): the metrics settings, `presage_runner::MetricsArgs`. (The compose test
/// holds each service binary to flattening them.)
pub fn accepted(argv: &[String]) -> Accepted {
    assert_eq!(
        argv.first().map(String::as_str),
        Some("presage"),
        "{argv:?}"
    );
    let cli = presage_cli::command();
    let mut command = &cli;
    let mut path = vec!["presage".to_string()];
    for word in argv.iter().skip(1).take_while(|w| !w.starts_with('-')) {
        match command.find_subcommand(word) {
            Some(sub) => {
                command = sub;
                path.push(word.clone());
            }
            None => break,
        }
    }
    assert!(
        path.len() > 1,
        "`{}` is not a presage command",
        argv.join(" ")
    );
    let mut accepted = Accepted {
        command: path.join(" "),
        ..Accepted::default()
    };
    accepted.add(command);
    if path == ["presage", "run"] {
        let service = argv.get(2).map_or("", String::as_str);
        assert!(
            presage_cli::SERVICES.contains(&service),
            "`{}`: unknown service {service:?}",
            argv.join(" ")
        );
        accepted.add(&presage_runner::MetricsArgs::augment_args(Command::new(
            "service",
        )));
    }
    accepted
}

/// Fails unless every `--flag` of `argv` and every `PRESAGE_*` variable of `env` is one the
/// command really reads; `place` names where the command line is.
pub fn assert_cli_reads(place: &str, argv: &[String], env: &BTreeMap<String, String>) {
    let accepted = accepted(argv);
    for flag in argv.iter().filter(|a| a.starts_with("--")) {
        assert!(
            accepted.flags.contains(flag),
            "{place}: `{}` has no flag {flag}",
            accepted.command
        );
    }
    for key in env.keys().filter(|k| k.starts_with("PRESAGE_")) {
        assert!(
            accepted.env.contains(key),
            "{place}: `{}` does not read {key}; it reads {:?}",
            accepted.command,
            accepted.env
        );
    }
}

/// Where the Dockerfile's final stage copies files from the repository: (image path, repository
/// path).
pub fn image_copies() -> Vec<(String, String)> {
    let dockerfile = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    let final_stage = dockerfile.rsplit("\nFROM ").next().unwrap().to_string();
    final_stage
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|rest| !rest.starts_with("--from"))
        .map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(words.len(), 2, "COPY {rest}: one source, one destination");
            (words[1].to_string(), words[0].to_string())
        })
        .collect()
}

/// The repository file behind `path` inside a container, when `path` is at or beneath the
/// destination of one of `copies` (container path, repository path): a bind mount or a COPY.
pub fn repository_file(path: &str, copies: &[(String, String)]) -> Option<PathBuf> {
    copies.iter().find_map(|(dest, src)| {
        let rest = path.strip_prefix(dest.as_str())?;
        (rest.is_empty() || rest.starts_with('/'))
            .then(|| Path::new(ROOT).join(format!("{src}{rest}")))
    })
}
