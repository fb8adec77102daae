//! presage-forecaster: the thin Kafka shell around the forecaster core.
//! Reads `presage.metrics.derived`, writes `presage.forecasts`.
//!
//! History belongs to partitions. Before its first record of a partition, or at once when the
//! partition has none to read (on start, or when a rebalance hands it one), the stage reads that partition's recent past from
//! `presage.metrics.derived`: the templates' history span before the offset it resumes from,
//! taken in with [`Forecaster::remember`]. It then forecasts as if it had always owned the
//! partition. A partition taken away drops its apps' series.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use clap::Parser;
use presage_events::{decode, DerivedMetric};
use presage_forecaster::Forecaster;
use presage_runner::patience::Backoff;
use presage_runner::{
    read_partition_history, run_stage, KafkaArgs, LoadedTemplate, Origin, Outgoing, Shutdown,
    Stage, StageError, Topics,
};

/// Fits the template's models to derived metrics and publishes forecasts with intervals.
#[derive(Debug, Parser)]
#[command(name = "presage-forecaster", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    metrics: presage_runner::MetricsArgs,
}

/// The stage's name: its consumer group is `presage-forecaster`.
const STAGE: &str = "forecaster";

struct ForecasterStage {
    core: Forecaster,
    topics: Topics,
    kafka: KafkaArgs,
    /// The apps seen on each partition held, to forget when it is revoked.
    apps: HashMap<i32, BTreeSet<String>>,
}

impl ForecasterStage {
    /// Reads `partition`'s history before `resume_offset` into the core, waiting for the
    /// broker if it is away: forecasting without it would publish other contents under ids
    /// already published.
    fn rebuild(&mut self, partition: i32, resume_offset: i64) {
        let started = Instant::now();
        let span_ms = self.core.history_span_ms();
        let topic = self.topics.derived();
        let mut backoff = Backoff::for_broker();
        loop {
            let mut undecodable = 0u64;
            let mut apps = BTreeSet::new();
            let core = &mut self.core;
            let result = read_partition_history(
                &self.kafka,
                &topic,
                partition,
                resume_offset,
                span_ms,
                |payload| {
                    // An undecodable record went to the dead-letter topic when it was first read.
                    match decode::<DerivedMetric>(payload) {
                        Ok(derived) => {
                            if !apps.contains(&derived.app) {
                                apps.insert(derived.app.clone());
                            }
                            core.remember(&derived);
                        }
                        Err(_) => undecodable += 1,
                    }
                },
            );
            match result {
                Ok(read) => {
                    tracing::info!(%topic, partition, span_ms, records = read.records, undecodable, apps = apps.len(), series = self.core.series_count(), groups_refused = self.core.groups_refused(), ranges = %read, elapsed_ms = started.elapsed().as_millis() as u64, "history rebuilt");
                    self.apps.entry(partition).or_default().extend(apps);
                    return;
                }
                Err(err) => {
                    // What a failed read took in is dropped before the next try.
                    self.core.forget_apps(apps.iter().map(String::as_str));
                    let delay = backoff.next_delay();
                    tracing::warn!(%topic, partition, error = %format!("{err:#}"), retry_in_ms = delay.as_millis() as u64, "reading history failed; retrying");
                    std::thread::sleep(delay);
                }
            }
        }
    }
}

impl Stage for ForecasterStage {
    type Input = DerivedMetric;

    fn name(&self) -> &'static str {
        STAGE
    }

    fn input_topic(&self) -> String {
        self.topics.derived()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.core
            .set_template(&loaded.version, loaded.template.clone());
    }

    fn on_event(&mut self, derived: DerivedMetric) -> Result<Vec<Outgoing>, StageError> {
        // History is kept by time back from its newest point: one window stamped far ahead
        // would push every real point out of it.
        let now = presage_runner::dlq::now_ms();
        if let Some(ahead) = presage_events::time::too_far_ahead(derived.window_end_ms, now) {
            return Err(StageError::new(presage_events::time::ahead_reason(
                "window ending at",
                derived.window_end_ms,
                ahead,
            )));
        }
        let refits_before = self.core.refits();
        let started = std::time::Instant::now();
        let forecasts = self.core.on_derived(&derived);
        record_refits(self.core.refits() - refits_before, started.elapsed());
        let forecasts = forecasts.map_err(|e| StageError::new(e.to_string()))?;
        forecasts
            .iter()
            .map(|forecast| {
                tracing::debug!(app = %forecast.app, metric = %forecast.metric, model = %forecast.model, "forecast");
                Outgoing::event(self.topics.forecasts(), forecast).map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }

    fn on_event_at(
        &mut self,
        derived: DerivedMetric,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        let apps = self.apps.entry(at.partition).or_default();
        if !apps.contains(&derived.app) {
            apps.insert(derived.app.clone());
        }
        self.on_event(derived)
    }

    fn restore(&mut self, partition: i32, _metadata: &str, resume_offset: i64) {
        self.rebuild(partition, resume_offset);
    }

    fn forget(&mut self, partition: i32) {
        let apps = self.apps.remove(&partition).unwrap_or_default();
        tracing::info!(
            partition,
            apps = apps.len(),
            "partition revoked: its series dropped"
        );
        self.core.forget_apps(apps.iter().map(String::as_str));
    }
}

/// Refits of one input, and their duration: an input refits at most a few series (its own
/// app's), so the input's time is shared evenly between them.
fn record_refits(refits: u64, took: std::time::Duration) {
    if refits == 0 {
        return;
    }
    let metrics = &presage_runner::telemetry().metrics;
    let none = presage_runner::telemetry::Labels::new();
    metrics.refits.get_or_create(&none).inc_by(refits);
    let each = took.as_secs_f64() / refits as f64;
    let histogram = metrics.refit_seconds.get_or_create(&none);
    for _ in 0..refits {
        histogram.observe(each);
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    args.metrics.start("forecaster")?;
    let shutdown = Shutdown::on_signals()?;
    let stage = ForecasterStage {
        core: Forecaster::new(),
        topics: args.kafka.topics(),
        kafka: args.kafka.clone(),
        apps: HashMap::new(),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
