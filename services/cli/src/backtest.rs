//! `presage backtest`: replay recorded samples (a CSV trace, or `presage.metrics.raw` over a
//! time range) through the live cores, score every policy against the reactive baseline and the
//! oracle, print the scorecard, write the JSON result and the HTML report, and fail when a
//! policy misses the `--max-*` limits.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use presage_backtest::thresholds::{parse_percent, unscored, violations, Limits};
use presage_backtest::{assign, run_at_slo, Options, Progress, TemplateSet, Trace};
use presage_events::{decode, RawSample};
use presage_runner::KafkaArgs;

use crate::rfc3339::rfc3339;

mod prometheus;

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// The template whose policies are backtested (its live policies make the scorecard's rows).
    #[arg(long)]
    pub template: PathBuf,
    /// More templates replayed over the same samples and scored beside it (repeatable).
    #[arg(long)]
    pub compare: Vec<PathBuf>,
    /// A CSV trace, `timestamp,app,metric,value` (the long format of ../shared/data).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub trace: Option<PathBuf>,
    /// With --to: read presage.metrics.raw from --brokers over [FROM, TO) (RFC 3339 or a date).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// With --from and --to: read each template's `promql` sources from this Prometheus server
    /// (`http://prometheus:9090`) with query_range, one point per source's `every`, instead of
    /// presage.metrics.raw.
    #[arg(long, requires = "from", value_name = "URL")]
    pub prometheus: Option<String>,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The first stretch only feeds history; scores cover the rest (e.g. `14d`).
    #[arg(long, default_value = "0s")]
    pub warmup: presage_template::Duration,
    /// Threads to replay apps on (default: one per core); the result does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the JSON result goes.
    #[arg(long, default_value = "var/backtest/backtest.json")]
    pub json: PathBuf,
    /// Where the HTML report goes (self-contained: opens without network access).
    #[arg(long, default_value = "var/backtest/backtest.html")]
    pub html: PathBuf,
    /// Fail (exit 1) when a live policy of --template is under-provisioned more of the time,
    /// e.g. `0.5%` (compared templates and shadow policies are not held to it).
    #[arg(long, value_parser = parse_percent)]
    pub max_under_provisioned: Option<f64>,
    /// Fail (exit 1) when a live policy of --template leaves more of its capacity unused, e.g.
    /// `30%`.
    #[arg(long, value_parser = parse_percent)]
    pub max_slack: Option<f64>,
    /// Find each contender's cheapest setting whose under-provisioned time is at most this,
    /// e.g. `0.5%`: the policy's quantile (`use`), the reactive baseline's headroom, both for
    /// the two combined; the scorecard, the JSON (`frontier`) and the HTML report show them.
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub slo: Option<f64>,
}

