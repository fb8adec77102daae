//! presage-collector: reads every source of every published template on its interval and
//! publishes raw samples to `presage.metrics.raw`. The I/O (HTTP, /proc) lives here; parsing and
//! scheduling live in the core.
//!
//! Samples go through an on-disk spool: the reading loop appends each batch (durably) and a
//! sender thread drains the spool to Kafka in order. A broker that is away, at start or later,
//! is waited for; reading goes on meanwhile, and the backlog is sent when the broker is back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use presage_collector::failures::{FailureLog, Line};
use presage_collector::readers::Readers;
use presage_collector::refusals::{self, Ungranted, DEFAULT_MAX_SCRAPE_SERIES};
use presage_collector::sender::Sender;
use presage_collector::settings::SpoolArgs;
use presage_collector::spool::{Limits, Spool};
use presage_collector::{
    spooled, stamp_node, to_raw_samples, watch, Refusal, Schedule, SourceReader,
};
use presage_runner::patience::retry_until;
use presage_runner::templates::TemplateFeed;
use presage_runner::{KafkaArgs, Outgoing, Shutdown, TemplateBook};
use presage_template::authority::{Allow, ALLOW_ENV};

/// Gathers host, application and external signals and publishes them as Avro events.
#[derive(Debug, Parser)]
#[command(name = "presage-collector", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    metrics: presage_runner::MetricsArgs,
    #[command(flatten)]
    spool: SpoolArgs,
    /// The operator's allow-list (YAML; its `urls` are what prometheus, http_probe, promql,
    /// json_http and ics sources may reach, its `paths` the files ics and cgroup sources read).
    /// Read from this process's settings only, never from the templates topic; without it no
    /// URL source is read (each is dead-lettered as `not_granted`).
    #[arg(long, env = ALLOW_ENV, value_name = "FILE")]
    allow: Option<PathBuf>,
    /// A Prometheus page with more series than this is refused whole (dead letter
    /// `scrape_too_large`), so one page cannot flood the pipeline.
    #[arg(long, env = "PRESAGE_COLLECTOR_MAX_SCRAPE_SERIES", default_value_t = DEFAULT_MAX_SCRAPE_SERIES)]
    max_scrape_series: usize,
    /// Node-local mode: read only the sources of apps placed on this node (`placement: { nodes:
    /// [...] }`) and stamp `node=NAME` on every sample. Without it, the apps with no placement.
    #[arg(long, env = "PRESAGE_NODE", value_name = "NAME", value_parser = node_name)]
    node: Option<String>,
}

fn node_name(name: &str) -> Result<String, String> {
    presage_template::placement::is_node_name(name)
        .then(|| name.to_string())
        .ok_or_else(|| {
            format!("{name:?} is not a node name: expected lowercase letters, digits, '-' or '.'")
        })
}

