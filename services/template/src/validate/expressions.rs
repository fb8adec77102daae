//! A recipe's expressions: the `filter` over samples and the `fragments.set` assignments over
//! the window's output. Each must parse and read only names that exist where it runs; an error
//! points at the offending character inside the expression when the YAML allows it.

use crate::finding::Finding;
use crate::model::MetricRecipe;
use crate::path::YamlPath;
use crate::rules::{Assignment, Rule};

use super::recipes::is_identifier;

/// The filter runs on each sample: its value, its timestamp and its labels.
pub(super) fn filter(r: &MetricRecipe, p: &YamlPath, out: &mut Vec<Finding>) {
    let Some(src) = &r.filter else { return };
    let name = &r.name;
    let at = p.key("filter");
    let rule = match Rule::parse(src) {
        Ok(rule) => rule,
        Err(e) => {
            out.push(Finding::in_scalar(
                at,
                e.column.saturating_sub(1),
                format!(
                    "filter {src:?} of recipe {name:?} does not parse at column {}: {}",
                    e.column, e.message
                ),
            ));
            return;
        }
    };
    for (path, column) in rule.path_columns() {
        let known = matches!(path.as_str(), "value" | "ts")
            || path.strip_prefix("labels.").is_some_and(is_identifier);
        if !known {
            out.push(Finding::in_scalar(
                at.clone(),
                column - 1,
                format!(
                    "filter of recipe {name:?} reads `{path}`: expected value, ts or \
                     labels.<label>"
                ),
            ));
        }
    }
}

/// Fragments are computed from each output row: the value (also by the recipe's name), the
/// number of samples `n`, the join aliases and the group_by labels.
pub(super) fn fragments(r: &MetricRecipe, p: &YamlPath, out: &mut Vec<Finding>) {
    let Some(fragments) = &r.fragments else {
        return;
    };
    let name = &r.name;
    let set = p.key("fragments").key("set");
    if fragments.set.is_empty() {
        out.push(Finding::at(
            set.clone(),
            format!(
                "fragments of recipe {name:?} set nothing: expected at least one assignment, \
                 like config.worker_threads = ceil(value / 50)"
            ),
        ));
    }
    let readable: Vec<String> = ["value", "n", name.as_str()]
        .into_iter()
        .map(str::to_string)
        .chain(r.join.iter().map(|j| j.alias.clone()))
        .chain(r.group_by.iter().map(|l| format!("labels.{l}")))
        .collect();
    for (j, text) in fragments.set.iter().enumerate() {
        let at = set.index(j);
        let assignment = match Assignment::parse(text) {
            Ok(a) => a,
            Err(e) => {
                out.push(Finding::in_scalar(
                    at,
                    e.column.saturating_sub(1),
                    format!(
                        "fragment {text:?} of recipe {name:?} does not parse at column {}: {}",
                        e.column, e.message
                    ),
                ));
                continue;
            }
        };
        let target = &assignment.path;
        let under = target
            .split_once('.')
            .is_some_and(|(root, _)| matches!(root, "config" | "resources"));
        if !under {
            out.push(Finding::at(
                at.clone(),
                format!(
                    "fragment of recipe {name:?} sets `{target}`: expected a path under config \
                     or resources, like config.worker_threads or resources.replicas"
                ),
            ));
        }
        let offset = assignment.expr_offset(text);
        for (path, column) in assignment.expr.path_columns() {
            if !readable.contains(&path) {
                out.push(
                    Finding::in_scalar(
                        at.clone(),
                        offset + column - 1,
                        format!(
                            "fragment of recipe {name:?} reads `{path}`: expected one of {}",
                            readable.join(", ")
                        ),
                    )
                    .reading([at.clone(), p.key("group_by"), p.key("join")]),
                );
            }
        }
    }
}