pub fn backtest(args: &BacktestArgs) -> ExitCode {
    match run_backtest(args) {
        Ok(failures) if failures.is_empty() => ExitCode::SUCCESS,
        Ok(failures) => {
            for failure in &failures {
                eprintln!("FAIL {failure}");
            }
            eprintln!("{} limit(s) missed", failures.len());
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the backtest and writes its outputs; returns the limits a policy missed.
fn run_backtest(args: &BacktestArgs) -> anyhow::Result<Vec<String>> {
    let (trace, source) = read_samples(args)?;
    if trace.samples.is_empty() {
        bail!("{source}: no samples");
    }
    let mut sets = Vec::new();
    for path in std::iter::once(&args.template).chain(&args.compare) {
        sets.push(template_set(path, &trace.apps)?);
    }
    for set in &sets {
        let apps: Vec<&str> = set.templates.iter().map(|t| t.app.as_str()).collect();
        eprintln!("{}: apps {}", set.name, apps.join(", "));
        let shared = set
            .templates
            .iter()
            .any(|t| sets[0].templates.iter().any(|first| first.app == t.app));
        if !shared {
            eprintln!(
                "warning: {} covers none of {}'s apps: it has nothing to be compared with",
                set.name, sets[0].name
            );
        }
    }
    let options = Options {
        warmup_ms: args.warmup.as_millis_i64(),
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let mut bar = ProgressBar::new(sets.len());
    let report = run_at_slo(&sets, &trace, &source, options, args.slo, &mut |p| {
        bar.show(p)
    })?;
    bar.finish();

    print!("{}", presage_backtest::table::render_table(&report));
    println!(
        "replayed {} samples × {} template set(s) in {:.2} s: {:.0} samples/s; scored {} → {}",
        report.samples,
        sets.len(),
        report.elapsed_ms as f64 / 1000.0,
        report.samples_per_second,
        rfc3339(report.scored_from_ms),
        rfc3339(report.scored_to_ms.max(report.scored_from_ms)),
    );
    println!(
        "{} derived windows, {} forecasts, {} directives; {} inputs a live stage would have \
         dead-lettered (late or refused samples, windows not forecast)",
        report.derived,
        report.forecasts,
        report.directives.len(),
        report.dead_letters
    );
    let busy = report.busy_seconds;
    println!(
        "time in the cores (CPU s): recipes {:.2}, forecaster {:.2}, planner {:.2}",
        busy.recipes, busy.forecaster, busy.planner
    );
    // Compact: a year of 15-minute windows is tens of megabytes pretty-printed.
    write_file(&args.json, &serde_json::to_vec(&report)?)?;
    write_file(
        &args.html,
        presage_backtest::html::render_html(&report).as_bytes(),
    )?;
    println!("wrote {} and {}", args.json.display(), args.html.display());
    let unscored = unscored(&report);
    if !unscored.is_empty() {
        bail!("nothing to score:\n  {}", unscored.join("\n  "));
    }
    Ok(violations(
        &report,
        Limits {
            max_under_provisioned_pct: args.max_under_provisioned,
            max_slack_pct: args.max_slack,
        },
    ))
}

fn read_samples(args: &BacktestArgs) -> anyhow::Result<(Trace, String)> {
    if let Some(path) = &args.trace {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open the trace {}", path.display()))?;
        let name = path.display().to_string();
        let trace = presage_backtest::read_csv(std::io::BufReader::new(file), &name)?;
        return Ok((trace, name));
    }
    let (Some(from), Some(to)) = (&args.from, &args.to) else {
        bail!("give either --trace FILE or --from TIME --to TIME (with --brokers)");
    };
    let from_ms = parse_time(from)?;
    let to_ms = parse_time(to)?;
    if to_ms <= from_ms {
        bail!("--to {to} is not after --from {from}");
    }
    if let Some(base) = &args.prometheus {
        return read_prometheus(args, base, from_ms, to_ms);
    }
    let topic = args.kafka.topics().raw();
    let mut samples: Vec<RawSample> = Vec::new();
    let mut undecodable = 0u64;
    let read = presage_runner::range::read_time_range(
        &args.kafka,
        &topic,
        from_ms,
        to_ms,
        |_, _, payload| match decode::<RawSample>(payload) {
            Ok(sample) if (from_ms..to_ms).contains(&sample.event_time_ms) => samples.push(sample),
            Ok(_) => {}
            Err(_) => undecodable += 1,
        },
    )?;
    eprintln!(
        "read {} records of {topic} ({read}); {} samples in range, {undecodable} undecodable",
        read.records,
        samples.len()
    );
    let source = format!("kafka:{topic} [{}, {})", rfc3339(from_ms), rfc3339(to_ms));
    Ok((Trace::from_samples(samples), source))
}

/// The templates' `promql` sources over [from, to) from the Prometheus server at `base`.
fn read_prometheus(
    args: &BacktestArgs,
    base: &str,
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<(Trace, String)> {
    let mut templates = Vec::new();
    for path in std::iter::once(&args.template).chain(&args.compare) {
        templates.push(
            crate::check::check_file(path)
                .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?,
        );
    }
    let read = prometheus::read_history(base, &templates, from_ms, to_ms)?;
    let shown = presage_events::redact_url(base);
    eprintln!(
        "read {} samples of {} promql source(s) from {shown} in {} request(s)",
        read.samples.len(),
        read.sources,
        read.requests
    );
    let source = format!(
        "prometheus:{shown} [{}, {})",
        rfc3339(from_ms),
        rfc3339(to_ms)
    );
    Ok((Trace::from_samples(read.samples), source))
}

fn parse_time(text: &str) -> anyhow::Result<i64> {
    presage_template::calendar::parse_timestamp(text)
        .or_else(|| presage_template::calendar::parse_date(text))
        .with_context(|| {
            format!(
                "`{text}` is not an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)"
            )
        })
}

/// A template file as the live services know it: checked as `presage validate` checks it
/// (every mistake as `file:line:column`, recipes planned), versioned by its text, and given to
/// each app of the trace it covers.
fn template_set(path: &Path, trace_apps: &[String]) -> anyhow::Result<TemplateSet> {
    let template = crate::check::check_file(path)
        .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the template {}", path.display()))?;
    Ok(TemplateSet {
        version: presage_template::version_of(&text),
        templates: assign(&template, trace_apps),
        name: path.display().to_string(),
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// A one-line bar on a terminal, redrawn at most ten times a second; elsewhere (CI logs) a line
/// every quarter.
struct ProgressBar {
    sets: usize,
    started: Instant,
    drawn: Option<Instant>,
    quarter: u64,
    terminal: bool,
}

impl ProgressBar {
    fn new(sets: usize) -> Self {
        Self {
            sets,
            started: Instant::now(),
            drawn: None,
            quarter: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, p: Progress) {
        let fraction = p.done as f64 / p.total.max(1) as f64;
        let rate = p.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        if self.terminal {
            if self
                .drawn
                .is_some_and(|at| at.elapsed() < Duration::from_millis(100))
            {
                return;
            }
            self.drawn = Some(Instant::now());
            let filled = (fraction * 30.0).round() as usize;
            eprint!(
                "\r[{}{}] {:>3.0}%  template {}/{}  {:.0} samples/s ",
                "#".repeat(filled),
                ".".repeat(30 - filled.min(30)),
                fraction * 100.0,
                p.set + 1,
                self.sets,
                rate
            );
            let _ = std::io::stderr().flush();
        } else {
            let quarter = (fraction * 4.0).floor() as u64;
            if quarter > self.quarter && quarter < 4 {
                self.quarter = quarter;
                eprintln!("replayed {:.0}% ({:.0} samples/s)", fraction * 100.0, rate);
            }
        }
    }

    fn finish(&self) {
        if self.terminal && self.drawn.is_some() {
            eprintln!();
        }
    }
}
