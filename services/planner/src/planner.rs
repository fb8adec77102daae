//! The planner's state: the latest template of each app and each policy's state. A forecast is
//! decided by every policy of its app that tracks its metric; live policies' targets are combined
//! into one directive, shadow policies' into another with mode `shadow`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use presage_events::{event_id, DerivedMetric, Forecast, ResourceTarget, ScalingDirective};
use presage_template::cron::Cron;
use presage_template::{PolicyKind, ScalingPolicy, Template, Zone};

use crate::calibration::{self, Record};
use crate::plan::{self, Planned};
use crate::policy::{
    decide_reactive, decide_sized, point_at_lead, sizing, Decision, PolicyInput, PolicyState,
};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("no template for app {0:?}: publish one with `presage templates publish`")]
    UnknownApp(String),
}

pub const LIVE: &str = "live";
pub const SHADOW: &str = "shadow";

#[derive(Default)]
pub struct Planner {
    /// Version and template per app; both shared, as they are read on every decision.
    templates: HashMap<String, (Arc<str>, Arc<Template>)>,
    /// Keyed by what a policy is (app, resource, live or shadow: validation allows one of each
    /// per resource), not by its place in the template: a reordered template keeps each
    /// policy's state with that policy, and a restarted planner finds it in its directives.
    states: HashMap<PolicyKey, PolicyState>,
    /// The newest forecast of each (app, metric): when it was issued and its model's score.
    forecasts: HashMap<(String, String), (i64, Option<f64>)>,
    /// When each (app, metric) was first observed: "no forecast yet" only counts after a
    /// `stale_after` of observations, so a restarted planner does not fall back at once.
    first_observed: HashMap<(String, String), i64>,
    /// Per policy, the directives already published at its newest decision time, and that
    /// time. An input older than a policy's newest decision is not decided again (see
    /// `decide`); this covers the input *at* that time: one a crash made the planner read again
    /// after it had published (and read back) its directive. Deciding it again on top of its
    /// own result would publish another content under the same id (a step-limited +2 twice).
    /// Keyed by (app, shadow), then resource, so the check costs one lookup per app.
    published: HashMap<(String, bool), Published>,
    /// Apps whose newest live directive was not applied (its outcome was `failed` or
    /// `rolled_back`): their next live decision is published even if no target changed.
    reissue: HashSet<String>,
    /// The newest live directive of each app, to match outcomes against.
    newest_live: HashMap<String, (i64, String)>,
    /// Per policy with a `target` SLO or a `reactive` side: its recent forecasts at its lead
    /// time and observed windows (see `calibration`). Not in the directives: rebuilt from the
    /// forecasts and derived metrics topics on start ([`Planner::remember_forecast`],
    /// [`Planner::remember_observed`]).
    records: HashMap<PolicyKey, Record>,
}

type PolicyKey = (String, String, bool);

/// Per resource: a policy's newest decision time and the directives published at it.
type Published = HashMap<String, (i64, Vec<String>)>;

fn key_of(app: &str, policy: &ScalingPolicy) -> PolicyKey {
    (app.to_string(), policy.resource.clone(), policy.shadow)
}

/// How far back of a decision a policy's record reaches: its SLO window and lead time (`None`:
/// the policy keeps no record).
fn record_keep_ms(policy: &ScalingPolicy) -> Option<i64> {
    let lead = policy.lead_time.map_or(0, |d| d.as_millis_i64());
    let window = match (policy.target, policy.reactive) {
        (Some(target), _) => target.window.as_millis_i64(),
        (None, Some(_)) => 0,
        (None, None) => return None,
    };
    Some(window.saturating_add(lead))
}

