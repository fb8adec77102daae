//! presage-applier: applies directives from `presage.directives` and metadata fragments from
//! `presage.metadata.fragments` through the template's hooks, and records every outcome in
//! `presage.applied`.
//!
//! The runner's [`Stage`] has one input type, so the applier runs two stages, each in its own
//! `run_stage` loop on its own thread: `applier` (directives, consumer group `presage-applier`)
//! and `applier-fragments` (fragments, group `presage-applier-fragments`). Both apply through
//! one [`Applier`] behind a mutex, so they never write a configuration at the same time and each
//! merges on top of what the other last applied. Each loop keeps its own [`TemplateBook`], fed by
//! its own template reader, as every other stage does; both read the same compacted topic.

use clap::Parser;
use presage_applier::hooks::Applier;
use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_runner::{
    run_two_stages, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, TemplateBook,
    Topics,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Applies scaling directives and metadata fragments through configuration hooks with a shadow
/// configuration.
#[derive(Debug, Parser)]
#[command(name = "presage-applier", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

/// What each stage holds: the templates its loop has seen, the topics, and the shared writer.
struct Shell {
    templates: TemplateBook,
    topics: Topics,
    applier: Arc<Mutex<Applier>>,
}

impl Shell {
    fn new(topics: Topics, applier: Arc<Mutex<Applier>>) -> Self {
        Self {
            templates: TemplateBook::default(),
            topics,
            applier,
        }
    }

    /// Applies through the app's template with the writer held; the outcomes, ready to produce.
    fn apply(
        &self,
        app: &str,
        apply: impl FnOnce(&mut Applier, &LoadedTemplate, i64) -> Vec<ApplyOutcome>,
    ) -> Result<Vec<Outgoing>, StageError> {
        let loaded = self
            .templates
            .get(app)
            .ok_or_else(|| StageError::new(format!("no template for app {app:?}")))?;
        let outcomes = {
            let mut applier = lock(&self.applier);
            // Taken once the writer is ours: the outcome says when the change was applied.
            let now = presage_runner::dlq::now_ms();
            apply(&mut applier, loaded, now)
        };
        outcomes
            .iter()
            .map(|outcome| {
                Outgoing::event(self.topics.applied(), outcome)
                    .map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }
}

/// The writer guards no data of its own (the files are the state, and the shadow flow leaves
/// them whole or restored), so a panic caught by the runner while it was held does not make it
/// unusable: take it back rather than dead-letter every later input.
fn lock(applier: &Mutex<Applier>) -> MutexGuard<'_, Applier> {
    applier.lock().unwrap_or_else(|poisoned: PoisonError<_>| {
        tracing::warn!("a previous apply panicked while holding the writer; continuing");
        poisoned.into_inner()
    })
}

struct DirectiveStage(Shell);

impl Stage for DirectiveStage {
    type Input = ScalingDirective;

    fn name(&self) -> &'static str {
        "applier"
    }

    fn input_topic(&self) -> String {
        self.0.topics.directives()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.0.templates.insert(loaded.clone());
    }

    fn on_event(&mut self, directive: ScalingDirective) -> Result<Vec<Outgoing>, StageError> {
        // The applier keeps each resource's newest applied decision time: a directive stamped
        // far ahead would supersede every later one, so it is refused (dead-lettered).
        let now = presage_runner::dlq::now_ms();
        if let Some(ahead) = presage_events::time::too_far_ahead(directive.issued_at_ms, now) {
            return Err(StageError::new(presage_events::time::ahead_reason(
                "directive issued at",
                directive.issued_at_ms,
                ahead,
            )));
        }
        self.0.apply(&directive.app, |applier, loaded, now| {
            let outcomes = applier.apply_directive(&loaded.template, &directive, now);
            for outcome in &outcomes {
                tracing::info!(app = %outcome.app, hook = %outcome.hook, status = %outcome.status, reason = ?outcome.reason, target = directive.target, "directive applied");
            }
            outcomes
        })
    }
}

struct FragmentStage(Shell);

impl Stage for FragmentStage {
    type Input = MetadataFragment;

    fn name(&self) -> &'static str {
        "applier-fragments"
    }

    fn input_topic(&self) -> String {
        self.0.topics.fragments()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.0.templates.insert(loaded.clone());
    }

    fn on_event(&mut self, fragment: MetadataFragment) -> Result<Vec<Outgoing>, StageError> {
        self.0.apply(&fragment.app, |applier, loaded, now| {
            let outcomes = applier.apply_fragment(&loaded.template, &fragment, now);
            for outcome in &outcomes {
                tracing::info!(app = %outcome.app, hook = %outcome.hook, status = %outcome.status, reason = ?outcome.reason, recipe = %fragment.recipe, "fragment applied");
            }
            outcomes
        })
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let applier = Arc::new(Mutex::new(Applier::new()));
    let directives = DirectiveStage(Shell::new(args.kafka.topics(), applier.clone()));
    let fragments = FragmentStage(Shell::new(args.kafka.topics(), applier));
    run_two_stages(&args.kafka, directives, fragments, &shutdown)
}
