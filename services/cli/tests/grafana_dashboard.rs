//! deploy/grafana/presage.json, the dashboard the compose stack provisions, may only query what
//! Presage exports: every metric a panel or an annotation names must be a family in
//! `presage_runner::telemetry::EXPORTED` (a histogram through its `_bucket`, `_sum` or `_count`
//! series). A renamed metric otherwise leaves an empty panel nobody notices until an incident.

use std::collections::BTreeSet;

use presage_runner::telemetry::EXPORTED;
use serde_json::Value;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/grafana/presage.json"
);
const HISTOGRAM_SERIES: [&str; 3] = ["_bucket", "_sum", "_count"];

fn dashboard() -> Value {
    let text = std::fs::read_to_string(DASHBOARD).expect("deploy/grafana/presage.json");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .collect()
}

fn is_row(panel: &Value) -> bool {
    panel["type"] == "row"
}

/// Every query of the dashboard, with where it is: panel targets and annotation queries.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for panel in panels(dashboard).into_iter().filter(|p| !is_row(p)) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            found.push((format!("panel {:?}", panel["title"]), expr.to_string()));
        }
    }
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // Older dashboards keep an annotation's query in `expr`, newer ones in `target.expr`.
        for expr in [&annotation["expr"], &annotation["target"]["expr"]] {
            if let Some(expr) = expr.as_str() {
                found.push((
                    format!("annotation {:?}", annotation["name"]),
                    expr.to_string(),
                ));
            }
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(query) = variable["query"]["query"]
            .as_str()
            .or(variable["definition"].as_str())
        {
            if variable["type"] == "query" {
                found.push((
                    format!("variable {:?}", variable["name"]),
                    query.to_string(),
                ));
            }
        }
    }
    found
}

/// The metric names a PromQL expression mentions: identifiers starting with `presage_`, outside
/// string literals (label values such as `app="presage_demo"` are not metrics).
fn metric_names(expr: &str) -> Vec<String> {
    let mut outside_strings = String::new();
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            None => outside_strings.push(c),
        }
    }
    let mut names = Vec::new();
    let mut rest = outside_strings.as_str();
    while let Some(start) = rest.find("presage_") {
        let preceded_by_identifier = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded_by_identifier {
            names.push(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// The exported family a series name belongs to, if any: the name itself, or a histogram's base
/// name under one of its series suffixes (a counter, ending in `_total`, has none).
fn family(name: &str) -> Option<&'static str> {
    if let Some(family) = EXPORTED.iter().find(|f| **f == name) {
        return Some(family);
    }
    HISTOGRAM_SERIES.iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        EXPORTED
            .iter()
            .find(|f| **f == base && !f.ends_with("_total"))
            .copied()
    })
}

/// The names in `expr` that Presage does not export.
fn unknown_metrics(expr: &str) -> Vec<String> {
    metric_names(expr)
        .into_iter()
        .filter(|name| family(name).is_none())
        .collect()
}

#[test]
fn the_checker_finds_metric_names_and_rejects_made_up_ones() {
    let expr = r#"histogram_quantile(0.99, sum by (stage, le) (rate(presage_processing_seconds_bucket[5m]))) / on() presage_ready{app="presage_not_a_metric"}"#;
    assert_eq!(
        metric_names(expr),
        ["presage_processing_seconds_bucket", "presage_ready"]
    );
    assert!(unknown_metrics(expr).is_empty());
    assert_eq!(
        unknown_metrics("sum(rate(presage_records_processed_total[1m]))"),
        ["presage_records_processed_total"],
        "a made-up name"
    );
    assert_eq!(
        unknown_metrics("rate(presage_records_in_total_count[1m])"),
        ["presage_records_in_total_count"],
        "a counter has no histogram series"
    );
    assert_eq!(
        unknown_metrics("presage_records_in"),
        ["presage_records_in"],
        "a counter is queried with its _total"
    );
    assert!(unknown_metrics("up{job=\"presage_x\"} or my_presage_thing").is_empty());
}

