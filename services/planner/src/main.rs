//! presage-planner: the thin Kafka shell around the planner core.
//!
//! Reads `presage.forecasts` (loop `planner`) and `presage.metrics.derived` (loop
//! `planner-observed`, for the policies' fallbacks when forecasts are missing, stale or not
//! trusted), writes `presage.directives`. Both loops decide through one [`Planner`] behind a
//! mutex, so a policy's state is one whatever input moved it. On start the planner reads back
//! the directives it published over the last week, so targets in force, step limits and
//! cooldowns hold across a restart.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clap::Parser;
use presage_events::{decode, DerivedMetric, Forecast, ScalingDirective};
use presage_planner::{PlanError, Planner};
use presage_runner::{
    run_two_stages, KafkaArgs, LoadedTemplate, Outgoing, Shutdown, Stage, StageError, Topics,
};

/// Turns forecasts into scaling directives under the template's scaling policies.
#[derive(Debug, Parser)]
#[command(name = "presage-planner", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

#[derive(Clone)]
struct Shell {
    core: Arc<Mutex<Planner>>,
    topics: Topics,
}

impl Shell {
    fn core(&self) -> MutexGuard<'_, Planner> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_template(&self, loaded: &LoadedTemplate) {
        self.core()
            .set_template(&loaded.version, loaded.template.clone());
    }

    fn publish(
        &self,
        decided: Result<Vec<ScalingDirective>, PlanError>,
    ) -> Result<Vec<Outgoing>, StageError> {
        decided
            .map_err(|e| StageError::new(e.to_string()))?
            .iter()
            .map(|directive| {
                tracing::info!(app = %directive.app, mode = %directive.mode, fallback = directive.fallback, resource = %directive.resource, target = directive.target, targets = directive.targets.len(), reason = %directive.reason, "directive");
                Outgoing::event(self.topics.directives(), directive)
                    .map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }
}

struct ForecastStage(Shell);

impl Stage for ForecastStage {
    type Input = Forecast;

    fn name(&self) -> &'static str {
        "planner"
    }

    fn input_topic(&self) -> String {
        self.0.topics.forecasts()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.0.on_template(loaded);
    }

    fn on_event(&mut self, forecast: Forecast) -> Result<Vec<Outgoing>, StageError> {
        not_ahead("forecast issued at", forecast.issued_at_ms)?;
        let decided = self.0.core().on_forecast(&forecast);
        self.0.publish(decided)
    }
}

struct ObservedStage(Shell);

impl Stage for ObservedStage {
    type Input = DerivedMetric;

    fn name(&self) -> &'static str {
        "planner-observed"
    }

    fn input_topic(&self) -> String {
        self.0.topics.derived()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.0.on_template(loaded);
    }

    fn on_event(&mut self, observed: DerivedMetric) -> Result<Vec<Outgoing>, StageError> {
        not_ahead("window ending at", observed.window_end_ms)?;
        let decided = self.0.core().on_observed(&observed);
        self.0.publish(decided)
    }
}

/// A policy's state keeps its newest decision time; an event stamped far ahead of this clock
/// would hold it there, so it is refused (dead-lettered) instead.
fn not_ahead(what: &str, event_ms: i64) -> Result<(), StageError> {
    match presage_events::time::too_far_ahead(event_ms, presage_runner::dlq::now_ms()) {
        Some(ahead) => Err(StageError::new(presage_events::time::ahead_reason(
            what, event_ms, ahead,
        ))),
        None => Ok(()),
    }
}

/// How far back the directives are read on start: longer than any cooldown a template sets.
const REMEMBERED_SPAN_MS: i64 = 7 * 24 * 3_600_000;

/// A planner that has taken back the directives it published recently.
fn remembering_planner(kafka: &KafkaArgs) -> anyhow::Result<Planner> {
    let started = std::time::Instant::now();
    let topic = kafka.topics().directives();
    let mut planner = Planner::new();
    let mut undecodable = 0u64;
    let read =
        presage_runner::history::read_recent(kafka, &topic, REMEMBERED_SPAN_MS, |payload| {
            match decode::<ScalingDirective>(payload) {
                Ok(directive) => planner.remember_directive(&directive),
                Err(_) => undecodable += 1,
            }
        })?;
    tracing::info!(
        topic = %topic,
        records = read.records,
        undecodable,
        partitions = read.partitions(),
        ranges = %read,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "directives read back"
    );
    Ok(planner)
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let shell = Shell {
        core: Arc::new(Mutex::new(remembering_planner(&args.kafka)?)),
        topics: args.kafka.topics(),
    };
    run_two_stages(
        &args.kafka,
        ForecastStage(shell.clone()),
        ObservedStage(shell),
        &shutdown,
    )
}
