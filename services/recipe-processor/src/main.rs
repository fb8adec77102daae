//! presage-recipe-processor: the thin Kafka shell around the recipe core.
//! Reads `presage.metrics.raw`; writes `presage.metrics.derived` and `presage.metadata.fragments`.

use clap::Parser;
use presage_events::RawSample;
use presage_recipe_processor::{RecipeOutput, RecipeProcessor};
use presage_runner::{
    run_stage, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, Topics,
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

impl Stage for RecipeStage {
    type Input = RawSample;

    fn name(&self) -> &'static str {
        "recipe-processor"
    }

    fn input_topic(&self) -> String {
        self.topics.raw()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.core
            .set_template(&loaded.version, loaded.template.clone());
        if let Some(compiled) = self.core.compiled(&loaded.template.app) {
            for recipe in compiled {
                tracing::info!(app = %loaded.template.app, recipe = %recipe.name, sql = %recipe.sql, "recipe compiled");
            }
        }
    }

    fn on_event(&mut self, sample: RawSample) -> Result<Vec<Outgoing>, StageError> {
        let outputs = self
            .core
            .on_raw(&sample)
            .map_err(|e| StageError::new(e.to_string()))?;
        outputs
            .iter()
            .map(|output| match output {
                RecipeOutput::Derived(derived) => Outgoing::event(self.topics.derived(), derived),
                RecipeOutput::Fragment(fragment) => {
                    Outgoing::event(self.topics.fragments(), fragment)
                }
            })
            .collect::<Result<_, _>>()
            .map_err(|e| StageError::new(e.to_string()))
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
