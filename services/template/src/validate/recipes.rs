//! Checks of each metric recipe: a name of its own, what it reads (through `selectors`), how its
//! fields combine, the column names it defines and its window. Its expressions are checked in
//! `expressions`.

use std::collections::HashSet;

use super::{expressions, positive, selectors, sql, Dropped};
use crate::absent::Absent;
use crate::finding::Finding;
use crate::model::{MetricRecipe, Template, Transform, MAX_ALLOWED_LATENESS, MAX_HOP_PANES};
use crate::path::YamlPath;

/// Columns the generated query uses itself; a group_by label or a join alias may not take them.
const RESERVED_COLUMNS: [&str; 9] = [
    "app",
    "window_start",
    "window_end",
    "ts",
    "series",
    "value",
    "n",
    "is_denominator",
    "le",
];

pub(super) fn recipes(t: &Template, dropped: &Dropped, dm: &YamlPath, out: &mut Vec<Finding>) {
    let known: Vec<&str> = t
        .dynamic_metadata
        .sources
        .iter()
        .map(|s| s.id.as_str())
        .chain(dropped.source_ids.iter().map(String::as_str))
        .collect();
    lateness(t, dm, out);
    let mut seen = HashSet::new();
    for (i, r) in t.dynamic_metadata.metric_recipes.iter().enumerate() {
        let p = dm.key("metric_recipes").index(i);
        let name = &r.name;
        if !seen.insert(name.as_str()) {
            out.push(Finding::at(
                p.key("name"),
                format!(
                    "duplicate recipe name {name:?}: expected each recipe to have its own name"
                ),
            ));
        }
        let check = |field: &str, text: &str, at: YamlPath, out: &mut Vec<Finding>| {
            selectors::check(t, &known, name, field, text, at, out);
        };
        check("from", &r.from, p.key("from"), out);
        if let Some(over) = &r.over {
            check("over", over, p.key("over"), out);
        }
        for (k, join) in r.join.iter().enumerate() {
            let at = p.key("join").index(k).key("signal");
            check(&format!("join[{k}].signal"), &join.signal, at, out);
        }
        combinations(r, &p, out);
        sql(r, &p, out);
        column_names(r, &p, out);
        expressions::filter(r, &p, out);
        expressions::fragments(r, &p, out);
        window(r, &p, out);
        absent(t, r, &p, dm, out);
    }
}

/// Every recipe's windows stay open (their samples held) `allowed_lateness` past their end, so it
/// is bounded like the windows themselves.
fn lateness(t: &Template, dm: &YamlPath, out: &mut Vec<Finding>) {
    let lateness = t.dynamic_metadata.windowing.allowed_lateness;
    if lateness > MAX_ALLOWED_LATENESS {
        out.push(Finding::at(
            dm.key("windowing").key("allowed_lateness"),
            format!(
                "windowing.allowed_lateness {lateness} is longer than {MAX_ALLOWED_LATENESS}: \
                 every window and its samples are held that long past its end (expected at \
                 most {MAX_ALLOWED_LATENESS}; a sample later than that is counted as late)"
            ),
        ));
    }
}

/// Fields that only mean something together: ratio and `over`, histogram_quantile and
/// `quantile`.
fn combinations(r: &MetricRecipe, p: &YamlPath, out: &mut Vec<Finding>) {
    let name = &r.name;
    let ratio = r.transform == Some(Transform::Ratio);
    let quantiles = r.transform == Some(Transform::HistogramQuantile);
    let transform = p.key("transform");
    match (ratio, &r.over) {
        (true, None) => out.push(
            Finding::at(
                transform.clone(),
                format!(
                    "transform ratio of recipe {name:?} has no over: expected over: <selector \
                     of the denominator>, like api.http_requests_total"
                ),
            )
            .reading([transform.clone(), p.key("over")]),
        ),
        // With sql, the sql finding already says that over has no place.
        (false, Some(_)) if r.sql.is_none() => out.push(
            Finding::at(
                p.key("over"),
                format!(
                    "over of recipe {name:?} is the denominator of a ratio: expected \
                     transform: ratio, or no over"
                ),
            )
            .reading([p.key("over"), transform.clone()]),
        ),
        _ => {}
    }
    if r.counter && !ratio {
        out.push(
            Finding::at(
                p.key("counter"),
                format!(
                    "counter of recipe {name:?} only applies to a ratio: expected \
                     transform: ratio, or no counter"
                ),
            )
            .reading([p.key("counter"), transform.clone()]),
        );
    }
    match (quantiles, r.quantile) {
        (true, None) => out.push(
            Finding::at(
                transform.clone(),
                format!(
                    "transform histogram_quantile of recipe {name:?} has no quantile: expected \
                     quantile: <q> with 0 < q < 1, like 0.95"
                ),
            )
            .reading([transform.clone(), p.key("quantile")]),
        ),
        (true, Some(q)) if !(q > 0.0 && q < 1.0) => out.push(Finding::at(
            p.key("quantile"),
            format!(
                "quantile {q} of recipe {name:?} is not between 0 and 1: expected 0 < q < 1, \
                 like 0.95"
            ),
        )),
        (false, Some(_)) => out.push(
            Finding::at(
                p.key("quantile"),
                format!(
                    "quantile of recipe {name:?} only applies to transform: \
                     histogram_quantile: expected that transform, or no quantile"
                ),
            )
            .reading([p.key("quantile"), transform.clone()]),
        ),
        _ => {}
    }
    if quantiles && r.aggregate.is_some() {
        out.push(
            Finding::at(
                p.key("aggregate"),
                format!(
                    "aggregate of recipe {name:?} does not combine with transform: \
                     histogram_quantile, whose quantile is the output: expected no aggregate"
                ),
            )
            .reading([p.key("aggregate"), transform]),
        );
    }
}

