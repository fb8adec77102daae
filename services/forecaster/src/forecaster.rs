//! The forecaster's state: templates, and per series (app × prediction algorithm × group) the
//! history, the active fit and the errors it has made since. Every derived value of a target
//! yields one forecast per algorithm, served from the active fit's path; fits happen on the
//! template's cadence, early on drift, and whenever a cold series' history has doubled.
//!
//! A recipe with `group_by` yields one output per label combination: each combination is its own
//! series (its own history, fits and forecasts, which carry its labels). An algorithm forecasts
//! at most `max_groups` of them per app (at most [`MAX_GROUPS`]); a group first seen beyond that
//! is not forecast (its windows are refused and counted, see [`Forecaster::groups_refused`], and
//! the first refusal per app and algorithm is logged), and no group already held is evicted for
//! it. Groups are admitted in the order their first window arrives, which a restart that
//! remembers the same history repeats.
//!
//! Quiet windows (`absent:` on the recipe): a zero window is an observation like any other
//! (seasonal zeros are demand). An unknown window (`sample_count` 0, a value that is not a number)
//! is kept out of history, a gap the grid fills, but is still forecast from at its end, from the
//! newest observation (see `gap_forecast`), so a quiet series is forecast on the clock.
//!
//! The active fit is a function of the history alone (see [`Forecaster::on_derived`]): a
//! forecaster restarted on the same history fits at the same instants on the same data and
//! issues the same forecasts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use presage_events::{event_id, DerivedMetric, Forecast, ForecastPoint, ModelScore};
use presage_template::{is_unknown_window, PredictionAlgorithm, Template, Zone, MAX_GROUPS};

use crate::calendar::Calendar;
use crate::constraints::{self, Applied};
use crate::fit::{fit, FitError, FitOutcome, FitSettings};
use crate::grid::Grid;
use crate::history::{History, Observation};
use crate::models::name_of;
use crate::schedule::{drifted, phase_ms, scheduled_at_or_before};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ForecastError {
    #[error("no template for app {0:?}: publish one with `presage templates publish`")]
    UnknownApp(String),
    #[error(
        "window of {recipe:?} starting at {start_ms} is not on the recipe's grid of {step_ms} ms \
         (windows start at multiples of their slide)"
    )]
    OffGrid {
        recipe: String,
        start_ms: i64,
        step_ms: i64,
    },
}

/// Without seasons, history defaults to this many windows.
const DEFAULT_HISTORY_POINTS: usize = 256;
/// Seasons of the longest period kept by default.
const DEFAULT_HISTORY_SEASONS: u64 = 4;
/// No fit uses more points than this, whatever its template says.
pub const MAX_HISTORY_POINTS: usize = 30_000;
/// A forecast reaches at most this many windows ahead (template validation refuses more).
pub const MAX_HORIZON_POINTS: usize = 5_000;
/// Refits come at least every this many windows.
pub const MAX_REFIT_POINTS: usize = 10_000;

#[derive(Default)]
pub struct Forecaster {
    templates: HashMap<String, (Arc<str>, Arc<Template>)>,
    series: HashMap<SeriesKey, Series>,
    refits: u64,
    /// Labelled series held per (app, algorithm): what `max_groups` bounds.
    groups: HashMap<(String, usize), usize>,
    /// Windows of groups beyond the bound, refused.
    groups_refused: u64,
    /// (app, algorithm) whose first refusal was logged: refusals are logged once, not per window.
    refusals_logged: HashSet<(String, usize)>,
}

/// The `group_by` labels of a series; empty for a recipe without `group_by`.
pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    app: String,
    algorithm: usize,
    target: String,
    labels: Labels,
}

struct Series {
    history: History,
    active: Option<ActiveFit>,
    /// A fit at the newest observation whose path reaches across an unknown stretch (see
    /// [`gap_forecast`]); never the fit in force, so unknown windows change nothing of the walk
    /// over the observations.
    gap: Option<ActiveFit>,
    step_ms: i64,
    /// (refit cadence, this series' phase in it): a hash, computed once per cadence rather
    /// than on every window.
    phase: Option<(i64, i64)>,
}

