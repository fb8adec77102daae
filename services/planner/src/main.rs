//! presage-planner: the thin Kafka shell around the planner core.
//!
//! Reads `presage.forecasts` (loop `planner`), `presage.metrics.derived` (loop
//! `planner-observed`, for the policies' fallbacks when forecasts are missing, stale or not
//! trusted) and `presage.applied` (loop `planner-outcomes`: a live directive that failed to
//! apply is issued again at the app's next decision), writes `presage.directives`. The loops
//! decide through one [`Planner`] behind a mutex, so a policy's state is one whatever input
//! moved it.
//!
//! State belongs to partitions. Before a loop's first record of a partition the planner reads
//! back the directives it published on that partition over the last week (topics keyed by app
//! share partition count and partitioner), so targets in force, step limits and cooldowns hold
//! across a restart or a move to another instance, and an input read again after a crash is
//! not decided a second time. When no loop holds a partition any more, its apps' state is
//! dropped.
//!
//! Policies with a `target` SLO or a `reactive` side also keep a record of recent forecasts and
//! observed windows, held only in memory: on the same first read the planner reads the
//! partition's `presage.metrics.derived` and `presage.forecasts` back over the longest record
//! any template keeps (its SLO window, lead time and a day), so a planner killed at any
//! instruction resumes with the record it had, and decides as one that never stopped (for a
//! restart within that day; a longer outage's backlog starts with a shorter record).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clap::Parser;
use presage_events::{decode, ApplyOutcome, DerivedMetric, Forecast, ScalingDirective};
use presage_planner::{watch, PlanError, Planner};
use presage_runner::{
    read_partition_recent, run_three_stages, KafkaArgs, LoadedTemplate, Origin, Outgoing, Shutdown,
    Stage, StageError, Topics,
};
use presage_template::Template;

/// Turns forecasts into scaling directives under the template's scaling policies.
#[derive(Debug, Parser)]
#[command(name = "presage-planner", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    metrics: presage_runner::MetricsArgs,
}

#[derive(Clone)]
struct Shell {
    core: Arc<Mutex<Planner>>,
    partitions: Arc<Mutex<Partitions>>,
    topics: Topics,
    kafka: KafkaArgs,
}

/// Which loops hold each partition, and the apps seen on it.
#[derive(Default)]
struct Partitions {
    holders: HashMap<i32, BTreeSet<&'static str>>,
    apps: HashMap<i32, BTreeSet<String>>,
}

