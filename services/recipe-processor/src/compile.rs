//! Recipes → SQL. Every recipe becomes one query over the `samples` table (see [`crate::table`])
//! that computes **all windows closing together, for every app, in one run**: rows carry their
//! `app` and `window_start`, and the query groups by them (and the recipe's `group_by` labels).
//! One query per close instead of one per window is what lets DataFusion's vectorised operators
//! pay for themselves.
//!
//! The query returns one row per (app, window_start, group): `value` (DOUBLE), `n` (BIGINT,
//! samples used), the `group_by` label columns and, with `join`, each signal's alias.

use presage_template::{
    Aggregate, Assignment, FragmentFormat, MetricRecipe, Rule, Selector, SelectorError, Transform,
};

use crate::table::{self, SAMPLES, SIGNALS};

/// A recipe ready to run: its selectors parsed, its query generated.
#[derive(Debug, Clone)]
pub struct CompiledRecipe {
    pub name: String,
    pub selector: Selector,
    /// `ratio` only: the denominator's selector.
    pub over: Option<Selector>,
    pub size_ms: i64,
    pub slide_ms: i64,
    pub group_by: Vec<String>,
    /// Label columns of this recipe's `samples` table: `group_by`, labels the filter reads,
    /// and `le` for histograms. Sorted, distinct.
    pub label_columns: Vec<String>,
    /// (selector, alias) of each joined signal.
    pub joins: Vec<(Selector, String)>,
    pub sql: String,
    pub fragments: Option<CompiledFragments>,
    /// What a window with no sample means (`absent:`); `None`: an empty window emits nothing.
    pub absent: Option<presage_template::Absent>,
}

#[derive(Debug, Clone)]
pub struct CompiledFragments {
    pub format: FragmentFormat,
    pub set: Vec<Assignment>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    #[error("recipe {recipe:?}: {field} {text:?}: {source}")]
    Selector {
        recipe: String,
        field: &'static str,
        text: String,
        source: SelectorError,
    },
    #[error("recipe {recipe:?}: {field}: {message}")]
    Expression {
        recipe: String,
        field: &'static str,
        message: String,
    },
    #[error("recipe {recipe:?} has no window")]
    NoWindow { recipe: String },
}

