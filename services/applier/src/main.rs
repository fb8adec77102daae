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
//!
//! What survives a crash: the live files and their journals (a flow a crash interrupted is
//! converged when its file is next locked, and at start for every file hook a template names),
//! and `presage.applied` itself. When the group assigns a partition, each loop reads that
//! partition of `presage.applied` back (the same apps, by the shared partitioner) so the applier
//! knows which outcomes are already published and which directive is the newest applied per
//! resource, before it applies anything for those apps.
//!
//! Plans: the directive loop keeps each app's pending plan ([`PendingPlans`]) and carries out
//! its steps on the runner's clock ([`Stage::on_idle`], every ~200 ms, between batches of
//! records too). A pending plan is memory; what makes it survive SIGKILL is the offset: the
//! loop's checkpoint never commits past the directive of a plan with a step still to carry out
//! (or whose last step's outcome may not be acknowledged yet), so a restarted applier reads the
//! directive again, finds its issued outcome already published (read back on assignment), and
//! carries on with the steps whose outcomes are not.

use clap::Parser;
use presage_applier::hooks::{is_live, Applier, Granted};
use presage_applier::outcome::{resources_of, Status};
use presage_applier::schedule::{DueStep, PendingPlans};
use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_runner::{
    run_two_stages, Checkpoint, KafkaArgs, LoadedTemplate, Origin, Outgoing, Shutdown, Stage,
    StageError, TemplateBook, Topics,
};
use presage_template::authority::{Allow, ALLOW_ENV};
use presage_template::NodeScope;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How far back `presage.applied` is read when a partition is assigned: far beyond any input
/// that can still be replayed (those after the committed offset) and any directive the planner
/// can publish out of order.
const APPLIED_SPAN_MS: i64 = 6 * 3_600_000;

/// Applies scaling directives and metadata fragments through configuration hooks with a shadow
/// configuration.
#[derive(Debug, Parser)]
#[command(name = "presage-applier", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    metrics: presage_runner::MetricsArgs,
    /// The operator's allow-list (YAML: `commands`, `paths`, `urls`): what hooks may run,
    /// write and reach. Read from this process's settings only, never from the templates
    /// topic; without it nothing is granted and every hook that needs authority is rejected.
    #[arg(long, env = ALLOW_ENV, value_name = "FILE")]
    allow: Option<std::path::PathBuf>,
    /// The kubeconfig `kubernetes` hooks connect with (server and credentials are the
    /// operator's, never a template's). Without it: `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster service account, as kube-rs infers them.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Node-local mode: apply only the hooks of apps placed on this node (`placement: { nodes:
    /// [...] }`), in consumer groups of this node's own (`presage-applier.node.NAME`,
    /// `presage-applier-fragments.node.NAME`), so every node gets every directive for its apps;
    /// outcomes get ids of this node's. Without it, the apps with no placement.
    #[arg(long, env = "PRESAGE_NODE", value_name = "NAME", value_parser = node_name)]
    node: Option<String>,
}

fn node_name(name: &str) -> Result<String, String> {
    presage_template::placement::is_node_name(name)
        .then(|| name.to_string())
        .ok_or_else(|| {
            format!("{name:?} is not a node name: expected lowercase letters, digits, '-' or '.'")
        })
}

