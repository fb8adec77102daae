//! One template set's replay: raw samples through the live services' cores, in process, on a
//! virtual clock. Time is the samples' event time: windows close when a later sample passes
//! them, forecasts are issued at window ends, directives at forecast times. Nothing sleeps and
//! nothing reads a wall clock, so a replay of the same samples gives the same directives as the
//! live pipeline did (same ids, same targets).
//!
//! The order is the live pipeline's for each app: a window's derived metric reaches the
//! planner's observed loop (the fallback) before the forecast made from it, which the forecaster
//! issues at the window's end.
//!
//! Where live and replay can differ: samples are replayed in event-time order, so a sample the
//! live recipe-processor dead-lettered as late (it arrived after its window closed) is used
//! here; and the live planner's two loops are separate consumers, so under a backlog a forecast
//! can reach it before the observation of the same window, which matters only to policies with
//! a `fallback`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use presage_events::{DerivedMetric, Forecast, RawSample, ScalingDirective};
use presage_forecaster::Forecaster;
use presage_planner::{point_at_lead, PlanError, Planner};
use presage_recipe_processor::{Position, RecipeOutput, RecipeProcessor};
use presage_template::{ScalingPolicy, Template};

use crate::report::{BandPoint, DemandStep};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("template {name} for app {app}: {reason}")]
    Template {
        name: String,
        app: String,
        reason: String,
    },
}

/// The one virtual partition of a replay's samples.
const PARTITION: i32 = 0;

/// Templates replayed together: one file's template, for each app it covers.
#[derive(Debug, Clone)]
pub struct TemplateSet {
    /// Names the set in reports (the file path).
    pub name: String,
    /// The version the live services would know the template by (`version_of` its text).
    pub version: String,
    pub templates: Vec<Arc<Template>>,
}

/// What the planner was fed, in the order it was fed: replayed again through a fresh planner
/// with a policy's setting changed (the backtest's frontier), the same inputs give the
/// directives that setting would have issued, without re-running the forecaster.
#[derive(Debug, Clone)]
pub enum PlannerInput {
    Observed(DerivedMetric),
    Forecast(Forecast),
}

/// What one replay produced.
#[derive(Debug, Default)]
pub struct Replayed {
    pub directives: Vec<ScalingDirective>,
    /// App → recipe → the derived windows of every recipe a policy scales on.
    pub demand: Keyed<DemandStep>,
    /// App → metric → the forecast at the lead time of the first live policy on that metric.
    pub band: Keyed<BandPoint>,
    pub samples: u64,
    pub derived: u64,
    pub forecasts: u64,
    /// Inputs a live stage would have dead-lettered (late samples, windows off the grid,
    /// events the planner refused).
    pub dead_letters: u64,
    /// Where the time went, per core (summed over threads).
    pub busy: StageTimes,
    /// App → what its planner was fed, in order; kept only by a [`Pipeline::recording`].
    pub planner_inputs: HashMap<String, Vec<PlannerInput>>,
}

/// Time spent in each core, for the report's breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub recipes: Duration,
    pub forecaster: Duration,
    pub planner: Duration,
}

impl Replayed {
    /// Takes in another thread's replay of other apps. Directives stay in decision order.
    pub fn merge(&mut self, other: Replayed) {
        self.directives.extend(other.directives);
        self.directives.sort_by(|a, b| {
            (a.issued_at_ms, &a.app, &a.mode).cmp(&(b.issued_at_ms, &b.app, &b.mode))
        });
        for (app, lists) in other.demand {
            self.demand.entry(app).or_default().extend(lists);
        }
        for (app, lists) in other.band {
            self.band.entry(app).or_default().extend(lists);
        }
        self.samples += other.samples;
        self.derived += other.derived;
        self.forecasts += other.forecasts;
        self.dead_letters += other.dead_letters;
        self.busy.recipes += other.busy.recipes;
        self.busy.forecaster += other.busy.forecaster;
        self.busy.planner += other.busy.planner;
        for (app, inputs) in other.planner_inputs {
            self.planner_inputs.entry(app).or_default().extend(inputs);
        }
    }
}

/// Appends to the list under app and name, allocating keys only the first time.
fn push_keyed<T>(map: &mut Keyed<T>, app: &str, name: &str, item: T) {
    let Some(lists) = map.get_mut(app) else {
        map.insert(
            app.to_string(),
            HashMap::from([(name.to_string(), vec![item])]),
        );
        return;
    };
    match lists.get_mut(name) {
        Some(list) => list.push(item),
        None => {
            lists.insert(name.to_string(), vec![item]);
        }
    }
}