/// How far back of the topics' ends a restarted planner reads its records: their reach and a
/// day, so a planner down for up to a day takes its backlog's decisions with whole records.
pub const READ_BACK_SLACK_MS: i64 = 86_400_000;

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The template `app` is planned under, if one was set.
    pub fn template(&self, app: &str) -> Option<Arc<Template>> {
        self.templates
            .get(app)
            .map(|(_, template)| template.clone())
    }

    pub fn set_template(&mut self, version: &str, template: Arc<Template>) {
        self.templates
            .insert(template.app.clone(), (Arc::from(version), template));
    }

    /// How far back the forecasts and derived metrics topics must be read on start to rebuild
    /// every policy's record (0: no template needs one).
    pub fn record_span_ms(&self) -> i64 {
        self.templates
            .values()
            .flat_map(|(_, t)| t.dynamic_metadata.scaling_policies.iter())
            .filter_map(record_keep_ms)
            .max()
            .map_or(0, |keep| keep.saturating_add(READ_BACK_SLACK_MS))
    }

    /// Takes a forecast read back from `presage.forecasts` on start into the records of the
    /// policies it feeds, deciding nothing.
    pub fn remember_forecast(&mut self, forecast: &Forecast) {
        if let Some((_, template)) = self.templates.get(&forecast.app).cloned() {
            self.record_forecast(&template, forecast);
        }
    }

    /// Takes a window read back from `presage.metrics.derived` on start into the records of the
    /// policies on its metric, deciding nothing.
    pub fn remember_observed(&mut self, observed: &DerivedMetric) {
        if let Some((_, template)) = self.templates.get(&observed.app).cloned() {
            self.record_observed(&template, observed);
        }
    }

    /// Forecast points and observed windows held in records, for a log line.
    pub fn record_entries(&self) -> (usize, usize) {
        self.records.values().fold((0, 0), |(p, o), r| {
            let (rp, ro) = r.len();
            (p + rp, o + ro)
        })
    }

    /// The point each `target` policy on the forecast's metric provisions for, into its record.
    /// Only a forecast the policy trusts: one it would decide on.
    fn record_forecast(&mut self, template: &Template, forecast: &Forecast) {
        for policy in &template.dynamic_metadata.scaling_policies {
            if policy.target.is_none()
                || policy.metric != forecast.metric
                || policy.labels != forecast.labels
                || untrusted(policy, forecast.score)
            {
                continue;
            }
            let (Some(keep), Some(point)) = (
                record_keep_ms(policy),
                point_at_lead(policy, forecast.issued_at_ms, &forecast.points),
            ) else {
                continue;
            };
            let record = self
                .records
                .entry(key_of(&forecast.app, policy))
                .or_default();
            // With a plan, the later points provision their windows too when no newer forecast
            // comes before them (a newer forecast's point for the same window replaces theirs).
            let until = policy.plan.map_or(i64::MIN, |plan| {
                forecast
                    .issued_at_ms
                    .saturating_add(plan.ahead.as_millis_i64())
            });
            let planned = forecast
                .points
                .iter()
                .filter(|p| p.at_ms > point.at_ms && p.at_ms <= until);
            for provisioning in std::iter::once(point).chain(planned) {
                let sigma = calibration::sigma(provisioning, forecast.interval_level);
                record.predict(
                    forecast.issued_at_ms,
                    &forecast.event_id,
                    provisioning,
                    sigma,
                    keep,
                );
            }
        }
    }

    /// An observed window, into the records of the policies on its metric that keep one.
    fn record_observed(&mut self, template: &Template, observed: &DerivedMetric) {
        for policy in &template.dynamic_metadata.scaling_policies {
            if policy.metric != observed.recipe || policy.labels != observed.labels {
                continue;
            }
            let Some(keep) = record_keep_ms(policy) else {
                continue;
            };
            self.records
                .entry(key_of(&observed.app, policy))
                .or_default()
                .observe(
                    observed.window_start_ms,
                    observed.window_end_ms,
                    observed.value,
                    keep,
                );
        }
    }

    /// Takes back a directive this planner published (read from `presage.directives` on start,
    /// oldest first): each target becomes its policy's target in force, changed when it differs
    /// from the previous one, so step limits and cooldown hold across a restart. Its plan's steps
    /// become the plan in force exactly as the live planner holds them (see [`crate::plan`]):
    /// as each falls due its target, recommendation and held-at-max are taken. The immediate
    /// decisions' recommendations are not in the directives: that part of the stabilization
    /// history starts empty.
    pub fn remember_directive(&mut self, directive: &ScalingDirective) {
        let shadow = match directive.mode.as_str() {
            SHADOW => true,
            LIVE | "" => false,
            _ => return,
        };
        let targets: Vec<(String, i64, Option<i64>, bool)> = if directive.targets.is_empty() {
            vec![(
                directive.resource.clone(),
                directive.target,
                directive.previous_target,
                false,
            )]
        } else {
            directive
                .targets
                .iter()
                .map(|t| (t.resource.clone(), t.target, t.previous_target, t.at_max))
                .collect()
        };
        if !shadow {
            self.note_live(directive);
        }
        self.take_plan(directive, shadow);
        for (resource, target, previous, at_max) in targets {
            let key = (directive.app.clone(), resource, shadow);
            note_published(&mut self.published, &key, directive);
            let state = self.states.entry(key).or_default();
            if state
                .decided_at
                .is_some_and(|at| directive.issued_at_ms < at)
            {
                continue;
            }
            let changed_at = match state.current {
                Some((current, at)) if current == target && previous == Some(target) => at,
                _ => directive.issued_at_ms,
            };
            state.current = Some((target, changed_at));
            state.at_max = at_max;
            state.decided_at = Some(directive.issued_at_ms);
        }
    }

    /// Directives stating targets (not deltas), so applying one twice is harmless. At most one
    /// live and one shadow directive per forecast, each emitted only when a target changed.
    ///
    /// A forecast of one `group_by` group (it carries labels) is a part of its metric, not the
    /// whole: only a policy that names that group (its `labels`) acts on it, and it does not
    /// count as the metric's forecast for the fallback.
    pub fn on_forecast(&mut self, forecast: &Forecast) -> Result<Vec<ScalingDirective>, PlanError> {
        let (version, template) = self
            .templates
            .get(&forecast.app)
            .cloned()
            .ok_or_else(|| PlanError::UnknownApp(forecast.app.clone()))?;
        // Before the published check: a forecast read again after a crash is recorded again
        // (harmless: the same point under the same window).
        self.record_forecast(&template, forecast);
        let whole = forecast.labels.is_empty();
        if !whole
            && !template
                .dynamic_metadata
                .scaling_policies
                .iter()
                .any(|p| p.metric == forecast.metric && p.labels == forecast.labels)
        {
            tracing::debug!(app = %forecast.app, metric = %forecast.metric, labels = ?forecast.labels, "a group's forecast no policy names: not acted on");
            return Ok(Vec::new());
        }
        let mut usable = false;
        let mut directives = Vec::new();
        for mode in [LIVE, SHADOW] {
            // Checked before deciding: deciding moves the policies' state.
            let id = directive_id(&forecast.event_id, mode);
            if self.already_published(&forecast.app, mode, &id, forecast.issued_at_ms) {
                tracing::debug!(app = %forecast.app, directive = %id, "already published: not decided again");
                usable = true;
                continue;
            }
            let mut decided: Vec<(String, String, Decision)> = Vec::new();
            for (index, policy) in template
                .dynamic_metadata
                .scaling_policies
                .iter()
                .enumerate()
            {
                if policy.metric != forecast.metric
                    || policy.labels != forecast.labels
                    || policy.shadow != (mode == SHADOW)
                {
                    continue;
                }
                // A forecast its policy does not trust is left to the fallback (on_observed).
                if untrusted(policy, forecast.score) {
                    continue;
                }
                let now = forecast.issued_at_ms;
                let record = self.records.get(&key_of(&forecast.app, policy));
                let scores = match (policy.target, record) {
                    (Some(target), Some(record)) => {
                        record.scores(now, target.window.as_millis_i64())
                    }
                    _ => Vec::new(),
                };
                let observed = policy
                    .reactive
                    .and(record)
                    .and_then(|r| r.newest_observed(now))
                    .map(|(_, value)| value);
                if let (Some(keep), Some(record)) = (
                    record_keep_ms(policy),
                    self.records.get_mut(&key_of(&forecast.app, policy)),
                ) {
                    // no later decision (they are never older) reads further back
                    record.forget_before(now.saturating_sub(keep));
                }
                let state = self
                    .states
                    .entry(key_of(&forecast.app, policy))
                    .or_default();
                // The plan in force set its targets up to now, as the applier applied them.
                state.advance_to(forecast.issued_at_ms);
                let input = PolicyInput {
                    issued_at_ms: forecast.issued_at_ms,
                    points: &forecast.points,
                    interval_level: forecast.interval_level,
                    scheduled_floor: scheduled_floor(
                        policy,
                        template.zone(),
                        forecast.issued_at_ms,
                    ),
                    scores: &scores,
                    observed,
                };
                let sized = sizing(policy, &input);
                let decision = match policy.kind {
                    PolicyKind::TargetTracking => decide_sized(policy, state, &input, &sized),
                };
                if let Some(mut decision) = decision {
                    let planned = plan::simulate(policy, state, &sized, &input, template.zone());
                    decision.plan_changed = steps_of(&planned) != state.planned_steps();
                    if let Some(summary) =
                        plan::summary(&policy.resource, Some(decision.target), &planned)
                    {
                        decision.reason = format!("{}; {summary}", decision.reason);
                    }
                    // Taken into the state once published (below): unpublished, nothing changed
                    // and the plan in force (the one its directive carries) stays.
                    decision.plan = planned;
                    usable = true;
                    decided.push((rule_name(index, policy), policy.resource.clone(), decision));
                }
            }
            if !self.worth_publishing(
                &forecast.app,
                mode,
                &version,
                forecast.issued_at_ms,
                &decided,
            ) {
                continue;
            }
            let carried = self.carried_plans(
                &forecast.app,
                mode,
                &version,
                forecast.issued_at_ms,
                &decided,
            );
            self.take_own_plans(&forecast.app, mode, &version, &decided);
            let d = directive(forecast, &version, mode, decided, carried);
            self.published_now(&d);
            directives.push(d);
        }
        // A forecast with no usable point does not keep the fallback away; an untrusted one is
        // remembered with its score, so the fallback can say why it acts.
        let has_points = forecast.points.iter().any(|p| p.point.is_finite());
        if whole && (usable || has_points) {
            let newest = self
                .forecasts
                .entry((forecast.app.clone(), forecast.metric.clone()))
                .or_insert((forecast.issued_at_ms, forecast.score));
            if forecast.issued_at_ms >= newest.0 {
                *newest = (forecast.issued_at_ms, forecast.score);
            }
        }
        Ok(directives)
    }

    /// An observed value of a metric. Policies with a fallback act on it when their forecast is
    /// missing, older than `stale_after`, or scored above `max_score`: the observed value with
    /// headroom, through the same floors, limits and stabilization. The directive says so.
    /// Policies with a `target` SLO or a `reactive` side keep it in their record.
    pub fn on_observed(
        &mut self,
        observed: &DerivedMetric,
    ) -> Result<Vec<ScalingDirective>, PlanError> {
        let (version, template) = self
            .templates
            .get(&observed.app)
            .cloned()
            .ok_or_else(|| PlanError::UnknownApp(observed.app.clone()))?;
        self.record_observed(&template, observed);
        let has_fallback = template
            .dynamic_metadata
            .scaling_policies
            .iter()
            .any(|p| p.fallback.is_some() && p.metric == observed.recipe);
        // Only a fallback acts on observations: nothing to remember for the others.
        if !observed.labels.is_empty() || !has_fallback {
            return Ok(Vec::new());
        }
        // The forecast made from this window is issued at its end, after this observation is
        // read; the one in force was issued at its start. Staleness counts from there.
        let now = observed.window_start_ms;
        let series = (observed.app.clone(), observed.recipe.clone());
        let first_observed = *self.first_observed.entry(series.clone()).or_insert(now);
        let newest = self.forecasts.get(&series).copied();
        let mut directives = Vec::new();
        for mode in [LIVE, SHADOW] {
            let id = fallback_id(&observed.event_id, mode);
            if self.already_published(&observed.app, mode, &id, observed.window_end_ms) {
                continue;
            }
            let mut decided: Vec<(String, String, Decision)> = Vec::new();
            for (index, policy) in template
                .dynamic_metadata
                .scaling_policies
                .iter()
                .enumerate()
            {
                if policy.metric != observed.recipe || policy.shadow != (mode == SHADOW) {
                    continue;
                }
                let Some(fallback) = policy.fallback else {
                    continue;
                };
                let why = match newest {
                    None if now - first_observed < fallback.stale_after.as_millis_i64() => continue,
                    None => "no forecast yet".to_string(),
                    Some((issued, _)) if now - issued > fallback.stale_after.as_millis_i64() => {
                        format!("forecast stale: last issued {}s ago", (now - issued) / 1000)
                    }
                    Some((_, score)) if untrusted(policy, score) => format!(
                        "forecast not trusted: MASE {:.2} over {}",
                        score.unwrap_or(f64::NAN),
                        fallback.max_score.unwrap_or(f64::NAN)
                    ),
                    Some(_) => continue,
                };
                let state = self
                    .states
                    .entry(key_of(&observed.app, policy))
                    .or_default();
                state.advance_to(now);
                let floor = scheduled_floor(policy, template.zone(), now);
                if let Some(decision) = decide_reactive(
                    policy,
                    state,
                    now,
                    observed.value,
                    fallback.headroom,
                    floor,
                    &why,
                ) {
                    decided.push((
                        format!("{} fallback:reactive", rule_name(index, policy)),
                        policy.resource.clone(),
                        decision,
                    ));
                }
            }
            if !self.worth_publishing(&observed.app, mode, &version, now, &decided) {
                continue;
            }
            let carried = self.carried_plans(&observed.app, mode, &version, now, &decided);
            // A published fallback supersedes the plan of the policies it decided (their
            // decisions plan nothing).
            self.take_own_plans(&observed.app, mode, &version, &decided);
            let mut d = fallback_directive(observed, &version, mode, decided, carried);
            d.fallback = true;
            self.published_now(&d);
            directives.push(d);
        }
        Ok(directives)
    }
}

