//! The `presage` command line: validate templates, create topics, publish templates, follow
//! directives (`tail`) and trace one back to its inputs (`explain`), backtest policies on
//! recorded samples (`backtest`), run one service or the whole stack (with a local broker when no `--brokers` is given),
//! and watch it live in a browser (`dashboard`, also served by `up`); its own shell completions
//! and man pages (`completions`, `man`).

pub mod backtest;
pub mod check;
pub mod commands;
pub mod completions;
pub mod dashboard;
pub mod demo;
pub mod examples;
pub mod explain;
pub mod man;
pub mod rfc3339;
pub mod scan;
pub mod supervisor;
pub mod tail;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use commands::SERVICES;

#[derive(Debug, Parser)]
#[command(
    name = "presage",
    version,
    about = "Predictive, Kafka-native resource orchestration",
    after_help = examples::PRESAGE
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check templates; every mistake is printed as file:line:column: message.
    #[command(after_help = examples::VALIDATE)]
    Validate(commands::ValidateArgs),
    /// Show, per recipe, the SQL that runs and DataFusion's optimized plan for it.
    #[command(after_help = examples::COMPILE)]
    Compile(check::CompileArgs),
    /// Manage the topology's topics.
    #[command(subcommand)]
    Topics(commands::TopicsCommand),
    /// Publish templates to the compacted templates topic.
    #[command(subcommand)]
    Templates(commands::TemplatesCommand),
    /// Run one service in the foreground.
    #[command(after_help = examples::RUN)]
    Run(commands::RunArgs),
    /// Run the whole stack: broker (unless --brokers), topics, templates, five services.
    Up(supervisor::UpArgs),
    /// Serve a Prometheus page whose values replay a demand trace (the demo workload).
    DemoWorkload(demo::DemoArgs),
    /// Follow a topic as it is written, one line per event, until Ctrl-C.
    #[command(subcommand, after_help = examples::TAIL)]
    Tail(tail::TailCommand),
    /// Trace a directive back: policy rule, forecast, derived windows, raw offsets, template.
    #[command(after_help = examples::EXPLAIN)]
    Explain(explain::ExplainArgs),
    /// Serve the live web dashboard for a cluster: every app's observed metric, forecast band
    /// and target, recent directives with their outcomes and explain chains, dead letters.
    Dashboard(dashboard::DashboardArgs),
    /// Replay recorded samples through the recipe, forecaster and planner cores and score every
    /// policy against a reactive baseline and a perfect-foresight oracle.
    #[command(after_help = examples::BACKTEST)]
    Backtest(backtest::BacktestArgs),
    /// Print the shell completion script of presage (bash, zsh, fish, elvish or powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page of presage, or write one page per subcommand into a directory.
    Man(man::ManArgs),
}

/// The clap definition, for tests that check docs and docker-compose against the CLI.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    presage_runner::logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => return commands::validate(&args),
        Command::Backtest(args) => return backtest::backtest(&args),
        Command::Compile(args) => return check::compile(&args),
        Command::Topics(command) => commands::topics(command),
        Command::Templates(command) => commands::templates(command),
        Command::Run(args) => commands::run(&args),
        Command::Up(args) => supervisor::up(&args),
        Command::DemoWorkload(args) => demo::serve_forever(&args),
        Command::Tail(command) => tail::tail(command),
        Command::Explain(args) => explain::explain(&args),
        Command::Dashboard(args) => dashboard::dashboard(&args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => man::man_command(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
