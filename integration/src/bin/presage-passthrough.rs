//! presage-passthrough: the floor for the end-to-end recipe benchmark (`benches/recipes_e2e.rs`).
//!
//! A stage run by the same runner loop as the real services (`presage_runner::run_stage`): it
//! reads `presage.metrics.raw`, the runner decodes and de-duplicates each `RawSample`, and the
//! stage produces it unchanged (re-encoded) to a sink topic; the runner awaits the
//! acknowledgement and commits the offset as for any service. Same client settings (the
//! services' Kafka flags), same consume → decode → de-duplicate → produce → ack → commit path;
//! no recipe work.

use clap::Parser;
use presage_events::RawSample;
use presage_runner::{
    run_stage, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, Topics,
};

/// Copies every raw sample to a sink topic through the runner loop, doing nothing else.
#[derive(Debug, Parser)]
#[command(name = "presage-passthrough", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
    /// The topic (before the topic prefix) every raw sample is copied to.
    #[arg(long, default_value = "bench.passthrough")]
    sink: String,
}

struct Passthrough {
    topics: Topics,
    sink: String,
}

impl Stage for Passthrough {
    type Input = RawSample;

    /// Its own consumer group (`presage-bench-passthrough`), so it reads the raw topic from
    /// the beginning whatever the recipe-processor has committed.
    fn name(&self) -> &'static str {
        "bench-passthrough"
    }

    fn input_topic(&self) -> String {
        self.topics.raw()
    }

    fn on_template(&mut self, _template: &LoadedTemplate) {}

    fn on_event(&mut self, sample: RawSample) -> Result<Vec<Outgoing>, StageError> {
        let record = Outgoing::event(self.sink.clone(), &sample)
            .map_err(|e| StageError::new(e.to_string()))?;
        Ok(vec![record])
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let topics = args.kafka.topics();
    let stage = Passthrough {
        sink: topics.name(&args.sink),
        topics,
    };
    run_stage(&args.kafka, stage, &shutdown)
}
