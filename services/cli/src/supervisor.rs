//! `presage up`: the whole stack in one command. Without `--brokers` it starts the local broker
//! (Nisshi, installed by the set-up command), then creates the topics, publishes the templates
//! and runs the five services as child processes, restarting any that exits (with backoff, the
//! broker too), until SIGINT or SIGTERM; then it stops the services and, last, the broker.
//!
//! It also serves the live dashboard (`--dashboard-listen`, see [`crate::dashboard`]) and gives
//! each service its own metrics address (`PRESAGE_METRICS_LISTEN`, from `--metrics-port-base`).
//!
//! Every child runs in its own process group, so a terminal's Ctrl-C reaches only `presage up`,
//! which decides the order of the stop.

mod backoff;
mod broker;
mod decision;
mod ports;
mod process;
mod stop;
mod supervised;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use presage_runner::broker::find_nisshi;
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;
use presage_runner::{KafkaArgs, Shutdown};
use presage_template::authority::{Allow, ALLOW_ENV};

use crate::commands::{create_all_topics, service_binary, SERVICES};
use crate::dashboard::{self, Dashboard, Listen};
use crate::demo;
use backoff::Backoff;
use broker::LocalBroker;
use supervised::Supervised;

/// The variable the services read their metrics address from (`--metrics-listen`).
const METRICS_LISTEN_ENV: &str = "PRESAGE_METRICS_LISTEN";

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    presage up --demo --demo-data deploy/demo/taylor-demand.csv\n  \
    presage up --brokers kafka:9092 --templates templates/ --dashboard-listen 0.0.0.0:9460\n  \
    presage up --dashboard-listen off --metrics-port-base 0\n\n\
    The dashboard is then at http://127.0.0.1:9460/; each service's /metrics, /healthz and\n\
    /readyz at 127.0.0.1:9465 (collector) to 9469 (applier).")]
pub struct UpArgs {
    /// An existing Kafka cluster; without it a local broker is started.
    #[arg(long, env = "PRESAGE_BROKERS")]
    pub brokers: Option<String>,
    /// A librdkafka setting, `key=value`; repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub kafka_settings: Vec<String>,
    /// A properties file of librdkafka settings.
    #[arg(long, env = "PRESAGE_KAFKA_PROPERTIES")]
    pub kafka_properties: Option<PathBuf>,
    /// Prefix for every topic name.
    #[arg(long, env = "PRESAGE_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Template files, or directories whose *.yaml files are templates.
    #[arg(long = "templates", default_value = "templates")]
    pub templates: Vec<PathBuf>,
    /// Where the local broker keeps its data (it survives a restart).
    #[arg(long, env = "PRESAGE_DATA_DIR", default_value = "var/presage")]
    pub data_dir: PathBuf,
    /// Port of the local broker.
    #[arg(long, default_value_t = 9092)]
    pub port: u16,
    /// The allow-list the applier and the collector run with (commands, paths, URLs). Without
    /// it, `up` writes one granting exactly what the templates ask, `allow.yaml` in the data
    /// directory, and uses that.
    #[arg(long, env = ALLOW_ENV, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Also serve the demo workload (a Prometheus page replaying a demand trace).
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub demo_args: demo::DemoSettings,
    /// Serve the live web dashboard on this address, or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = dashboard::DEFAULT_LISTEN)]
    pub dashboard_listen: Listen,
    #[command(flatten)]
    pub dashboard_view: dashboard::ViewArgs,
    /// Each service serves /metrics, /healthz and /readyz on 127.0.0.1 at consecutive ports
    /// from this one, in pipeline order: collector, recipe-processor, forecaster, planner,
    /// applier (handed down as PRESAGE_METRICS_LISTEN). 0 turns them off.
    #[arg(long, value_name = "PORT", default_value_t = ports::DEFAULT_METRICS_PORT_BASE)]
    pub metrics_port_base: u16,
}