/// App → name (recipe or metric) → items.
pub type Keyed<T> = HashMap<String, HashMap<String, Vec<T>>>;

/// The three cores, wired as the live topics wire the services.
pub struct Pipeline {
    recipes: RecipeProcessor,
    forecaster: Forecaster,
    planner: Planner,
    /// App → the recipes its policies scale on: whose windows are kept as demand. Looked up by
    /// reference on every window, so nothing is allocated for windows no policy uses.
    tracked: HashMap<String, Vec<String>>,
    /// App → (metric, the first live policy on it): whose point at the lead time is the band.
    band_of: HashMap<String, Vec<(String, ScalingPolicy)>>,
    /// Keep what the planner is fed (`Replayed::planner_inputs`).
    recording: bool,
    out: Replayed,
}

impl Pipeline {
    pub fn new(set: &TemplateSet) -> Result<Self, ReplayError> {
        let mut recipes = RecipeProcessor::new().map_err(|e| ReplayError::Template {
            name: set.name.clone(),
            app: String::new(),
            reason: e.to_string(),
        })?;
        let mut forecaster = Forecaster::new();
        let mut planner = Planner::new();
        let mut tracked: HashMap<String, Vec<String>> = HashMap::new();
        let mut band_of: HashMap<String, Vec<(String, ScalingPolicy)>> = HashMap::new();
        for template in &set.templates {
            recipes
                .set_template(&set.version, Arc::clone(template))
                .map_err(|e| ReplayError::Template {
                    name: set.name.clone(),
                    app: template.app.clone(),
                    reason: e.to_string(),
                })?;
            forecaster.set_template(&set.version, Arc::clone(template));
            planner.set_template(&set.version, Arc::clone(template));
            for policy in &template.dynamic_metadata.scaling_policies {
                let recipes = tracked.entry(template.app.clone()).or_default();
                if !recipes.contains(&policy.metric) {
                    recipes.push(policy.metric.clone());
                }
                let bands = band_of.entry(template.app.clone()).or_default();
                if !policy.shadow && !bands.iter().any(|(m, _)| *m == policy.metric) {
                    bands.push((policy.metric.clone(), policy.clone()));
                }
            }
        }
        Ok(Self {
            recipes,
            forecaster,
            planner,
            tracked,
            band_of,
            recording: false,
            out: Replayed::default(),
        })
    }

    /// Keeps every input of the planner, in order, for replaying it with other settings.
    pub fn recording(mut self) -> Self {
        self.recording = true;
        self
    }

    fn record(&mut self, input: PlannerInput) {
        let app = match &input {
            PlannerInput::Observed(d) => &d.app,
            PlannerInput::Forecast(f) => &f.app,
        };
        match self.out.planner_inputs.get_mut(app) {
            Some(inputs) => inputs.push(input),
            None => {
                self.out.planner_inputs.insert(app.clone(), vec![input]);
            }
        }
    }

    /// One raw sample, the `offset`-th of the replay.
    pub fn push(&mut self, sample: &RawSample, offset: i64) {
        self.out.samples += 1;
        // One partition for every app: windows closing together run as one query, as they
        // would for apps sharing a partition. No wall clock: event times are taken as they are.
        let position = Position {
            partition: PARTITION,
            offset,
            received_ms: 0,
        };
        let started = Instant::now();
        let outputs = self.recipes.on_raw(sample, position);
        self.out.busy.recipes += started.elapsed();
        match outputs {
            Ok(outputs) => self.take(outputs),
            Err(err) => {
                tracing::debug!(app = %sample.app, error = %err, "sample not used");
                self.out.dead_letters += 1;
            }
        }
    }

    /// The end of the samples, at `end_ms` (the newest sample of the whole replay). Event time
    /// moves there, as it would have with every app in one partition, so the result does not
    /// depend on how apps were split over threads. Windows still open then stay unreported, as
    /// in the live recipe-processor at that instant: a window closes when event time passes its
    /// end (live, an idle partition's event time would move on with the wall clock later).
    pub fn finish(mut self, end_ms: i64) -> Replayed {
        let started = Instant::now();
        let outputs = self.recipes.advance_to(PARTITION, end_ms);
        self.out.busy.recipes += started.elapsed();
        self.take(outputs);
        self.out
    }