impl Shell {
    fn core(&self) -> MutexGuard<'_, Planner> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn partitions(&self) -> MutexGuard<'_, Partitions> {
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn saw(&self, partition: i32, app: &str) {
        let mut partitions = self.partitions();
        let apps = partitions.apps.entry(partition).or_default();
        if !apps.contains(app) {
            apps.insert(app.to_string());
        }
    }

    /// `loop_name` starts on `partition`: the first loop to hold it reads back the directives
    /// published on it (with the core locked, so no loop decides for its apps meanwhile).
    fn take(&self, loop_name: &'static str, partition: i32) {
        let first = {
            let mut partitions = self.partitions();
            let holders = partitions.holders.entry(partition).or_default();
            let first = holders.is_empty();
            holders.insert(loop_name);
            first
        };
        if !first {
            return;
        }
        let mut core = self.core();
        let started = std::time::Instant::now();
        let topic = self.topics.directives();
        let mut apps = BTreeSet::new();
        let mut undecodable = 0u64;
        // Until it is read, deciding for these apps could publish a second content under an
        // id already published: wait for the broker rather than go on without it.
        let mut backoff = presage_runner::patience::Backoff::for_broker();
        let read = loop {
            let result = read_partition_recent(
                &self.kafka,
                &topic,
                partition,
                REMEMBERED_SPAN_MS,
                |payload| match decode::<ScalingDirective>(payload) {
                    Ok(directive) => {
                        apps.insert(directive.app.clone());
                        core.remember_directive(&directive);
                        watch_targets(&directive);
                    }
                    Err(_) => undecodable += 1,
                },
            );
            match result {
                Ok(read) => break read,
                Err(err) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%topic, partition, error = %format!("{err:#}"), retry_in_ms = delay.as_millis() as u64, "reading back directives failed; retrying");
                    std::thread::sleep(delay);
                }
            }
        };
        tracing::info!(
            loop_name,
            %topic,
            partition,
            records = read.records,
            undecodable,
            apps = apps.len(),
            ranges = %read,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "directives read back"
        );
        self.rebuild_records(&mut core, partition, &mut apps);
        drop(core);
        self.partitions()
            .apps
            .entry(partition)
            .or_default()
            .extend(apps);
    }

    /// The SLO and reactive policies' records of `partition`'s apps, from the derived metrics
    /// and forecasts topics (both keyed by app like the directives). Everything to the topics'
    /// ends is read: a decision reads only windows that ended before it, so what lies ahead of
    /// the loops' resume offsets changes nothing, and what they read again is recorded again
    /// under the same keys.
    fn rebuild_records(&self, core: &mut Planner, partition: i32, apps: &mut BTreeSet<String>) {
        let span_ms = core.record_span_ms();
        if span_ms == 0 {
            return;
        }
        let started = std::time::Instant::now();
        for topic in [self.topics.derived(), self.topics.forecasts()] {
            let is_derived = topic == self.topics.derived();
            let mut backoff = presage_runner::patience::Backoff::for_broker();
            loop {
                let mut undecodable = 0u64;
                let result =
                    read_partition_recent(&self.kafka, &topic, partition, span_ms, |payload| {
                        if is_derived {
                            match decode::<DerivedMetric>(payload) {
                                Ok(observed) => {
                                    if !apps.contains(&observed.app) {
                                        apps.insert(observed.app.clone());
                                    }
                                    core.remember_observed(&observed);
                                }
                                Err(_) => undecodable += 1,
                            }
                        } else {
                            match decode::<Forecast>(payload) {
                                Ok(forecast) => core.remember_forecast(&forecast),
                                Err(_) => undecodable += 1,
                            }
                        }
                    });
                match result {
                    Ok(read) => {
                        tracing::info!(%topic, partition, span_ms, records = read.records, undecodable, ranges = %read, "records read back");
                        break;
                    }
                    Err(err) => {
                        // Recording is idempotent: a retry reads the same records over it.
                        let delay = backoff.next_delay();
                        tracing::warn!(%topic, partition, error = %format!("{err:#}"), retry_in_ms = delay.as_millis() as u64, "reading back records failed; retrying");
                        std::thread::sleep(delay);
                    }
                }
            }
        }
        let (points, windows) = core.record_entries();
        tracing::info!(
            partition,
            span_ms,
            points,
            windows,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "SLO and reactive records rebuilt"
        );
    }

    /// `loop_name` lost `partition`: when no loop holds it any more, its apps are forgotten.
    fn release(&self, loop_name: &'static str, partition: i32) {
        let apps = {
            let mut partitions = self.partitions();
            let holders = partitions.holders.entry(partition).or_default();
            holders.remove(loop_name);
            if !holders.is_empty() {
                return;
            }
            partitions.apps.remove(&partition).unwrap_or_default()
        };
        tracing::info!(
            loop_name,
            partition,
            apps = apps.len(),
            "partition released: its apps' state dropped"
        );
        self.core().forget_apps(apps.iter().map(String::as_str));
        let telemetry = presage_runner::telemetry();
        for app in &apps {
            telemetry.apps.forget(&telemetry.metrics, app);
        }
    }

    fn on_template(&self, loaded: &LoadedTemplate) {
        self.core()
            .set_template(&loaded.version, loaded.template.clone());
    }

    /// The app's template as the core holds it, for what its per-app series show.
    fn template_of(&self, app: &str) -> Option<Arc<Template>> {
        self.core().template(app)
    }

    /// The forecast at the lead time and its model's score, as per-app series.
    fn watch_forecast(&self, forecast: &Forecast) {
        // A group's forecast is not the metric's: its series would overwrite the metric's.
        if !forecast.labels.is_empty() {
            return;
        }
        let Some(template) = self.template_of(&forecast.app) else {
            return;
        };
        let Some(point) = watch::lead_point(&template, forecast) else {
            return;
        };
        let telemetry = presage_runner::telemetry();
        let (app, metric) = (&forecast.app, &forecast.metric);
        telemetry.apps.forecast(
            &telemetry.metrics,
            app,
            metric,
            [point.point, point.lower, point.upper],
        );
        if let Some(mase) = forecast.score {
            telemetry
                .apps
                .model(&telemetry.metrics, app, metric, &forecast.model, mase);
        }
    }

    /// The observed value of a metric a live policy tracks, as a per-app series.
    fn watch_observed(&self, observed: &DerivedMetric) {
        if !observed.labels.is_empty() {
            return;
        }
        let tracked = self
            .template_of(&observed.app)
            .is_some_and(|template| watch::tracked(&template, &observed.recipe));
        if tracked {
            let telemetry = presage_runner::telemetry();
            telemetry.apps.observed(
                &telemetry.metrics,
                &observed.app,
                &observed.recipe,
                observed.value,
            );
        }
    }

    fn publish(
        &self,
        decided: Result<Vec<ScalingDirective>, PlanError>,
    ) -> Result<Vec<Outgoing>, StageError> {
        decided
            .map_err(|e| StageError::new(e.to_string()))?
            .iter()
            .map(|directive| {
                watch_directive(directive);
                tracing::info!(app = %directive.app, mode = %directive.mode, fallback = directive.fallback, resource = %directive.resource, target = directive.target, targets = directive.targets.len(), reason = %directive.reason, "directive");
                Outgoing::event(self.topics.directives(), directive)
                    .map_err(|e| StageError::new(e.to_string()))
            })
            .collect()
    }
}

