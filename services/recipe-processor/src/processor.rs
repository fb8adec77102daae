//! The recipe-processor's state machine: raw samples in, derived metrics and metadata fragments
//! out, on event time.
//!
//! - **Windows** are aligned to the epoch ([`crate::windows`]). A sample goes into every window
//!   of every recipe whose selector it matches (`over` for a ratio's denominator).
//! - **Panes**: windows of one recipe that start and close together share one set of Arrow
//!   builders across apps, so a close runs the recipe's prepared query once for all of them.
//! - **Watermark**: per app, the newest event time of its samples. An app's window closes when
//!   its watermark passes the window's end plus the template's allowed lateness; apps sharing a
//!   partition do not move each other's event time, so one app's clock running ahead (or
//!   another's backlog arriving late) makes no other app's samples late. A pane (shared by the
//!   apps whose windows start and close together) runs its query when every app in it has
//!   passed its close: in step, apps still close in one query. A sample whose every window has
//!   closed is late: it is returned as [`RecipeOutput::Late`] and counted. An app with no sample
//!   for its template's idle timeout lets its event time advance with the wall clock, so its
//!   last windows close.
//! - **Quiet windows**: a recipe with `absent` (`zero` or `unknown`, see
//!   [`presage_template::absent`]) has every window of its grid that event time passes without a
//!   value emitted all the same (`sample_count` 0, value 0 or NaN), in window order among the
//!   query's: when a later sample passes them, or live when the idle timeout lets the wall clock
//!   move event time, which for such an app goes on with no window open (and, after a restore,
//!   from its restored watermark). Their ids are the query's, so a quiet window emitted again is
//!   the same event; one advance emits at most [`MAX_QUIET_WINDOWS`] per recipe.
//! - **Admission** ([`crate::admission`]): a sample that is not a finite number, has too many
//!   or too long labels, or is a new series past its app's or recipe's series limit is
//!   returned as [`RecipeOutput::Refused`] with its [`Refusal`], and stored nowhere.
//! - **Template versions**: a window keeps the recipe of the version it opened under; windows
//!   opening after a new version use the new recipes. No window is dropped or split.
//! - **Restart**: [`RecipeProcessor::checkpoint`] names the oldest offset still held in an open
//!   window (or needed for a join) and every app's watermark; after [`RecipeProcessor::restore`] the
//!   replayed samples rebuild exactly the windows that were open, and windows closed before the
//!   checkpoint are not opened again. A window emitted twice has the same id and value.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use presage_events::ids::{labels_key, parse_labels_key};
use presage_events::{event_id, DerivedMetric, MetadataFragment, RawSample};
use presage_template::{Selector, Template};

use crate::admission::{check_sample, series_hash, shown, Limits, Refusal, SeriesBook};
use crate::compile::{compile, CompileError, CompiledRecipe};
use crate::engine::{EngineError, PreparedQuery, ResultRow, Runtime};
use crate::fragments::render_fragment;
pub use crate::pane::PANE_GRACE_MS;
use crate::pane::{ClosingPane, Pane, PaneApp, PaneKey};
use crate::table::{samples_schema, signals_batch, signals_schema, SampleBuilder};
use crate::windows::window_starts;

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("no template for app {0:?}: publish one with `presage templates publish`")]
    UnknownApp(String),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("recipe {recipe:?}: {source}")]
    Plan { recipe: String, source: EngineError },
    #[error("recipe {recipe:?}, window starting {window_start_ms}: {source}")]
    Run {
        recipe: String,
        window_start_ms: i64,
        source: EngineError,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecipeOutput {
    Derived(DerivedMetric),
    Fragment(MetadataFragment),
    /// The sample arrived after every window it belonged to had closed.
    Late {
        app: String,
        reason: String,
    },
    /// The sample was not used, for `kind`: its event time is far ahead of the time it was
    /// received, its value is not finite, its labels are too many or too long, or it is a new
    /// series past a series limit.
    Refused {
        app: String,
        kind: Refusal,
        reason: String,
    },
}

/// How far ahead of the wall clock an event time may be. Further, it is a broken clock or a
/// corrupt record, and letting it move the app's watermark would close its open windows early. Five minutes is far more than synchronised clocks drift.
pub const MAX_FUTURE_MS: i64 = presage_events::time::MAX_AHEAD_MS;

/// At most this many quiet windows of one recipe are emitted by one advance of an app's event
/// time (the newest; older ones are skipped and logged). Live, event time moves with the wall
/// clock a fifth of a second at a time, so only a jump does this: a replay's first sample after
/// a long quiet stretch, or a clock far ahead. The bound is the most the forecaster ever keeps of
/// a series (30,000 points a fit may use plus 10,000 of a refit cadence, plus one): a jump emits
/// every window the forecaster could hold, so its history is the same whether the stretch passed
/// live or in one step.
pub const MAX_QUIET_WINDOWS: i64 = 40_001;

/// Hash maps on the per-sample path: keys are our own, so a fast hash beats SipHash's
/// flood resistance.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// Where a sample was read, and when (wall clock, ms) it was received; a `received_ms` of 0 or
/// less means no wall clock (a replay), and event times are then taken as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub partition: i32,
    pub offset: i64,
    pub received_ms: i64,
}

/// A recipe of one template version, with its planned query.
#[derive(Debug)]
pub(crate) struct RecipeRun {
    pub(crate) compiled: CompiledRecipe,
    name: Arc<str>,
    version: Arc<str>,
    query: usize,
    samples_schema: SchemaRef,
}

