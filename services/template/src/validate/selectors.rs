//! A recipe's selectors (`from`, `over`, each `join[i].signal`): each must parse, name a known
//! source and, for a built-in kind of source, a metric that source produces.

use crate::finding::Finding;
use crate::model::Template;
use crate::path::YamlPath;
use crate::selector::Selector;

use super::one_of;

/// `known` holds every source id, including those of sources dropped for their own errors
/// (their metrics cannot be checked, and are not).
pub(super) fn check(
    t: &Template,
    known: &[&str],
    recipe: &str,
    field: &str,
    text: &str,
    at: YamlPath,
    out: &mut Vec<Finding>,
) {
    let selector = match Selector::parse(text) {
        Ok(selector) => selector,
        Err(e) => {
            out.push(Finding::in_scalar(
                at,
                e.column.saturating_sub(1),
                format!(
                    "{field} {text:?} of recipe {recipe:?} does not parse at column {}: {}",
                    e.column, e.message
                ),
            ));
            return;
        }
    };
    let (source, metric) = (selector.source.as_str(), selector.metric.as_str());
    if !known.contains(&source) {
        let within = if field == "from" {
            format!("recipe {recipe:?}")
        } else {
            format!("{field} of recipe {recipe:?}")
        };
        out.push(Finding::at(
            at,
            format!(
                "unknown source {source:?} in {within}: expected one of {}",
                one_of(known)
            ),
        ));
        return;
    }
    let Some(declared) = t.source(source) else {
        return;
    };
    let kind = declared.kind;
    // A json_http source names its metrics: the keys of its `values`; a promql source its one,
    // `metric` or its id.
    let own: Vec<&str> = match kind {
        crate::model::SourceKind::Promql => vec![declared.metric_name()],
        _ => declared.values.keys().map(String::as_str).collect(),
    };
    let names = match kind {
        crate::model::SourceKind::JsonHttp | crate::model::SourceKind::Promql => {
            Some(own.as_slice())
        }
        _ => kind.metrics(),
    };
    if let Some(names) = names {
        if !names.contains(&metric) {
            out.push(Finding::at(
                at,
                format!(
                    "source {source:?} ({}) has no metric {metric:?}: expected one of {}",
                    kind.as_str(),
                    one_of(names)
                ),
            ));
        }
    }
}
