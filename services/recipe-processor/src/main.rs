//! presage-recipe-processor: the thin Kafka shell around the recipe core.
//! Reads `presage.metrics.raw`; writes `presage.metrics.derived` and `presage.metadata.fragments`;
//! late samples go to `presage.dlq` marked `late`.

use clap::Parser;
use presage_events::RawSample;
use presage_recipe_processor::{Position, RecipeOutput, RecipeProcessor};
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
}

struct RecipeStage {
    core: RecipeProcessor,
    topics: Topics,
}

impl RecipeStage {
    fn dead_letter(
        &self,
        origin: &Origin<'_>,
        kind: DeadKind,
        app: &str,
        reason: &str,
    ) -> Result<Outgoing, presage_events::CodecError> {
        tracing::info!(%app, partition = origin.partition, offset = origin.offset, kind = kind.as_str(), %reason, "sample dead-lettered");
        let letter = dead_letter(self.name(), origin, kind, reason, now_ms());
        Outgoing::event(self.topics.dlq(), &letter)
    }

    fn outgoing(
        &self,
        outputs: Vec<RecipeOutput>,
        origin: Option<&Origin<'_>>,
    ) -> Result<Vec<Outgoing>, StageError> {
        let mut records = Vec::with_capacity(outputs.len());
        for output in outputs {
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
                RecipeOutput::Refused { app, reason } => {
                    let Some(origin) = origin else { continue };
                    self.dead_letter(origin, DeadKind::Unprocessable, &app, &reason)
                }
            };
            records.push(record.map_err(|e| StageError::new(e.to_string()))?);
        }
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
    let shutdown = Shutdown::on_signals()?;
    let stage = RecipeStage {
        core: RecipeProcessor::new()?,
        topics: args.kafka.topics(),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