struct AppState {
    /// The app id, shared by every pane the app has windows in.
    name: Arc<str>,
    version: Arc<str>,
    lateness_ms: i64,
    idle_timeout_ms: i64,
    recipes: Vec<Arc<RecipeRun>>,
    /// Recipes of earlier versions that still have open windows.
    retiring: Vec<Arc<RecipeRun>>,
    /// Distinct join selectors of the current recipes.
    joins: Vec<Selector>,
    /// Signal (selector text) → event time → (value, offset).
    signals: HashMap<String, BTreeMap<i64, (f64, i64)>>,
    /// Open windows: (recipe name, window start, window size) → the pane holding them.
    open: HashMap<(Arc<str>, i64, i64), PaneKey>,
    /// The panes this app has rows in that its watermark has not passed, in close order.
    unclosed: BTreeSet<PaneKey>,
    /// Panes this app has passed that still wait for other apps, in close order.
    passed: BTreeSet<PaneKey>,
    /// Newest event time of the app's samples (or advanced to while idle, or restored).
    watermark: Option<i64>,
    /// The watermark and wall clock at the app's last sample, for idle advancement.
    last_arrival: Option<(i64, i64)>,
    /// How long a series stays counted after its last sample: the longest window of the
    /// app's recipes plus the allowed lateness (after that, it is in no open window).
    series_horizon_ms: i64,
    series: SeriesBook,
    recipe_series: HashMap<Arc<str>, SeriesBook>,
    partition: Option<i32>,
    late_samples: u64,
    refused: BTreeMap<Refusal, u64>,
}

#[derive(Default)]
struct PartitionState {
    /// Restored watermarks of apps not seen since the restore: each app takes its own at its
    /// first sample.
    restored: HashMap<String, i64>,
    /// A watermark restored for every app (a checkpoint written when the watermark was the
    /// partition's): apps with none of their own start from it.
    floor: Option<i64>,
    /// Offsets below this were processed before a restart: their lateness is not news.
    replay_until: i64,
    /// The offset after the last sample read in this run (the resume offset after a restore).
    position: i64,
    panes: BTreeMap<PaneKey, Pane>,
}

pub struct RecipeProcessor {
    apps: HashMap<String, AppState>,
    partitions: HashMap<i32, PartitionState>,
    queries: Vec<PreparedQuery>,
    query_ids: HashMap<(String, SchemaRef, SchemaRef), usize>,
    /// Rows of the last closed pane per (query, recipe name): the next pane's capacity.
    pane_rows: HashMap<(usize, Arc<str>), usize>,
    runtime: Runtime,
    failed_windows: u64,
    limits: Limits,
    series_hasher: ahash::RandomState,
}

