//! Semantic checks: what the types cannot say. Each finding names the node it is about by path
//! and says what was expected; `lib.rs` turns paths into lines and columns. Recipes have the
//! most to check and get their own modules.

mod actuation;
mod expressions;
mod http_hook;
mod ics;
mod json_http;
mod kubernetes;
mod placement;
mod promql;
mod recipes;
mod selectors;
mod sql;

use std::collections::HashSet;

use crate::finding::Finding;
use crate::model::{
    HookKind, ModelKind, Retry, ScalingPolicy, Season, SourceKind, Template, MAX_RETRY_ATTEMPTS,
};
use crate::path::YamlPath;
use crate::rules::Rule;
use crate::Duration;

/// Names defined by list elements that failed to decode. References to them are not reported:
/// the element's own error is the one to fix.
#[derive(Debug, Default)]
pub(crate) struct Dropped {
    pub source_ids: Vec<String>,
    pub recipe_names: Vec<String>,
}

pub(crate) fn validate(t: &Template, dropped: &Dropped) -> Vec<Finding> {
    let mut out = Vec::new();
    let root = YamlPath::root();
    if t.app.trim().is_empty() {
        out.push(Finding::at(
            root.key("app"),
            "app is empty: expected the application id, like checkout-api",
        ));
    }
    bootstrap(t, &root, &mut out);
    placement::check(t, &root, &mut out);
    let dm = root.key("dynamic_metadata");
    sources(t, &dm, &mut out);
    windowing(t, &dm, &mut out);
    recipes::recipes(t, dropped, &dm, &mut out);
    let recipe_names: Vec<&str> = t
        .dynamic_metadata
        .metric_recipes
        .iter()
        .map(|r| r.name.as_str())
        .chain(dropped.recipe_names.iter().map(String::as_str))
        .collect();
    predictions(t, &recipe_names, &dm, &mut out);
    policies(t, &recipe_names, &dm, &mut out);
    hooks(t, &dm, &mut out);
    rules(t, &dm, &mut out);
    out
}

/// Starting resources are amounts the applier writes and a backtest starts from: a NaN or a
/// negative one would be applied (or counted) as it is.
fn bootstrap(t: &Template, root: &YamlPath, out: &mut Vec<Finding>) {
    for (name, value) in &t.bootstrap.resources {
        if !value.is_finite() || *value < 0.0 {
            out.push(Finding::at(
                root.key("bootstrap").key("resources").key(name),
                format!("bootstrap resource {name:?} is {value}: expected a number, 0 or more"),
            ));
        }
    }
}

fn sources(t: &Template, dm: &YamlPath, out: &mut Vec<Finding>) {
    let mut seen = HashSet::new();
    for (i, s) in t.dynamic_metadata.sources.iter().enumerate() {
        let p = dm.key("sources").index(i);
        let id = &s.id;
        if id.trim().is_empty() {
            out.push(Finding::at(
                p.key("id"),
                "source id is empty: expected a name like api, used in recipes as api.<metric>",
            ));
        } else if id.contains('.') || id.chars().any(char::is_whitespace) {
            out.push(Finding::at(
                p.key("id"),
                format!(
                    "source id {id:?} contains a dot or a space: expected letters, digits, _ or - \
                     (recipes refer to <source id>.<metric>)"
                ),
            ));
        }
        if !seen.insert(id.as_str()) {
            out.push(Finding::at(
                p.key("id"),
                format!("duplicate source id {id:?}: expected each source to have its own id"),
            ));
        }
        let needs_url = matches!(s.kind, SourceKind::Prometheus | SourceKind::HttpProbe);
        if needs_url && s.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
            out.push(
                Finding::at(
                    p.clone(),
                    format!(
                        "{} source {id:?} has no url: expected url: \"http://host:port/path\"",
                        s.kind.as_str()
                    ),
                )
                .reading([p.key("url")]),
            );
        }
        if s.kind == SourceKind::KafkaLag {
            if s.group.as_deref().is_none_or(|g| g.trim().is_empty()) {
                out.push(
                    Finding::at(
                        p.key("group"),
                        format!(
                            "kafka_lag source {id:?} has no group: expected group: <consumer group id>"
                        ),
                    )
                    .reading([p.key("group")]),
                );
            }
            if s.topics.is_empty() {
                out.push(
                    Finding::at(
                        p.key("topics"),
                        format!(
                            "kafka_lag source {id:?} names no topics: expected topics: [<topic the group consumes>, ...]"
                        ),
                    )
                    .reading([p.key("topics")]),
                );
            }
            lag_topics(id, &s.topics, &p.key("topics"), out);
        } else {
            // Only a kafka_lag source reads them: elsewhere they would be silently ignored.
            let set = [
                ("group", s.group.is_some()),
                ("topics", !s.topics.is_empty()),
            ];
            for (field, _) in set.iter().filter(|(_, set)| *set) {
                out.push(Finding::at_key(
                    p.key(field),
                    format!(
                        "{field} does not apply to {} source {id:?}: group and topics are a \
                         kafka_lag source's",
                        s.kind.as_str()
                    ),
                ));
            }
        }
        promql::check(s, &p, out);
        json_http::check(s, &p, out);
        ics::check(s, &p, out);
        placement::check_source(s, &p, out);
        for (field, value) in [("every", s.every), ("timeout", s.timeout)] {
            positive(
                value,
                p.key(field),
                &format!("{field} of source {id:?}"),
                "15s",
                out,
            );
        }
    }
}