struct ActiveFit {
    /// Grid time of the newest point fitted on; `outcome.point[i]` forecasts `at + (i+1)·step`.
    at_ms: i64,
    /// The template version and grid step it was fitted under: a new version refits.
    version: String,
    step_ms: i64,
    /// The newest window taken against this fit (a window delivered again is not counted twice).
    last_seen_ms: i64,
    /// Its path with `constraints` applied.
    outcome: FitOutcome,
    constraints: Applied,
    history_points: usize,
    filled_points: usize,
    /// (path index, absolute error) of every observation since the fit.
    errors: Vec<(usize, f64)>,
}

/// An algorithm's settings in the units of its recipe's grid.
struct Plan<'a> {
    algorithm: &'a PredictionAlgorithm,
    step_ms: i64,
    horizon: usize,
    refit_ms: i64,
    /// Points a fit uses.
    fit_points: usize,
    /// Points the buffer keeps: a fit's window plus one cadence, so the fit in force can be
    /// recomputed after a restart.
    kept_points: usize,
    periods: Vec<usize>,
    calendar: Calendar,
}

impl<'a> Plan<'a> {
    fn new(algorithm: &'a PredictionAlgorithm, zone: Zone, step_ms: i64) -> Self {
        let step = step_ms.max(1) as u64;
        let horizon =
            (algorithm.horizon.as_millis().div_ceil(step).max(1) as usize).min(MAX_HORIZON_POINTS);
        // A cadence is at least one window and at most MAX_REFIT_POINTS windows: the path a fit
        // forecasts must reach the next refit.
        let refit_ms = algorithm
            .refit
            .as_millis()
            .clamp(step, step * MAX_REFIT_POINTS as u64) as i64;
        let periods: Vec<usize> = algorithm
            .fixed_seasons()
            .iter()
            .map(|s| (s.as_millis() as f64 / step as f64).round() as usize)
            .filter(|p| *p >= 2)
            .collect();
        let fit_points = match algorithm.history {
            Some(span) => (span.as_millis() / step) as usize,
            None => match periods.iter().max() {
                Some(longest) => *longest * DEFAULT_HISTORY_SEASONS as usize,
                None => DEFAULT_HISTORY_POINTS,
            },
        }
        .clamp(8, MAX_HISTORY_POINTS);
        let kept_points = fit_points + (refit_ms as u64 / step) as usize + 1;
        Self {
            algorithm,
            step_ms: step as i64,
            horizon,
            refit_ms,
            fit_points,
            kept_points,
            periods,
            calendar: Calendar::of(algorithm, zone),
        }
    }

    /// Enough path to serve every window until the next scheduled refit.
    fn path_len(&self) -> usize {
        self.horizon + (self.refit_ms / self.step_ms) as usize + 1
    }

    fn drift_window(&self) -> usize {
        self.horizon.clamp(3, 12)
    }
}

impl Forecaster {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_template(&mut self, version: &str, template: Arc<Template>) {
        self.templates
            .insert(template.app.clone(), (Arc::from(version), template));
    }