impl Planner {
    /// The plans in force of the app's other policies in `mode` (not among `decided`), up to
    /// `now`: a directive supersedes every step not yet due, so it carries theirs on; except a
    /// plan made under another template version than `version` (the policy may be gone, or
    /// plan or limit differently now): the directive supersedes it and it is dropped.
    fn carried_plans(
        &mut self,
        app: &str,
        mode: &str,
        version: &str,
        now: i64,
        decided: &[(String, String, Decision)],
    ) -> Vec<(String, Vec<Planned>)> {
        let shadow = mode == SHADOW;
        let mut carried: Vec<(String, Vec<Planned>)> = self
            .states
            .iter_mut()
            .filter(|((a, resource, s), _)| {
                a == app && *s == shadow && !decided.iter().any(|(_, r, _)| r == resource)
            })
            .filter_map(|((_, resource, _), state)| {
                state.advance_to(now);
                if state.planned.is_empty() {
                    return None;
                }
                if state.plan_version.as_deref() != Some(version) {
                    tracing::debug!(%app, %resource, made_under = ?state.plan_version, %version, steps = state.planned.len(), "plan of an earlier template version superseded, not carried on");
                    state.planned.clear();
                    return None;
                }
                Some((resource.clone(), state.planned.clone()))
            })
            .collect();
        carried.sort_by(|a, b| a.0.cmp(&b.0));
        carried
    }