/// Expands directories into their `*.yaml` files, sorted.
pub fn template_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("listing {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

pub fn up(args: &UpArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals()?;
    let metrics = metrics_addresses(args)?;
    let dashboard_limits = args.dashboard_view.limits()?;
    let files = template_files(&args.templates)?;
    // The same checks as `presage validate`, DataFusion planning included: a template the
    // recipe-processor would refuse is refused here, before anything runs.
    let checked: Vec<_> = files
        .iter()
        .map(|file| (file, crate::check::check_file(file)))
        .collect();
    let problems: Vec<String> = checked
        .iter()
        .filter_map(|(_, checked)| checked.as_ref().err().cloned())
        .flatten()
        .collect();
    if !problems.is_empty() {
        bail!("invalid templates:\n{}", problems.join("\n"));
    }
    let templates: Vec<(&PathBuf, presage_template::Template)> = checked
        .into_iter()
        .filter_map(|(file, checked)| checked.ok().map(|t| (file, t)))
        .collect();
    let allow_file = allow_list(args, &templates)?;
    println!("allow-list: {}", allow_file.display());

    let backoff = Backoff::default();
    // Declared before the services, so on an early error it is dropped (killed) after them.
    let mut broker: Option<Supervised> = None;
    let brokers = match &args.brokers {
        Some(brokers) => brokers.clone(),
        None => {
            let Some(nisshi) = find_nisshi() else {
                bail!("the local broker (nisshi) is not installed: run `cargo xtask up`, which installs it, or pass --brokers");
            };
            let local = LocalBroker {
                nisshi,
                data_dir: args.data_dir.join("broker"),
                port: args.port,
            };
            let child = local.start(Duration::from_secs(60))?;
            println!(
                "local broker: {} (data in {})",
                local.bootstrap(),
                local.data_dir.display()
            );
            let bootstrap = local.bootstrap();
            broker = Some(Supervised::adopt(
                "broker",
                child,
                Box::new(move || local.spawn()),
            ));
            bootstrap
        }
    };
    let kafka = KafkaArgs {
        brokers,
        kafka_settings: args.kafka_settings.clone(),
        kafka_properties: args.kafka_properties.clone(),
        topic_prefix: args.topic_prefix.clone(),
        transactions: false,
        inherited_settings: Vec::new(),
    };
    retry("creating topics", Duration::from_secs(30), || {
        create_all_topics(&kafka, None)
    })?;
    for event in publish_templates(&kafka, &files)? {
        println!(
            "template {} (app {}, version {})",
            event.source_path, event.app, event.template_version
        );
    }
    if args.demo {
        let settings = args.demo_args.clone();
        let server = demo::DemoServer::start(&settings)?;
        println!("demo workload: http://{}/metrics", server.address());
        std::mem::forget(server); // serves until the process exits
    }
    // Started before the services, so the page shows them from their first record; dropped
    // (its consumer closed) before the broker stops.
    let dashboard = match args.dashboard_listen {
        Listen::Off => None,
        Listen::At(addr) => {
            let dashboard = Dashboard::start(&kafka, addr, dashboard_limits)
                .context("pass another --dashboard-listen ADDR, or `off`")?;
            println!("dashboard at {}", dashboard.url());
            Some(dashboard)
        }
    };
    let mut services = Vec::new();
    for (service, metrics) in SERVICES.into_iter().zip(metrics) {
        let kafka = kafka.clone();
        let allow_file = allow_file.clone();
        if let Some(addr) = metrics {
            println!("{service}: metrics at http://{addr}/metrics");
        }
        services.push(Supervised::start(
            service,
            Box::new(move || spawn(service, &kafka, &allow_file, metrics)),
        )?);
    }
    println!(
        "presage is up: {} services on {}; Ctrl-C stops it",
        services.len(),
        kafka.brokers
    );
    // Children are (re)started from this thread, the main one: their death signal is tied to
    // the thread that forked them (see `process::spawn_isolated`).
    while !shutdown.requested() {
        let now = Instant::now();
        for child in services.iter_mut().chain(broker.iter_mut()) {
            child.tick(&backoff, now);
        }
        shutdown.sleep(Duration::from_millis(200));
    }
    drop(dashboard);
    stop::stop_in_order(&mut services, broker.as_mut(), &backoff, stop::GRACE);
    Ok(())
}

/// Each service's metrics address, refused when the demo workload or the dashboard would take
/// one of those ports (the service would fail to bind it and be restarted forever).
fn metrics_addresses(args: &UpArgs) -> anyhow::Result<Vec<Option<SocketAddr>>> {
    let addresses = ports::metrics_addresses(args.metrics_port_base, &SERVICES)?;
    if args.demo {
        // A name (`localhost:9465`) as well as an address: every address it stands for.
        // One that does not resolve is left to the demo's own bind to report.
        let demo = std::net::ToSocketAddrs::to_socket_addrs(args.demo_args.listen.as_str());
        for demo in demo.into_iter().flatten() {
            ports::check_no_overlap(&addresses, "the demo workload (--demo-listen)", demo)?;
        }
    }
    if let Listen::At(addr) = args.dashboard_listen {
        ports::check_no_overlap(&addresses, "the dashboard (--dashboard-listen)", addr)?;
    }
    Ok(addresses)
}

/// The operator's allow-list, checked against the templates (a template asking for more stops
/// `up` here, with every line and column, rather than being rejected hook by hook later); or,
/// without one, a list granting exactly what the templates ask, written into the data directory.
fn allow_list(
    args: &UpArgs,
    templates: &[(&PathBuf, presage_template::Template)],
) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    if let Some(path) = &args.allow {
        let allow = Allow::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let refused: Vec<String> = templates
            .iter()
            .flat_map(|(file, t)| crate::check::check_granted(file, t, &allow, &cwd))
            .collect();
        if !refused.is_empty() {
            bail!(
                "the templates ask for more than {} grants:\n{}",
                path.display(),
                refused.join("\n")
            );
        }
        return Ok(std::path::absolute(path)?);
    }
    let allow = Allow::covering(templates.iter().map(|(_, t)| t), &cwd);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let path = std::path::absolute(args.data_dir.join("allow.yaml"))?;
    let text = format!(
        "# Written by `presage up`: exactly what the templates it started with ask for.\n\
         # Pass your own with --allow FILE (or PRESAGE_ALLOW) to grant less.\n{}",
        allow.to_yaml()
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Starts `service`; the allow-list goes to every service by environment (the applier and the
/// collector read it), never from the templates topic. So does its metrics address; without
/// one the variable is removed, so an operator's own setting cannot make five services fight
/// over one port.
fn spawn(
    service: &str,
    kafka: &KafkaArgs,
    allow: &std::path::Path,
    metrics: Option<SocketAddr>,
) -> anyhow::Result<Child> {
    let binary = service_binary(service)?;
    let mut command = Command::new(&binary);
    command.kafka(kafka).env(ALLOW_ENV, allow);
    match metrics {
        Some(addr) => command.env(METRICS_LISTEN_ENV, addr.to_string()),
        None => command.env_remove(METRICS_LISTEN_ENV),
    };
    process::spawn_isolated(&mut command).with_context(|| format!("starting {}", binary.display()))
}

fn retry(
    what: &str,
    limit: Duration,
    mut attempt: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(error = %err, "{what}: retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(err) => return Err(err.context(format!("{what} (gave up after {limit:?})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn up_args(args: &[&str]) -> UpArgs {
        let cli = crate::Cli::try_parse_from([&["presage", "up"], args].concat()).unwrap();
        match cli.command {
            crate::Command::Up(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_demo_or_the_dashboard_on_a_services_metrics_port_is_refused() {
        assert!(metrics_addresses(&up_args(&["--demo"])).is_ok());
        for clash in [
            &["--demo", "--demo-listen", "127.0.0.1:9466"][..],
            &["--demo", "--demo-listen", "localhost:9466"],
            &["--dashboard-listen", "0.0.0.0:9469"],
        ] {
            let err = metrics_addresses(&up_args(clash)).unwrap_err().to_string();
            assert!(err.contains("--metrics-port-base"), "{clash:?}: {err}");
        }
        // Not started without --demo; nothing to clash with when the services serve nothing.
        assert!(metrics_addresses(&up_args(&["--demo-listen", "127.0.0.1:9466"])).is_ok());
        let off = [
            "--dashboard-listen",
            "127.0.0.1:9466",
            "--metrics-port-base",
            "0",
        ];
        assert!(metrics_addresses(&up_args(&off)).is_ok());
    }
}