impl RecipeProcessor {
    /// A processor with the default [`Limits`].
    pub fn new() -> Result<Self, EngineError> {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Result<Self, EngineError> {
        Ok(Self {
            limits,
            series_hasher: ahash::RandomState::new(),
            apps: HashMap::default(),
            partitions: HashMap::default(),
            queries: Vec::new(),
            query_ids: HashMap::default(),
            pane_rows: HashMap::default(),
            runtime: Runtime::new()?,
            failed_windows: 0,
        })
    }

    /// Compiles and plans the template's recipes. On error the previous version stays.
    pub fn set_template(
        &mut self,
        version: &str,
        template: Arc<Template>,
    ) -> Result<(), RecipeError> {
        let version: Arc<str> = Arc::from(version);
        let mut recipes = Vec::new();
        for recipe in &template.dynamic_metadata.metric_recipes {
            let compiled = compile(recipe)?;
            let query = self.plan(&compiled)?;
            recipes.push(Arc::new(RecipeRun {
                name: Arc::from(compiled.name.as_str()),
                samples_schema: samples_schema(&compiled.label_columns),
                version: Arc::clone(&version),
                query,
                compiled,
            }));
        }
        let mut joins: Vec<Selector> = Vec::new();
        for run in &recipes {
            for (selector, _) in &run.compiled.joins {
                if !joins.contains(selector) {
                    joins.push(selector.clone());
                }
            }
        }
        let windowing = &template.dynamic_metadata.windowing;
        let lateness_ms = windowing.allowed_lateness.as_millis_i64();
        let idle_timeout_ms = windowing.idle_timeout.as_millis_i64();
        let series_horizon_ms = recipes
            .iter()
            .map(|r| r.compiled.size_ms)
            .max()
            .unwrap_or(0)
            .saturating_add(lateness_ms);
        match self.apps.get_mut(&template.app) {
            Some(app) if *app.version == *version => {}
            Some(app) => {
                let previous = std::mem::replace(&mut app.recipes, recipes);
                app.retiring.extend(previous);
                // A recipe with no open window holds only the list's own reference.
                app.retiring.retain(|r| Arc::strong_count(r) > 1);
                app.version = version;
                app.lateness_ms = lateness_ms;
                app.idle_timeout_ms = idle_timeout_ms;
                app.joins = joins;
                // Windows of the earlier version are still open: their series still count.
                app.series_horizon_ms = app.series_horizon_ms.max(series_horizon_ms);
            }
            None => {
                self.apps.insert(
                    template.app.clone(),
                    AppState {
                        name: Arc::from(template.app.as_str()),
                        version,
                        lateness_ms,
                        idle_timeout_ms,
                        recipes,
                        retiring: Vec::new(),
                        joins,
                        signals: HashMap::default(),
                        open: HashMap::default(),
                        unclosed: BTreeSet::new(),
                        passed: BTreeSet::new(),
                        watermark: None,
                        last_arrival: None,
                        series_horizon_ms,
                        series: SeriesBook::default(),
                        recipe_series: HashMap::default(),
                        partition: None,
                        late_samples: 0,
                        refused: BTreeMap::new(),
                    },
                );
            }
        }
        Ok(())
    }

    /// The query of a recipe, planned once and shared by every recipe with the same SQL and
    /// tables.
    fn plan(&mut self, compiled: &CompiledRecipe) -> Result<usize, RecipeError> {
        let samples = samples_schema(&compiled.label_columns);
        let aliases: Vec<String> = compiled.joins.iter().map(|(_, a)| a.clone()).collect();
        let signals = signals_schema(&aliases);
        let key = (compiled.sql.clone(), samples.clone(), signals.clone());
        if let Some(&id) = self.query_ids.get(&key) {
            return Ok(id);
        }
        let query = PreparedQuery::prepare(
            &self.runtime,
            &compiled.sql,
            samples,
            signals,
            &compiled.group_by,
        )
        .map_err(|source| RecipeError::Plan {
            recipe: compiled.name.clone(),
            source,
        })?;
        self.queries.push(query);
        self.query_ids.insert(key, self.queries.len() - 1);
        Ok(self.queries.len() - 1)
    }

    /// The current recipes of an app, compiled.
    pub fn compiled(&self, app: &str) -> Option<Vec<&CompiledRecipe>> {
        self.apps
            .get(app)
            .map(|a| a.recipes.iter().map(|r| &r.compiled).collect())
    }

    /// Samples of this app that arrived after their windows closed.
    pub fn late_samples(&self, app: &str) -> u64 {
        self.apps.get(app).map_or(0, |a| a.late_samples)
    }

    /// Samples of this app refused for `kind`.
    pub fn refused_samples(&self, app: &str, kind: Refusal) -> u64 {
        self.apps
            .get(app)
            .and_then(|a| a.refused.get(&kind).copied())
            .unwrap_or(0)
    }

    /// Distinct series of this app counted against its limit right now.
    pub fn series_held(&self, app: &str) -> usize {
        self.apps.get(app).map_or(0, |a| a.series.len())
    }

    /// Windows whose query failed (logged with the error).
    pub fn failed_windows(&self) -> u64 {
        self.failed_windows
    }

    /// Windows open right now, over all apps.
    pub fn open_windows(&self) -> usize {
        self.apps.values().map(|a| a.open.len()).sum()
    }

    pub fn on_raw(
        &mut self,
        sample: &RawSample,
        at: Position,
    ) -> Result<Vec<RecipeOutput>, RecipeError> {
        let app = self
            .apps
            .get_mut(&sample.app)
            .ok_or_else(|| RecipeError::UnknownApp(sample.app.clone()))?;
        let partition = self.partitions.entry(at.partition).or_default();
        partition.position = at.offset + 1;
        let ts = sample.event_time_ms;
        let refused = |app: &mut AppState, kind: Refusal, reason: String| {
            *app.refused.entry(kind).or_default() += 1;
            Ok(vec![RecipeOutput::Refused {
                app: sample.app.clone(),
                kind,
                reason,
            }])
        };
        if at.received_ms > 0 && ts > at.received_ms.saturating_add(MAX_FUTURE_MS) {
            let reason = format!(
                "event time {ts} is {} ms ahead of the time it was received ({}): more \
                 than the {MAX_FUTURE_MS} ms a clock may be ahead",
                ts - at.received_ms,
                at.received_ms
            );
            return refused(app, Refusal::AheadOfClock, reason);
        }
        if let Some((kind, reason)) = check_sample(sample, &self.limits) {
            return refused(app, kind, reason);
        }
        if app.partition != Some(at.partition) {
            app.partition = Some(at.partition);
            if app.watermark.is_none() {
                app.watermark = partition
                    .restored
                    .remove(sample.app.as_str())
                    .or(partition.floor);
            }
        }

        // The recipes the sample feeds, and on which side of a ratio.
        let matches =
            |selector: &Selector| selector.matches(&sample.source, &sample.metric, &sample.labels);
        let fed: Vec<(usize, bool, bool)> = app
            .recipes
            .iter()
            .chain(app.retiring.iter())
            .enumerate()
            .filter_map(|(i, run)| {
                // A ratio's denominator usually includes its numerator (5xx over all
                // requests): a sample matching both selectors is a row on each side.
                let numerator = matches(&run.compiled.selector);
                let denominator = run.compiled.over.as_ref().is_some_and(matches);
                (numerator || denominator).then_some((i, numerator, denominator))
            })
            .collect();
        if !fed.is_empty() {
            if let Some(reason) = self.admit(sample, &fed) {
                let app = self.apps.get_mut(&sample.app).expect("looked up above");
                return refused(app, Refusal::Series, reason);
            }
        }
        let app = self.apps.get_mut(&sample.app).expect("looked up above");
        let partition = self
            .partitions
            .get_mut(&at.partition)
            .expect("entered above");
        let pane_rows = &self.pane_rows;

        for selector in &app.joins {
            if matches(selector) {
                app.signals
                    .entry(selector.to_string())
                    .or_default()
                    .insert(ts, (sample.value, at.offset));
            }
        }

        let belongs = !fed.is_empty();
        let mut placed = false;
        // A window of this recipe name still owned by an earlier version: not late, just not
        // this version's to fill.
        let mut superseded = false;
        let AppState {
            name: app_name,
            recipes,
            retiring,
            open,
            unclosed,
            watermark,
            lateness_ms,
            ..
        } = app;
        let current = recipes.len();
        for &(i, numerator, denominator) in &fed {
            let run = recipes.get(i).unwrap_or_else(|| &retiring[i - current]);
            let compiled = &run.compiled;
            for start in window_starts(ts, compiled.size_ms, compiled.slide_ms) {
                let end = start.saturating_add(compiled.size_ms);
                let close_at = end.saturating_add(*lateness_ms);
                if watermark.is_some_and(|wm| close_at <= wm) {
                    continue;
                }
                let open_key = (Arc::clone(&run.name), start, compiled.size_ms);
                let pane_key = match open.get(&open_key) {
                    Some(key) => key.clone(),
                    // Only the current version opens windows.
                    None if i >= current => continue,
                    None => {
                        let key = (
                            close_at,
                            run.query,
                            Arc::clone(&run.name),
                            start,
                            compiled.size_ms,
                        );
                        open.insert(open_key, key.clone());
                        key
                    }
                };
                let pane = match partition.panes.get_mut(&pane_key) {
                    Some(pane) => pane,
                    None => {
                        let rows = pane_rows
                            .get(&(run.query, Arc::clone(&run.name)))
                            .map_or(64, |rows| rows + rows / 8);
                        partition
                            .panes
                            .entry(pane_key.clone())
                            .or_insert_with(|| Pane {
                                rows: SampleBuilder::new(
                                    Arc::clone(&run.samples_schema),
                                    &compiled.label_columns,
                                    start,
                                    end,
                                    rows,
                                ),
                                held: Vec::new(),
                                apps: HashMap::default(),
                                waiting: 0,
                            })
                    }
                };
                if !pane.apps.contains_key(sample.app.as_str()) {
                    pane.apps.insert(
                        Arc::clone(app_name),
                        PaneApp {
                            run: Arc::clone(run),
                            first_offset: at.offset,
                            last_offset: at.offset,
                            signals: None,
                            ready: false,
                        },
                    );
                    pane.waiting += 1;
                    unclosed.insert(pane_key);
                }
                let owner = pane
                    .apps
                    .get_mut(sample.app.as_str())
                    .expect("inserted above");
                // The window belongs to the version it opened under.
                if !Arc::ptr_eq(&owner.run, run) {
                    superseded = true;
                    continue;
                }
                owner.first_offset = owner.first_offset.min(at.offset);
                owner.last_offset = owner.last_offset.max(at.offset);
                for (side, is_denominator) in [(numerator, false), (denominator, true)] {
                    if side {
                        pane.rows.append(
                            &sample.app,
                            ts,
                            &sample.labels,
                            sample.value,
                            is_denominator,
                        );
                    }
                }
                placed = true;
            }
        }

        let mut outputs = Vec::new();
        if belongs && !placed && !superseded && at.offset >= partition.replay_until {
            app.late_samples += 1;
            outputs.push(RecipeOutput::Late {
                app: sample.app.clone(),
                reason: format!(
                    "late: {}.{} at {ts} arrived after its windows closed (watermark of app \
                     {} {}, allowed lateness {} ms)",
                    sample.source,
                    sample.metric,
                    sample.app,
                    app.watermark.unwrap_or(i64::MIN),
                    app.lateness_ms
                ),
            });
        }
        let watermark = app.watermark.map_or(ts, |wm| wm.max(ts));
        app.last_arrival = Some((watermark, at.received_ms));
        self.advance_app(&sample.app, watermark, &mut outputs);
        Ok(outputs)
    }

    /// Whether the sample's series has room in its app and in every recipe it feeds (`fed`:
    /// indexes into the app's current then retiring recipes); if it has, it is counted. The
    /// reason it has not, otherwise: the sample is then stored nowhere.
    fn admit(&mut self, sample: &RawSample, fed: &[(usize, bool, bool)]) -> Option<String> {
        let series = series_hash(&self.series_hasher, sample);
        let limits = self.limits;
        let app = self.apps.get_mut(&sample.app)?;
        let now = app
            .watermark
            .map_or(sample.event_time_ms, |wm| wm.max(sample.event_time_ms));
        let horizon = app.series_horizon_ms;
        let current = app.recipes.len();
        let (recipes, retiring) = (&app.recipes, &app.retiring);
        let name_of = |i: usize| -> &Arc<str> {
            &recipes
                .get(i)
                .unwrap_or_else(|| &retiring[i - current])
                .name
        };
        // A known series (every sample after a series' first): one lookup per book, and no
        // allocation, on the path every sample takes.
        let mut known = app.series.touch(series, sample.event_time_ms);
        for &(i, _, _) in fed {
            if !known {
                break;
            }
            known = app
                .recipe_series
                .get_mut(name_of(i))
                .is_some_and(|book| book.touch(series, sample.event_time_ms));
        }
        if known {
            return None;
        }
        let mut names: Vec<Arc<str>> = fed
            .iter()
            .map(|&(i, _, _)| Arc::clone(name_of(i)))
            .collect();
        names.sort_unstable();
        names.dedup();
        let refusal = |scope: String, held: usize, limit: usize| {
            format!(
                "new series {}.{} {} of app {}: {scope} already has {held} series, its limit \
                 is {limit}",
                sample.source,
                sample.metric,
                shown(&sample.labels),
                sample.app
            )
        };
        if !app
            .series
            .has_room(series, now, horizon, limits.series_per_app)
        {
            return Some(refusal(
                format!("app {}", sample.app),
                app.series.len(),
                limits.series_per_app,
            ));
        }
        for name in &names {
            let book = app.recipe_series.entry(Arc::clone(name)).or_default();
            if !book.has_room(series, now, horizon, limits.series_per_recipe) {
                return Some(refusal(
                    format!("recipe {name}"),
                    book.len(),
                    limits.series_per_recipe,
                ));
            }
        }
        app.series.note(series, sample.event_time_ms);
        for name in &names {
            if let Some(book) = app.recipe_series.get_mut(name) {
                book.note(series, sample.event_time_ms);
            }
        }
        None
    }

    /// The broker was away for `away_ms`: that time was not quiet (nothing could arrive), so
    /// every app's last arrival moves forward by it. Without this, the first idle tick after an
    /// outage would close the windows that samples spooled during it (arriving now) belong
    /// to, and they would be dead-lettered as late.
    pub fn broker_was_away(&mut self, away_ms: i64) {
        for app in self.apps.values_mut() {
            if let Some((_, arrival)) = app.last_arrival.as_mut() {
                *arrival = arrival.saturating_add(away_ms.max(0));
            }
        }
    }

    /// Advances the event time of apps that have been quiet for their idle timeout, and
    /// closes the windows that passes.
    pub fn on_idle(&mut self, now_ms: i64) -> Vec<RecipeOutput> {
        self.adopt_restored_clocks(now_ms);
        let advanced: Vec<(Arc<str>, i64)> = self
            .apps
            .values()
            // An app with `absent` recipes keeps its clock even with nothing open: its quiet
            // windows are emitted as the wall clock passes them.
            .filter(|app| !app.unclosed.is_empty() || keeps_clock(app))
            .filter_map(|app| {
                let (base, arrival) = app.last_arrival?;
                let quiet = now_ms.saturating_sub(arrival);
                (quiet >= app.idle_timeout_ms)
                    .then(|| (Arc::clone(&app.name), base.saturating_add(quiet)))
            })
            .collect();
        let mut outputs = Vec::new();
        for (app, watermark) in advanced {
            tracing::debug!(%app, watermark, "idle app: event time advanced");
            self.advance_app(&app, watermark, &mut outputs);
        }
        outputs
    }

    /// An app with `absent` recipes restored from a checkpoint but not yet sent a sample (a
    /// restart during a quiet stretch) takes its restored watermark now, and counts its quiet
    /// time from this instant: the wall-clock offset of its event time before the restart is
    /// not known, so its quiet windows come no earlier than they would have, and may come
    /// later by the time the restart took.
    fn adopt_restored_clocks(&mut self, now_ms: i64) {
        for app in self.apps.values_mut() {
            if app.partition.is_some() || app.last_arrival.is_some() || !keeps_clock(app) {
                continue;
            }
            let restored = self.partitions.iter_mut().find_map(|(id, state)| {
                let wm = state.restored.remove(app.name.as_ref())?;
                Some((*id, wm))
            });
            let Some((partition, wm)) = restored else {
                continue;
            };
            app.partition = Some(partition);
            app.watermark = Some(app.watermark.map_or(wm, |old| old.max(wm)));
            app.last_arrival = Some((wm, now_ms));
            tracing::debug!(app = %app.name, watermark = wm, "quiet app restored: its clock runs from now");
        }
    }

    /// Event time on `partition` has reached `event_time_ms` without a sample saying so: a
    /// replay that split apps over several processors ends them all at the same time, so each
    /// app's windows close as they would have among all the others. Closes what that passes.
    pub fn advance_to(&mut self, partition: i32, event_time_ms: i64) -> Vec<RecipeOutput> {
        let mut outputs = Vec::new();
        let apps: Vec<Arc<str>> = self
            .apps
            .values()
            .filter(|a| a.partition == Some(partition))
            .map(|a| Arc::clone(&a.name))
            .collect();
        for app in apps {
            self.advance_app(&app, event_time_ms, &mut outputs);
        }
        outputs
    }

    /// The recovery point of a partition: the oldest offset still needed, and the metadata
    /// that restores its apps' watermarks.
    pub fn checkpoint(&self, partition: i32) -> Option<(i64, String)> {
        let state = self.partitions.get(&partition)?;
        let mut watermarks: BTreeMap<&str, i64> = state
            .restored
            .iter()
            .map(|(app, wm)| (app.as_str(), *wm))
            .collect();
        let apps = || {
            self.apps
                .values()
                .filter(move |a| a.partition == Some(partition))
        };
        for app in apps() {
            let Some(wm) = app.watermark else { continue };
            // A window the app has passed that still waits for the pane's other apps has not
            // been emitted: restored past its close, the replay could not rebuild it.
            let waiting = app
                .passed
                .iter()
                .filter(|key| {
                    state
                        .panes
                        .get(*key)
                        .is_some_and(|p| p.apps.contains_key(&app.name))
                })
                .map(|key| key.0.saturating_sub(1))
                .min();
            watermarks.insert(&app.name, waiting.map_or(wm, |w| w.min(wm)));
        }
        let top = watermarks.values().copied().max().or(state.floor)?;
        let panes = state
            .panes
            .values()
            .flat_map(|p| p.apps.values().map(|a| a.first_offset));
        let signals = apps()
            .flat_map(|a| a.signals.values())
            .flat_map(|s| s.values().map(|(_, offset)| *offset));
        let oldest = panes.chain(signals).min().unwrap_or(state.position);
        // Each app's watermark as its distance below the newest: short numbers.
        let behind = labels_key(
            watermarks
                .iter()
                .map(|(app, wm)| (*app, top.saturating_sub(*wm).to_string())),
        );
        let floor = state
            .floor
            .map_or(String::new(), |floor| format!(" floor={floor}"));
        Some((
            oldest.min(state.position),
            format!(
                "recipes/v2 watermark={top} next={}{floor} behind={behind}",
                state.position.max(state.replay_until)
            ),
        ))
    }

    /// Drops everything held for a partition (it was revoked): its open windows, its apps'
    /// watermarks, counted series and joined signals. If it comes back, `restore` and a
    /// replay rebuild them.
    pub fn forget(&mut self, partition: i32) {
        self.partitions.remove(&partition);
        for app in self.apps.values_mut() {
            if app.partition == Some(partition) {
                app.open.clear();
                app.unclosed.clear();
                app.passed.clear();
                app.signals.clear();
                app.watermark = None;
                app.last_arrival = None;
                app.series = SeriesBook::default();
                app.recipe_series.clear();
                app.partition = None;
                app.retiring.retain(|r| Arc::strong_count(r) > 1);
            }
        }
    }

    /// Restores a partition's watermarks from checkpoint metadata (ignored if not ours);
    /// reading resumes at `resume_offset`. A `recipes/v1` checkpoint (one watermark for the
    /// partition) gives it to every app of the partition.
    pub fn restore(&mut self, partition: i32, metadata: &str, resume_offset: i64) {
        let field = |name: &str| {
            metadata
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse::<i64>().ok())
        };
        self.partitions.entry(partition).or_default().position = resume_offset;
        let v2 = metadata.starts_with("recipes/v2 ");
        if !metadata.starts_with("recipes/v1 ") && !v2 {
            return;
        }
        let (Some(watermark), Some(next)) = (field("watermark"), field("next")) else {
            return;
        };
        let later = |old: Option<i64>, new: i64| Some(old.map_or(new, |old| old.max(new)));
        let state = self.partitions.entry(partition).or_default();
        state.replay_until = state.replay_until.max(next);
        let per_app = v2
            .then(|| metadata.split_once(" behind=").map(|(_, b)| b))
            .flatten()
            .and_then(parse_labels_key);
        let Some(per_app) = per_app else {
            // One watermark for the partition: written before watermarks were per app.
            state.floor = later(state.floor, watermark);
            for app in self.apps.values_mut() {
                if app.partition == Some(partition) {
                    app.watermark = later(app.watermark, watermark);
                }
            }
            return;
        };
        if let Some(floor) = field("floor") {
            state.floor = later(state.floor, floor);
        }
        for (app, behind) in per_app {
            let Ok(behind) = behind.parse::<i64>() else {
                continue;
            };
            let wm = watermark.saturating_sub(behind);
            match self.apps.get_mut(&app) {
                Some(state) if state.partition == Some(partition) => {
                    state.watermark = later(state.watermark, wm);
                }
                _ => {
                    let state = self.partitions.entry(partition).or_default();
                    let kept = state.restored.entry(app).or_insert(wm);
                    *kept = (*kept).max(wm);
                }
            }
        }
    }