/// `sql` replaces the query that transform, filter, aggregate and over would generate. It must
/// be one query over the recipe's own tables (`sql::check`); the recipe-processor plans it, and
/// refuses the same again.
fn sql(r: &MetricRecipe, p: &YamlPath, out: &mut Vec<Finding>) {
    let Some(text) = &r.sql else { return };
    let name = &r.name;
    let at = p.key("sql");
    if text.trim().is_empty() {
        out.push(Finding::at(
            at.clone(),
            format!("sql of recipe {name:?} is empty: expected a SELECT over the samples table"),
        ));
    } else if let Err(refusal) = sql::check(text) {
        // In a block scalar the node's position is where the finding lands: the line and
        // column inside the sql say which token.
        out.push(Finding::in_scalar(
            at.clone(),
            refusal.offset,
            format!(
                "sql of recipe {name:?} {} (line {}, column {} of the sql)",
                refusal.message, refusal.line, refusal.column
            ),
        ));
    }
    let generated: Vec<&str> = [
        ("transform", r.transform.is_some()),
        ("filter", r.filter.is_some()),
        ("aggregate", r.aggregate.is_some()),
        ("over", r.over.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    if !generated.is_empty() {
        out.push(
            Finding::at(
                at.clone(),
                format!(
                    "recipe {name:?} sets sql together with {}: sql replaces the generated \
                     query: expected either sql or transform/filter/aggregate",
                    generated.join(", ")
                ),
            )
            .reading(std::iter::once(at).chain(generated.iter().map(|f| p.key(f)))),
        );
    }
}

/// group_by labels and join aliases become columns of the query's output: each must be an
/// identifier, distinct from the others and from the columns the query uses itself.
fn column_names(r: &MetricRecipe, p: &YamlPath, out: &mut Vec<Finding>) {
    let name = &r.name;
    let labels = r
        .group_by
        .iter()
        .enumerate()
        .map(|(j, l)| ("group_by label", l, p.key("group_by").index(j)));
    let aliases = r.join.iter().enumerate().map(|(k, j)| {
        let at = p.key("join").index(k).key("as");
        ("join alias", &j.alias, at)
    });
    let mut taken: Vec<(&str, &str)> = Vec::new();
    for (kind, column, at) in labels.chain(aliases) {
        let problem = if !is_identifier(column) {
            "is not an identifier: expected letters, digits and _, not starting with a digit"
                .to_string()
        } else if RESERVED_COLUMNS.contains(&column.as_str()) {
            format!(
                "is a column the query uses itself: expected a name other than {}",
                RESERVED_COLUMNS.join(", ")
            )
        } else if let Some((earlier, _)) = taken.iter().find(|(_, c)| *c == column) {
            format!("is already a {earlier} of this recipe: expected distinct names")
        } else if kind == "join alias" && column == name {
            "is the recipe's own name, which fragments read its output by: expected another \
             alias"
                .to_string()
        } else {
            taken.push((kind, column));
            continue;
        };
        out.push(Finding::at(
            at,
            format!("{kind} {column:?} of recipe {name:?} {problem}"),
        ));
    }
}

pub(super) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn window(r: &MetricRecipe, p: &YamlPath, out: &mut Vec<Finding>) {
    let name = &r.name;
    let w = p.key("window");
    let (tumble, hop) = (w.key("tumble"), w.key("hop"));
    match (&r.window.tumble, &r.window.hop) {
        (Some(_), Some(_)) => out.push(Finding::at(
            w.clone(),
            format!("recipe {name:?} sets both window.tumble and window.hop: expected exactly one"),
        )),
        (None, None) => out.push(
            Finding::at(
                w.clone(),
                format!(
                    "recipe {name:?} has no window: expected tumble: <duration> or \
                     hop: {{ size: <duration>, slide: <duration> }}"
                ),
            )
            .reading([tumble.clone(), hop.clone()]),
        ),
        _ => {}
    }
    let what = format!("window of recipe {name:?}");
    positive(r.window.tumble, tumble, &what, "1m", out);
    if let Some(h) = &r.window.hop {
        positive(
            Some(h.size),
            hop.key("size"),
            &format!("hop size of recipe {name:?}"),
            "5m",
            out,
        );
        let slide = hop.key("slide");
        if h.slide.is_zero() {
            out.push(Finding::at(
                slide,
                format!(
                    "hop slide of recipe {name:?} is 0s: expected a positive duration no \
                     larger than the size ({})",
                    h.size
                ),
            ));
        } else if h.slide > h.size {
            out.push(
                Finding::at(
                    slide.clone(),
                    format!(
                        "hop slide {} of recipe {name:?} is larger than its size {}: \
                         expected a slide no larger than the size",
                        h.slide, h.size
                    ),
                )
                .reading([slide, hop.key("size")]),
            );
        } else if h.size.as_millis().div_ceil(h.slide.as_millis()) > MAX_HOP_PANES {
            // Each sample is held once per window it falls in: size / slide times.
            let panes = h.size.as_millis().div_ceil(h.slide.as_millis());
            out.push(
                Finding::at(
                    slide.clone(),
                    format!(
                        "hop window of recipe {name:?} spans {panes} slides (size {} / slide \
                         {}): at most {MAX_HOP_PANES}, since every sample is kept once per \
                         window it falls in (use a longer slide, or a shorter size)",
                        h.size, h.slide
                    ),
                )
                .reading([slide, hop.key("size")]),
            );
        }
    }
}

/// `absent` (what a window with no sample means, see [`crate::absent`]): only without
/// `group_by` (a group is known by its samples alone, so a quiet window has no labels to be
/// emitted under); `zero` only where no sample is a value of 0 (not a ratio's 0/0, nor a
/// histogram_quantile's latency of no request); and, since the planner is then fed on a clock
/// while the series is quiet, every prediction of the recipe must reach past the lead time plus
/// the provisioning delay of each policy it drives (else the morning ramp is seen too late).
fn absent(t: &Template, r: &MetricRecipe, p: &YamlPath, dm: &YamlPath, out: &mut Vec<Finding>) {
    let Some(absent) = r.absent else { return };
    let name = &r.name;
    let at = p.key("absent");
    let said = absent.name();
    if !r.group_by.is_empty() {
        out.push(
            Finding::at(
                at.clone(),
                format!(
                    "absent: {said} of recipe {name:?} does not combine with group_by: a group \
                     is known only by its samples, so a quiet window has no labels to be \
                     emitted under (expected no absent, or no group_by)"
                ),
            )
            .reading([at.clone(), p.key("group_by")]),
        );
    }
    let no_zero = match r.transform {
        Some(Transform::Ratio) => Some("a ratio of no samples is 0/0, not 0"),
        Some(Transform::HistogramQuantile) => {
            Some("a quantile of no request is no latency, not a latency of 0")
        }
        _ => None,
    };
    if let (Absent::Zero, Some(why)) = (absent, no_zero) {
        out.push(
            Finding::at(
                at.clone(),
                format!(
                    "absent: zero of recipe {name:?} makes no sense for its transform: {why} \
                     (expected absent: unknown, or no absent)"
                ),
            )
            .reading([at.clone(), p.key("transform")]),
        );
    }
    for (i, a) in t.dynamic_metadata.prediction_algorithms.iter().enumerate() {
        if a.target != *name {
            continue;
        }
        for (j, policy) in t.dynamic_metadata.scaling_policies.iter().enumerate() {
            if policy.metric != *name {
                continue;
            }
            let lead = policy.lead_time.map_or(0, |d| d.as_millis());
            let delay = policy.provisioning_delay.map_or(0, |d| d.as_millis());
            if a.horizon.as_millis() < lead + delay {
                let pa = dm.key("prediction_algorithms").index(i).key("horizon");
                let pp = dm.key("scaling_policies").index(j);
                out.push(
                    Finding::at(
                        pa.clone(),
                        format!(
                            "horizon {} of the prediction for {name:?} (absent: {said}) is \
                             shorter than scaling_policies[{j}]'s lead_time plus \
                             provisioning_delay ({}): a ramp after a quiet stretch would be \
                             forecast too late to provision for (expected a horizon of at least \
                             that)",
                            a.horizon,
                            crate::Duration::from_millis(lead + delay)
                        ),
                    )
                    .reading([
                        pa,
                        at.clone(),
                        pp.key("lead_time"),
                        pp.key("provisioning_delay"),
                    ]),
                );
            }
        }
    }
}
