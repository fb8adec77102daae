//! presage-recipe-processor: the thin Kafka shell around the recipe core.
//! Reads `presage.metrics.raw`; writes `presage.metrics.derived` and `presage.metadata.fragments`;
//! late samples go to `presage.dlq` marked `late`; refused ones (not finite, labels or series
//! past the limits, event time ahead of the clock) each with their own kind.

use clap::Parser;
use presage_events::RawSample;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use presage_recipe_processor::{Limits, Position, RecipeOutput, RecipeProcessor, Refusal};
use presage_runner::dlq::{dead_letter, now_ms};
use presage_runner::{
    run_stage, Checkpoint, DeadKind, KafkaArgs, LoadedTemplate, Origin, Outgoing, Shutdown, Stage,
    StageError, Topics,
};

/// Compiles the template's metric recipes to DataFusion SQL and runs them over event-time windows.
#[derive(Debug, Parser)]
#[command(name = "presage-recipe-processor", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    metrics: presage_runner::MetricsArgs,
    /// Distinct series one app may have in its open windows, over all its recipes; samples of
    /// further series are dead-lettered (`series_limit`).
    #[arg(long, env = "PRESAGE_MAX_SERIES_PER_APP", default_value_t = Limits::default().series_per_app)]
    max_series_per_app: usize,
    /// Distinct series feeding one recipe of one app.
    #[arg(long, env = "PRESAGE_MAX_SERIES_PER_RECIPE", default_value_t = Limits::default().series_per_recipe)]
    max_series_per_recipe: usize,
    /// Labels one sample may have (more: `label_limit`).
    #[arg(long, env = "PRESAGE_MAX_LABELS", default_value_t = Limits::default().labels_per_sample)]
    max_labels: usize,
    /// Bytes of one label key.
    #[arg(long, env = "PRESAGE_MAX_LABEL_KEY_BYTES", default_value_t = Limits::default().label_key_bytes)]
    max_label_key_bytes: usize,
    /// Bytes of one label value.
    #[arg(long, env = "PRESAGE_MAX_LABEL_VALUE_BYTES", default_value_t = Limits::default().label_value_bytes)]
    max_label_value_bytes: usize,
    /// Bytes of all of one sample's label keys and values together.
    #[arg(long, env = "PRESAGE_MAX_LABEL_BYTES", default_value_t = Limits::default().label_bytes_per_sample)]
    max_label_bytes: usize,
}

impl Args {
    fn limits(&self) -> Limits {
        Limits {
            series_per_app: self.max_series_per_app,
            series_per_recipe: self.max_series_per_recipe,
            labels_per_sample: self.max_labels,
            label_key_bytes: self.max_label_key_bytes,
            label_value_bytes: self.max_label_value_bytes,
            label_bytes_per_sample: self.max_label_bytes,
        }
    }
}

/// Refused samples are counted per (app, kind) and logged as one warning per interval, not
/// one line each: a flood of new series would otherwise flood the log too.
const REFUSAL_REPORT_EVERY: Duration = Duration::from_secs(10);

struct RecipeStage {
    core: RecipeProcessor,
    topics: Topics,
    refused: BTreeMap<(String, Refusal), u64>,
    reported_at: Instant,
    /// Wall clock at a window's emission minus its end (`presage_window_close_delay_seconds`).
    close_delay: presage_runner::telemetry::Histogram,
}

/// The dead-letter kind of a refused sample.
fn dead_kind(refusal: Refusal) -> DeadKind {
    match refusal {
        Refusal::AheadOfClock => DeadKind::Unprocessable,
        Refusal::NonFinite => DeadKind::NonFinite,
        Refusal::Labels => DeadKind::LabelLimit,
        Refusal::Series => DeadKind::SeriesLimit,
    }
}

impl RecipeStage {
    fn dead_letter(
        &self,
        origin: &Origin<'_>,
        kind: DeadKind,
        app: &str,
        reason: &str,
    ) -> Result<Outgoing, presage_events::CodecError> {
        // Refusals are counted and reported per interval (a flood of them is likely); late
        // samples are news one by one.
        if kind == DeadKind::Late {
            tracing::info!(%app, partition = origin.partition, offset = origin.offset, kind = kind.as_str(), %reason, "sample dead-lettered");
        } else {
            tracing::debug!(%app, partition = origin.partition, offset = origin.offset, kind = kind.as_str(), %reason, "sample dead-lettered");
        }
        let letter = dead_letter(self.name(), origin, kind, reason, now_ms());
        Outgoing::event(self.topics.dlq(), &letter)
    }