    /// Moves an app's event time to `watermark` (never back), and closes the panes every app
    /// in them has now passed, appending what they emit to `outputs` (one vector all the way
    /// down: events are large to move).
    fn advance_app(&mut self, app_name: &str, watermark: i64, outputs: &mut Vec<RecipeOutput>) {
        let Some(app) = self.apps.get_mut(app_name) else {
            return;
        };
        if app.watermark.is_some_and(|wm| wm > watermark) {
            return;
        }
        let previous = app.watermark.replace(watermark);
        let Some(partition_id) = app.partition else {
            return;
        };
        // Before the close below removes them from `open`: a window that has samples is the
        // query's to emit, every other window the advance passes is quiet.
        let quiet = previous
            .map(|from| quiet_windows(app, from, watermark))
            .unwrap_or_default();
        let Some(partition) = self.partitions.get_mut(&partition_id) else {
            return;
        };
        let mut closing: Vec<ClosingPane> = Vec::new();
        while let Some(first) = app.unclosed.first() {
            if first.0 > watermark {
                break;
            }
            let key = app.unclosed.pop_first().expect("first exists");
            app.open.remove(&(Arc::clone(&key.2), key.3, key.4));
            let Some(pane) = partition.panes.get_mut(&key) else {
                continue;
            };
            pane.waiting = pane.waiting.saturating_sub(1);
            if let Some(owner) = pane.apps.get_mut(app_name) {
                owner.ready = true;
                if !owner.run.compiled.joins.is_empty() {
                    let end = key.3.saturating_add(key.4);
                    owner.signals = Some(joined_values(&app.signals, &owner.run, end));
                }
            }
            if pane.waiting == 0 {
                let pane = partition.panes.remove(&key).expect("found above");
                closing.push((key, pane));
            } else {
                app.passed.insert(key);
            }
        }
        // Panes still waiting for other apps well past their close: this app's windows (and
        // those of every other app that passed) run without them.
        while let Some(first) = app.passed.first() {
            if first.0.saturating_add(PANE_GRACE_MS) > watermark {
                break;
            }
            let key = app.passed.pop_first().expect("first exists");
            let Some(pane) = partition.panes.get_mut(&key) else {
                continue;
            };
            match pane.split_ready() {
                Ok(Some(ready)) => closing.push((key, ready)),
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(recipe = %key.2, window_start_ms = key.3, error = %err, "pane not split: its windows wait for the pane's close")
                }
            }
        }
        let before = outputs.len();
        if !closing.is_empty() {
            self.close(partition_id, closing, outputs);
        }
        if let Some(app) = self.apps.get(app_name).filter(|app| keeps_clock(app)) {
            for (run, start) in quiet {
                emit_quiet(partition_id, app, &run, start, outputs);
            }
            // Quiet windows, from here or from the close (samples that gave no value), among
            // the query's.
            if outputs.len() > before {
                in_window_order(&mut outputs[before..]);
            }
        }
        // After the close: the windows closing now read their signals' values first.
        if let Some(app) = self.apps.get_mut(app_name) {
            let threshold = watermark.saturating_sub(app.lateness_ms);
            for history in app.signals.values_mut() {
                prune_signal(history, threshold);
            }
        }
    }

    /// Runs the panes that closed together, oldest first: one query per (query, recipe name).
    fn close(
        &mut self,
        partition_id: i32,
        mut closing: Vec<ClosingPane>,
        outputs: &mut Vec<RecipeOutput>,
    ) {
        closing.sort_by(|a, b| a.0.cmp(&b.0));
        let mut groups: BTreeMap<(usize, Arc<str>), Vec<ClosingPane>> = BTreeMap::new();
        for (key, pane) in closing {
            for app in pane.apps.keys() {
                if let Some(state) = self.apps.get_mut(app.as_ref()) {
                    state.open.remove(&(Arc::clone(&key.2), key.3, key.4));
                }
            }
            groups
                .entry((key.1, Arc::clone(&key.2)))
                .or_default()
                .push((key, pane));
        }
        for ((query, name), mut panes) in groups {
            let rows = panes.iter().map(|(_, p)| p.rows.len()).max().unwrap_or(0);
            self.pane_rows.insert((query, Arc::clone(&name)), rows);
            let emitted = outputs.len();
            if let Err(err) = self.run_group(partition_id, query, &mut panes, outputs) {
                // Nothing half-emitted from a failed group; the other groups still emit.
                outputs.truncate(emitted);
                let windows: usize = panes.iter().map(|(_, p)| p.apps.len()).sum();
                self.failed_windows += windows as u64;
                tracing::error!(recipe = %name, windows, error = %err, "recipe query failed: windows not emitted");
            }
        }
        for app in self.apps.values_mut() {
            app.retiring.retain(|r| Arc::strong_count(r) > 1);
        }
    }

    fn run_group(
        &self,
        partition: i32,
        query: usize,
        panes: &mut [(PaneKey, Pane)],
        outputs: &mut Vec<RecipeOutput>,
    ) -> Result<(), RecipeError> {
        let first_run = panes
            .iter()
            .flat_map(|(_, p)| p.apps.values())
            .map(|a| Arc::clone(&a.run))
            .next();
        let Some(first_run) = first_run else {
            return Ok(());
        };
        let first_start = panes.first().map_or(0, |(k, _)| k.3);
        let run_error = |source: EngineError| RecipeError::Run {
            recipe: first_run.compiled.name.clone(),
            window_start_ms: first_start,
            source,
        };
        let mut batches: Vec<RecordBatch> = Vec::with_capacity(panes.len());
        for (_, pane) in panes.iter_mut() {
            let split = !pane.held.is_empty();
            batches.append(&mut pane.held);
            if !(split && pane.rows.is_empty()) {
                batches.push(pane.rows.finish().map_err(|e| run_error(e.into()))?);
            }
        }
        let mut signal_rows = Vec::new();
        let mut owners: HashMap<(&str, i64), &PaneApp> = HashMap::default();
        for ((_, _, _, start, size), pane) in panes.iter() {
            let end = start.saturating_add(*size);
            for (app, owner) in &pane.apps {
                owners.insert((app.as_ref(), *start), owner);
                if !owner.run.compiled.joins.is_empty() {
                    let values = owner.signals.clone().unwrap_or_else(|| {
                        self.apps
                            .get(app.as_ref())
                            .map_or_else(Vec::new, |a| joined_values(&a.signals, &owner.run, end))
                    });
                    signal_rows.push((app.to_string(), *start, values));
                }
            }
        }
        let aliases: Vec<String> = first_run
            .compiled
            .joins
            .iter()
            .map(|(_, a)| a.clone())
            .collect();
        let signals = if aliases.is_empty() {
            Vec::new()
        } else {
            vec![signals_batch(signals_schema(&aliases), &signal_rows)
                .map_err(|e| run_error(e.into()))?]
        };
        let mut rows = self.queries[query]
            .run(&self.runtime, batches, signals)
            .map_err(run_error)?;
        rows.sort_by(|a, b| {
            (&a.app, a.window_start, &a.labels).cmp(&(&b.app, b.window_start, &b.labels))
        });
        outputs.reserve(rows.len());
        let mut valued: BTreeSet<(String, i64)> = BTreeSet::new();
        for row in rows {
            let Some(owner) = owners.get(&(row.app.as_str(), row.window_start)) else {
                continue;
            };
            if row.value.is_some() && owner.run.compiled.absent.is_some() {
                valued.insert((row.app.clone(), row.window_start));
            }
            emit(partition, owner, row, outputs);
        }
        // A window of an `absent` recipe whose samples gave no value (a filter kept none of
        // them, a ratio's denominator was 0) is quiet too: the query's output for it is the
        // same in every run, so this is as deterministic as the value would have been.
        let mut quiet: Vec<(&str, &PaneApp, i64)> = owners
            .iter()
            .filter(|(_, owner)| owner.run.compiled.absent.is_some())
            .filter(|((app, start), _)| !valued.contains(&(app.to_string(), *start)))
            .map(|((app, start), owner)| (*app, *owner, *start))
            .collect();
        quiet.sort_by(|a, b| (a.0, a.2).cmp(&(b.0, b.2)));
        for (app, owner, start) in quiet {
            if let Some(state) = self.apps.get(app) {
                emit_quiet(partition, state, &owner.run, start, outputs);
            }
        }
        Ok(())
    }
}