    /// The plans of the policies `decided` in a directive about to be published become their
    /// plans in force: the steps only, as a restarted planner reads them back.
    fn take_own_plans(
        &mut self,
        app: &str,
        mode: &str,
        version: &str,
        decided: &[(String, String, Decision)],
    ) {
        for (_, resource, decision) in decided {
            let key = (app.to_string(), resource.clone(), mode == SHADOW);
            if let Some(state) = self.states.get_mut(&key) {
                state.planned = plan::steps_only(&decision.plan);
                state.plan_version = Some(version.to_string());
            }
        }
    }

    /// The policy of the app's current template that sets `resource` in `mode`, if any.
    fn policy_of(&self, app: &str, resource: &str, shadow: bool) -> Option<ScalingPolicy> {
        let (_, template) = self.templates.get(app)?;
        template
            .dynamic_metadata
            .scaling_policies
            .iter()
            .find(|p| p.resource == resource && p.shadow == shadow)
            .cloned()
    }

    /// A directive read back supersedes the plans in force of its app and mode: each policy's
    /// steps due by its issue time took effect, its own plan's steps are in force after it.
    fn take_plan(&mut self, directive: &ScalingDirective, shadow: bool) {
        let resources: HashSet<String> = self
            .states
            .keys()
            .filter(|(app, _, s)| *app == directive.app && *s == shadow)
            .map(|(_, resource, _)| resource.clone())
            .chain(
                directive
                    .plan
                    .iter()
                    .flat_map(|step| step.targets.iter().map(|t| t.resource.clone())),
            )
            .collect();
        for resource in resources {
            let policy = self.policy_of(&directive.app, &resource, shadow);
            let key = (directive.app.clone(), resource, shadow);
            // A resource only planned (carried) by this directive has a state from now on.
            let state = self.states.entry(key.clone()).or_default();
            if state
                .decided_at
                .is_some_and(|at| directive.issued_at_ms < at)
            {
                continue;
            }
            state.advance_to(directive.issued_at_ms);
            state.planned = planned_of(directive, &key.1, policy.as_ref());
            state.plan_version = Some(directive.template_version.clone());
        }
    }