/// A published directive: its latency from the end of the window it was decided on, and (if
/// live) each resource's target as per-app series.
fn watch_directive(directive: &ScalingDirective) {
    let telemetry = presage_runner::telemetry();
    let now = presage_runner::dlq::now_ms();
    telemetry
        .metrics
        .sample_to_directive_seconds
        .get_or_create(&presage_runner::telemetry::labels([(
            "mode",
            &directive.mode,
        )]))
        .observe((now - directive.issued_at_ms).max(0) as f64 / 1000.0);
    watch_targets(directive);
}

/// A live directive's targets as per-app series (also for directives read back on start, so a
/// restarted planner shows the targets in force before its next decision).
fn watch_targets(directive: &ScalingDirective) {
    let telemetry = presage_runner::telemetry();
    if directive.mode != presage_planner::LIVE {
        return;
    }
    for target in &directive.targets {
        telemetry.apps.target(
            &telemetry.metrics,
            &directive.app,
            &target.resource,
            target.target as f64,
            target.at_max,
        );
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
        self.0.watch_forecast(&forecast);
        let decided = self.0.core().on_forecast(&forecast);
        self.0.publish(decided)
    }

    fn on_event_at(
        &mut self,
        forecast: Forecast,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        self.0.saw(at.partition, &forecast.app);
        self.on_event(forecast)
    }

    fn restore(&mut self, partition: i32, _metadata: &str, _resume_offset: i64) {
        self.0.take(self.name(), partition);
    }

    fn forget(&mut self, partition: i32) {
        self.0.release(self.name(), partition);
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
        self.0.watch_observed(&observed);
        let decided = self.0.core().on_observed(&observed);
        self.0.publish(decided)
    }

    fn on_event_at(
        &mut self,
        observed: DerivedMetric,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        self.0.saw(at.partition, &observed.app);
        self.on_event(observed)
    }

    fn restore(&mut self, partition: i32, _metadata: &str, _resume_offset: i64) {
        self.0.take(self.name(), partition);
    }

    fn forget(&mut self, partition: i32) {
        self.0.release(self.name(), partition);
    }
}

/// Apply outcomes: a live directive that was not applied is issued again at the next decision.
struct OutcomeStage(Shell);

impl Stage for OutcomeStage {
    type Input = ApplyOutcome;

    fn name(&self) -> &'static str {
        "planner-outcomes"
    }

    fn input_topic(&self) -> String {
        self.0.topics.applied()
    }

    fn on_template(&mut self, _loaded: &LoadedTemplate) {}

    fn on_event(&mut self, outcome: ApplyOutcome) -> Result<Vec<Outgoing>, StageError> {
        self.0
            .core()
            .on_outcome(&outcome.app, &outcome.directive_id, &outcome.status);
        Ok(Vec::new())
    }

    fn on_event_at(
        &mut self,
        outcome: ApplyOutcome,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        self.0.saw(at.partition, &outcome.app);
        self.on_event(outcome)
    }

    fn restore(&mut self, partition: i32, _metadata: &str, _resume_offset: i64) {
        self.0.take(self.name(), partition);
    }

    fn forget(&mut self, partition: i32) {
        self.0.release(self.name(), partition);
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

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    args.metrics.start("planner")?;
    let shutdown = Shutdown::on_signals()?;
    let shell = Shell {
        core: Arc::new(Mutex::new(Planner::new())),
        partitions: Arc::default(),
        topics: args.kafka.topics(),
        kafka: args.kafka.clone(),
    };
    run_three_stages(
        &args.kafka,
        ForecastStage(shell.clone()),
        ObservedStage(shell.clone()),
        OutcomeStage(shell),
        &shutdown,
    )
}