    /// Logs the refusals counted since the last report, at most once per interval.
    fn report_refusals(&mut self) {
        if self.refused.is_empty() || self.reported_at.elapsed() < REFUSAL_REPORT_EVERY {
            return;
        }
        for ((app, kind), samples) in std::mem::take(&mut self.refused) {
            tracing::warn!(
                %app,
                kind = dead_kind(kind).as_str(),
                samples,
                since_s = self.reported_at.elapsed().as_secs(),
                total = self.core.refused_samples(&app, kind),
                series_held = self.core.series_held(&app),
                "samples refused and dead-lettered"
            );
        }
        self.reported_at = Instant::now();
    }

    fn outgoing(
        &mut self,
        outputs: Vec<RecipeOutput>,
        origin: Option<&Origin<'_>>,
    ) -> Result<Vec<Outgoing>, StageError> {
        let mut records = Vec::with_capacity(outputs.len());
        let now = presage_runner::dlq::now_ms();
        for output in outputs {
            if let RecipeOutput::Derived(derived) = &output {
                self.close_delay
                    .observe((now - derived.window_end_ms).max(0) as f64 / 1000.0);
            }
            let record = match output {
                // Stamped with event time, the window's end: the forecaster finds where its
                // history starts by looking the topic up by time.
                RecipeOutput::Derived(derived) => Outgoing::event(self.topics.derived(), &derived)
                    .map(|record| record.at(derived.window_end_ms)),
                RecipeOutput::Fragment(fragment) => {
                    Outgoing::event(self.topics.fragments(), &fragment)
                }
                RecipeOutput::Late { app, reason } => {
                    let Some(origin) = origin else { continue };
                    self.dead_letter(origin, DeadKind::Late, &app, &reason)
                }
                RecipeOutput::Refused { app, kind, reason } => {
                    let Some(origin) = origin else { continue };
                    let letter = self.dead_letter(origin, dead_kind(kind), &app, &reason);
                    *self.refused.entry((app, kind)).or_default() += 1;
                    letter
                }
            };
            records.push(record.map_err(|e| StageError::new(e.to_string()))?);
        }
        self.report_refusals();
        Ok(records)
    }
}

impl Stage for RecipeStage {
    type Input = RawSample;

    fn name(&self) -> &'static str {
        "recipe-processor"
    }

    fn input_topic(&self) -> String {
        self.topics.raw()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        let app = &loaded.template.app;
        if let Err(err) = self
            .core
            .set_template(&loaded.version, loaded.template.clone())
        {
            tracing::error!(%app, version = %loaded.version, error = %err, "template not used: its recipes do not compile");
            return;
        }
        for recipe in self.core.compiled(app).unwrap_or_default() {
            tracing::info!(%app, recipe = %recipe.name, sql = %recipe.sql, "recipe planned");
        }
    }

    fn on_event(&mut self, _sample: RawSample) -> Result<Vec<Outgoing>, StageError> {
        Err(StageError::new(
            "the recipe-processor needs the record's partition and offset",
        ))
    }

    fn on_event_at(
        &mut self,
        sample: RawSample,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        let position = Position {
            partition: at.partition,
            offset: at.offset,
            received_ms: now_ms(),
        };
        let outputs = self
            .core
            .on_raw(&sample, position)
            .map_err(|e| StageError::new(e.to_string()))?;
        self.outgoing(outputs, Some(at))
    }

    fn on_idle(&mut self, now_ms: i64) -> Result<Vec<Outgoing>, StageError> {
        let outputs = self.core.on_idle(now_ms);
        self.outgoing(outputs, None)
    }

    fn on_broker_back(&mut self, away_ms: i64) {
        self.core.broker_was_away(away_ms);
    }

    fn checkpoint(&self, partition: i32) -> Option<Checkpoint> {
        self.core
            .checkpoint(partition)
            .map(|(offset, metadata)| Checkpoint { offset, metadata })
    }

    fn keeps_checkpoints(&self) -> bool {
        true
    }

    fn restore(&mut self, partition: i32, metadata: &str, resume_offset: i64) {
        self.core.restore(partition, metadata, resume_offset);
    }

    fn forget(&mut self, partition: i32) {
        self.core.forget(partition);
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    args.metrics.start("recipe-processor")?;
    let shutdown = Shutdown::on_signals()?;
    let limits = args.limits();
    tracing::info!(?limits, "recipe-processor limits");
    let stage = RecipeStage {
        core: RecipeProcessor::with_limits(limits)?,
        topics: args.kafka.topics(),
        refused: BTreeMap::new(),
        reported_at: Instant::now(),
        close_delay: presage_runner::telemetry()
            .metrics
            .window_close_delay_seconds
            .get_or_create_owned(&Vec::new()),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