    /// An apply outcome from `presage.applied`. If the app's newest live directive was not
    /// applied at some hook (`failed`, or `rolled_back` after its check failed), the app's next
    /// live decision is published even when no target changed, so a transient failure does
    /// not leave the app at the wrong size until demand moves. Other outcomes, and outcomes of
    /// older directives, change nothing.
    pub fn on_outcome(&mut self, app: &str, directive_id: &str, status: &str) {
        let newest = self.newest_live.get(app).map(|(_, id)| id.as_str());
        if newest != Some(directive_id) {
            return;
        }
        // One outcome per hook: a failure at any hook means the target is not in force. Only
        // the next live directive clears it.
        if matches!(status, "failed" | "rolled_back") {
            self.reissue.insert(app.to_string());
        }
    }

    /// Forgets everything held for `apps` (their partition was revoked): another instance
    /// decides for them now, and if they come back, their directives are read back again.
    pub fn forget_apps<'a>(&mut self, apps: impl IntoIterator<Item = &'a str>) {
        let apps: HashSet<&str> = apps.into_iter().collect();
        self.states
            .retain(|(app, _, _), _| !apps.contains(app.as_str()));
        self.published
            .retain(|(app, _), _| !apps.contains(app.as_str()));
        self.forecasts
            .retain(|(app, _), _| !apps.contains(app.as_str()));
        self.first_observed
            .retain(|(app, _), _| !apps.contains(app.as_str()));
        self.reissue.retain(|app| !apps.contains(app.as_str()));
        self.newest_live
            .retain(|app, _| !apps.contains(app.as_str()));
        self.records
            .retain(|(app, _, _), _| !apps.contains(app.as_str()));
    }

    /// Whether the directive `id`, decided at `at_ms` in `mode`, was already published for
    /// this app: then its input is one read again after a crash, and is not decided again.
    fn already_published(&self, app: &str, mode: &str, id: &str, at_ms: i64) -> bool {
        self.published
            .get(&(app.to_string(), mode == SHADOW))
            .is_some_and(|by_resource| {
                by_resource
                    .values()
                    .any(|(at, ids)| *at == at_ms && ids.iter().any(|i| i == id))
            })
    }

    /// A directive is published when a target changed, when the app's last live directive
    /// failed to apply and must be issued again, or when a plan in force (steps after `now`)
    /// was made under another template version than `version`: the directive supersedes it (the
    /// applier stops carrying it out; the policy may be gone, or plan or limit differently) and
    /// re-issues the plans of the policies it decided under the new version.
    fn worth_publishing(
        &self,
        app: &str,
        mode: &str,
        version: &str,
        now: i64,
        decided: &[(String, String, Decision)],
    ) -> bool {
        if decided.is_empty() {
            return false;
        }
        if decided.iter().any(|(_, _, d)| d.changed()) {
            return true;
        }
        let shadow = mode == SHADOW;
        let stale_plan = self.states.iter().any(|((a, _, s), state)| {
            a == app
                && *s == shadow
                && state.plan_version.as_deref() != Some(version)
                && state.planned.iter().any(|p| p.due_at_ms > now)
        });
        stale_plan || (mode == LIVE && self.reissue.contains(app))
    }

    /// Records a directive just decided, exactly as reading it back would.
    fn published_now(&mut self, directive: &ScalingDirective) {
        let shadow = directive.mode == SHADOW;
        if !shadow {
            self.reissue.remove(&directive.app);
            self.note_live(directive);
        }
        for target in &directive.targets {
            let key = (directive.app.clone(), target.resource.clone(), shadow);
            note_published(&mut self.published, &key, directive);
        }
    }

    fn note_live(&mut self, directive: &ScalingDirective) {
        let newest = self
            .newest_live
            .entry(directive.app.clone())
            .or_insert((directive.issued_at_ms, directive.event_id.clone()));
        if directive.issued_at_ms >= newest.0 {
            *newest = (directive.issued_at_ms, directive.event_id.clone());
        }
    }
}