/// Each topic of a `kafka_lag` source by itself, at its element: a name Kafka would refuse (the
/// read would fail at every turn with "does not exist"), or one named twice (its partitions
/// would be read twice, and a `sum` of the lag would count them twice).
fn lag_topics(id: &str, topics: &[String], at: &YamlPath, out: &mut Vec<Finding>) {
    for (j, topic) in topics.iter().enumerate() {
        let problem = if !is_topic_name(topic) {
            "is not a Kafka topic name: expected 1 to 249 letters, digits, '.', '_' or '-' \
             (neither . nor ..)"
        } else if topics[..j].contains(topic) {
            "is named twice: expected each topic once (its partitions would be counted twice)"
        } else {
            continue;
        };
        out.push(Finding::at(
            at.index(j),
            format!("topic {topic:?} of kafka_lag source {id:?} {problem}"),
        ));
    }
}

/// What a Kafka broker accepts as a topic's name.
fn is_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn windowing(t: &Template, dm: &YamlPath, out: &mut Vec<Finding>) {
    // Any allowed_lateness is meaningful, 0 included (windows close as soon as time passes them).
    let idle = t.dynamic_metadata.windowing.idle_timeout;
    let at = dm.key("windowing").key("idle_timeout");
    positive(Some(idle), at, "windowing.idle_timeout", "10s", out);
}

/// A forecast carries one point per window over its horizon; more would not fit a Kafka record.
const MAX_HORIZON_WINDOWS: u64 = 5_000;
/// Fourier pairs per season at most: each pair is two more coefficients in every model the
/// ARIMA search fits, and past a few dozen they fit noise.
const MAX_HARMONICS: usize = 24;