fn load_allow(path: Option<&Path>) -> anyhow::Result<Allow> {
    match path {
        Some(path) => {
            let allow = Allow::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(allow = %path.display(), "allow-list read");
            Ok(allow)
        }
        None => {
            tracing::warn!(
                "no allow-list given: no URL source (prometheus, http_probe, promql, json_http, ics) \
                 will be read (each is dead-lettered as not_granted); grant URLs with --allow \
                 FILE or {ALLOW_ENV}=FILE"
            );
            Ok(Allow::none())
        }
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    args.metrics.start("collector")?;
    args.kafka.check_settings()?;
    let shutdown = Shutdown::on_signals()?;
    let topic = args.kafka.topics().raw();

    let dir = args.spool.dir();
    let (spool, opened) = Spool::open(&dir, Limits::new(args.spool.spool_max_bytes))
        .with_context(|| format!("opening the spool in {}", dir.display()))?;
    tracing::info!(dir = %dir.display(), pending = opened.pending, segments = opened.segments, max_bytes = args.spool.spool_max_bytes, "spool open");
    if opened.torn_bytes > 0 {
        tracing::warn!(
            torn_bytes = opened.torn_bytes,
            "truncated a record torn by a crash (it was never acknowledged to the reading loop)"
        );
    }
    if let Some(problem) = &opened.state_lost {
        tracing::warn!(problem = %problem, "spool state unreadable: every spooled sample is sent again, and drops not yet reported are lost");
    }
    watch::spool(&spool);
    let health = presage_runner::telemetry().health.register("collector");
    let spool = Arc::new(Mutex::new(spool));
    // The sender starts first: what an earlier run spooled goes out as soon as the broker answers,
    // whether or not the templates have been read yet.
    let sender = Sender {
        spool: spool.clone(),
        kafka: args.kafka.clone(),
        shutdown: shutdown.clone(),
    };
    let sender = std::thread::Builder::new()
        .name("spool-sender".into())
        .spawn(move || sender.run())?;

    // A collector started before its broker waits for it, rather than exiting.
    let started = retry_until("reading the templates topic", &shutdown, || {
        let feed = TemplateFeed::open(&args.kafka, "collector")?;
        let mut book = TemplateBook::default();
        feed.read_to_end(&mut book)?;
        Ok((feed, book))
    });
    let (feed, mut book) = match started {
        Ok(started) => started,
        Err(interrupted) => {
            tracing::info!(reason = %interrupted, "stopped before the broker answered");
            return stop(sender);
        }
    };
    // The collector has no consumer group: it is ready once it has the templates (and so the
    // broker answered); what it cannot send meanwhile waits in the spool.
    health.templates_loaded();
    health.joined();
    let allow = load_allow(args.allow.as_deref())?;
    let mut schedule = Schedule::default();
    let mut reader =
        Readers::new(allow.clone(), args.max_scrape_series).with_lag(args.kafka.clone());
    let mut ungranted = Ungranted::default();
    let mut failures = FailureLog::default();
    let topics = args.kafka.topics();
    let (dlq, templates_topic) = (topics.dlq(), topics.templates());
    let scope = presage_template::NodeScope::of(args.node.as_deref());
    tracing::info!(templates = book.len(), topic = %topic, node = ?args.node, "collector starting");

    while !shutdown.requested() {
        if sender.is_finished() {
            return stop(sender);
        }
        feed.poll_new(&mut book);
        let now = presage_runner::dlq::now_ms();
        let mut records = Vec::new();
        let mut letters = Vec::new();
        for loaded in book.all() {
            let template = &loaded.template;
            if !scope.serves(template) {
                continue;
            }
            let skipped = ungranted.of(
                template,
                &loaded.version,
                &allow,
                &templates_topic,
                now,
                &mut letters,
            );
            for source in schedule.due(&template.app, &template.dynamic_metadata.sources, now) {
                if skipped.contains(&source.id) {
                    continue;
                }
                let read = reader.read_in(source, template.zone(), now);
                count_read(source.kind.as_str(), &read);
                let mut readings = match read {
                    Ok(readings) => {
                        if let Some(Line::Recovered { failures }) =
                            failures.read(&template.app, &source.id)
                        {
                            tracing::info!(app = %template.app, source = %source.id, failures, "source reads again");
                        }
                        readings
                    }
                    Err(err) => {
                        if let Some(Refusal::TooManySeries { series, max }) = err.refusal {
                            let letter = refusals::scrape_too_large(
                                &template.app,
                                &loaded.version,
                                &source.id,
                                series,
                                max,
                                &topic,
                                now,
                            );
                            letters.push(letter);
                        }
                        if let Some(Line::Failed { suppressed }) =
                            failures.failed(&template.app, &source.id, now)
                        {
                            tracing::warn!(app = %template.app, source = %source.id, error = %err, suppressed, "source read failed (logged at most once a minute per source)");
                        }
                        continue;
                    }
                };
                if let Some(node) = &args.node {
                    stamp_node(&mut readings, node);
                }
                for sample in to_raw_samples(&template.app, &loaded.version, &source.id, readings) {
                    // Stamped with the sample's event time: `presage backtest --from --to`
                    // finds a time range of the raw topic by record timestamp.
                    let record = Outgoing::event(topic.clone(), &sample)?.at(sample.event_time_ms);
                    records.push(spooled::encode(&record));
                }
            }
        }
        // Dead letters wait in the spool with the samples: sent once the broker acknowledges.
        for letter in &letters {
            records.push(spooled::encode(&Outgoing::event(dlq.clone(), letter)?));
        }
        if !records.is_empty() {
            spool_batch(&spool, &records, now);
        }
        shutdown.sleep(Duration::from_millis(50));
    }
    stop(sender)
}

/// Appends one batch; a full spool's drops and a failing disk are logged with their counts.
fn spool_batch(spool: &Mutex<Spool>, records: &[Vec<u8>], now: i64) {
    let mut spool = spool
        .lock()
        .expect("the spool lock (a thread panicked holding it)");
    let appended = spool.append(records, now);
    if let Ok(dropped) = &appended {
        watch::dropped(dropped);
    }
    match appended {
        Ok(dropped) if dropped.records > 0 => tracing::warn!(
            dropped_records = dropped.records,
            dropped_bytes = dropped.bytes,
            unreported = spool.unreported(),
            max_bytes = spool.limits().max_bytes,
            pending = spool.pending(),
            "spool full: dropped the oldest unsent samples (reported to the dead-letter topic when the broker is back)"
        ),
        Ok(_) => tracing::debug!(samples = records.len(), pending = spool.pending(), "spooled"),
        Err(err) => tracing::error!(samples = records.len(), error = %err, "could not spool samples: they are lost"),
    }
    watch::spool(&spool);
}

/// One source read, by its kind and result: `ok`, `refused` (a page past the series bound) or
/// `failed`.
fn count_read<T>(kind: &str, read: &Result<T, presage_collector::SourceError>) {
    let result = match read {
        Ok(_) => "ok",
        Err(err) if err.refusal.is_some() => "refused",
        Err(_) => "failed",
    };
    presage_runner::telemetry()
        .metrics
        .source_reads
        .get_or_create(&presage_runner::telemetry::labels([
            ("kind", kind),
            ("result", result),
        ]))
        .inc();
}

/// Waits for the sender (it stops at the shutdown flag, or has failed) and passes on its error.
fn stop(sender: std::thread::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    match sender.join() {
        Ok(result) => result.context("the spool sender failed"),
        Err(_) => anyhow::bail!("the spool sender panicked"),
    }
}