/// Adds `directive` to what `key`'s policy has published at its newest decision time.
fn note_published(
    published: &mut HashMap<(String, bool), Published>,
    key: &PolicyKey,
    directive: &ScalingDirective,
) {
    let (app, resource, shadow) = key;
    let entry = published
        .entry((app.clone(), *shadow))
        .or_default()
        .entry(resource.clone())
        .or_insert((directive.issued_at_ms, Vec::new()));
    if directive.issued_at_ms > entry.0 {
        *entry = (directive.issued_at_ms, Vec::new());
    }
    if directive.issued_at_ms == entry.0 && !entry.1.contains(&directive.event_id) {
        entry.1.push(directive.event_id.clone());
    }
}

/// The steps of `directive`'s plan that set `resource`, as planned instants, with what each
/// implies under the resource's `policy` (as the live planner holds them, see [`Planned`]).
fn planned_of(
    directive: &ScalingDirective,
    resource: &str,
    policy: Option<&ScalingPolicy>,
) -> Vec<Planned> {
    let mut steps: Vec<&presage_events::PlannedStep> = directive
        .plan
        .iter()
        .filter(|s| s.due_at_ms > directive.issued_at_ms)
        .collect();
    steps.sort_by_key(|s| s.due_at_ms);
    steps
        .into_iter()
        .filter_map(|s| {
            let t = s.targets.iter().find(|t| t.resource == resource)?;
            Some(Planned::from_step(
                policy,
                s.due_at_ms,
                s.effective_at_ms,
                t.target,
                t.forecast_value,
                true,
            ))
        })
        .collect()
}

