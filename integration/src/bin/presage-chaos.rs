//! `presage-chaos`: the chaos suite (see `presage_integration::chaos`). `cargo xtask chaos`
//! builds the services and runs it; it exits 1 if anything was lost, duplicated, conflicting
//! or wrong.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use presage_integration::chaos::{self, report, Options};

#[derive(Debug, Parser)]
#[command(name = "presage-chaos")]
struct Args {
    /// Minutes of load (faults are injected during it); the drain comes after.
    #[arg(long, default_value_t = 3.0)]
    minutes: f64,
    /// The seed of the fault schedule: the same seed gives the same schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Applications replayed from ../shared/data.
    #[arg(long, default_value_t = 20)]
    apps: usize,
    /// Seconds the broker is away.
    #[arg(long, default_value_t = 60)]
    outage: u64,
    /// SIGKILLs of each service.
    #[arg(long, default_value_t = 3)]
    kills: usize,
    /// Where the broker's data, the logs, the configs and report.json go.
    #[arg(long, default_value = "var/chaos")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let options = Options {
        load: Duration::from_secs_f64(args.minutes * 60.0),
        seed: args.seed,
        apps: args.apps,
        outage: Duration::from_secs(args.outage),
        kills_each: args.kills,
        out: args.out,
        bin_dir,
    };
    let outcome = chaos::run(&options)?;
    let json = report::to_json(&options, &outcome);
    let path = chaos::report_path(&options.out);
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    print!("{}", report::table(&options, &outcome));
    println!("report: {}", path.display());
    std::process::exit(if outcome.ok() { 0 } else { 1 });
}