    /// How far back (in event time) history must be read on start to rebuild every series of
    /// every template: the longest buffer any prediction algorithm keeps.
    pub fn history_span_ms(&self) -> i64 {
        self.templates
            .values()
            .flat_map(|(_, template)| {
                template
                    .dynamic_metadata
                    .prediction_algorithms
                    .iter()
                    .filter_map(|a| {
                        let recipe = template.recipe(&a.target)?;
                        let (_, slide_ms) = recipe.window.size_and_slide_ms();
                        let plan = Plan::new(a, template.zone(), slide_ms as i64);
                        Some(plan.kept_points as i64 * plan.step_ms)
                    })
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(0)
    }

    /// Drops the history and fits of `apps` (their partition went to another instance); if they
    /// come back, their history is read again with [`Forecaster::remember`].
    pub fn forget_apps<'a>(&mut self, apps: impl IntoIterator<Item = &'a str>) {
        let apps: HashSet<&str> = apps.into_iter().collect();
        self.series
            .retain(|key, _| !apps.contains(key.app.as_str()));
        self.groups
            .retain(|(app, _), _| !apps.contains(app.as_str()));
        self.refusals_logged
            .retain(|(app, _)| !apps.contains(app.as_str()));
    }

    /// Windows of `group_by` groups that were not forecast because their app and algorithm
    /// already held `max_groups` groups (for logs, metrics and tests).
    pub fn groups_refused(&self) -> u64 {
        self.groups_refused
    }

    /// How many series are held (for logs and tests).
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// How many fits have run (for logs and benchmarks).
    pub fn refits(&self) -> u64 {
        self.refits
    }

    /// Takes a derived value into history without forecasting: how history is rebuilt from
    /// `presage.metrics.derived` on start.
    pub fn remember(&mut self, derived: &DerivedMetric) {
        let Some((_, template)) = self.templates.get(&derived.app).cloned() else {
            return;
        };
        for (index, plan) in plans_for(&template, derived) {
            if derived.window_start_ms.rem_euclid(plan.step_ms) == 0 {
                self.record(&derived.app, index, &plan, derived);
            }
        }
    }

    pub fn on_derived(&mut self, derived: &DerivedMetric) -> Result<Vec<Forecast>, ForecastError> {
        let (version, template) = self
            .templates
            .get(&derived.app)
            .cloned()
            .ok_or_else(|| ForecastError::UnknownApp(derived.app.clone()))?;
        let plans = plans_for(&template, derived);
        // An off-grid window would sit between the grid's points: refused, not recorded.
        if let Some((_, plan)) = plans
            .iter()
            .find(|(_, p)| derived.window_start_ms.rem_euclid(p.step_ms) != 0)
        {
            return Err(ForecastError::OffGrid {
                recipe: derived.recipe.clone(),
                start_ms: derived.window_start_ms,
                step_ms: plan.step_ms,
            });
        }
        let mut forecasts = Vec::new();
        for (index, plan) in plans {
            let Some(key) = self.record(&derived.app, index, &plan, derived) else {
                continue;
            };
            let t = derived.window_start_ms;
            let series = self.series.get_mut(&key).expect("recorded above");
            let phase = match series.phase {
                Some((cadence, phase)) if cadence == plan.refit_ms => phase,
                _ => {
                    let phase = phase_ms(&phase_name(&key), plan.refit_ms);
                    series.phase = Some((plan.refit_ms, phase));
                    phase
                }
            };
            // An unknown window (`absent: unknown`) is a gap in history, but the clock still
            // ticks: a forecast is issued at its end from the newest observation.
            if is_unknown_window(derived.value, derived.sample_count) {
                match gap_forecast(series, &plan, &version, t, phase, &mut self.refits) {
                    Ok(Some(fit)) => {
                        forecasts.push(forecast_event(derived, &version, index, &plan, fit, t))
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::debug!(app = %key.app, target = %key.target, error = %err, "no forecast across the gap");
                    }
                }
                continue;
            }
            // A window older than the newest is history, not news: it is not forecast from.
            if series.history.last_at() != Some(t) {
                continue;
            }
            match catch_up(series, &plan, &version, t, phase, &mut self.refits) {
                Ok(()) => {}
                Err(err) => {
                    tracing::debug!(app = %key.app, target = %key.target, error = %err, "no forecast");
                    continue;
                }
            }
            let active = series.active.as_ref().expect("caught up");
            forecasts.push(forecast_event(derived, &version, index, &plan, active, t));
        }
        Ok(forecasts)
    }

    /// Takes the window into its series' history; `None` when it belongs to a group beyond the
    /// algorithm's `max_groups` (refused, counted, and logged the first time).
    fn record(
        &mut self,
        app: &str,
        index: usize,
        plan: &Plan,
        derived: &DerivedMetric,
    ) -> Option<SeriesKey> {
        let key = SeriesKey {
            app: app.to_string(),
            algorithm: index,
            target: plan.algorithm.target.clone(),
            labels: derived.labels.clone(),
        };
        if !key.labels.is_empty() && !self.series.contains_key(&key) && !self.admit(&key, plan) {
            return None;
        }
        let series = self.series.entry(key.clone()).or_insert_with(|| Series {
            history: History::new(plan.kept_points),
            active: None,
            gap: None,
            step_ms: plan.step_ms,
            phase: None,
        });
        if series.step_ms != plan.step_ms {
            // a new window size: the old grid's points are not this one's
            *series = Series {
                history: History::new(plan.kept_points),
                active: None,
                gap: None,
                step_ms: plan.step_ms,
                phase: None,
            };
        }
        series.history.set_capacity(plan.kept_points);
        let regressors = plan
            .algorithm
            .regressors
            .iter()
            .map(|name| derived.signals.get(name).copied().unwrap_or(f64::NAN))
            .collect();
        series.history.record(
            derived.window_start_ms,
            Observation {
                value: derived.value,
                regressors,
            },
        );
        if let Some(newest) = series.history.last_at() {
            series
                .history
                .forget_before(newest - (plan.kept_points as i64 - 1) * plan.step_ms);
        }
        Some(key)
    }

    /// Whether a new group of `key`'s app and algorithm may be held: true (and counted) while
    /// fewer than its `max_groups` are.
    fn admit(&mut self, key: &SeriesKey, plan: &Plan) -> bool {
        let bound = plan.algorithm.max_groups.clamp(1, MAX_GROUPS);
        let held = self
            .groups
            .entry((key.app.clone(), key.algorithm))
            .or_default();
        if *held < bound {
            *held += 1;
            return true;
        }
        self.groups_refused += 1;
        if self
            .refusals_logged
            .insert((key.app.clone(), key.algorithm))
        {
            tracing::warn!(
                app = %key.app,
                target = %key.target,
                algorithm = key.algorithm,
                max_groups = bound,
                labels = ?key.labels,
                "group_by output has more groups than max_groups: new groups are not forecast, \
                 none held is evicted (logged once per app and algorithm)"
            );
        }
        false
    }
}

/// What a series' refit phase is hashed from: app and target, and a group's labels, so the groups
/// of one recipe refit at different instants of the cadence.
fn phase_name(key: &SeriesKey) -> String {
    let mut name = format!("{}|{}", key.app, key.target);
    for (label, value) in &key.labels {
        name.push_str(&format!("|{label}={value}"));
    }
    name
}

/// The prediction algorithms targeting this derived metric, with their grid plans. A grouped
/// output's series are told apart by their labels (see [`SeriesKey`]).
fn plans_for<'t>(template: &'t Template, derived: &DerivedMetric) -> Vec<(usize, Plan<'t>)> {
    let Some(recipe) = template.recipe(&derived.recipe) else {
        return Vec::new();
    };
    let (_, slide_ms) = recipe.window.size_and_slide_ms();
    template
        .dynamic_metadata
        .prediction_algorithms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.target == derived.recipe)
        .map(|(i, a)| (i, Plan::new(a, template.zone(), slide_ms as i64)))
        .collect()
}

