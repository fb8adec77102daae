//! The forecaster's state: templates, and the history of every metric a prediction algorithm
//! targets. Each new derived value yields at most one forecast per algorithm.

use std::collections::HashMap;
use std::sync::Arc;

use presage_events::{event_id, DerivedMetric, Forecast, ForecastPoint};
use presage_template::{ModelKind, PredictionAlgorithm, Template};

use crate::history::History;
use crate::model::{Model, SeasonalNaive};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ForecastError {
    #[error("no template for app {0:?}: publish one with `presage templates publish`")]
    UnknownApp(String),
}

/// How many grid points of history are kept per metric, in seasons of the longest seasonality.
const SEASONS_KEPT: i64 = 4;
const MIN_POINTS_KEPT: usize = 64;

#[derive(Default)]
pub struct Forecaster {
    templates: HashMap<String, (String, Arc<Template>)>,
    histories: HashMap<(String, String), History>,
}

impl Forecaster {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_template(&mut self, version: &str, template: Arc<Template>) {
        self.templates
            .insert(template.app.clone(), (version.to_string(), template));
    }

    pub fn on_derived(&mut self, derived: &DerivedMetric) -> Result<Vec<Forecast>, ForecastError> {
        let (version, template) = self
            .templates
            .get(&derived.app)
            .ok_or_else(|| ForecastError::UnknownApp(derived.app.clone()))?;
        // Grouped outputs (one per label combination) are not forecast yet: one history per
        // recipe would mix the groups.
        if !derived.labels.is_empty() {
            tracing::debug!(recipe = %derived.recipe, labels = ?derived.labels, "grouped derived metric not forecast");
            return Ok(Vec::new());
        }
        let Some(recipe) = template.recipe(&derived.recipe) else {
            return Ok(Vec::new());
        };
        let (_, slide_ms) = recipe.window.size_and_slide_ms();
        let step_ms = slide_ms as i64;
        let mut forecasts = Vec::new();
        for algorithm in &template.dynamic_metadata.prediction_algorithms {
            if algorithm.target != derived.recipe {
                continue;
            }
            let key = (derived.app.clone(), derived.recipe.clone());
            let capacity = history_capacity(algorithm, step_ms);
            let history = self
                .histories
                .entry(key)
                .or_insert_with(|| History::new(capacity));
            history.record(derived.window_start_ms, derived.value, &derived.event_id);
            let steps = ((algorithm.horizon.as_millis() as i64 + step_ms - 1) / step_ms.max(1))
                .max(1) as usize;
            let chosen = algorithm.models.iter().find_map(|kind| {
                let model = model_for(*kind, algorithm)?;
                model
                    .forecast(history, step_ms, steps, algorithm.interval)
                    .map(|predictions| (model.name(), predictions))
            });
            let Some((model_name, predictions)) = chosen else {
                continue;
            };
            forecasts.push(Forecast {
                event_id: event_id(&["forecast", &derived.event_id, model_name]),
                app: derived.app.clone(),
                template_version: version.clone(),
                metric: derived.recipe.clone(),
                model: model_name.to_string(),
                issued_at_ms: derived.window_end_ms,
                step_ms,
                interval_level: algorithm.interval,
                points: predictions
                    .into_iter()
                    .map(|p| ForecastPoint {
                        at_ms: p.at_ms,
                        point: p.point,
                        lower: p.lower,
                        upper: p.upper,
                    })
                    .collect(),
                lineage: vec![derived.event_id.clone()],
            });
        }
        Ok(forecasts)
    }
}

fn history_capacity(algorithm: &PredictionAlgorithm, step_ms: i64) -> usize {
    let longest = algorithm
        .seasonality
        .iter()
        .map(|d| d.as_millis() as i64)
        .max()
        .unwrap_or(0);
    let points = (SEASONS_KEPT * longest / step_ms.max(1)) as usize;
    points.max(MIN_POINTS_KEPT)
}

/// The model a template names, if this forecaster can run it. Models not built yet (MSTL, ETS,
/// linear) are passed over so the next listed model is used; the forecast names its model.
fn model_for(kind: ModelKind, algorithm: &PredictionAlgorithm) -> Option<Box<dyn Model>> {
    let shortest_season = algorithm
        .seasonality
        .iter()
        .map(|d| d.as_millis() as i64)
        .min();
    match kind {
        ModelKind::SeasonalNaive => Some(Box::new(SeasonalNaive {
            season_ms: shortest_season?,
        })),
        ModelKind::Naive => None,
        ModelKind::Mstl | ModelKind::Ets | ModelKind::Linear => None,
    }
}
