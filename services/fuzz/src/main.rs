//! `presage-fuzz [--cases N] [--target NAME] [--seed S] [--list]`: runs fuzz targets and prints,
//! per target, the cases run, failures, the largest allocation of one case and the time.
//! Exits 1 when any case failed. Run through `cargo xtask fuzz`.

use std::process::exit;
use std::time::Duration;

use presage_fuzz::{alloc, harness, targets, Limits};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

struct Args {
    cases: u64,
    target: Option<String>,
    seed: u64,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        cases: 1_000,
        target: None,
        seed: 13,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--cases" => {
                let v = value("--cases")?;
                args.cases = v
                    .parse()
                    .map_err(|_| format!("--cases {v}: expected a number"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                args.seed = v
                    .parse()
                    .map_err(|_| format!("--seed {v}: expected a number"))?;
            }
            "--target" => args.target = Some(value("--target")?),
            "--list" => args.list = true,
            other => {
                return Err(format!(
                "unknown argument {other}: expected --cases N, --target NAME, --seed S or --list"
            ))
            }
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("presage-fuzz: {message}");
            exit(2);
        }
    };
    let chosen: Vec<targets::Target> = match &args.target {
        None => targets::all(),
        Some(name) => match targets::by_name(name) {
            Some(t) => vec![t],
            None => {
                let names: Vec<&str> = targets::all().iter().map(|t| t.name).collect();
                eprintln!(
                    "presage-fuzz: no target {name}: expected one of {}",
                    names.join(", ")
                );
                exit(2);
            }
        },
    };
    if args.list {
        for t in &chosen {
            println!("{:<24} {}", t.name, t.reads);
        }
        return;
    }
    // Panics are caught and reported per case; the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));
    let limits = Limits::default();
    println!(
        "seed {}, {} cases per target, limits per case: {:?}, {} MiB held beyond the input",
        args.seed,
        args.cases,
        limits.time_limit,
        limits.alloc_limit >> 20
    );
    println!(
        "{:<24} {:>8} {:>8} {:>12} {:>10} {:>9}",
        "target", "cases", "failed", "peak alloc", "slowest", "time"
    );
    let mut failed = 0;
    for target in &chosen {
        let report = harness::run(target, args.cases, args.seed, limits);
        println!(
            "{:<24} {:>8} {:>8} {:>12} {:>10} {:>9}",
            report.target,
            report.cases,
            report.failures.len(),
            bytes(report.peak_alloc),
            millis(report.slowest),
            millis(report.elapsed)
        );
        for f in report.failures.iter().take(5) {
            println!(
                "    case {} (--seed {}): {}\n      input: {}",
                f.case, args.seed, f.what, f.input
            );
        }
        failed += report.failures.len();
    }
    if !alloc::installed() {
        println!("(the counting allocator is not installed: peak allocation not measured)");
    }
    if failed > 0 {
        println!("{failed} failing cases");
        exit(1);
    }
}

fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