/// Puts what one advance emitted in the order of its windows' ends (stable: windows ending
/// together keep the query's order), each fragment after its window: a consumer that takes a
/// window older than the newest it has seen as history (the forecaster) must see a quiet night
/// and the real windows around it in time order.
fn in_window_order(emitted: &mut [RecipeOutput]) {
    let mut end = i64::MIN;
    let mut keyed: Vec<(i64, RecipeOutput)> = emitted
        .iter_mut()
        .map(|output| {
            if let RecipeOutput::Derived(d) = output {
                end = d.window_end_ms;
            }
            let taken = std::mem::replace(
                output,
                RecipeOutput::Late {
                    app: String::new(),
                    reason: String::new(),
                },
            );
            (end, taken)
        })
        .collect();
    keyed.sort_by_key(|(end, _)| *end);
    for (slot, (_, output)) in emitted.iter_mut().zip(keyed) {
        *slot = output;
    }
}

/// Whether the app's event time keeps moving with the wall clock while it has nothing open: it
/// has a recipe that says what a quiet window means.
fn keeps_clock(app: &AppState) -> bool {
    app.recipes.iter().any(|r| r.compiled.absent.is_some())
}

/// The quiet windows an advance of `app`'s event time from `from` to `to` passes: of each
/// current recipe with `absent` (and no `group_by`, which validation refuses with it), every
/// window on its grid that closes in `(from, to]` (its end plus the allowed lateness) and holds
/// no sample. Oldest first per recipe; at most [`MAX_QUIET_WINDOWS`] per recipe (the newest),
/// the older ones skipped and logged.
fn quiet_windows(app: &AppState, from: i64, to: i64) -> Vec<(Arc<RecipeRun>, i64)> {
    let mut quiet = Vec::new();
    if to <= from {
        return quiet;
    }
    for run in &app.recipes {
        let compiled = &run.compiled;
        if compiled.absent.is_none() || !compiled.group_by.is_empty() {
            continue;
        }
        let (size, slide) = (compiled.size_ms, compiled.slide_ms);
        if size <= 0 || slide <= 0 {
            continue;
        }
        // close = start + size + lateness in (from, to]  <=>  start in (lo, hi]
        let offset = size.saturating_add(app.lateness_ms);
        let (lo, hi) = (from.saturating_sub(offset), to.saturating_sub(offset));
        let newest = hi.saturating_sub(hi.rem_euclid(slide));
        if newest <= lo {
            continue;
        }
        let count = (newest - lo - 1) / slide + 1;
        let kept = count.min(MAX_QUIET_WINDOWS);
        if kept < count {
            tracing::warn!(
                app = %app.name,
                recipe = %run.name,
                skipped = count - kept,
                kept,
                "event time jumped over more quiet windows than are emitted at once: the oldest \
                 were skipped"
            );
        }
        let oldest = newest - (kept - 1) * slide;
        let mut start = oldest;
        while start <= newest {
            if !app.open.contains_key(&(Arc::clone(&run.name), start, size)) {
                quiet.push((Arc::clone(run), start));
            }
            start += slide;
        }
    }
    quiet
}