/// Brings the active fit up to time `t`, the newest window: the fit in force is the one made at
/// the first window at or after the latest scheduled instant, followed by every early refit that
/// window's successors caused (drift, or a cold history that doubled). When the forecaster restarts,
/// the same walk over the rebuilt history reproduces it.
fn catch_up(
    series: &mut Series,
    plan: &Plan,
    version: &str,
    t: i64,
    phase: i64,
    refits: &mut u64,
) -> Result<(), FitError> {
    let scheduled = scheduled_at_or_before(t, plan.refit_ms, phase);
    let stale = series
        .active
        .as_ref()
        .is_none_or(|a| a.at_ms < scheduled || a.version != version || a.step_ms != plan.step_ms);
    if stale {
        let from = series.history.first_at_or_after(scheduled).unwrap_or(t);
        // A window too early to fit is retried at every later one, as the live run did.
        let mut outcome = refit(series, plan, version, from, refits);
        for later in series.history.times_between(from, t) {
            outcome = advance(series, plan, version, later, refits);
        }
        return outcome;
    }
    advance(series, plan, version, t, refits)
}

/// Takes the observation at `at` against the active fit: refit while cold, when the path has run
/// out, or when the recent error drifted.
fn advance(
    series: &mut Series,
    plan: &Plan,
    version: &str,
    at: i64,
    refits: &mut u64,
) -> Result<(), FitError> {
    let Some(active) = series.active.as_mut() else {
        return refit(series, plan, version, at, refits);
    };
    if at <= active.last_seen_ms {
        // the same window again (a replay): it was taken already
        return Ok(());
    }
    active.last_seen_ms = at;
    let lead = ((at - active.at_ms) / plan.step_ms) as usize;
    if lead == 0 || lead > active.outcome.point.len() {
        return refit(series, plan, version, at, refits);
    }
    // A cold series learns fast: it refits once it has seen as many new windows as it was
    // fitted on (its history doubled), until its fit window is full.
    let seen_since = active.errors.len() + 1;
    if active.outcome.cold_start
        && active.history_points < plan.fit_points
        && seen_since >= active.history_points.max(1)
    {
        return refit(series, plan, version, at, refits);
    }
    let index = lead - 1;
    let observed = series.history.get(at).map(|o| o.value);
    let error = observed.map_or(0.0, |v| (v - active.outcome.point[index]).abs());
    active.errors.push((index, error));
    if drifted(
        &active.errors,
        &active.outcome.expected_mae,
        plan.drift_window(),
        plan.algorithm.drift,
    ) {
        tracing::debug!(at, "forecast error drifted: refitting early");
        return refit(series, plan, version, at, refits);
    }
    Ok(())
}

