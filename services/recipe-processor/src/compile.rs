//! Recipes → SQL. The query runs over one window's samples, a table `window_samples` with
//! columns `ts` (epoch ms), `series` (the sample's labels, canonical) and `value`, and returns
//! one row: `value` (the derived metric) and `n` (how many samples it used).

use presage_template::{Aggregate, MetricRecipe, Transform};

pub const WINDOW_TABLE: &str = "window_samples";

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRecipe {
    pub name: String,
    pub source: String,
    pub metric: String,
    pub size_ms: u64,
    pub slide_ms: u64,
    pub sql: String,
}

fn aggregate_sql(aggregate: Aggregate) -> &'static str {
    match aggregate {
        Aggregate::Avg => "avg(value)",
        Aggregate::Min => "min(value)",
        Aggregate::Max => "max(value)",
        Aggregate::Sum => "sum(value)",
        Aggregate::Count => "CAST(count(value) AS DOUBLE)",
        Aggregate::Last => "last_value(value ORDER BY ts)",
        Aggregate::P50 => "approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY value)",
        Aggregate::P90 => "approx_percentile_cont(0.9) WITHIN GROUP (ORDER BY value)",
        Aggregate::P95 => "approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY value)",
        Aggregate::P99 => "approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY value)",
    }
}

/// Compiles a validated recipe (its `from` is `<source>.<metric>`).
pub fn compile(recipe: &MetricRecipe) -> CompiledRecipe {
    let (source, metric) = recipe
        .from
        .split_once('.')
        .map(|(s, m)| (s.to_string(), m.to_string()))
        .unwrap_or_default();
    let (size_ms, slide_ms) = recipe.window.size_and_slide_ms();
    let aggregate = aggregate_sql(recipe.aggregate);
    let sql = match recipe.transform {
        None => format!("SELECT {aggregate} AS value, count(value) AS n FROM {WINDOW_TABLE}"),
        // Per series: the counter's increase inside the window per second (a drop is a reset,
        // counted from zero), then the recipe's aggregate across series.
        Some(Transform::Rate) => format!(
            "WITH ordered AS (\
               SELECT series, ts, value, lag(value) OVER (PARTITION BY series ORDER BY ts) AS prev \
               FROM {WINDOW_TABLE}), \
             rates AS (\
               SELECT series, max(ts) AS ts, \
                 sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END) \
                   / {seconds} AS value, \
                 count(value) AS n \
               FROM ordered GROUP BY series) \
             SELECT {aggregate} AS value, sum(n) AS n FROM rates",
            seconds = size_ms as f64 / 1000.0
        ),
    };
    CompiledRecipe {
        name: recipe.name.clone(),
        source,
        metric,
        size_ms,
        slide_ms,
        sql,
    }
}
