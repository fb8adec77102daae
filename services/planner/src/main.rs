//! presage-planner: the thin Kafka shell around the planner core.
//! Reads `presage.forecasts`, writes `presage.directives`.

use clap::Parser;
use presage_events::Forecast;
use presage_planner::Planner;
use presage_runner::{
    run_stage, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, Topics,
};

/// Turns forecasts into scaling directives under the template's scaling policies.
#[derive(Debug, Parser)]
#[command(name = "presage-planner", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

struct PlannerStage {
    core: Planner,
    topics: Topics,
}

impl Stage for PlannerStage {
    type Input = Forecast;

    fn name(&self) -> &'static str {
        "planner"
    }

    fn input_topic(&self) -> String {
        self.topics.forecasts()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.core
            .set_template(&loaded.version, loaded.template.clone());
    }

    fn on_event(&mut self, forecast: Forecast) -> Result<Vec<Outgoing>, StageError> {
        let directives = self
            .core
            .on_forecast(&forecast)
            .map_err(|e| StageError::new(e.to_string()))?;
        directives
            .iter()
            .map(|directive| {
                tracing::info!(app = %directive.app, mode = %directive.mode, resource = %directive.resource, target = directive.target, targets = directive.targets.len(), reason = %directive.reason, "directive");
                Outgoing::event(self.topics.directives(), directive)
                    .map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let stage = PlannerStage {
        core: Planner::new(),
        topics: args.kafka.topics(),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
