//! presage-forecaster: the thin Kafka shell around the forecaster core.
//! Reads `presage.metrics.derived`, writes `presage.forecasts`.

use std::time::Instant;

use clap::Parser;
use presage_events::{decode, DerivedMetric};
use presage_forecaster::Forecaster;
use presage_runner::templates::TemplateFeed;
use presage_runner::{
    read_history, run_stage, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError,
    TemplateBook, Topics,
};

/// Fits the template's models to derived metrics and publishes forecasts with intervals.
#[derive(Debug, Parser)]
#[command(name = "presage-forecaster", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

/// The stage's name: its consumer group is `presage-forecaster`.
const STAGE: &str = "forecaster";

struct ForecasterStage {
    core: Forecaster,
    topics: Topics,
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
        let forecasts = self
            .core
            .on_derived(&derived)
            .map_err(|e| StageError::new(e.to_string()))?;
        forecasts
            .iter()
            .map(|forecast| {
                tracing::debug!(app = %forecast.app, metric = %forecast.metric, model = %forecast.model, "forecast");
                Outgoing::event(self.topics.forecasts(), forecast).map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }
}

/// The core with its history rebuilt from `presage.metrics.derived`: for every partition the
/// forecaster's group has committed, the records of the templates' history span before the
/// committed offset, taken in with [`Forecaster::remember`]. The stage then resumes at the
/// committed offset and forecasts as if it had never stopped.
fn warmed_core(kafka: &KafkaArgs, stage_name: &str) -> anyhow::Result<Forecaster> {
    let started = Instant::now();
    let mut core = Forecaster::new();
    let mut book = TemplateBook::default();
    TemplateFeed::open(kafka, stage_name)?.read_to_end(&mut book)?;
    for loaded in book.all() {
        core.set_template(&loaded.version, loaded.template.clone());
    }
    let span_ms = core.history_span_ms();
    let topic = kafka.topics().derived();
    let group = format!("presage-{stage_name}");
    let mut undecodable = 0u64;
    let read = read_history(kafka, &topic, &group, span_ms, |payload| {
        // An undecodable record went to the dead-letter topic when it was first read.
        match decode::<DerivedMetric>(payload) {
            Ok(derived) => core.remember(&derived),
            Err(_) => undecodable += 1,
        }
    })?;
    tracing::info!(
        %topic,
        templates = book.len(),
        span_ms,
        records = read.records,
        undecodable,
        partitions = read.partitions(),
        ranges = %read,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "history rebuilt"
    );
    Ok(core)
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let stage = ForecasterStage {
        core: warmed_core(&args.kafka, STAGE)?,
        topics: args.kafka.topics(),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
