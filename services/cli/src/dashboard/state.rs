//! What the dashboard knows: the recent past of the pipeline folded from its topics' events.
//! Pure (no Kafka, no clock): the feed hands events in, the view reads it out.
//!
//! Memory is bounded whatever the traffic: at most [`Limits::apps`] apps (later apps are
//! counted, not kept), [`Limits::metrics`] metrics and as many target resources per app,
//! [`Limits::points`] points per series and nothing older than [`Limits::span_ms`] before the
//! series' newest point, the [`Limits::directives`] newest directives, outcomes only for about
//! four times as many directive ids, and the [`Limits::dead_letters`] newest dead letters (plus
//! a count per kind and per stage and kind, for at most [`DEAD_KINDS`] of each: the rest are
//! counted under [`OTHER`]).

use std::collections::{BTreeMap, HashMap, VecDeque};

use presage_events::{
    ApplyOutcome, DeadLetter, DerivedMetric, Forecast, ResourceTarget, ScalingDirective,
};

use crate::tail::{model_text, shorten, targets_of};

/// Characters of a dead letter's reason kept.
const REASON_CHARS: usize = 300;
/// Points of the newest forecast's horizon kept per metric.
const HORIZON_POINTS: usize = 512;
/// Dead-letter kinds (and stage-and-kind pairs) counted apart. The services write about ten,
/// but the topic is outside input: kinds past these are counted under [`OTHER`].
pub const DEAD_KINDS: usize = 64;
/// What dead letters of kinds (or stages) past [`DEAD_KINDS`] are counted as.
pub const OTHER: &str = "other";

/// The bounds on what the dashboard keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How far back a series reaches from its newest point.
    pub span_ms: i64,
    /// Points per series (observed, forecast band, each resource's target).
    pub points: usize,
    /// Apps shown; events of further apps are counted in [`State::refused_apps`].
    pub apps: usize,
    /// Metrics (recipes and label sets) per app, and target resources per app.
    pub metrics: usize,
    /// Newest directives listed.
    pub directives: usize,
    /// Newest dead letters listed.
    pub dead_letters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            span_ms: 3 * 3_600_000,
            points: 3_600,
            apps: 200,
            metrics: 16,
            directives: 50,
            dead_letters: 20,
        }
    }
}

/// One event read from one of the dashboard's topics.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Derived(DerivedMetric),
    Forecast(Forecast),
    Directive(ScalingDirective),
    Outcome(ApplyOutcome),
    DeadLetter(DeadLetter),
}

/// A time-ordered series of values, bounded in count and in age.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<T> {
    points: VecDeque<(i64, T)>,
}

// Not derived: a derive would ask `T: Default`.
impl<T> Default for Series<T> {
    fn default() -> Self {
        Self {
            points: VecDeque::new(),
        }
    }
}

impl<T: Clone> Series<T> {
    /// Inserts the value at `at_ms` in time order (replacing one already at that instant: a
    /// record read twice), then drops what is older than `span_ms` before the newest point and
    /// the oldest beyond `max` points.
    pub fn put(&mut self, at_ms: i64, value: T, span_ms: i64, max: usize) {
        match self.points.binary_search_by_key(&at_ms, |(at, _)| *at) {
            Ok(index) => self.points[index].1 = value,
            Err(index) => self.points.insert(index, (at_ms, value)),
        }
        let newest = self.points.back().map_or(at_ms, |(at, _)| *at);
        while self
            .points
            .front()
            .is_some_and(|(at, _)| *at < newest.saturating_sub(span_ms))
            || self.points.len() > max
        {
            self.points.pop_front();
        }
    }

    pub fn points(&self) -> impl ExactSizeIterator<Item = &(i64, T)> + '_ {
        self.points.iter()
    }

    pub fn last(&self) -> Option<&(i64, T)> {
        self.points.back()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// A forecast point: lower bound, point, upper bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub lower: f64,
    pub point: f64,
    pub upper: f64,
}

/// One metric's forecasts: the band as forecast one step ahead (each forecast's first point,
/// which lines up with the observed windows it forecast), and the newest forecast whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forecasts {
    pub band: Series<Band>,
    pub horizon: Vec<(i64, Band)>,
    pub issued_at_ms: i64,
    pub model: String,
    pub score: Option<f64>,
    pub cold_start: bool,
    pub interval_level: f64,
}