/// Compiles a recipe of a validated template.
pub fn compile(recipe: &MetricRecipe) -> Result<CompiledRecipe, CompileError> {
    let name = recipe.name.clone();
    let selector = |field: &'static str, text: &str| {
        Selector::parse(text).map_err(|source| CompileError::Selector {
            recipe: name.clone(),
            field,
            text: text.to_string(),
            source,
        })
    };
    let expression = |field: &'static str, message: String| CompileError::Expression {
        recipe: name.clone(),
        field,
        message,
    };
    let from = selector("from", &recipe.from)?;
    let over = recipe
        .over
        .as_deref()
        .map(|text| selector("over", text))
        .transpose()?;
    let joins = recipe
        .join
        .iter()
        .map(|j| Ok((selector("join", &j.signal)?, j.alias.clone())))
        .collect::<Result<Vec<_>, CompileError>>()?;
    let (size, slide) = recipe.window.size_and_slide_ms();
    if size == 0 || slide == 0 {
        return Err(CompileError::NoWindow { recipe: name });
    }

    let filter = recipe
        .filter
        .as_deref()
        .map(|text| Rule::parse(text).map_err(|e| expression("filter", e.to_string())))
        .transpose()?;
    let mut label_columns: Vec<String> = recipe.group_by.clone();
    if let Some(filter) = &filter {
        label_columns.extend(
            filter
                .paths()
                .iter()
                .filter_map(|p| p.strip_prefix("labels."))
                .map(str::to_string),
        );
    }
    if recipe.transform == Some(Transform::HistogramQuantile) {
        label_columns.push("le".into());
    }
    label_columns.sort();
    label_columns.dedup();

    let where_clause = match &filter {
        None => String::new(),
        Some(rule) => {
            let sql = rule
                .to_sql(&|path: &str| match path {
                    "value" | "ts" => Some(path.to_string()),
                    _ => path.strip_prefix("labels.").map(table::quote),
                })
                .map_err(|message| expression("filter", message))?;
            format!(" WHERE {sql}")
        }
    };
    let sql = match &recipe.sql {
        Some(sql) => sql.clone(),
        None => generated_sql(recipe, &where_clause),
    };

    let fragments = recipe
        .fragments
        .as_ref()
        .map(|f| {
            let set = f
                .set
                .iter()
                .map(|text| {
                    Assignment::parse(text).map_err(|e| expression("fragments", e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(CompiledFragments {
                format: f.format,
                set,
            })
        })
        .transpose()?;

    Ok(CompiledRecipe {
        name,
        selector: from,
        over,
        size_ms: size as i64,
        slide_ms: slide as i64,
        group_by: recipe.group_by.clone(),
        label_columns,
        joins,
        sql,
        fragments,
        absent: recipe.absent,
    })
}

/// The SQL the recipe's fields describe.
fn generated_sql(recipe: &MetricRecipe, where_clause: &str) -> String {
    let groups: String = recipe
        .group_by
        .iter()
        .map(|g| format!(", {}", table::quote(g)))
        .collect();
    let keys = format!("app, window_start{groups}");
    let aggregate = recipe.aggregate_or_default();
    let selected = format!("selected AS (SELECT * FROM {SAMPLES}{where_clause})");
    // A counter's increase per series inside the window: consecutive differences, a drop being
    // a reset (the counter restarted from zero, so its new value is the increase).
    let per_series = per_series_sql(&keys);
    let result = match recipe.transform {
        None => format!(
            "WITH {selected}, result AS (SELECT {keys}, {agg} AS value, count(value) AS n \
             FROM selected GROUP BY {keys})",
            agg = aggregate_sql(aggregate, "value", "ts")
        ),
        Some(Transform::Delta) => format!(
            "WITH {selected}, {per_series}, result AS (SELECT {keys}, {agg} AS value, \
             CAST(sum(n) AS BIGINT) AS n FROM per_series GROUP BY {keys})",
            agg = aggregate_sql(aggregate, "value", "ts")
        ),
        Some(Transform::Rate) => format!(
            "WITH {selected}, {per_series}, result AS (SELECT {keys}, {agg} AS value, \
             CAST(sum(n) AS BIGINT) AS n FROM per_series GROUP BY {keys})",
            // Per series: the increase over the time its samples span, so a steady counter
            // scraped every 15 s reads its true rate in any window (no extrapolation to the
            // window's edges); a series with one sample in the window has no rate.
            agg = aggregate_sql(
                aggregate,
                "CASE WHEN ts > first_ts THEN value * 1000.0 / (ts - first_ts) END",
                "ts"
            )
        ),
        Some(Transform::Ratio) => {
            let (input, count) = if recipe.counter {
                (per_series.clone(), "CAST(sum(n) AS BIGINT)")
            } else {
                (String::new(), "count(value)")
            };
            let from = if recipe.counter {
                "per_series"
            } else {
                "selected"
            };
            // FILTER belongs to the aggregate call itself: inside count's CAST.
            let side = |condition: &str| match aggregate {
                Aggregate::Count => {
                    format!("CAST(count(value) FILTER (WHERE {condition}) AS DOUBLE)")
                }
                _ => format!(
                    "{} FILTER (WHERE {condition})",
                    aggregate_sql(aggregate, "value", "ts")
                ),
            };
            // With no numerator sample a sum or count is 0 (no 5xx is an error ratio of 0);
            // an average or percentile of nothing stays unknown.
            let numerator = match aggregate {
                Aggregate::Sum | Aggregate::Count => {
                    format!("coalesce({}, 0.0)", side("NOT is_denominator"))
                }
                _ => side("NOT is_denominator"),
            };
            let denominator = side("is_denominator");
            let comma = if input.is_empty() { "" } else { ", " };
            format!(
                "WITH {selected}{comma}{input}, sides AS (SELECT {keys}, {numerator} AS numerator, \
                 {denominator} AS denominator, {count} AS n FROM {from} GROUP BY {keys}), \
                 result AS (SELECT {keys}, CASE WHEN denominator = 0 THEN NULL \
                 ELSE numerator / denominator END AS value, n FROM sides)"
            )
        }
        Some(Transform::HistogramQuantile) => {
            let q = recipe.quantile.unwrap_or(0.5);
            let partition = format!("PARTITION BY {keys}");
            // Prometheus' histogram_quantile: buckets are cumulative; find the first bucket
            // holding q of the total and interpolate linearly inside it. The +Inf bucket
            // answers with the highest finite bound; the lowest bucket starts at 0.
            let per_series = per_series_sql(&format!("{keys}, le"));
            format!(
                "WITH {selected}, {per_series}, \
                 buckets AS (SELECT {keys}, TRY_CAST(le AS DOUBLE) AS bound, sum(value) AS count, \
                   CAST(sum(n) AS BIGINT) AS n FROM per_series GROUP BY {keys}, le), \
                 ranked AS (SELECT {keys}, bound, count, \
                   lag(bound) OVER ({partition} ORDER BY bound) AS prev_bound, \
                   lag(count) OVER ({partition} ORDER BY bound) AS prev_count, \
                   max(count) OVER ({partition}) AS total, \
                   sum(n) OVER ({partition}) AS n FROM buckets WHERE bound IS NOT NULL), \
                 chosen AS (SELECT *, row_number() OVER ({partition} ORDER BY bound) AS rank \
                   FROM ranked WHERE total > 0 AND count >= {q:?} * total), \
                 result AS (SELECT {keys}, CASE \
                   WHEN bound = CAST('inf' AS DOUBLE) THEN prev_bound \
                   WHEN prev_bound IS NULL AND bound <= 0 THEN bound \
                   ELSE coalesce(prev_bound, 0.0) + (bound - coalesce(prev_bound, 0.0)) \
                     * ({q:?} * total - coalesce(prev_count, 0.0)) / (count - coalesce(prev_count, 0.0)) \
                   END AS value, CAST(n AS BIGINT) AS n FROM chosen WHERE rank = 1)"
            )
        }
    };
    let joined: String = recipe
        .join
        .iter()
        .map(|j| {
            let alias = table::quote(&j.alias);
            format!(", {SIGNALS}.{alias} AS {alias}")
        })
        .collect();
    let result_groups: String = recipe
        .group_by
        .iter()
        .map(|g| format!(", result.{}", table::quote(g)))
        .collect();
    if recipe.join.is_empty() {
        format!("{result} SELECT {keys}, value, n FROM result")
    } else {
        format!(
            "{result} SELECT result.app, result.window_start{result_groups}, result.value, \
             result.n{joined} FROM result LEFT JOIN {SIGNALS} \
             ON result.app = {SIGNALS}.app AND result.window_start = {SIGNALS}.window_start"
        )
    }
}

/// A counter's increase per series inside the window: consecutive differences, a drop being a
/// reset (the counter restarted from zero, so its new value is the increase).
fn per_series_sql(keys: &str) -> String {
    format!(
        "ordered AS (SELECT {keys}, series, is_denominator, ts, value, \
           lag(value) OVER (PARTITION BY app, window_start, series, is_denominator ORDER BY ts) AS prev \
           FROM selected), \
         per_series AS (SELECT {keys}, series, is_denominator, min(ts) AS first_ts, max(ts) AS ts, \
           sum(CASE WHEN prev IS NULL THEN 0.0 WHEN value >= prev THEN value - prev ELSE value END) AS value, \
           count(*) AS n \
           FROM ordered GROUP BY {keys}, series, is_denominator)"
    )
}

/// The SQL of an aggregate over `value` (ordered by `ts` where order matters).
fn aggregate_sql(aggregate: Aggregate, value: &str, ts: &str) -> String {
    match aggregate {
        Aggregate::Avg => format!("avg({value})"),
        Aggregate::Min => format!("min({value})"),
        Aggregate::Max => format!("max({value})"),
        Aggregate::Sum => format!("sum({value})"),
        Aggregate::Count => format!("CAST(count({value}) AS DOUBLE)"),
        Aggregate::Last => format!("last_value({value} ORDER BY {ts})"),
        Aggregate::Stddev => format!("stddev_pop({value})"),
        Aggregate::Percentile(p) => format!(
            "percentile_cont({q:?}) WITHIN GROUP (ORDER BY {value})",
            q = p / 100.0
        ),
    }
}