    fn take(&mut self, outputs: Vec<RecipeOutput>) {
        for output in outputs {
            match output {
                RecipeOutput::Derived(derived) => self.on_derived(&derived),
                RecipeOutput::Late { .. } | RecipeOutput::Refused { .. } => {
                    self.out.dead_letters += 1
                }
                RecipeOutput::Fragment(_) => {}
            }
        }
    }

    fn on_derived(&mut self, derived: &DerivedMetric) {
        self.out.derived += 1;
        let tracked = self
            .tracked
            .get(&derived.app)
            .is_some_and(|recipes| recipes.contains(&derived.recipe));
        if derived.labels.is_empty() && tracked {
            if let Some(step) = demand_step(derived) {
                push_keyed(&mut self.out.demand, &derived.app, &derived.recipe, step);
            }
        }
        if self.recording {
            self.record(PlannerInput::Observed(derived.clone()));
        }
        let started = Instant::now();
        let observed = self.planner.on_observed(derived);
        self.decided(observed);
        let planned = Instant::now();
        self.out.busy.planner += planned - started;
        let forecasts = self.forecaster.on_derived(derived);
        self.out.busy.forecaster += planned.elapsed();
        let forecasts = match forecasts {
            Ok(forecasts) => forecasts,
            Err(err) => {
                tracing::debug!(app = %derived.app, error = %err, "window not forecast");
                self.out.dead_letters += 1;
                return;
            }
        };
        for forecast in forecasts {
            self.out.forecasts += 1;
            self.keep_band(&forecast);
            if self.recording {
                self.record(PlannerInput::Forecast(forecast.clone()));
            }
            let started = Instant::now();
            let decided = self.planner.on_forecast(&forecast);
            self.out.busy.planner += started.elapsed();
            self.decided(decided);
        }
    }

    /// The planner's directives, or what the live planner would have dead-lettered.
    fn decided(&mut self, decided: Result<Vec<ScalingDirective>, PlanError>) {
        match decided {
            Ok(directives) => self.out.directives.extend(directives),
            Err(err) => {
                tracing::debug!(error = %err, "not decided");
                self.out.dead_letters += 1;
            }
        }
    }

    /// The point its first live policy provisions for, chosen as the planner chooses it.
    fn keep_band(&mut self, forecast: &Forecast) {
        let policy = self
            .band_of
            .get(&forecast.app)
            .and_then(|metrics| metrics.iter().find(|(m, _)| *m == forecast.metric));
        let Some((_, policy)) = policy else {
            return;
        };
        let Some(point) = point_at_lead(policy, forecast.issued_at_ms, &forecast.points) else {
            return;
        };
        if !point.point.is_finite() {
            return;
        }
        let band = BandPoint {
            issued_ms: forecast.issued_at_ms,
            at_ms: point.at_ms,
            mean: point.point,
            lower: point.lower,
            upper: point.upper,
        };
        push_keyed(&mut self.out.band, &forecast.app, &forecast.metric, band);
    }
}

/// A derived window as demand: a window with no sample and no number is unknown (a quiet
/// series whose template says `absent: unknown`): no demand is known there, so it is not
/// demand. A window with no sample and the value 0 (`absent: zero`) is demand 0, and kept.
pub fn demand_step(derived: &DerivedMetric) -> Option<DemandStep> {
    if derived.sample_count == 0 && !derived.value.is_finite() {
        return None;
    }
    Some(DemandStep {
        start_ms: derived.window_start_ms,
        end_ms: derived.window_end_ms,
        value: derived.value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(value: f64, sample_count: i64) -> DerivedMetric {
        DerivedMetric {
            event_id: "w".into(),
            app: "a".into(),
            template_version: "v".into(),
            recipe: "load".into(),
            window_start_ms: 0,
            window_end_ms: 60_000,
            value,
            sample_count,
            labels: Default::default(),
            signals: Default::default(),
            raw_partition: 0,
            raw_first_offset: 0,
            raw_last_offset: 0,
            lineage: Vec::new(),
        }
    }

    #[test]
    fn an_unknown_quiet_window_is_not_demand_and_a_zero_one_is() {
        assert_eq!(demand_step(&window(f64::NAN, 0)), None);
        assert_eq!(demand_step(&window(f64::INFINITY, 0)), None);
        let zero = demand_step(&window(0.0, 0)).expect("a zero window is demand 0");
        assert_eq!((zero.start_ms, zero.end_ms, zero.value), (0, 60_000, 0.0));
        assert_eq!(demand_step(&window(12.0, 3)).map(|d| d.value), Some(12.0));
    }
}