/// The fit that serves the forecast at the end of the unknown window starting at `t`: the fit in
/// force at the newest observation when its path reaches `t` plus the horizon, otherwise a fit
/// at that observation whose path does (kept in `series.gap`, its path rounded up to whole
/// [`Plan::path_len`]s so the windows of one stretch share it, and used again while it reaches).
/// `None` when there is no observation before `t` (nothing to forecast from), `t` is not after
/// it (an old window delivered again), or the stretch from it reaches further than the history
/// the series keeps (its forecast would be guessing from data older than the fit window).
fn gap_forecast<'s>(
    series: &'s mut Series,
    plan: &Plan,
    version: &str,
    t: i64,
    phase: i64,
    refits: &mut u64,
) -> Result<Option<&'s ActiveFit>, FitError> {
    let Some(last) = series.history.last_at() else {
        return Ok(None);
    };
    if t <= last {
        return Ok(None);
    }
    // The fit in force at the newest observation, as the walk over the observations left it (or,
    // after a restart, rebuilds it).
    catch_up(series, plan, version, last, phase, refits)?;
    let reaches = |fit: &ActiveFit| {
        let needed = ((t - fit.at_ms) / plan.step_ms) as usize + plan.horizon;
        fit.outcome.point.len() >= needed
    };
    let active = series.active.as_ref().expect("caught up");
    if reaches(active) {
        return Ok(series.active.as_ref());
    }
    let usable = series.gap.as_ref().is_some_and(|g| {
        g.at_ms == last && g.version == version && g.step_ms == plan.step_ms && reaches(g)
    });
    if !usable {
        let needed = ((t - last) / plan.step_ms) as usize + plan.horizon;
        if needed > plan.kept_points {
            return Ok(None);
        }
        let path_len = needed.div_ceil(plan.path_len()) * plan.path_len();
        series.gap = Some(fit_at(
            &series.history,
            plan,
            version,
            last,
            path_len,
            refits,
        )?);
    }
    Ok(series.gap.as_ref())
}

fn refit(
    series: &mut Series,
    plan: &Plan,
    version: &str,
    at: i64,
    refits: &mut u64,
) -> Result<(), FitError> {
    match fit_at(&series.history, plan, version, at, plan.path_len(), refits) {
        Ok(fit) => {
            series.active = Some(fit);
            Ok(())
        }
        Err(err) => {
            series.active = None;
            Err(err)
        }
    }
}