/// A target at the instant it provisions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPoint {
    pub target: i64,
    pub at_max: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    /// Observed values per metric (`recipe`, or `recipe{label=value,…}` for grouped recipes),
    /// at their window's start (where the forecaster's grid puts them).
    pub observed: BTreeMap<String, Series<f64>>,
    pub forecasts: BTreeMap<String, Forecasts>,
    /// Live directives' targets per resource, at the instant each provisions for.
    pub targets: BTreeMap<String, Series<TargetPoint>>,
    /// The metric of the newest forecast: the one the app's chart shows.
    pub forecast_metric: Option<String>,
}

impl AppState {
    /// The metric to chart: the forecast one, else the first observed.
    pub fn chart_metric(&self) -> Option<&str> {
        self.forecast_metric
            .as_deref()
            .or_else(|| self.observed.keys().next().map(String::as_str))
    }
}

/// A directive as listed, with what the applier did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectiveRow {
    pub id: String,
    pub app: String,
    pub mode: String,
    pub issued_at_ms: i64,
    pub effective_at_ms: i64,
    pub targets: Vec<ResourceTarget>,
    pub model: String,
    pub fallback: bool,
}

impl DirectiveRow {
    fn of(directive: &ScalingDirective) -> Self {
        Self {
            id: directive.event_id.clone(),
            app: directive.app.clone(),
            mode: directive.mode.clone(),
            issued_at_ms: directive.issued_at_ms,
            effective_at_ms: directive.effective_at_ms,
            targets: targets_of(directive),
            model: model_text(directive),
            fallback: directive.fallback,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRow {
    pub id: String,
    pub hook: String,
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i32,
    pub applied_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadRow {
    pub failed_at_ms: i64,
    pub stage: String,
    pub kind: String,
    pub app: String,
    pub reason: String,
    pub lineage: String,
}

/// Dead letters read: counts by kind and by stage and kind, and the newest few.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeadLetters {
    pub by_kind: BTreeMap<String, u64>,
    pub by_stage: BTreeMap<(String, String), u64>,
    pub recent: VecDeque<DeadRow>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub limits: Limits,
    pub apps: BTreeMap<String, AppState>,
    /// Events of apps beyond [`Limits::apps`], not kept.
    pub refused_apps: u64,
    /// Newest last.
    pub directives: VecDeque<DirectiveRow>,
    outcomes: HashMap<String, Vec<OutcomeRow>>,
    /// Directive ids in the order their first outcome arrived, to bound `outcomes`.
    outcome_order: VecDeque<String>,
    pub dead_letters: DeadLetters,
    /// Events folded, by kind (`derived`, `forecast`, …).
    pub events: BTreeMap<&'static str, u64>,
    /// The reader's clock at the last [`State::fold_at`]: what is stamped further past it than
    /// [`Limits::span_ms`] is not charted (see [`State::ahead`]).
    now_ms: Option<i64>,
    /// Points (and forecasts) stamped more than the span past the reader's clock, not charted:
    /// one such point would be the series' newest for good, and every true point after it
    /// older than the span before it, dropped as soon as put.
    pub ahead: u64,
}

impl State {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Folds `event` read at `now_ms` (the reader's clock): as [`State::fold`], but a point
    /// stamped more than the span past `now_ms` is counted in [`State::ahead`], not charted.
    pub fn fold_at(&mut self, event: Event, now_ms: i64) {
        self.now_ms = Some(now_ms);
        self.fold(event);
    }

    pub fn fold(&mut self, event: Event) {
        match event {
            Event::Derived(metric) => self.derived(metric),
            Event::Forecast(forecast) => self.forecast(forecast),
            Event::Directive(directive) => self.directive(directive),
            Event::Outcome(outcome) => self.outcome(outcome),
            Event::DeadLetter(letter) => self.dead_letter(letter),
        }
    }

    /// What the applier did with a directive, in the order it reported.
    pub fn outcomes_of(&self, directive_id: &str) -> &[OutcomeRow] {
        self.outcomes.get(directive_id).map_or(&[], Vec::as_slice)
    }

    fn count(&mut self, kind: &'static str) {
        *self.events.entry(kind).or_default() += 1;
    }

    /// Whether `at_ms` is too far past the reader's clock to chart (counted when it is).
    fn too_far_ahead(&mut self, at_ms: i64) -> bool {
        let span_ms = self.limits.span_ms;
        let ahead = self
            .now_ms
            .is_some_and(|now| at_ms > now.saturating_add(span_ms));
        if ahead {
            self.ahead += 1;
        }
        ahead
    }

    /// The app's state, unless the app is one too many.
    fn app(&mut self, app: &str) -> Option<&mut AppState> {
        if !self.apps.contains_key(app) && self.apps.len() >= self.limits.apps {
            self.refused_apps += 1;
            return None;
        }
        Some(self.apps.entry(app.to_string()).or_default())
    }

    fn derived(&mut self, metric: DerivedMetric) {
        self.count("derived");
        if self.too_far_ahead(metric.window_start_ms) {
            return;
        }
        // An unknown window (`absent: unknown`: no sample, no value) is a gap, not a point: it
        // is counted with the derived events but never charted (a quiet `absent: zero` window
        // is a value, 0, and is charted like any other).
        if presage_template::is_unknown_window(metric.value, metric.sample_count) {
            return;
        }
        let limits = self.limits;
        let Some(app) = self.app(&metric.app) else {
            return;
        };
        let name = metric_name(&metric);
        if !app.observed.contains_key(&name) && app.observed.len() >= limits.metrics {
            return;
        }
        app.observed.entry(name).or_default().put(
            metric.window_start_ms,
            metric.value,
            limits.span_ms,
            limits.points,
        );
    }

    fn forecast(&mut self, forecast: Forecast) {
        self.count("forecast");
        // A group_by group's forecast is a part of the metric: charted as the metric's band, it
        // would interleave with the whole's.
        if !forecast.labels.is_empty() {
            return;
        }
        // One issued past the clock would also stay the newest, hiding every true one.
        if self.too_far_ahead(forecast.issued_at_ms) {
            return;
        }
        let first = forecast.points.first();
        let chart_first = first.is_some_and(|p| !self.too_far_ahead(p.at_ms));
        let limits = self.limits;
        let Some(app) = self.app(&forecast.app) else {
            return;
        };
        if !app.forecasts.contains_key(&forecast.metric) && app.forecasts.len() >= limits.metrics {
            return;
        }
        let entry = app.forecasts.entry(forecast.metric.clone()).or_default();
        let band = |p: &presage_events::ForecastPoint| Band {
            lower: p.lower,
            point: p.point,
            upper: p.upper,
        };
        if let Some(first) = first.filter(|_| chart_first) {
            entry
                .band
                .put(first.at_ms, band(first), limits.span_ms, limits.points);
        }
        // A forecast read again, or an older one read after a newer, does not replace it.
        if forecast.issued_at_ms >= entry.issued_at_ms {
            entry.horizon = forecast
                .points
                .iter()
                .take(HORIZON_POINTS)
                .map(|p| (p.at_ms, band(p)))
                .collect();
            entry.issued_at_ms = forecast.issued_at_ms;
            entry.model = forecast.model.clone();
            entry.score = forecast.score;
            entry.cold_start = forecast.cold_start;
            entry.interval_level = forecast.interval_level;
            let newest = app
                .forecast_metric
                .as_ref()
                .and_then(|m| app.forecasts.get(m))
                .map_or(i64::MIN, |f| f.issued_at_ms);
            if app.forecast_metric.as_deref() == Some(&forecast.metric)
                || forecast.issued_at_ms >= newest
            {
                app.forecast_metric = Some(forecast.metric);
            }
        }
    }

    fn directive(&mut self, directive: ScalingDirective) {
        self.count("directive");
        let limits = self.limits;
        if directive.mode == "live" && !self.too_far_ahead(directive.effective_at_ms) {
            if let Some(app) = self.app(&directive.app) {
                for target in targets_of(&directive) {
                    if !app.targets.contains_key(&target.resource)
                        && app.targets.len() >= limits.metrics
                    {
                        continue;
                    }
                    app.targets.entry(target.resource.clone()).or_default().put(
                        directive.effective_at_ms,
                        TargetPoint {
                            target: target.target,
                            at_max: target.at_max,
                        },
                        limits.span_ms,
                        limits.points,
                    );
                }
            }
        }
        if self.directives.iter().any(|d| d.id == directive.event_id) {
            return;
        }
        // In issue order, so a partition read late does not bury newer directives.
        let row = DirectiveRow::of(&directive);
        let at = self
            .directives
            .iter()
            .rposition(|d| d.issued_at_ms <= row.issued_at_ms)
            .map_or(0, |i| i + 1);
        self.directives.insert(at, row);
        while self.directives.len() > limits.directives {
            self.directives.pop_front();
        }
    }

    fn outcome(&mut self, outcome: ApplyOutcome) {
        self.count("outcome");
        let row = OutcomeRow {
            id: outcome.event_id,
            hook: outcome.hook,
            status: outcome.status,
            reason: outcome.reason.map(|r| shorten(&r, REASON_CHARS)),
            attempts: outcome.attempts,
            applied_at_ms: outcome.applied_at_ms,
        };
        match self.outcomes.get_mut(&outcome.directive_id) {
            Some(rows) => {
                if !rows.iter().any(|r| r.id == row.id) && rows.len() < 16 {
                    rows.push(row);
                }
            }
            None => {
                self.outcome_order.push_back(outcome.directive_id.clone());
                self.outcomes.insert(outcome.directive_id, vec![row]);
                while self.outcome_order.len() > self.limits.directives.max(1) * 4 {
                    if let Some(old) = self.outcome_order.pop_front() {
                        self.outcomes.remove(&old);
                    }
                }
            }
        }
    }

    fn dead_letter(&mut self, letter: DeadLetter) {
        self.count("dead_letter");
        let dead = &mut self.dead_letters;
        count_bounded(&mut dead.by_kind, letter.kind.clone(), || OTHER.into());
        count_bounded(
            &mut dead.by_stage,
            (letter.stage.clone(), letter.kind.clone()),
            || (OTHER.into(), OTHER.into()),
        );
        dead.recent.push_back(DeadRow {
            failed_at_ms: letter.failed_at_ms,
            stage: letter.stage,
            kind: letter.kind,
            app: letter.app,
            reason: shorten(&letter.reason, REASON_CHARS),
            lineage: letter.lineage,
        });
        while dead.recent.len() > self.limits.dead_letters {
            dead.recent.pop_front();
        }
    }
}

/// Counts one under `key`, or under `other()` once [`DEAD_KINDS`] keys are counted apart.
fn count_bounded<K: Ord>(counts: &mut BTreeMap<K, u64>, key: K, other: impl FnOnce() -> K) {
    let key = if counts.contains_key(&key) || counts.len() < DEAD_KINDS {
        key
    } else {
        other()
    };
    *counts.entry(key).or_default() += 1;
}

/// `recipe`, or `recipe{k=v,…}` when the recipe groups by labels (sorted, as the map is).
pub fn metric_name(metric: &DerivedMetric) -> String {
    if metric.labels.is_empty() {
        return metric.recipe.clone();
    }
    let mut labels: Vec<(&String, &String)> = metric.labels.iter().collect();
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}{{{}}}", metric.recipe, inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_events::ForecastPoint;

    fn derived(app: &str, recipe: &str, start_ms: i64, value: f64) -> Event {
        Event::Derived(DerivedMetric {
            event_id: format!("{app}-{recipe}-{start_ms}"),
            app: app.into(),
            recipe: recipe.into(),
            window_start_ms: start_ms,
            window_end_ms: start_ms + 1000,
            value,
            ..Default::default()
        })
    }

    fn forecast(app: &str, metric: &str, issued_ms: i64, point: f64) -> Event {
        Event::Forecast(Forecast {
            event_id: format!("f-{issued_ms}"),
            app: app.into(),
            metric: metric.into(),
            model: "ets".into(),
            issued_at_ms: issued_ms,
            step_ms: 1000,
            interval_level: 0.9,
            points: (0..3)
                .map(|k| ForecastPoint {
                    at_ms: issued_ms + k * 1000,
                    point: point + k as f64,
                    lower: point - 10.0,
                    upper: point + 10.0,
                })
                .collect(),
            score: Some(0.5),
            ..Default::default()
        })
    }

    fn directive(id: &str, app: &str, mode: &str, issued_ms: i64, target: i64) -> Event {
        Event::Directive(ScalingDirective {
            event_id: id.into(),
            app: app.into(),
            mode: mode.into(),
            issued_at_ms: issued_ms,
            effective_at_ms: issued_ms + 1000,
            resource: "replicas".into(),
            target,
            reason: format!("replicas = {target}"),
            ..Default::default()
        })
    }

    fn outcome(id: &str, directive_id: &str, status: &str) -> Event {
        Event::Outcome(ApplyOutcome {
            event_id: id.into(),
            app: "shop".into(),
            template_version: "v1".into(),
            directive_id: directive_id.into(),
            hook: "config".into(),
            status: status.into(),
            reason: None,
            config_path: None,
            backup_path: None,
            applied_at_ms: 0,
            lineage: vec![directive_id.into()],
            attempts: 1,
            decided_at_ms: 0,
            resources: vec!["replicas".into()],
        })
    }

    fn dead_letter() -> DeadLetter {
        DeadLetter {
            event_id: String::new(),
            app: String::new(),
            template_version: String::new(),
            stage: "collector".into(),
            source_topic: "presage.metrics.raw".into(),
            source_partition: 0,
            source_offset: 0,
            key: None,
            payload: Vec::new(),
            kind: "late".into(),
            reason: String::new(),
            failed_at_ms: 0,
            lineage: "presage.metrics.raw/0@0".into(),
        }
    }

    fn values(series: &Series<f64>) -> Vec<(i64, f64)> {
        series.points().copied().collect()
    }

    #[test]
    fn observed_values_are_kept_in_time_order_once_each_and_within_the_span() {
        let mut state = State::new(Limits {
            span_ms: 2_000,
            ..Limits::default()
        });
        for (at, value) in [(1_000, 1.0), (3_000, 3.0), (2_000, 2.0), (3_000, 3.5)] {
            state.fold(derived("shop", "rps", at, value));
        }
        let series = &state.apps["shop"].observed["rps"];
        assert_eq!(
            values(series),
            vec![(1_000, 1.0), (2_000, 2.0), (3_000, 3.5)]
        );
        state.fold(derived("shop", "rps", 4_000, 4.0));
        let series = &state.apps["shop"].observed["rps"];
        assert_eq!(values(series)[0], (2_000, 2.0), "older than 2 s dropped");
    }

    #[test]
    fn an_unknown_window_is_not_charted_and_a_zero_window_is() {
        let mut state = State::new(Limits::default());
        state.fold(derived("shop", "rps", 1_000, 4.0));
        let quiet = |start_ms: i64, value: f64| match derived("shop", "rps", start_ms, value) {
            Event::Derived(d) => Event::Derived(DerivedMetric {
                sample_count: 0,
                ..d
            }),
            _ => unreachable!(),
        };
        state.fold(quiet(2_000, f64::NAN));
        state.fold(quiet(3_000, 0.0));
        assert_eq!(
            values(&state.apps["shop"].observed["rps"]),
            vec![(1_000, 4.0), (3_000, 0.0)]
        );
    }

    #[test]
    fn a_point_stamped_past_the_clock_by_more_than_the_span_does_not_wedge_the_chart() {
        let mut state = State::new(Limits {
            span_ms: 10_000,
            ..Limits::default()
        });
        let now = 100_000;
        state.fold_at(derived("shop", "rps", now - 2_000, 1.0), now);
        state.fold_at(derived("shop", "rps", i64::MAX / 2, 9.0), now);
        state.fold_at(forecast("shop", "rps", i64::MAX / 2, 9.0), now);
        state.fold_at(directive("far", "shop", "live", i64::MAX / 2, 9), now);
        state.fold_at(derived("shop", "rps", now - 1_000, 2.0), now);
        state.fold_at(forecast("shop", "rps", now - 1_000, 2.0), now);
        state.fold_at(directive("d1", "shop", "live", now - 1_000, 3), now);
        let app = &state.apps["shop"];
        assert_eq!(
            values(&app.observed["rps"]),
            vec![(now - 2_000, 1.0), (now - 1_000, 2.0)]
        );
        assert_eq!(app.forecasts["rps"].issued_at_ms, now - 1_000);
        assert_eq!(app.forecasts["rps"].band.len(), 1);
        assert_eq!(app.targets["replicas"].len(), 1);
        assert_eq!(state.ahead, 3);
        // Listed all the same: a directive is not a chart point.
        assert_eq!(state.directives.len(), 2);
        // Within the span ahead (a forecast's next step, a lead time) is charted.
        state.fold_at(derived("shop", "rps", now + 5_000, 3.0), now);
        assert_eq!(state.apps["shop"].observed["rps"].len(), 3);
    }

    #[test]
    fn a_series_holds_at_most_its_point_limit() {
        let mut state = State::new(Limits {
            points: 5,
            ..Limits::default()
        });
        for k in 0..20 {
            state.fold(derived("shop", "rps", k * 1000, k as f64));
        }
        let series = &state.apps["shop"].observed["rps"];
        assert_eq!(series.len(), 5);
        assert_eq!(series.last(), Some(&(19_000, 19.0)));
    }

    #[test]
    fn apps_beyond_the_limit_are_counted_not_kept() {
        let mut state = State::new(Limits {
            apps: 2,
            ..Limits::default()
        });
        for app in ["a", "b", "c", "a"] {
            state.fold(derived(app, "rps", 0, 1.0));
        }
        assert_eq!(state.apps.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(state.refused_apps, 1);
    }

    #[test]
    fn grouped_recipes_are_one_series_per_label_set() {
        let mut state = State::default();
        for region in ["ew", "sc"] {
            let mut metric = DerivedMetric {
                app: "grid".into(),
                recipe: "demand".into(),
                value: 1.0,
                ..Default::default()
            };
            metric.labels.insert("region".into(), region.into());
            state.fold(Event::Derived(metric));
        }
        assert_eq!(
            state.apps["grid"].observed.keys().collect::<Vec<_>>(),
            ["demand{region=ew}", "demand{region=sc}"]
        );
    }

    #[test]
    fn the_band_is_each_forecasts_first_point_and_the_horizon_the_newest_forecast() {
        let mut state = State::default();
        state.fold(forecast("shop", "rps", 10_000, 100.0));
        state.fold(forecast("shop", "rps", 11_000, 200.0));
        // Read again late: an older forecast adds its band point but does not replace the newest.
        state.fold(forecast("shop", "rps", 9_000, 50.0));
        let f = &state.apps["shop"].forecasts["rps"];
        let band: Vec<(i64, f64)> = f.band.points().map(|(at, b)| (*at, b.point)).collect();
        assert_eq!(band, vec![(9_000, 50.0), (10_000, 100.0), (11_000, 200.0)]);
        assert_eq!(f.issued_at_ms, 11_000);
        assert_eq!(f.horizon.len(), 3);
        assert_eq!(
            f.horizon[2],
            (
                13_000,
                Band {
                    lower: 190.0,
                    point: 202.0,
                    upper: 210.0
                }
            )
        );
        assert_eq!(f.model, "ets");
        assert_eq!(state.apps["shop"].chart_metric(), Some("rps"));
    }

    #[test]
    fn the_chart_shows_the_forecast_metric_or_else_the_first_observed() {
        let mut state = State::default();
        state.fold(derived("shop", "cpu", 0, 1.0));
        state.fold(derived("shop", "rps", 0, 1.0));
        assert_eq!(state.apps["shop"].chart_metric(), Some("cpu"));
        state.fold(forecast("shop", "rps", 1_000, 1.0));
        assert_eq!(state.apps["shop"].chart_metric(), Some("rps"));
    }

    #[test]
    fn live_directives_chart_their_targets_and_every_directive_is_listed_in_issue_order() {
        let mut state = State::new(Limits {
            directives: 3,
            ..Limits::default()
        });
        state.fold(directive("d2", "shop", "live", 2_000, 5));
        state.fold(directive("d1", "shop", "live", 1_000, 4));
        state.fold(directive("s3", "shop", "shadow", 3_000, 9));
        state.fold(directive("d2", "shop", "live", 2_000, 5)); // read again
        let ids: Vec<&str> = state.directives.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["d1", "d2", "s3"]);
        let targets: Vec<(i64, i64)> = state.apps["shop"].targets["replicas"]
            .points()
            .map(|(at, t)| (*at, t.target))
            .collect();
        assert_eq!(targets, vec![(2_000, 4), (3_000, 5)], "shadow not charted");
        state.fold(directive("d4", "shop", "live", 4_000, 6));
        let ids: Vec<&str> = state.directives.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["d2", "s3", "d4"], "the oldest leaves first");
        assert_eq!(state.directives[2].targets[0].reason, "replicas = 6");
    }

    #[test]
    fn target_resources_per_app_are_bounded_like_its_metrics() {
        let mut state = State::new(Limits {
            metrics: 2,
            ..Limits::default()
        });
        for (k, resource) in ["replicas", "workers", "shards", "replicas"]
            .iter()
            .enumerate()
        {
            state.fold(Event::Directive(ScalingDirective {
                event_id: format!("d{k}"),
                app: "shop".into(),
                mode: "live".into(),
                issued_at_ms: k as i64 * 1000,
                effective_at_ms: k as i64 * 1000,
                resource: (*resource).into(),
                target: 3,
                ..Default::default()
            }));
        }
        let targets = &state.apps["shop"].targets;
        assert_eq!(targets.keys().collect::<Vec<_>>(), ["replicas", "workers"]);
        assert_eq!(targets["replicas"].len(), 2, "a kept resource still grows");
        assert_eq!(state.directives.len(), 4, "every directive is still listed");
    }

    #[test]
    fn outcomes_join_their_directive_once_each_and_stay_bounded() {
        let mut state = State::new(Limits {
            directives: 1,
            ..Limits::default()
        });
        state.fold(outcome("o1", "d1", "applied"));
        state.fold(outcome("o1", "d1", "applied"));
        state.fold(outcome("o2", "d1", "rolled_back"));
        let statuses: Vec<&str> = state
            .outcomes_of("d1")
            .iter()
            .map(|o| o.status.as_str())
            .collect();
        assert_eq!(statuses, ["applied", "rolled_back"]);
        for k in 0..10 {
            state.fold(outcome(&format!("x{k}"), &format!("other{k}"), "applied"));
        }
        assert!(state.outcomes_of("d1").is_empty(), "evicted");
        assert_eq!(state.outcomes.len(), 4);
    }

    #[test]
    fn dead_letters_are_counted_by_kind_and_stage_and_the_newest_listed() {
        let mut state = State::new(Limits {
            dead_letters: 2,
            ..Limits::default()
        });
        for (stage, kind) in [
            ("collector", "not_granted"),
            ("recipe-processor", "late"),
            ("recipe-processor", "late"),
        ] {
            state.fold(Event::DeadLetter(DeadLetter {
                stage: stage.into(),
                kind: kind.into(),
                reason: "x ".repeat(400),
                ..dead_letter()
            }));
        }
        let dead = &state.dead_letters;
        assert_eq!(dead.by_kind["late"], 2);
        assert_eq!(dead.by_kind["not_granted"], 1);
        assert_eq!(
            dead.by_stage[&("recipe-processor".into(), "late".into())],
            2
        );
        assert_eq!(dead.recent.len(), 2);
        assert!(dead.recent[0].reason.chars().count() <= REASON_CHARS + 2);
        assert_eq!(state.events["dead_letter"], 3);
    }

    #[test]
    fn made_up_dead_letter_kinds_cannot_grow_the_counts_without_bound() {
        let mut state = State::default();
        let total = DEAD_KINDS as u64 * 3;
        for k in 0..total {
            state.fold(Event::DeadLetter(DeadLetter {
                stage: format!("stage-{k}"),
                kind: format!("kind-{k}"),
                ..dead_letter()
            }));
        }
        let dead = &state.dead_letters;
        assert_eq!(dead.by_kind.len(), DEAD_KINDS + 1);
        assert_eq!(dead.by_stage.len(), DEAD_KINDS + 1);
        assert_eq!(
            dead.by_kind.values().sum::<u64>(),
            total,
            "every letter counted"
        );
        assert_eq!(dead.by_kind[OTHER], total - DEAD_KINDS as u64);
        assert_eq!(
            dead.by_stage[&(OTHER.into(), OTHER.into())],
            total - DEAD_KINDS as u64
        );
        // A kind counted apart before the limit was reached keeps being counted apart.
        state.fold(Event::DeadLetter(DeadLetter {
            kind: "kind-0".into(),
            ..dead_letter()
        }));
        assert_eq!(state.dead_letters.by_kind["kind-0"], 2);
    }
}