/// The derived metric of a window of `run` that held no sample: the value its `absent` says (0,
/// or NaN as the unknown marker), `sample_count` 0, an empty raw range (`raw_first_offset` 0,
/// `raw_last_offset` -1) and no lineage. Its id is the one the query's output for that window
/// would have had, and nothing in it depends on when or how often it is emitted, so a quiet
/// window emitted live, in a replay or again after a restart is the same event.
fn emit_quiet(
    partition: i32,
    app: &AppState,
    run: &RecipeRun,
    start: i64,
    outputs: &mut Vec<RecipeOutput>,
) {
    let Some(absent) = run.compiled.absent else {
        return;
    };
    let compiled = &run.compiled;
    let end = start.saturating_add(compiled.size_ms);
    let labels = BTreeMap::new();
    let signals: BTreeMap<String, f64> = compiled
        .joins
        .iter()
        .zip(joined_values(&app.signals, run, end))
        .filter_map(|((_, alias), value)| Some((alias.clone(), value?)))
        .collect();
    let derived = DerivedMetric {
        event_id: derived_id(&app.name, compiled, start, &labels),
        app: app.name.to_string(),
        template_version: run.version.to_string(),
        recipe: compiled.name.clone(),
        window_start_ms: start,
        window_end_ms: end,
        value: absent.quiet_value(),
        sample_count: 0,
        labels,
        signals,
        raw_partition: partition,
        raw_first_offset: 0,
        raw_last_offset: -1,
        lineage: Vec::new(),
    };
    push_derived(compiled, derived, outputs);
}

