//! The recipe-processor's state: open windows per app and recipe, closed by the watermark (the
//! latest event time seen for that recipe). A sample older than every window still open is late
//! and is counted, not silently merged into a closed window.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use presage_events::{event_id, DerivedMetric, MetadataFragment, RawSample};
use presage_template::{FragmentFormat, Template};

use crate::compile::{compile, CompiledRecipe};
use crate::engine::{EngineError, SqlEngine, WindowSample};
use crate::windows::windows_containing;

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("no template for app {0:?}: publish one with `presage templates publish`")]
    UnknownApp(String),
    #[error("recipe {recipe:?}, window starting {window_start_ms}: {source}")]
    Engine {
        recipe: String,
        window_start_ms: i64,
        source: EngineError,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecipeOutput {
    Derived(DerivedMetric),
    Fragment(MetadataFragment),
}

struct AppRecipes {
    version: String,
    template: Arc<Template>,
    compiled: Vec<CompiledRecipe>,
}

#[derive(Default)]
struct RecipeState {
    /// window start → samples and their event ids
    open: BTreeMap<i64, Vec<(WindowSample, String)>>,
    watermark: i64,
    /// Every window ending at or before this has been emitted.
    closed_until: i64,
    late_samples: u64,
}

pub struct RecipeProcessor {
    apps: HashMap<String, AppRecipes>,
    state: HashMap<(String, String), RecipeState>,
    engine: SqlEngine,
}

impl RecipeProcessor {
    pub fn new() -> Result<Self, EngineError> {
        Ok(Self {
            apps: HashMap::new(),
            state: HashMap::new(),
            engine: SqlEngine::new()?,
        })
    }

    pub fn set_template(&mut self, version: &str, template: Arc<Template>) {
        let compiled = template
            .dynamic_metadata
            .metric_recipes
            .iter()
            .map(compile)
            .collect();
        self.apps.insert(
            template.app.clone(),
            AppRecipes {
                version: version.to_string(),
                template,
                compiled,
            },
        );
    }

    /// The compiled SQL of an app's recipes (for `presage explain` and tests).
    pub fn compiled(&self, app: &str) -> Option<&[CompiledRecipe]> {
        self.apps.get(app).map(|a| a.compiled.as_slice())
    }

    pub fn late_samples(&self, app: &str, recipe: &str) -> u64 {
        self.state
            .get(&(app.to_string(), recipe.to_string()))
            .map_or(0, |s| s.late_samples)
    }

    pub fn on_raw(&mut self, sample: &RawSample) -> Result<Vec<RecipeOutput>, RecipeError> {
        let app = self
            .apps
            .get(&sample.app)
            .ok_or_else(|| RecipeError::UnknownApp(sample.app.clone()))?;
        let mut outputs = Vec::new();
        for (compiled, recipe) in app
            .compiled
            .iter()
            .zip(&app.template.dynamic_metadata.metric_recipes)
        {
            if compiled.source != sample.source || compiled.metric != sample.metric {
                continue;
            }
            if !recipe
                .filter
                .iter()
                .all(|(k, v)| sample.labels.get(k) == Some(v))
            {
                continue;
            }
            let state = self
                .state
                .entry((sample.app.clone(), compiled.name.clone()))
                .or_default();
            let (size, slide) = (compiled.size_ms as i64, compiled.slide_ms as i64);
            let window_sample = WindowSample {
                ts_ms: sample.event_time_ms,
                series: series_key(&sample.labels),
                value: sample.value,
            };
            let mut placed = false;
            for start in windows_containing(sample.event_time_ms, size, slide) {
                if start.saturating_add(size) <= state.closed_until {
                    continue;
                }
                placed = true;
                state
                    .open
                    .entry(start)
                    .or_default()
                    .push((window_sample.clone(), sample.event_id.clone()));
            }
            if !placed {
                state.late_samples += 1;
            }
            state.watermark = state.watermark.max(sample.event_time_ms);
            // Close every window that ended at or before the watermark, oldest first.
            while let Some((&start, _)) = state.open.first_key_value() {
                if start.saturating_add(size) > state.watermark {
                    break;
                }
                let (start, samples) = state.open.pop_first().expect("first key exists");
                state.closed_until = state.closed_until.max(start.saturating_add(size));
                outputs.extend(close_window(
                    &self.engine,
                    &sample.app,
                    &app.version,
                    compiled,
                    recipe.fragment,
                    start,
                    samples,
                )?);
            }
        }
        Ok(outputs)
    }
}

fn close_window(
    engine: &SqlEngine,
    app: &str,
    version: &str,
    compiled: &CompiledRecipe,
    fragment: Option<FragmentFormat>,
    start: i64,
    samples: Vec<(WindowSample, String)>,
) -> Result<Vec<RecipeOutput>, RecipeError> {
    let (rows, inputs): (Vec<WindowSample>, Vec<String>) = samples.into_iter().unzip();
    let (value, count) =
        engine
            .run(&compiled.sql, &rows)
            .map_err(|source| RecipeError::Engine {
                recipe: compiled.name.clone(),
                window_start_ms: start,
                source,
            })?;
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let end = start.saturating_add(compiled.size_ms as i64);
    let start_text = start.to_string();
    let derived = DerivedMetric {
        event_id: event_id(&["derived", app, version, &compiled.name, &start_text]),
        app: app.to_string(),
        template_version: version.to_string(),
        recipe: compiled.name.clone(),
        window_start_ms: start,
        window_end_ms: end,
        value,
        sample_count: count,
        sql: compiled.sql.clone(),
        lineage: inputs,
    };
    let mut outputs = Vec::new();
    if let Some(format) = fragment {
        outputs.push(RecipeOutput::Fragment(fragment_for(&derived, format)));
    }
    outputs.insert(0, RecipeOutput::Derived(derived));
    Ok(outputs)
}

/// A metadata fragment: the window's value under the recipe's name, ready to merge into an
/// application's dynamic metadata.
fn fragment_for(derived: &DerivedMetric, format: FragmentFormat) -> MetadataFragment {
    let document = serde_json::json!({
        derived.recipe.clone(): derived.value,
        "window_end_ms": derived.window_end_ms,
    });
    let (format_name, body) = match format {
        FragmentFormat::Json => ("json", document.to_string()),
        FragmentFormat::Yaml => (
            "yaml",
            serde_yaml::to_string(&document).unwrap_or_else(|_| document.to_string()),
        ),
    };
    MetadataFragment {
        event_id: event_id(&["fragment", &derived.event_id]),
        app: derived.app.clone(),
        template_version: derived.template_version.clone(),
        recipe: derived.recipe.clone(),
        format: format_name.to_string(),
        body,
        window_end_ms: derived.window_end_ms,
        lineage: vec![derived.event_id.clone()],
    }
}

/// Labels in a canonical order, so one series always has one key.
fn series_key(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