/// A plan's steps, as (due, target).
fn steps_of(planned: &[Planned]) -> Vec<(i64, i64)> {
    planned
        .iter()
        .filter(|p| p.step)
        .map(|p| (p.due_at_ms, p.target))
        .collect()
}

fn directive_id(input_id: &str, mode: &str) -> String {
    event_id(&["directive", input_id, mode])
}

fn fallback_id(input_id: &str, mode: &str) -> String {
    event_id(&["directive", input_id, "fallback", mode])
}

fn untrusted(policy: &ScalingPolicy, score: Option<f64>) -> bool {
    let limit = policy.fallback.and_then(|f| f.max_score);
    matches!((limit, score), (Some(limit), Some(score)) if score > limit)
}

fn fallback_directive(
    observed: &DerivedMetric,
    version: &str,
    mode: &str,
    decided: Vec<(String, String, Decision)>,
    carried: Vec<(String, Vec<Planned>)>,
) -> ScalingDirective {
    let as_forecast = Forecast {
        event_id: observed.event_id.clone(),
        app: observed.app.clone(),
        metric: observed.recipe.clone(),
        model: String::new(),
        issued_at_ms: observed.window_end_ms,
        lineage: Vec::new(),
        ..Default::default()
    };
    let mut d = directive(&as_forecast, version, mode, decided, carried);
    d.event_id = fallback_id(&observed.event_id, mode);
    d.forecast_id = String::new();
    d.model = String::new();
    d.lineage = vec![observed.event_id.clone()];
    d
}

