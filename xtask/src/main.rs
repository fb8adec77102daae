//! The project's two set-up commands, so a fresh machine needs nothing installed by hand:
//!
//! - `cargo xtask up`: installs what is missing (the local broker), builds, and starts the local
//!   stack with the demo workload (`presage up --demo`).
//! - `cargo xtask test`: installs what is missing the same way, builds every binary the
//!   end-to-end tests run, and runs the whole test suite.
//! - `cargo xtask chaos [--minutes N] [--seed S]`: the same, then the chaos suite
//!   (`presage-chaos`): the whole stack under seeded faults, reconciled from the topics.
//! - `cargo xtask fuzz [--cases N] [--target NAME] [--seed S] [--list]`: the fuzz targets
//!   (`presage-fuzz`), N cases each, with per-target cases, failures, peak allocation and time.
//!
//! Kept free of dependencies so it compiles in seconds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// The local broker: Nisshi, a Kafka-protocol broker in Rust (Apache-2.0).
const NISSHI_VERSION: &str = "0.8.1";

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("help", &[]));
    let result = match command {
        "up" => up(rest),
        "test" => test(rest),
        "chaos" => chaos(rest),
        "fuzz" => fuzz(rest),
        "install-broker" => install_broker().map(|path| println!("{}", path.display())),
        _ => {
            eprintln!("usage: cargo xtask <up|test|chaos|fuzz|install-broker> [args...]\n  up              install the broker if missing, build, run `presage up --demo`\n  test            install the broker if missing, build, run every test\n  chaos           install the broker if missing, build, run the chaos suite (--minutes N --seed S)\n  fuzz            run the fuzz targets (--cases N --target NAME --seed S --list)\n  install-broker  install the local broker (Nisshi {NISSHI_VERSION}) into the cache");
            exit(2);
        }
    };
    if let Err(message) = result {
        eprintln!("xtask: {message}");
        exit(1);
    }
}

/// Shared by every clone on this machine: `$PRESAGE_CACHE`, else `~/.cache/presage`.
fn cache_dir() -> PathBuf {
    env::var_os("PRESAGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/presage")))
        .unwrap_or_else(|| PathBuf::from(".presage-cache"))
}

fn workspace_root() -> PathBuf {
    // `cargo run` sets the manifest dir at run time too. Prefer it: with a target directory
    // shared between clones (CI reuses one), the binary may have been built in another clone,
    // whose path `env!` baked in.
    env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Installs Nisshi once (about 13 minutes on two cores) into the cache; later calls reuse it.
fn install_broker() -> Result<PathBuf, String> {
    if let Some(path) = env::var_os("PRESAGE_NISSHI") {
        return Ok(PathBuf::from(path));
    }
    let root = cache_dir().join("nisshi");
    let binary = root.join("bin/nisshi");
    if binary.is_file() {
        return Ok(binary);
    }
    eprintln!("xtask: installing the local broker (nisshi {NISSHI_VERSION}) into {}; this takes a while once", root.display());
    let status = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "install",
            "nisshi",
            "--version",
            NISSHI_VERSION,
            "--locked",
            "--ignore-rust-version",
        ])
        .args([
            "--no-default-features",
            "--features",
            "libsql,dynostore",
            "--root",
        ])
        .arg(&root)
        // Its own target directory, so the workspace's builds never wait on it or rebuild it.
        .env("CARGO_TARGET_DIR", cache_dir().join("nisshi-build"))
        .status()
        .map_err(|e| format!("running cargo install: {e}"))?;
    if !status.success() || !binary.is_file() {
        return Err(format!("installing nisshi failed ({status})"));
    }
    Ok(binary)
}

fn cargo(args: &[&str], extra: &[String], nisshi: &Path) -> Result<(), String> {
    let status = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .args(extra)
        .current_dir(workspace_root())
        .env("PRESAGE_NISSHI", nisshi)
        .status()
        .map_err(|e| format!("running cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

fn has_nextest() -> bool {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the tests run besides the broker, from Debian's packages: a real Prometheus server
/// (`integration/tests/prometheus.rs`) and a headless browser (the dashboard's test).
const TEST_PACKAGES: [(&str, &str); 3] = [
    ("prometheus", "/usr/bin/prometheus"),
    ("chromium", "/usr/bin/chromium"),
    // The TLS tests make a CA and serve https with the openssl CLI.
    ("openssl", "/usr/bin/openssl"),
];

/// Installs the missing test packages with apt-get (the machines run as root). Without root or
/// apt-get, says what to install and goes on: the tests that need them say so when they fail.
fn install_test_packages() -> Result<(), String> {
    let missing: Vec<&str> = TEST_PACKAGES
        .iter()
        .filter(|(_, binary)| !Path::new(binary).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing Debian packages the tests use: {}",
        missing.join(" ")
    );
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success())
    };
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    if !(apt(&["update"]) && apt(&install)) {
        eprintln!(
            "xtask: could not install {} (run as root: apt-get install {})",
            missing.join(" "),
            missing.join(" ")
        );
    }
    Ok(())
}

fn test(extra: &[String]) -> Result<(), String> {
    install_test_packages()?;
    let nisshi = install_broker()?;
    // The end-to-end tests run the service binaries, so they must exist before any test runs.
    cargo(&["build", "--workspace", "--bins"], &[], &nisshi)?;
    if has_nextest() {
        // The project has no doctests; nextest runs everything else.
        cargo(
            &["nextest", "run", "--workspace", "--no-fail-fast"],
            extra,
            &nisshi,
        )
    } else {
        cargo(&["test", "--workspace", "--no-fail-fast"], extra, &nisshi)
    }
}

fn chaos(extra: &[String]) -> Result<(), String> {
    let nisshi = install_broker()?;
    cargo(&["build", "--workspace", "--bins"], &[], &nisshi)?;
    cargo(
        &[
            "run",
            "--quiet",
            "-p",
            "presage-integration",
            "--bin",
            "presage-chaos",
            "--",
        ],
        extra,
        &nisshi,
    )
}

/// No broker needed: the fuzz targets are parsers. Built like the tests (debug, with overflow
/// checks), so an overflow is found as the panic it is there.
fn fuzz(extra: &[String]) -> Result<(), String> {
    let status = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "run",
            "--quiet",
            "-p",
            "presage-fuzz",
            "--bin",
            "presage-fuzz",
            "--",
        ])
        .args(extra)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("running presage-fuzz: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "presage-fuzz found failing cases or could not run ({status})"
        ))
    }
}

fn up(extra: &[String]) -> Result<(), String> {
    let nisshi = install_broker()?;
    cargo(&["build", "--workspace", "--bins"], &[], &nisshi)?;
    cargo(
        &[
            "run",
            "--quiet",
            "--bin",
            "presage",
            "--",
            "up",
            "--demo",
            "--templates",
            "templates/grid-demand.yaml",
        ],
        extra,
        &nisshi,
    )
}
