//! presage-applier: applies directives from `presage.directives` through the template's hooks
//! and records every outcome in `presage.applied`.

use clap::Parser;
use presage_applier::hooks;
use presage_events::ScalingDirective;
use presage_runner::{
    run_stage, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, TemplateBook,
    Topics,
};

/// Applies scaling directives through configuration hooks with a shadow configuration.
#[derive(Debug, Parser)]
#[command(name = "presage-applier", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

struct ApplierStage {
    templates: TemplateBook,
    topics: Topics,
}

impl Stage for ApplierStage {
    type Input = ScalingDirective;

    fn name(&self) -> &'static str {
        "applier"
    }

    fn input_topic(&self) -> String {
        self.topics.directives()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.templates.insert(loaded.clone());
    }

    fn on_event(&mut self, directive: ScalingDirective) -> Result<Vec<Outgoing>, StageError> {
        let loaded = self
            .templates
            .get(&directive.app)
            .ok_or_else(|| StageError::new(format!("no template for app {:?}", directive.app)))?;
        let now = presage_runner::dlq::now_ms();
        loaded
            .template
            .dynamic_metadata
            .configuration_hooks
            .iter()
            .map(|hook| {
                let outcome = hooks::apply(&loaded.template, hook, &directive, now);
                tracing::info!(app = %outcome.app, hook = %outcome.hook, status = %outcome.status, reason = ?outcome.reason, target = directive.target, "directive applied");
                Outgoing::event(self.topics.applied(), &outcome).map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let stage = ApplierStage {
        templates: TemplateBook::default(),
        topics: args.kafka.topics(),
    };
    run_stage(&args.kafka, stage, &shutdown)
}