#[test]
fn every_query_names_only_metrics_presage_exports() {
    let dashboard = dashboard();
    let queries = queries(&dashboard);
    assert!(
        queries.len() > 20,
        "the dashboard has its queries: {queries:?}"
    );
    let mut problems = Vec::new();
    for (place, expr) in &queries {
        if metric_names(expr).is_empty() {
            problems.push(format!("{place}: `{expr}` names no Presage metric"));
        }
        for name in unknown_metrics(expr) {
            problems.push(format!("{place}: {name} is not exported (`{expr}`)"));
        }
        // A quantile is computed from buckets; on anything else it is always empty.
        if expr.contains("histogram_quantile") {
            assert!(expr.contains("_bucket"), "{place}: `{expr}`");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every family but the build's identity is on the dashboard: a family added to the catalog
/// without a panel fails here.
#[test]
fn every_exported_family_is_shown() {
    let shown: BTreeSet<&str> = queries(&dashboard())
        .iter()
        .flat_map(|(_, expr)| metric_names(expr))
        .filter_map(|name| family(&name))
        .collect();
    let missing: Vec<&&str> = EXPORTED
        .iter()
        .filter(|f| **f != "presage_build_info" && !shown.contains(*f))
        .collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
}

#[test]
fn every_panel_has_a_data_source_and_a_query() {
    let dashboard = dashboard();
    let variables: Vec<&Value> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let datasource = variables
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a data source variable, so the dashboard works with any Prometheus");
    assert_eq!(datasource["query"], "prometheus");
    let by_variable = format!("${{{}}}", datasource["name"].as_str().unwrap());
    for panel in panels(&dashboard).into_iter().filter(|p| !is_row(p)) {
        let title = &panel["title"];
        assert_eq!(panel["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(panel["datasource"]["uid"], by_variable.as_str(), "{title}");
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert!(
                target["expr"].as_str().is_some_and(|e| !e.is_empty()),
                "{title}"
            );
            assert!(
                target["refId"].is_string(),
                "{title}: a query needs a refId"
            );
        }
        assert!(
            panel["gridPos"]["w"].as_u64().is_some(),
            "{title}: no place"
        );
    }
    let ids: Vec<u64> = panels(&dashboard)
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .collect();
    let distinct: BTreeSet<&u64> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "panel ids are unique");
}

/// The panels under each row, by the row's title.
fn rows(dashboard: &Value) -> Vec<(String, Vec<&Value>)> {
    let mut rows: Vec<(String, Vec<&Value>)> = Vec::new();
    for panel in panels(dashboard) {
        if is_row(panel) {
            rows.push((panel["title"].as_str().unwrap().to_string(), Vec::new()));
        } else {
            rows.last_mut()
                .expect("every panel is in a row")
                .1
                .push(panel);
        }
    }
    rows
}

fn row_queries<'a>(
    rows: &'a [(String, Vec<&Value>)],
    title: impl Fn(&str) -> bool,
) -> Vec<&'a str> {
    let (_, panels) = rows.iter().find(|(t, _)| title(t)).expect("the row exists");
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .filter_map(|t| t["expr"].as_str())
        .collect()
}

fn names(exprs: &[&str]) -> BTreeSet<&'static str> {
    exprs
        .iter()
        .flat_map(|e| metric_names(e))
        .filter_map(|n| family(&n))
        .collect()
}

#[test]
fn the_pipeline_health_row_shows_flow_lag_failures_latency_and_readiness() {
    let dashboard = dashboard();
    let rows = rows(&dashboard);
    let shown = names(&row_queries(&rows, |t| t == "Pipeline health"));
    for family in [
        "presage_ready",
        "presage_broker_reachable",
        "presage_records_in_total",
        "presage_records_out_total",
        "presage_consumer_lag",
        "presage_dead_letters_total",
        "presage_processing_seconds",
        "presage_delivery_seconds",
        "presage_window_close_delay_seconds",
        "presage_sample_to_directive_seconds",
        "presage_refits_total",
        "presage_refit_seconds",
        "presage_spool_bytes",
        "presage_spool_records",
        "presage_spool_dropped_total",
        "presage_apply_outcomes_total",
        "presage_hook_seconds",
    ] {
        assert!(shown.contains(family), "pipeline health lacks {family}");
    }
}

/// One app at a time (the `app` variable): what was observed, the forecast band, the capacity
/// target, whether it is held at max, the model's score and the outcomes; directives are
/// annotations on its charts.
#[test]
fn the_per_app_row_shows_one_app_with_its_forecast_band_and_directives() {
    let dashboard = dashboard();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let app = variables
        .iter()
        .find(|v| v["name"] == "app")
        .expect("an `app` variable");
    assert!(
        metric_names(app["query"]["query"].as_str().unwrap())
            .iter()
            .any(|n| n.starts_with("presage_app_")),
        "the apps are those with per-app series"
    );
    let rows = rows(&dashboard);
    let exprs = row_queries(&rows, |t| t.contains("$app"));
    let shown = names(&exprs);
    for family in [
        "presage_app_observed",
        "presage_app_forecast",
        "presage_app_target",
        "presage_app_at_max",
        "presage_app_forecast_mase",
        "presage_apply_outcomes_total",
    ] {
        assert!(shown.contains(family), "the per-app row lacks {family}");
    }
    for bound in ["mean", "lower", "upper"] {
        assert!(
            exprs
                .iter()
                .any(|e| e.contains("presage_app_forecast")
                    && e.contains(&format!("bound=\"{bound}\""))),
            "the forecast's {bound}"
        );
    }
    for expr in exprs.iter().filter(|e| e.contains("presage_app_")) {
        assert!(
            expr.contains("app=\"$app\""),
            "`{expr}` is not the chosen app's"
        );
    }
    let annotations = dashboard["annotations"]["list"].as_array().unwrap();
    let directives = annotations
        .iter()
        .find(|a| a["name"] == "Directives")
        .expect("directives as annotations");
    assert_eq!(directives["enable"], true);
    let expr = directives["expr"].as_str().unwrap();
    assert!(
        metric_names(expr).contains(&"presage_app_target".to_string())
            && expr.contains("app=\"$app\""),
        "a directive is a change of the app's target: `{expr}`"
    );
}
