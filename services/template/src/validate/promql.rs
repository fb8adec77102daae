//! The fields of a `promql` source: its `url` (the Prometheus server) and `query` are required,
//! its `metric` (what recipes call its samples) must be a name a selector can write; `query` and
//! `metric` on any other kind of source are reported, not silently ignored.

use crate::finding::Finding;
use crate::model::{Source, SourceKind};
use crate::path::YamlPath;

/// A query travels in the URL of every read; Prometheus and the proxies before it refuse
/// request lines much longer than this.
pub(crate) const MAX_QUERY_BYTES: usize = 4096;

pub(super) fn check(s: &Source, p: &YamlPath, out: &mut Vec<Finding>) {
    let id = &s.id;
    if s.kind != SourceKind::Promql {
        for (field, set) in [("query", s.query.is_some()), ("metric", s.metric.is_some())] {
            if set {
                out.push(Finding::at_key(
                    p.key(field),
                    format!(
                        "{field} does not apply to {} source {id:?}: query and metric are a \
                         promql source's",
                        s.kind.as_str()
                    ),
                ));
            }
        }
        return;
    }
    if s.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
        out.push(
            Finding::at(
                p.clone(),
                format!(
                    "promql source {id:?} has no url: expected the Prometheus server's base URL, \
                     like url: \"http://prometheus:9090\""
                ),
            )
            .reading([p.key("url")]),
        );
    }
    match s.query.as_deref() {
        None => out.push(
            Finding::at(
                p.clone(),
                format!(
                    "promql source {id:?} has no query: expected query: \
                     'sum(rate(http_requests_total[1m]))'"
                ),
            )
            .reading([p.key("query")]),
        ),
        Some(q) if q.trim().is_empty() => out.push(Finding::at(
            p.key("query"),
            format!("query of promql source {id:?} is empty: expected a PromQL expression"),
        )),
        Some(q) if q.len() > MAX_QUERY_BYTES => out.push(Finding::at(
            p.key("query"),
            format!(
                "query of promql source {id:?} is {} bytes: expected at most {MAX_QUERY_BYTES} \
                 (it is sent in the URL of every read)",
                q.len()
            ),
        )),
        Some(_) => {}
    }
    let name = s.metric_name();
    if !is_metric_name(name) {
        // Without `metric`, the name is the id: point at the field that would fix it.
        let (at, what) = match &s.metric {
            Some(_) => (p.key("metric"), format!("metric {name:?}")),
            None => (
                p.key("id"),
                format!("the id {name:?} (the metric name when metric is not set)"),
            ),
        };
        out.push(Finding::at(
            at,
            format!(
                "{what} of promql source {id:?} cannot be selected by a recipe: expected letters, \
                 digits, _ and : only, like metric: requests_per_second"
            ),
        ));
    }
}

/// What a recipe selector accepts after `<source id>.`.
fn is_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use crate::{parse, SourceKind};

    fn template(source: &str) -> String {
        format!(
            "app: shop\ndynamic_metadata:\n  sources:\n    - {source}\n  metric_recipes:\n    - {{ name: rps, from: api.rps, aggregate: sum, window: {{ tumble: 1m }} }}\n"
        )
    }

    /// (line, column, message) of each error.
    fn errors(source: &str) -> Vec<(usize, usize, String)> {
        parse(&template(source), "t.yaml")
            .expect_err("a mistake")
            .errors
            .into_iter()
            .map(|e| (e.line, e.column, e.message))
            .collect()
    }

    #[test]
    fn a_url_a_query_and_a_metric_make_a_promql_source() {
        let t = parse(
            &template("{ id: api, kind: promql, url: \"http://prom:9090\", query: 'sum(rate(x[1m]))', metric: rps }"),
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let s = &t.dynamic_metadata.sources[0];
        assert_eq!(s.kind, SourceKind::Promql);
        assert_eq!(s.query.as_deref(), Some("sum(rate(x[1m]))"));
        assert_eq!(s.metric_name(), "rps");
        assert_eq!(SourceKind::Promql.as_str(), "promql");
    }

    #[test]
    fn without_metric_the_samples_are_named_by_the_source_id() {
        let t = parse(
            &template("{ id: rps, kind: promql, url: \"http://prom:9090\", query: up }")
                .replace("from: api.rps", "from: rps.rps"),
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.dynamic_metadata.sources[0].metric_name(), "rps");
    }

    #[test]
    fn a_recipe_naming_another_metric_of_a_promql_source_is_reported() {
        // The template's recipe reads `api.rps`; the source names its samples `requests`.
        let found = errors("{ id: api, kind: promql, url: u, query: up, metric: requests }");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, 6, "at the recipe's from: {found:#?}");
        assert!(
            found[0].2.contains(
                "source \"api\" (promql) has no metric \"rps\": expected one of requests"
            ),
            "{found:#?}"
        );
    }

    #[test]
    fn a_missing_url_and_query_are_reported_at_the_source() {
        let found = errors("{ id: api, kind: promql, metric: rps }");
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), (4, 7), "{found:#?}");
        assert!(found[0].2.contains("has no url"), "{found:#?}");
        assert_eq!((found[1].0, found[1].1), (4, 7), "{found:#?}");
        assert!(found[1].2.contains("has no query"), "{found:#?}");
    }

    #[test]
    fn an_empty_query_is_reported_at_the_query() {
        // `    - { id: api, kind: promql, url: u, query: ` is 47 characters.
        let found = errors("{ id: api, kind: promql, url: u, query: \" \", metric: rps }");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), (4, 47), "{found:#?}");
        assert!(found[0]
            .2
            .contains("query of promql source \"api\" is empty"));
    }

    #[test]
    fn a_metric_a_selector_cannot_name_is_reported_at_the_metric_or_the_id() {
        // (The recipe's `api.rps` is reported too: the source has no metric rps.)
        let found = errors("{ id: api, kind: promql, url: u, query: up, metric: a-b }");
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), (4, 59), "{found:#?}");
        assert!(
            found[0]
                .2
                .contains("metric \"a-b\" of promql source \"api\" cannot be selected"),
            "{found:#?}"
        );
        let found = errors("{ id: my-api, kind: promql, url: u, query: up }");
        assert!(
            found
                .iter()
                .any(|(line, column, message)| (*line, *column) == (4, 13)
                    && message.contains("the id \"my-api\"")),
            "{found:#?}"
        );
    }

    #[test]
    fn query_and_metric_on_another_kind_are_reported_at_their_keys() {
        let found = errors(
            "{ id: api, kind: prometheus, url: \"http://h/metrics\", query: up, metric: rps }",
        );
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), (4, 61), "{found:#?}");
        assert!(
            found[0]
                .2
                .starts_with("query does not apply to prometheus source"),
            "{found:#?}"
        );
        assert_eq!((found[1].0, found[1].1), (4, 72), "{found:#?}");
    }
}