/// A fit on the history up to `at` whose path is `path_len` windows long.
fn fit_at(
    history: &History,
    plan: &Plan,
    version: &str,
    at: i64,
    path_len: usize,
    refits: &mut u64,
) -> Result<ActiveFit, FitError> {
    *refits += 1;
    let from = at - (plan.fit_points as i64 - 1) * plan.step_ms;
    let window = history.window(from, at);
    let season = plan.periods.first().copied();
    let grid = Grid::build(
        &window,
        plan.step_ms,
        plan.algorithm.regressors.len(),
        season,
    )
    .ok_or(FitError::NothingFits {
        points: 0,
        reasons: "no history".into(),
    })?;
    let settings = FitSettings {
        models: &plan.algorithm.models,
        periods: plan.periods.clone(),
        detect_periods: plan.algorithm.detects_seasons(),
        horizon: plan.horizon,
        path_len,
        level: plan.algorithm.interval,
        folds: plan.algorithm.folds,
        calendar: &plan.calendar,
        ridge: plan.algorithm.ridge,
        harmonics: plan.algorithm.arima_harmonics(),
    };
    // Learned from the observed values only: a filled gap is the forecaster's guess, not evidence.
    let observed: Vec<f64> = window.iter().map(|(_, o)| o.value).collect();
    let applied = constraints::resolve(&plan.algorithm.constraints, &observed);
    let mut outcome = fit(&grid, &settings)?;
    constraints::apply(
        applied,
        &mut outcome.point,
        &mut outcome.lower,
        &mut outcome.upper,
    );
    Ok(ActiveFit {
        at_ms: at,
        version: version.to_string(),
        step_ms: plan.step_ms,
        last_seen_ms: at,
        outcome,
        constraints: applied,
        history_points: grid.len(),
        filled_points: grid.filled,
        errors: Vec::new(),
    })
}

fn forecast_event(
    derived: &DerivedMetric,
    version: &str,
    index: usize,
    plan: &Plan,
    active: &ActiveFit,
    t: i64,
) -> Forecast {
    let outcome = &active.outcome;
    let first = ((t - active.at_ms) / plan.step_ms) as usize;
    let points = (first..first + plan.horizon)
        .filter(|i| *i < outcome.point.len())
        .map(|i| ForecastPoint {
            at_ms: active.at_ms + (i as i64 + 1) * plan.step_ms,
            point: outcome.point[i],
            lower: outcome.lower[i],
            upper: outcome.upper[i],
        })
        .collect();
    Forecast {
        event_id: event_id(&["forecast", &derived.event_id, &index.to_string()]),
        app: derived.app.clone(),
        template_version: version.to_string(),
        metric: derived.recipe.clone(),
        model: outcome.model.name(),
        issued_at_ms: derived.window_end_ms,
        step_ms: plan.step_ms,
        interval_level: plan.algorithm.interval,
        points,
        lineage: vec![derived.event_id.clone()],
        fitted_at_ms: active.at_ms,
        score: outcome.score,
        candidates: outcome
            .candidates
            .iter()
            .map(|c| ModelScore {
                model: name_of(c.kind).to_string(),
                mase: c.mase,
                note: c.note.clone(),
            })
            .chain(
                outcome
                    .combination
                    .as_ref()
                    .map(|(choice, mase)| ModelScore {
                        model: choice.name(),
                        mase: Some(*mase),
                        note: "combination (half median, half mean), scored on the same folds"
                            .into(),
                    }),
            )
            .collect(),
        cold_start: outcome.cold_start,
        interval_method: outcome.interval_method.as_str().to_string(),
        periods_ms: outcome
            .periods
            .iter()
            .map(|p| *p as i64 * plan.step_ms)
            .collect(),
        history_points: active.history_points as i64,
        filled_points: active.filled_points as i64,
        labels: derived.labels.clone(),
        constraints: active.constraints.names(),
    }
}
