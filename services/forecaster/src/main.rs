//! presage-forecaster: the thin Kafka shell around the forecaster core.
//! Reads `presage.metrics.derived`, writes `presage.forecasts`.

use clap::Parser;
use presage_events::DerivedMetric;
use presage_forecaster::Forecaster;
use presage_runner::{
    run_stage, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, Topics,
};

/// Fits the template's models to derived metrics and publishes forecasts with intervals.
#[derive(Debug, Parser)]
#[command(name = "presage-forecaster", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

struct ForecasterStage {
    core: Forecaster,
    topics: Topics,
}

impl Stage for ForecasterStage {
    type Input = DerivedMetric;

    fn name(&self) -> &'static str {
        "forecaster"
    }

    fn input_topic(&self) -> String {
        self.topics.derived()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.core
            .set_template(&loaded.version, loaded.template.clone());
    }

    fn on_event(&mut self, derived: DerivedMetric) -> Result<Vec<Outgoing>, StageError> {
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

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let stage = ForecasterStage {
        core: Forecaster::new(),
        topics: args.kafka.topics(),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