/// A derived window's id. No version in it: a window emitted again (after a restart) is the
/// same window. The size is in it: a new version may change it, and a different window needs a
/// different id. Labels are length-prefixed: labels whose text joins the same way still get two
/// ids.
fn derived_id(
    app: &str,
    compiled: &CompiledRecipe,
    start: i64,
    labels: &BTreeMap<String, String>,
) -> String {
    event_id(&[
        "derived",
        app,
        &compiled.name,
        &start.to_string(),
        &compiled.size_ms.to_string(),
        &labels_key(labels),
    ])
}

/// Each joined signal's newest value before `end`, in the recipe's join order.
fn joined_values(
    signals: &HashMap<String, BTreeMap<i64, (f64, i64)>>,
    run: &RecipeRun,
    end: i64,
) -> Vec<Option<f64>> {
    run.compiled
        .joins
        .iter()
        .map(|(selector, _)| {
            let history = signals.get(&selector.to_string())?;
            history.range(..end).next_back().map(|(_, (v, _))| *v)
        })
        .collect()
}

/// Drops signal values no open or future window can read: windows still to close end after
/// `threshold`, and read the newest value before their end.
fn prune_signal(history: &mut BTreeMap<i64, (f64, i64)>, threshold: i64) {
    let Some((&newest_before, _)) = history.range(..threshold).next_back() else {
        return;
    };
    *history = history.split_off(&newest_before);
}