fn predictions(t: &Template, recipes: &[&str], dm: &YamlPath, out: &mut Vec<Finding>) {
    for (i, a) in t.dynamic_metadata.prediction_algorithms.iter().enumerate() {
        let p = dm.key("prediction_algorithms").index(i);
        let target = &a.target;
        if !recipes.contains(&target.as_str()) {
            out.push(Finding::at(
                p.key("target"),
                format!(
                    "prediction target {target:?} is not a recipe: expected one of {}",
                    one_of(recipes)
                ),
            ));
        }
        if !(a.interval > 0.0 && a.interval < 1.0) {
            out.push(Finding::at(
                p.key("interval"),
                format!(
                    "interval {} of the prediction for {target:?} is not between 0 and 1: \
                     expected a coverage like 0.9",
                    a.interval
                ),
            ));
        }
        let what = format!("horizon of the prediction for {target:?}");
        positive(Some(a.horizon), p.key("horizon"), &what, "30m", out);
        if a.models.is_empty() {
            out.push(Finding::at(
                p.key("models"),
                format!(
                    "the prediction for {target:?} has no models: expected at least one of \
                     seasonal_naive, naive, mstl, ets, holt_winters, linear, arima, prophet, nnar"
                ),
            ));
        }
        for (j, s) in a.seasonality.iter().enumerate() {
            if let Season::Every(d) = s {
                let what = format!("seasonality of the prediction for {target:?}");
                positive(Some(*d), p.key("seasonality").index(j), &what, "1d", out);
            }
        }
        if let Some(recipe) = t.recipe(target) {
            let (_, slide_ms) = recipe.window.size_and_slide_ms();
            let steps = a.horizon.as_millis() / slide_ms.max(1);
            if steps > MAX_HORIZON_WINDOWS {
                out.push(Finding::at(
                    p.key("horizon"),
                    format!(
                        "horizon {} of the prediction for {target:?} is {steps} windows of \
                         recipe {target:?}: at most {MAX_HORIZON_WINDOWS} (forecast a coarser \
                         recipe, or a shorter horizon)",
                        a.horizon
                    ),
                ));
            }
        }
        let what = format!("refit of the prediction for {target:?}");
        positive(Some(a.refit), p.key("refit"), &what, "1h", out);
        if a.history.is_some() {
            let what = format!("history of the prediction for {target:?}");
            positive(a.history, p.key("history"), &what, "28d", out);
        }
        if !(a.drift.is_finite() && a.drift > 1.0) {
            out.push(Finding::at(
                p.key("drift"),
                format!(
                    "drift {} of the prediction for {target:?} must be above 1: it is how many \
                     times the expected error the recent error may reach before an early refit, \
                     like 2.0",
                    a.drift
                ),
            ));
        }
        if !(1..=50).contains(&a.folds) {
            out.push(Finding::at(
                p.key("folds"),
                format!(
                    "folds {} of the prediction for {target:?} is not between 1 and 50",
                    a.folds
                ),
            ));
        }
        if !(a.ridge.is_finite() && a.ridge >= 0.0) {
            out.push(Finding::at(
                p.key("ridge"),
                format!(
                    "ridge {} of the prediction for {target:?} must be zero or positive, like 1.0",
                    a.ridge
                ),
            ));
        }
        let harmonics = a.harmonics.unwrap_or(0);
        if harmonics > MAX_HARMONICS {
            out.push(Finding::at(
                p.key("harmonics"),
                format!(
                    "harmonics {} of the prediction for {target:?} is more than {MAX_HARMONICS} \
                     pairs of Fourier terms per season, like 8",
                    harmonics
                ),
            ));
        } else if harmonics > 0 {
            // a setting that cannot act is a mistake the user would not otherwise see
            if !a.models.contains(&ModelKind::Arima) {
                out.push(Finding::at(
                    p.key("harmonics"),
                    format!(
                        "harmonics {} of the prediction for {target:?} only acts on the arima \
                         model, and its models do not include arima",
                        harmonics
                    ),
                ));
            } else if a.fixed_seasons().len() < 2 && !a.detects_seasons() {
                out.push(Finding::at(
                    p.key("harmonics"),
                    format!(
                        "harmonics {} of the prediction for {target:?} needs a period longer than \
                         the first, like seasonality: [1d, 7d]",
                        harmonics
                    ),
                ));
            }
        }
        if !(1..=crate::MAX_GROUPS).contains(&a.max_groups) {
            out.push(Finding::at(
                p.key("max_groups"),
                format!(
                    "max_groups {} of the prediction for {target:?} is not between 1 and {}: it \
                     bounds how many group_by combinations are forecast",
                    a.max_groups,
                    crate::MAX_GROUPS
                ),
            ));
        }
        for (j, day) in a.holidays.iter().enumerate() {
            if crate::calendar::parse_date(day).is_none() {
                out.push(Finding::at(
                    p.key("holidays").index(j),
                    format!("holiday {day:?} is not a date: expected YYYY-MM-DD, like 2013-12-25"),
                ));
            }
        }
        let aliases: Vec<&str> = t
            .recipe(target)
            .map(|r| r.join.iter().map(|j| j.alias.as_str()).collect())
            .unwrap_or_default();
        for (j, name) in a.regressors.iter().enumerate() {
            if !aliases.contains(&name.as_str()) {
                out.push(Finding::at(
                    p.key("regressors").index(j),
                    format!(
                        "regressor {name:?} is not a signal joined to recipe {target:?}: \
                         expected one of {} (add it with join: [{{signal: ..., as: {name}}}])",
                        one_of(&aliases)
                    ),
                ));
            }
        }
    }
}

/// A policy's `labels` select one group of its metric: every `group_by` label of the recipe,
/// and no other; and a fallback (which acts on the whole metric's observations) has nothing to
/// act on for one group.
fn group_of_policy(t: &Template, s: &ScalingPolicy, p: &YamlPath, out: &mut Vec<Finding>) {
    if s.labels.is_empty() {
        return;
    }
    let res = &s.resource;
    let Some(recipe) = t.recipe(&s.metric) else {
        return;
    };
    let given: Vec<&str> = s.labels.keys().map(String::as_str).collect();
    let grouped: Vec<&str> = recipe.group_by.iter().map(String::as_str).collect();
    let mut sorted = grouped.clone();
    sorted.sort_unstable();
    if given != sorted {
        out.push(Finding::at(
            p.key("labels"),
            format!(
                "labels {} of the scaling policy for {res:?} do not name one group of recipe \
                 {:?}: expected a value for each of its group_by labels ({})",
                given.join(", "),
                s.metric,
                if grouped.is_empty() {
                    "it has none: remove labels".to_string()
                } else {
                    grouped.join(", ")
                }
            ),
        ));
    }
    if s.fallback.is_some() {
        out.push(Finding::at(
            p.key("fallback"),
            format!(
                "the scaling policy for {res:?} acts on one group (labels) and has a fallback: \
                 a fallback acts on the whole metric's observations; remove one of them"
            ),
        ));
    }
}

