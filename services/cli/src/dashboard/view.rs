//! The JSON the page draws from (`/api/state`): a pure function of the state and the feed's
//! status. Series are thinned to at most [`MAX_DRAWN`] points each, so a page polling every
//! couple of seconds stays cheap however many points the state holds.

use serde_json::{json, Value};

use super::state::{AppState, Band, DirectiveRow, Series, State};
use crate::tail::target_text;

/// Points per drawn series: more than a chart's width in pixels buys nothing.
pub const MAX_DRAWN: usize = 600;

/// What the feed reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStatus {
    /// `starting`, `reading`, or `waiting` (for the broker or the topics).
    pub phase: String,
    /// The last problem, while it lasts.
    pub error: Option<String>,
    /// Records read since the start.
    pub records: u64,
}

pub fn state_json(state: &State, feed: &FeedStatus, now_ms: i64) -> Value {
    let apps: Vec<Value> = state
        .apps
        .iter()
        .map(|(name, app)| app_json(name, app))
        .collect();
    let directives: Vec<Value> = state
        .directives
        .iter()
        .rev()
        .map(|row| directive_json(state, row))
        .collect();
    let dead = &state.dead_letters;
    json!({
        "now_ms": now_ms,
        "span_ms": state.limits.span_ms,
        "feed": {
            "phase": feed.phase,
            "error": feed.error,
            "records": feed.records,
            "events": state.events,
            "ahead_of_clock": state.ahead,
        },
        "refused_apps": state.refused_apps,
        "apps": apps,
        "directives": directives,
        "dead_letters": {
            "total": dead.by_kind.values().sum::<u64>(),
            "by_kind": dead.by_kind,
            "by_stage": dead.by_stage.iter().map(|((stage, kind), count)| json!({
                "stage": stage, "kind": kind, "count": count,
            })).collect::<Vec<_>>(),
            "recent": dead.recent.iter().rev().map(|d| json!({
                "failed_at_ms": d.failed_at_ms,
                "stage": d.stage,
                "kind": d.kind,
                "app": d.app,
                "reason": d.reason,
                "lineage": d.lineage,
            })).collect::<Vec<_>>(),
        },
    })
}

fn app_json(name: &str, app: &AppState) -> Value {
    let metric = app.chart_metric();
    let observed = metric
        .and_then(|m| app.observed.get(m))
        .map(|s| thin(s, |v| json!(finite(*v))))
        .unwrap_or_default();
    let forecasts = metric.and_then(|m| app.forecasts.get(m));
    let band = forecasts
        .map(|f| thin(&f.band, band_json))
        .unwrap_or_default();
    let horizon: Vec<Value> = forecasts
        .map(|f| {
            f.horizon
                .iter()
                .map(|(at, b)| point(*at, band_json(b)))
                .collect()
        })
        .unwrap_or_default();
    let targets: serde_json::Map<String, Value> = app
        .targets
        .iter()
        .map(|(resource, series)| {
            let points = thin(series, |t| json!([t.target, t.at_max]));
            (resource.clone(), Value::Array(points))
        })
        .collect();
    let others: Vec<Value> = app
        .observed
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != metric)
        .filter_map(|(name, series)| {
            series
                .last()
                .map(|(at, v)| json!({"metric": name, "at_ms": at, "value": finite(*v)}))
        })
        .collect();
    json!({
        "app": name,
        "metric": metric,
        "observed": observed,
        "band": band,
        "horizon": horizon,
        "targets": targets,
        "model": forecasts.map(|f| f.model.clone()),
        "score": forecasts.and_then(|f| f.score.and_then(finite)),
        "cold_start": forecasts.is_some_and(|f| f.cold_start),
        "interval_level": forecasts.map(|f| f.interval_level),
        "other_metrics": others,
    })
}

fn directive_json(state: &State, row: &DirectiveRow) -> Value {
    let outcomes: Vec<Value> = state
        .outcomes_of(&row.id)
        .iter()
        .map(|o| {
            json!({
                "hook": o.hook,
                "status": o.status,
                "reason": o.reason,
                "attempts": o.attempts,
                "applied_at_ms": o.applied_at_ms,
            })
        })
        .collect();
    let targets: Vec<Value> = row
        .targets
        .iter()
        .map(|t| {
            json!({
                "resource": t.resource,
                "target": t.target,
                "previous": t.previous_target,
                "at_max": t.at_max,
                "text": target_text(t),
                "reason": t.reason,
            })
        })
        .collect();
    json!({
        "id": row.id,
        "app": row.app,
        "mode": row.mode,
        "issued_at_ms": row.issued_at_ms,
        "effective_at_ms": row.effective_at_ms,
        "model": row.model,
        "fallback": row.fallback,
        "targets": targets,
        "outcomes": outcomes,
    })
}

fn band_json(band: &Band) -> Value {
    json!([finite(band.lower), finite(band.point), finite(band.upper)])
}

/// `[at_ms, …value]`: the value's array spread after the instant, or `[at_ms, value]`.
fn point(at_ms: i64, value: Value) -> Value {
    match value {
        Value::Array(mut items) => {
            items.insert(0, json!(at_ms));
            Value::Array(items)
        }
        other => json!([at_ms, other]),
    }
}

