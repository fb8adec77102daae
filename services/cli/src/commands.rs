//! The one-shot commands: validate, topics, templates, run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use presage_runner::admin::{create_topics, TopicState};
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;
use presage_runner::{KafkaArgs, Topology};
use presage_template::authority::Allow;

/// The five services, in pipeline order.
pub const SERVICES: [&str; 5] = [
    "collector",
    "recipe-processor",
    "forecaster",
    "planner",
    "applier",
];

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Template files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also check each template against an operator's allow-list (what the applier and the
    /// collector run with): every command, path and URL it asks for that the list does not
    /// grant is reported at its line and column.
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
}

pub fn validate(args: &ValidateArgs) -> ExitCode {
    let allow = match args.allow.as_deref().map(Allow::load).transpose() {
        Ok(allow) => allow,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut failed = 0;
    for file in &args.files {
        let checked = crate::check::check_file(file).and_then(|template| {
            let refused = allow
                .as_ref()
                .map(|allow| crate::check::check_granted(file, &template, allow, &cwd))
                .unwrap_or_default();
            if refused.is_empty() {
                Ok(template)
            } else {
                Err(refused)
            }
        });
        match checked {
            Ok(template) => println!("{}: ok (app {})", file.display(), template.app),
            Err(problems) => {
                failed += 1;
                for problem in problems {
                    eprintln!("{problem}");
                }
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} of {} template(s) invalid", args.files.len());
        ExitCode::FAILURE
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum TopicsCommand {
    /// Create every topic of the topology (existing topics are left alone).
    #[command(after_help = crate::examples::TOPICS_CREATE)]
    Create(TopicsCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct TopicsCreateArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// A topology file to use instead of the built-in pipelines/topics.yaml.
    #[arg(long, env = "PRESAGE_PIPELINE")]
    pub pipeline: Option<PathBuf>,
}

pub fn load_topology(path: Option<&PathBuf>) -> anyhow::Result<Topology> {
    match path {
        None => Ok(Topology::default_topology()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(Topology::parse(&text, &path.display().to_string())?)
        }
    }
}

pub fn create_all_topics(kafka: &KafkaArgs, pipeline: Option<&PathBuf>) -> anyhow::Result<()> {
    let topology = load_topology(pipeline)?;
    for (name, state) in create_topics(kafka, &topology)? {
        let state = match state {
            TopicState::Created => "created",
            TopicState::AlreadyExisted => "exists",
        };
        println!("{name}: {state}");
    }
    Ok(())
}

pub fn topics(command: TopicsCommand) -> anyhow::Result<()> {
    match command {
        TopicsCommand::Create(args) => create_all_topics(&args.kafka, args.pipeline.as_ref()),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum TemplatesCommand {
    /// Validate and publish template files, keyed by app id.
    #[command(after_help = crate::examples::TEMPLATES_PUBLISH)]
    Publish(PublishArgs),
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn templates(command: TemplatesCommand) -> anyhow::Result<()> {
    match command {
        TemplatesCommand::Publish(args) => {
            // A template whose recipes do not plan would be refused by the recipe-processor:
            // refuse it here, before it reaches the topic.
            let mut problems = Vec::new();
            for file in &args.files {
                if let Err(mut found) = crate::check::check_file(file) {
                    problems.append(&mut found);
                }
            }
            if !problems.is_empty() {
                bail!("not published:\n{}", problems.join("\n"));
            }
            for event in publish_templates(&args.kafka, &args.files)? {
                println!(
                    "{}: published app {} version {}",
                    event.source_path, event.app, event.template_version
                );
            }
            Ok(())
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// One of: collector, recipe-processor, forecaster, planner, applier.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(SERVICES))]
    pub service: String,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The operator's allow-list, handed to the services that act on the outside world (the
    /// applier and the collector): which commands hooks may run, which paths they may write,
    /// which URLs hooks, probes and scrapes may reach. The other services have no use for it.
    #[arg(long, env = "PRESAGE_ALLOW")]
    pub allow: Option<PathBuf>,
    /// Node-local mode, for the collector and the applier: serve only the apps a template
    /// places on this node (`placement: { nodes: [...] }`); the collector stamps `node=NAME`
    /// on every sample, the applier consumes in its own group. Passed to the service as
    /// `--node NAME`.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
}

/// The services that take an allow-list.
const GRANTED_SERVICES: [&str; 2] = ["applier", "collector"];

/// The binary of a service: beside this executable (cargo builds and images put them together),
/// else on PATH.
pub fn service_binary(service: &str) -> anyhow::Result<PathBuf> {
    let name = format!("presage-{service}");
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return Ok(path);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        if let Some(found) = std::env::split_paths(&paths)
            .map(|d| d.join(&name))
            .find(|p| p.is_file())
        {
            return Ok(found);
        }
    }
    bail!("cannot find {name} beside {:?} or on PATH (build it with `cargo build --workspace --bins`)", std::env::current_exe().ok())
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;

    let binary = service_binary(&args.service)?;
    // Become the service (exec), so SIGTERM from a terminal, a supervisor or `docker stop`
    // reaches it directly and it can commit its offsets on the way out.
    let mut command = std::process::Command::new(&binary);
    command.kafka(&args.kafka);
    if let Some(allow) = &args.allow {
        if GRANTED_SERVICES.contains(&args.service.as_str()) {
            command.arg("--allow").arg(allow);
        }
    }
    if let Some(node) = &args.node {
        if !GRANTED_SERVICES.contains(&args.service.as_str()) {
            bail!(
                "--node is for the collector and the applier, not the {}",
                args.service
            );
        }
        command.arg("--node").arg(node);
    }
    let err = command.exec();
    Err(err).with_context(|| format!("running {}", binary.display()))
}