fn policies(t: &Template, recipes: &[&str], dm: &YamlPath, out: &mut Vec<Finding>) {
    let mut seen: HashSet<(&str, bool)> = HashSet::new();
    for (i, s) in t.dynamic_metadata.scaling_policies.iter().enumerate() {
        let p = dm.key("scaling_policies").index(i);
        let res = &s.resource;
        // Two live (or two shadow) policies on one resource would flap each other.
        if !seen.insert((res.as_str(), s.shadow)) {
            out.push(Finding::at(
                p.key("resource"),
                format!(
                    "a second {} scaling policy for {res:?}: each resource has one policy \
                     (and at most one shadow policy)",
                    if s.shadow { "shadow" } else { "live" }
                ),
            ));
        }
        if let Some(f) = s.fallback {
            if !(f.headroom.is_finite() && f.headroom >= 0.0)
                || f.max_score.is_some_and(|m| m.is_nan() || m <= 0.0)
                || f.stale_after.is_zero()
            {
                out.push(Finding::at(
                    p.key("fallback"),
                    format!(
                        "fallback of the scaling policy for {res:?} needs stale_after > 0s, \
                         headroom >= 0 and max_score > 0"
                    ),
                ));
            }
        }
        if res.trim().is_empty() {
            out.push(Finding::at(
                p.key("resource"),
                "resource of a scaling policy is empty: expected what to scale, like replicas",
            ));
        }
        if !recipes.contains(&s.metric.as_str()) {
            out.push(Finding::at(
                p.key("metric"),
                format!(
                    "scaling policy for {res:?} uses metric {:?}, which is not a recipe: \
                     expected one of {}",
                    s.metric,
                    one_of(recipes)
                ),
            ));
        }
        if !s.per_unit.is_finite() || s.per_unit <= 0.0 {
            out.push(Finding::at(
                p.key("per_unit"),
                format!(
                    "per_unit of the scaling policy for {res:?} is {}: expected a positive \
                     number (how much of the metric one unit of {res} handles)",
                    s.per_unit
                ),
            ));
        }
        // Targets are whole units: a fractional bound would be rounded silently.
        if s.min.is_nan() || s.min < 0.0 || s.min.fract() != 0.0 {
            out.push(Finding::at(
                p.key("min"),
                format!(
                    "min of the scaling policy for {res:?} is {}: expected a whole number, 0 or \
                     more",
                    s.min
                ),
            ));
        }
        if !s.max.is_finite() || s.max.fract() != 0.0 {
            out.push(Finding::at(
                p.key("max"),
                format!(
                    "max of the scaling policy for {res:?} is {}: expected a finite whole number",
                    s.max
                ),
            ));
        }
        group_of_policy(t, s, &p, out);
        crate::slo::check(t, s, &p, out);
        crate::plan::check(t, s, &p, out);
        if s.min > s.max {
            out.push(
                Finding::at(
                    p.key("min"),
                    format!(
                        "scaling policy for {res:?} has min {} above max {}: expected min <= max",
                        s.min, s.max
                    ),
                )
                .reading([p.key("min"), p.key("max")]),
            );
        }
        for (field, value) in [
            ("max_step_up", s.max_step_up),
            ("max_step_down", s.max_step_down),
        ] {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < 0.0 || v.fract() != 0.0) {
                out.push(Finding::at(
                    p.key(field),
                    format!(
                        "{field} of the scaling policy for {res:?} is {v}: expected a whole \
                         number, 0 or more"
                    ),
                ));
            }
        }
        for (j, floor) in s.schedule.iter().enumerate() {
            let at = p.key("schedule").index(j);
            if let Err(e) = floor.cron.parse::<crate::cron::Cron>() {
                out.push(Finding::in_scalar(
                    at.key("cron"),
                    e.offset,
                    format!("schedule of the scaling policy for {res:?}: {e}"),
                ));
            }
            let what = format!("for of a schedule of the scaling policy for {res:?}");
            positive(Some(floor.duration), at.key("for"), &what, "10h", out);
            if !(floor.min.is_finite() && floor.min <= s.max) {
                out.push(Finding::at(
                    at.key("min"),
                    format!(
                        "scheduled floor {} of the scaling policy for {res:?} is above its max {}",
                        floor.min, s.max
                    ),
                ));
            }
        }
    }
}