/// At most [`MAX_DRAWN`] points, evenly picked, the newest always among them.
fn thin<T: Clone>(series: &Series<T>, value: impl Fn(&T) -> Value) -> Vec<Value> {
    let len = series.len();
    if len == 0 {
        return Vec::new();
    }
    let stride = len.div_ceil(MAX_DRAWN).max(1);
    // Counted back from the newest, so it is always drawn.
    let skip = (len - 1) % stride;
    series
        .points()
        .enumerate()
        .filter(|(i, _)| *i >= skip && (i - skip).is_multiple_of(stride))
        .map(|(_, (at, v))| point(*at, value(v)))
        .collect()
}

/// JSON has no NaN or infinity: such a value is drawn as a gap.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::super::state::{Event, Limits};
    use super::*;
    use presage_events::{DerivedMetric, Forecast, ForecastPoint, ScalingDirective};

    fn state_with_one_app() -> State {
        let mut state = State::new(Limits::default());
        for k in 0..5 {
            state.fold(Event::Derived(DerivedMetric {
                app: "shop".into(),
                recipe: "rps".into(),
                window_start_ms: k * 1000,
                // a window with samples whose value is not a number (an unknown quiet window,
                // with none, is not charted at all: state.rs)
                value: if k == 2 { f64::NAN } else { k as f64 },
                sample_count: 1,
                ..Default::default()
            }));
        }
        state.fold(Event::Derived(DerivedMetric {
            app: "shop".into(),
            recipe: "cpu".into(),
            window_start_ms: 4000,
            value: 0.5,
            ..Default::default()
        }));
        state.fold(Event::Forecast(Forecast {
            app: "shop".into(),
            metric: "rps".into(),
            model: "ets".into(),
            issued_at_ms: 5000,
            interval_level: 0.9,
            points: vec![ForecastPoint {
                at_ms: 5000,
                point: 5.0,
                lower: 4.0,
                upper: 6.0,
            }],
            score: Some(0.25),
            ..Default::default()
        }));
        state.fold(Event::Directive(ScalingDirective {
            event_id: "abcdef0123".into(),
            app: "shop".into(),
            mode: "live".into(),
            issued_at_ms: 5000,
            effective_at_ms: 6000,
            resource: "replicas".into(),
            target: 3,
            previous_target: Some(2),
            reason: "upper forecast 6.0 / 2 per unit = 3 units".into(),
            model: "ets".into(),
            ..Default::default()
        }));
        state
    }

    #[test]
    fn an_app_shows_its_forecast_metric_band_and_targets_and_lists_the_others() {
        let state = state_with_one_app();
        let view = state_json(&state, &FeedStatus::default(), 7000);
        let app = &view["apps"][0];
        assert_eq!(app["app"], "shop");
        assert_eq!(app["metric"], "rps");
        assert_eq!(app["observed"].as_array().unwrap().len(), 5);
        assert_eq!(app["observed"][1], json!([1000, 1.0]));
        assert_eq!(app["observed"][2], json!([2000, null]), "NaN is a gap");
        assert_eq!(app["band"], json!([[5000, 4.0, 5.0, 6.0]]));
        assert_eq!(app["horizon"], json!([[5000, 4.0, 5.0, 6.0]]));
        assert_eq!(app["targets"]["replicas"], json!([[6000, 3, false]]));
        assert_eq!(app["score"], 0.25);
        assert_eq!(
            app["other_metrics"],
            json!([{"metric": "cpu", "at_ms": 4000, "value": 0.5}])
        );
    }

    #[test]
    fn directives_are_newest_first_with_targets_reasons_and_outcomes() {
        let mut state = state_with_one_app();
        state.fold(Event::Directive(ScalingDirective {
            event_id: "later".into(),
            app: "shop".into(),
            mode: "shadow".into(),
            issued_at_ms: 9000,
            resource: "replicas".into(),
            target: 4,
            ..Default::default()
        }));
        let view = state_json(&state, &FeedStatus::default(), 0);
        let directives = view["directives"].as_array().unwrap();
        assert_eq!(directives[0]["id"], "later");
        let first = &directives[1];
        assert_eq!(first["targets"][0]["text"], "replicas=3 (was 2)");
        assert_eq!(
            first["targets"][0]["reason"],
            "upper forecast 6.0 / 2 per unit = 3 units"
        );
        assert_eq!(first["model"], "ets unscored");
        assert_eq!(first["outcomes"], json!([]));
    }

    #[test]
    fn long_series_are_thinned_keeping_the_newest_point() {
        let mut state = State::new(Limits {
            points: 10_000,
            span_ms: i64::MAX,
            ..Limits::default()
        });
        for k in 0..2_501 {
            state.fold(Event::Derived(DerivedMetric {
                app: "shop".into(),
                recipe: "rps".into(),
                window_start_ms: k,
                value: k as f64,
                ..Default::default()
            }));
        }
        let view = state_json(&state, &FeedStatus::default(), 0);
        let observed = view["apps"][0]["observed"].as_array().unwrap();
        assert!(observed.len() <= MAX_DRAWN && observed.len() > MAX_DRAWN / 2);
        assert_eq!(observed.last().unwrap(), &json!([2500, 2500.0]));
    }

    #[test]
    fn the_feed_status_and_counts_are_reported() {
        let state = state_with_one_app();
        let feed = FeedStatus {
            phase: "waiting".into(),
            error: Some("broker away".into()),
            records: 8,
        };
        let view = state_json(&state, &feed, 0);
        assert_eq!(view["feed"]["phase"], "waiting");
        assert_eq!(view["feed"]["error"], "broker away");
        assert_eq!(view["feed"]["events"]["derived"], 6);
        assert_eq!(view["dead_letters"]["total"], 0);
    }
}