/// The highest `min` of the schedule windows open at `at_ms`, their crons read on the local
/// clock of `zone` (the template's `timezone`).
pub fn scheduled_floor(policy: &ScalingPolicy, zone: Zone, at_ms: i64) -> Option<f64> {
    policy
        .schedule
        .iter()
        .filter(|floor| {
            floor.cron.parse::<Cron>().is_ok_and(|cron| {
                cron.window_active_in(zone, at_ms, floor.duration.as_millis_i64())
            })
        })
        .map(|floor| floor.min)
        .reduce(f64::max)
}

fn rule_name(index: usize, policy: &ScalingPolicy) -> String {
    format!(
        "scaling_policies[{index}] target_tracking {}<-{}",
        policy.resource, policy.metric
    )
}

fn directive(
    forecast: &Forecast,
    version: &str,
    mode: &str,
    decided: Vec<(String, String, Decision)>,
    carried: Vec<(String, Vec<Planned>)>,
) -> ScalingDirective {
    let plans: Vec<(&str, &[Planned])> = decided
        .iter()
        .map(|(_, resource, d)| (resource.as_str(), &d.plan[..]))
        .chain(carried.iter().map(|(r, p)| (r.as_str(), &p[..])))
        .collect();
    let plan = plan::steps(&plans);
    let targets: Vec<ResourceTarget> = decided
        .iter()
        .map(|(rule, resource, d)| ResourceTarget {
            resource: resource.clone(),
            target: d.target,
            previous_target: d.previous,
            forecast_value: d.forecast_value,
            policy: rule.clone(),
            reason: d.reason.clone(),
            at_max: d.at_max,
        })
        .collect();
    let first = &targets[0];
    let effective_at_ms = decided
        .iter()
        .map(|(_, _, d)| d.effective_at_ms)
        .min()
        .unwrap_or(forecast.issued_at_ms);
    let reason = targets
        .iter()
        .map(|t| format!("{} = {}: {}", t.resource, t.target, t.reason))
        .collect::<Vec<_>>()
        .join(" | ");
    let cold = if forecast.cold_start {
        ", cold start"
    } else {
        ""
    };
    ScalingDirective {
        event_id: directive_id(&forecast.event_id, mode),
        app: forecast.app.clone(),
        template_version: version.to_string(),
        resource: first.resource.clone(),
        target: first.target,
        previous_target: first.previous_target,
        forecast_value: first.forecast_value,
        effective_at_ms,
        issued_at_ms: forecast.issued_at_ms,
        policy: first.policy.clone(),
        reason: if forecast.model.is_empty() {
            reason
        } else {
            format!(
                "{reason} (model {}{}{cold})",
                forecast.model,
                forecast
                    .score
                    .map(|s| format!(", MASE {s:.2}"))
                    .unwrap_or_default()
            )
        },
        lineage: std::iter::once(forecast.event_id.clone())
            .chain(forecast.lineage.iter().cloned())
            .collect(),
        mode: mode.to_string(),
        targets,
        forecast_id: forecast.event_id.clone(),
        model: forecast.model.clone(),
        model_score: forecast.score,
        cold_start: forecast.cold_start,
        fallback: false,
        plan,
    }
}