fn hooks(t: &Template, dm: &YamlPath, out: &mut Vec<Finding>) {
    let mut seen = HashSet::new();
    for (i, h) in t.dynamic_metadata.configuration_hooks.iter().enumerate() {
        let p = dm.key("configuration_hooks").index(i);
        let name = &h.name;
        if !seen.insert(name.as_str()) {
            out.push(Finding::at(
                p.key("name"),
                format!("duplicate hook name {name:?}: expected each hook to have its own name"),
            ));
        }
        let missing = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        match h.kind {
            HookKind::File if missing(&h.path) => out.push(
                Finding::at(
                    p.clone(),
                    format!("file hook {name:?} has no path: expected path: /path/to/config.yaml"),
                )
                .reading([p.key("path")]),
            ),
            HookKind::Http if missing(&h.url) => out.push(
                Finding::at(
                    p.clone(),
                    format!(
                        "http hook {name:?} has no url: expected url: \"http://host:port/path\""
                    ),
                )
                .reading([p.key("url")]),
            ),
            HookKind::Env if missing(&h.path) => out.push(
                Finding::at(
                    p.clone(),
                    format!("env hook {name:?} has no path: expected path: /etc/myapp/app.env"),
                )
                .reading([p.key("path")]),
            ),
            _ => {}
        }
        actuation::check(t, h, &p, out);
        http_hook::check(h, &p, out);
        kubernetes::check(t, h, &p, out);
        if let Some(command) = h.reload.as_ref().and_then(|r| r.command.as_ref()) {
            if command.is_empty() {
                out.push(Finding::at(
                    p.key("reload").key("command"),
                    format!(
                        "reload command of hook {name:?} is empty: expected [program, args...]"
                    ),
                ));
            }
        }
        if let Some(retry) = &h.retry {
            retry_setting(retry, name, &p.key("retry"), out);
        }
        let Some(test) = &h.test else { continue };
        let tp = p.key("test");
        match (&test.command, &test.http) {
            (None, None) => out.push(
                Finding::at(
                    tp.clone(),
                    format!(
                        "test of hook {name:?} has neither command nor http: expected \
                         command: [program, args...] or http: <url>"
                    ),
                )
                .reading([tp.key("command"), tp.key("http")]),
            ),
            (Some(command), _) if command.is_empty() => out.push(Finding::at(
                tp.key("command"),
                format!("test command of hook {name:?} is empty: expected [program, args...]"),
            )),
            _ => {}
        }
        let what = format!("test.within of hook {name:?}");
        positive(test.within, tp.key("within"), &what, "10s", out);
    }
}

/// Tries are bounded (each holds the app's writer) and a retry waits: 1 to
/// [`MAX_RETRY_ATTEMPTS`] attempts, a positive backoff.
fn retry_setting(retry: &Retry, name: &str, at: &YamlPath, out: &mut Vec<Finding>) {
    if !(1..=MAX_RETRY_ATTEMPTS).contains(&retry.attempts) {
        out.push(Finding::at(
            at.key("attempts"),
            format!(
                "retry.attempts of hook {name:?} is {}: expected 1 (no retry) to \
                 {MAX_RETRY_ATTEMPTS}",
                retry.attempts
            ),
        ));
    }
    let what = format!("retry.backoff of hook {name:?}");
    positive(Some(retry.backoff), at.key("backoff"), &what, "500ms", out);
}

fn rules(t: &Template, dm: &YamlPath, out: &mut Vec<Finding>) {
    for (i, src) in t.dynamic_metadata.validation_rules.iter().enumerate() {
        if let Err(e) = Rule::parse(src) {
            out.push(Finding::in_scalar(
                dm.key("validation_rules").index(i),
                e.column.saturating_sub(1),
                format!(
                    "validation rule {src:?} does not parse at column {}: {}",
                    e.column, e.message
                ),
            ));
        }
    }
}

/// Reports a duration that is present but zero where only a positive one makes sense.
fn positive(value: Option<Duration>, at: YamlPath, what: &str, like: &str, out: &mut Vec<Finding>) {
    if value.is_some_and(|d| d.is_zero()) {
        out.push(Finding::at(
            at,
            format!("{what} is 0s: expected a positive duration like {like}"),
        ));
    }
}

fn one_of(names: &[&str]) -> String {
    if names.is_empty() {
        "(none are defined)".to_string()
    } else {
        names.join(", ")
    }
}