/// A stage's name, which is its consumer group's (`presage-<name>`): a node-local applier's is
/// the node's own. Leaked once per stage at start: the runner holds stage names as `'static`.
fn stage_name(stage: &'static str, node: Option<&str>) -> &'static str {
    match node {
        None => stage,
        Some(node) => Box::leak(format!("{stage}.node.{node}").into_boxed_str()),
    }
}

/// The grant the applier runs with: the operator's allow-list, relative paths of templates
/// resolved against the working directory (where they would be written).
fn granted(allow: Option<&std::path::Path>) -> anyhow::Result<Granted> {
    let cwd = std::env::current_dir()?;
    let allow = match allow {
        Some(path) => {
            let allow = Allow::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(allow = %path.display(), "allow-list read");
            allow
        }
        None => {
            tracing::warn!(
                "no allow-list given: every hook that runs a command, writes a file or calls a URL \
                 will be rejected; grant them with --allow FILE or {ALLOW_ENV}=FILE"
            );
            Allow::none()
        }
    };
    Ok(Granted::new(allow, cwd))
}

/// What each stage holds: the templates its loop has seen, the topics, the shared writer, and
/// which apps each of its partitions has carried (to forget them when it is revoked).
struct Shell {
    templates: TemplateBook,
    kafka: KafkaArgs,
    topics: Topics,
    applier: Arc<Mutex<Applier>>,
    apps: HashMap<i32, HashSet<String>>,
    /// `--node`: this applier serves the apps placed on it, else the apps placed nowhere.
    node: Option<String>,
    /// The stage's name and consumer group (see [`stage_name`]).
    name: &'static str,
}

impl Shell {
    fn new(
        kafka: &KafkaArgs,
        applier: Arc<Mutex<Applier>>,
        node: Option<&str>,
        stage: &'static str,
    ) -> Self {
        Self {
            templates: TemplateBook::default(),
            kafka: kafka.clone(),
            topics: kafka.topics(),
            applier,
            apps: HashMap::new(),
            node: node.map(str::to_string),
            name: stage_name(stage, node),
        }
    }

    fn scope(&self) -> NodeScope<'_> {
        NodeScope::of(self.node.as_deref())
    }

    /// Whether this applier applies `app`'s directives: its template is known and placed here.
    fn serves(&self, app: &str) -> bool {
        self.templates
            .get(app)
            .is_some_and(|loaded| self.scope().serves(&loaded.template))
    }

    /// A template arrived: keep it, and converge any of its files a crash left mid-apply (only
    /// an app this applier serves: another node's files are that node's).
    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.templates.insert(loaded.clone());
        if self.scope().serves(&loaded.template) {
            lock(&self.applier).recover(&loaded.template, presage_runner::dlq::now_ms());
        }
    }

    /// Reads the partition's recent outcomes (within `span_ms` of its newest) back into the
    /// writer before its first input.
    fn restore(&mut self, stage: &'static str, partition: i32, span_ms: i64) {
        let topic = self.topics.applied();
        let mut outcomes: Vec<ApplyOutcome> = Vec::new();
        // Records from before the schema's last change have another fingerprint: skipped.
        let mut undecodable: u64;
        // Applying without knowing what was applied could replay an older directive over a
        // newer one: wait for the broker, however long it is away, as every stage does.
        let mut backoff = presage_runner::patience::Backoff::for_broker();
        let read = loop {
            outcomes.clear();
            undecodable = 0;
            let read = presage_runner::history::read_partition_recent(
                &self.kafka,
                &topic,
                partition,
                span_ms,
                |bytes| match presage_events::decode::<ApplyOutcome>(bytes) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(_) => undecodable += 1,
                },
            );
            match read {
                Ok(read) => break read,
                Err(err) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(stage, partition, error = %format!("{err:#}"), failures = backoff.failures(), retry_in_ms = delay.as_millis() as u64, "reading back the outcomes failed; retrying");
                    std::thread::sleep(delay);
                }
            }
        };
        let apps = self.apps.entry(partition).or_default();
        let mut applier = lock(&self.applier);
        // The directives read again after a restart are as many as the outcomes read back:
        // their ids must all stay known, whatever the cache's usual size.
        applier.make_room(outcomes.len());
        for outcome in &outcomes {
            apps.insert(outcome.app.clone());
            match &self.node {
                None => applier.learn(outcome),
                // Only this node's own outcomes: another node applying a directive does not
                // make it applied here.
                Some(node) => {
                    if let Some(own) = presage_applier::from_node(outcome, node) {
                        applier.learn(&own);
                    }
                }
            }
        }
        if undecodable > 0 {
            tracing::warn!(stage, partition, undecodable, "records of the outcomes topic that are not this version's ApplyOutcome were skipped");
        }
        tracing::info!(stage, partition, span_ms, outcomes = outcomes.len(), ranges = %read, "outcomes read back");
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
        // Another node's app (or, centrally, a placed one): its appliers apply it; this one
        // publishes nothing for it, so the outcomes are exactly those of the nodes it runs on.
        if !self.scope().serves(&loaded.template) {
            tracing::debug!(app, node = ?self.node, placement = ?loaded.template.placement, "not served by this applier: skipped");
            return Ok(Vec::new());
        }
        let (outcomes, timings) = {
            let mut applier = lock(&self.applier);
            // Taken once the writer is ours: the outcome says when the change was applied.
            let now = presage_runner::dlq::now_ms();
            let outcomes = apply(&mut applier, loaded, now);
            (outcomes, applier.take_hook_timings())
        };
        record_outcomes(&outcomes, &timings);
        let outcomes: Vec<ApplyOutcome> = match &self.node {
            None => outcomes,
            Some(node) => outcomes
                .into_iter()
                .map(|outcome| presage_applier::on_node(outcome, node))
                .collect(),
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

/// Outcomes by hook kind and status, and each hook run's duration (one timing per outcome, in
/// the same order).
fn record_outcomes(outcomes: &[ApplyOutcome], timings: &[(&'static str, std::time::Duration)]) {
    use presage_runner::telemetry::labels;
    let metrics = &presage_runner::telemetry().metrics;
    for (outcome, (kind, took)) in outcomes.iter().zip(timings) {
        metrics
            .apply_outcomes
            .get_or_create(&labels([("kind", kind), ("status", &outcome.status)]))
            .inc();
        metrics
            .hook_seconds
            .get_or_create(&labels([("kind", kind)]))
            .observe(took.as_secs_f64());
    }
}

/// The writer guards no data a panic can leave half-updated (the files and their journals are
/// the state, each replaced whole; what it learnt from the topic is a cache the topic rebuilds),
/// so a panic caught by the runner while it was held does not make it unusable: take it back
/// rather than dead-letter every later input.
fn lock(applier: &Mutex<Applier>) -> MutexGuard<'_, Applier> {
    applier.lock().unwrap_or_else(|poisoned: PoisonError<_>| {
        tracing::warn!("a previous apply panicked while holding the writer; continuing");
        poisoned.into_inner()
    })
}

/// The directive loop: the shell, and the plans of the apps of its partitions.
struct DirectiveStage {
    shell: Shell,
    plans: PendingPlans,
}

impl DirectiveStage {
    fn new(shell: Shell) -> Self {
        Self {
            shell,
            plans: PendingPlans::default(),
        }
    }

    /// Applies the directive's issued targets; then, if it is live, for an app served here and
    /// not superseded by a newer applied directive, its plan replaces the app's pending one.
    /// `at`: where it was read (partition, offset), which a pending plan holds uncommitted.
    fn directive(
        &mut self,
        directive: ScalingDirective,
        at: (i32, i64),
    ) -> Result<Vec<Outgoing>, StageError> {
        // The runner calls again only once the outputs of its previous call were acknowledged.
        self.plans.confirm();
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
        // The pending plan's step due by the directive's issue is in force from its due time
        // on (the shared schedule): carried out first, so that what the directive does not
        // name keeps the step's target.
        let mut outputs = Vec::new();
        let takes_over = is_live(&directive) && self.shell.serves(&directive.app);
        if let Some(due) = takes_over
            .then(|| self.plans.due_before(&directive))
            .flatten()
        {
            tracing::info!(app = %directive.app, plan = %due.plan_of, due_at_ms = due.due_at_ms, by = %directive.event_id, by_issued_at_ms = directive.issued_at_ms, "plan step due by the next directive's issue: carried out before it");
            outputs.extend(self.carry_out(due)?);
        }
        let mut superseded = false;
        outputs.extend(self.shell.apply(&directive.app, |applier, loaded, now| {
            let outcomes = applier.apply_directive(&loaded.template, &directive, now);
            for outcome in &outcomes {
                superseded |= outcome.status == Status::Superseded.as_str();
                tracing::info!(app = %outcome.app, hook = %outcome.hook, status = %outcome.status, attempts = outcome.attempts, reason = ?outcome.reason, target = directive.target, "directive applied");
            }
            outcomes
        })?);
        // A superseded directive's plan is superseded with it; a replayed directive whose
        // outcomes were all published before has none here, and its plan resumes (a step
        // superseded meanwhile is found so when due, see `carry_out`).
        if takes_over && !superseded {
            self.arrive(&directive, at);
        }
        Ok(outputs)
    }

    fn arrive(&mut self, directive: &ScalingDirective, (partition, offset): (i32, i64)) {
        let arrival = self.plans.arrive(directive, partition, offset);
        if let Some(pending) = &arrival.late_behind {
            tracing::info!(app = %directive.app, directive = %directive.event_id, issued_at_ms = directive.issued_at_ms, pending_plan = %pending, "directive issued before the pending plan's: its plan is not carried out");
        }
        if let Some(replaced) = &arrival.replaced {
            tracing::info!(app = %directive.app, plan = %replaced.directive_id, plan_issued_at_ms = replaced.issued_at_ms, by = %directive.event_id, by_issued_at_ms = directive.issued_at_ms, never_due_at_ms = ?replaced.never_due, "plan superseded: its steps not yet due are never carried out");
        }
        if arrival.pending {
            tracing::info!(app = %directive.app, plan = %directive.event_id, next_due_at_ms = ?self.plans.next_due(&directive.app), partition, offset, "plan pending");
        }
    }

    /// Applies one due step through the app's hooks, as a directive of its own; nothing if a
    /// directive decided after the plan was applied meanwhile (the plan is dropped).
    fn carry_out(&mut self, due: DueStep) -> Result<Vec<Outgoing>, StageError> {
        let step = &due.step;
        if !due.skipped.is_empty() {
            tracing::info!(app = %step.app, plan = %due.plan_of, due_at_ms = due.due_at_ms, skipped_due_at_ms = ?due.skipped, "steps due together: only the latest carried out");
        }
        let resources = resources_of(step);
        let newer =
            lock(&self.shell.applier).newer_applied(&step.app, &resources, step.issued_at_ms);
        if let Some(newer) = newer {
            let never = self.plans.drop_app(&step.app);
            tracing::info!(app = %step.app, plan = %due.plan_of, due_at_ms = due.due_at_ms, newer_decided_at_ms = newer, never_due_at_ms = ?never, "plan superseded by a newer applied directive: step not carried out");
            return Ok(Vec::new());
        }
        self.shell.apply(&step.app, |applier, loaded, now| {
            let outcomes = applier.apply_directive(&loaded.template, step, now);
            outcomes
                .into_iter()
                .map(|mut outcome| {
                    // The step's id first, then the plan's directive: what it came from.
                    outcome.lineage.push(due.plan_of.clone());
                    tracing::info!(app = %outcome.app, hook = %outcome.hook, status = %outcome.status, attempts = outcome.attempts, reason = ?outcome.reason, plan = %due.plan_of, due_at_ms = due.due_at_ms, lateness_ms = now - due.due_at_ms, targets = ?step.targets.iter().map(|t| (t.resource.as_str(), t.target)).collect::<Vec<_>>(), "plan step applied");
                    outcome
                })
                .collect()
        })
    }
}

impl Stage for DirectiveStage {
    type Input = ScalingDirective;

    fn name(&self) -> &'static str {
        self.shell.name
    }

    fn input_topic(&self) -> String {
        self.shell.topics.directives()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.shell.on_template(loaded);
    }

    /// Reads `presage.applied` back, from before the plan held at the resume offset (if any)
    /// was issued: every directive read again from there was applied before the crash.
    fn restore(&mut self, partition: i32, metadata: &str, resume_offset: i64) {
        let span = presage_applier::schedule::read_back_span(
            metadata,
            resume_offset,
            presage_runner::dlq::now_ms(),
            APPLIED_SPAN_MS,
        );
        self.shell.restore(self.name(), partition, span);
    }

    /// Another applier owns these apps now and may apply newer directives: what was learnt
    /// about them is read again if the partition comes back; their plans are carried on by
    /// the next owner, which reads their directives again from the held offsets.
    fn forget(&mut self, partition: i32) {
        if let Some(apps) = self.shell.apps.remove(&partition) {
            lock(&self.shell.applier).forget_apps(&apps);
        }
        let dropped = self.plans.forget_partition(partition);
        if !dropped.is_empty() {
            tracing::info!(partition, apps = ?dropped, "partition revoked: its pending plans are its next owner's");
        }
    }

    /// Every directive held on the partition was read again: its plans' steps may now fall due
    /// by the wall clock (see `PendingPlans::due`), none before a later directive superseding
    /// them was read.
    fn caught_up(&mut self, partition: i32) {
        self.plans.caught_up(partition);
        tracing::info!(
            partition,
            "directives read to the partition's end: its plans' steps fall due by the clock"
        );
    }

    /// A plan with a step still to carry out holds its directive's offset uncommitted.
    /// Its metadata says since when, for the read-back after a restart (see `restore`).
    fn checkpoint(&self, partition: i32) -> Option<Checkpoint> {
        self.plans.hold(partition).map(|hold| Checkpoint {
            offset: hold.offset,
            metadata: hold.metadata(),
        })
    }

    /// The hold's metadata is stored with the committed offset (`presage.checkpoints`, written
    /// only while a plan is held).
    fn keeps_checkpoints(&self) -> bool {
        true
    }

    fn on_event_at(
        &mut self,
        directive: ScalingDirective,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        self.shell
            .apps
            .entry(at.partition)
            .or_default()
            .insert(directive.app.clone());
        self.directive(directive, (at.partition, at.offset))
    }

    /// Without a position (the runner always gives one) a plan is carried out but holds no
    /// offset: it would not survive a crash. Nothing is read again there, so its steps fall due
    /// by the clock at once (`PendingPlans::due`).
    fn on_event(&mut self, directive: ScalingDirective) -> Result<Vec<Outgoing>, StageError> {
        self.directive(directive, (-1, i64::MAX))
    }

    /// The steps due by the wall clock, each pending plan's latest due one.
    fn on_idle(&mut self, now_ms: i64) -> Result<Vec<Outgoing>, StageError> {
        self.plans.confirm();
        let mut outputs = Vec::new();
        for due in self.plans.due(now_ms) {
            let (app, plan, due_at_ms) = (due.step.app.clone(), due.plan_of.clone(), due.due_at_ms);
            match self.carry_out(due) {
                Ok(more) => outputs.extend(more),
                // The template is gone: nothing to apply the step with; the plan goes too.
                Err(err) => {
                    let never = self.plans.drop_app(&app);
                    tracing::warn!(%app, %plan, due_at_ms, never_due_at_ms = ?never, error = %err, "plan step not carried out");
                }
            }
        }
        Ok(outputs)
    }
}

struct FragmentStage(Shell);

impl Stage for FragmentStage {
    type Input = MetadataFragment;

    fn name(&self) -> &'static str {
        self.0.name
    }

    fn input_topic(&self) -> String {
        self.0.topics.fragments()
    }

    fn on_template(&mut self, loaded: &LoadedTemplate) {
        self.0.on_template(loaded);
    }

    fn restore(&mut self, partition: i32, _metadata: &str, _resume_offset: i64) {
        self.0.restore(self.name(), partition, APPLIED_SPAN_MS);
    }

    fn on_event(&mut self, fragment: MetadataFragment) -> Result<Vec<Outgoing>, StageError> {
        self.0.apply(&fragment.app, |applier, loaded, now| {
            let outcomes = applier.apply_fragment(&loaded.template, &fragment, now);
            for outcome in &outcomes {
                tracing::info!(app = %outcome.app, hook = %outcome.hook, status = %outcome.status, attempts = outcome.attempts, reason = ?outcome.reason, recipe = %fragment.recipe, "fragment applied");
            }
            outcomes
        })
    }
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    args.metrics.start("applier")?;
    let shutdown = Shutdown::on_signals()?;
    let applier = Arc::new(Mutex::new(Applier::new(
        granted(args.allow.as_deref())?.with_kubeconfig(args.kubeconfig.clone()),
    )));
    let node = args.node.as_deref();
    if let Some(node) = node {
        tracing::info!(
            node,
            "node-local: applying only the apps placed on this node"
        );
    }
    let directives = DirectiveStage::new(Shell::new(&args.kafka, applier.clone(), node, "applier"));
    let fragments = FragmentStage(Shell::new(&args.kafka, applier, node, "applier-fragments"));
    run_two_stages(&args.kafka, directives, fragments, &shutdown)
}