/// The derived metric (and fragment) of one result row.
fn emit(partition: i32, owner: &PaneApp, row: ResultRow, outputs: &mut Vec<RecipeOutput>) {
    let Some(value) = row.value else {
        return;
    };
    let compiled = &owner.run.compiled;
    let derived = DerivedMetric {
        event_id: derived_id(&row.app, compiled, row.window_start, &row.labels),
        app: row.app,
        template_version: owner.run.version.to_string(),
        recipe: compiled.name.clone(),
        window_start_ms: row.window_start,
        window_end_ms: row.window_start.saturating_add(compiled.size_ms),
        value,
        sample_count: row.n,
        labels: row.labels,
        signals: row.signals,
        raw_partition: partition,
        raw_first_offset: owner.first_offset,
        raw_last_offset: owner.last_offset,
        lineage: vec![format!(
            "raw/{partition}@{}..{}",
            owner.first_offset, owner.last_offset
        )],
    };
    push_derived(compiled, derived, outputs);
}

/// Outputs a derived window and, when its recipe has fragments, the fragment rendered from it.
/// A fragment renders a value: an unknown window (no number) has none to render.
fn push_derived(
    compiled: &CompiledRecipe,
    derived: DerivedMetric,
    outputs: &mut Vec<RecipeOutput>,
) {
    let fragment = compiled
        .fragments
        .as_ref()
        .filter(|_| derived.value.is_finite())
        .map(|f| render_fragment(&derived, f.format, &f.set));
    outputs.push(RecipeOutput::Derived(derived));
    match fragment {
        Some(Ok(fragment)) => outputs.push(RecipeOutput::Fragment(fragment)),
        Some(Err(err)) => {
            tracing::warn!(recipe = %compiled.name, error = %err, "fragment not rendered")
        }
        None => {}
    }
}
