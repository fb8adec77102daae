//! The fields of a `json_http` source: its `url` is required; `values` names at least one metric
//! with the JSON Pointer (RFC 6901) of its value; `labels` and `items` are pointers too. On any
//! other kind of source, `values`, `labels` and `items` are reported, not silently ignored.

use std::collections::BTreeMap;

use crate::finding::Finding;
use crate::model::{Source, SourceKind};
use crate::path::YamlPath;

pub(super) fn check(s: &Source, p: &YamlPath, out: &mut Vec<Finding>) {
    let id = &s.id;
    if s.kind != SourceKind::JsonHttp {
        let set = [
            ("values", !s.values.is_empty()),
            ("labels", !s.labels.is_empty()),
            ("items", s.items.is_some()),
        ];
        for (field, _) in set.iter().filter(|(_, set)| *set) {
            out.push(Finding::at_key(
                p.key(field),
                format!(
                    "{field} does not apply to {} source {id:?}: values, labels and items are a \
                     json_http source's",
                    s.kind.as_str()
                ),
            ));
        }
        return;
    }
    if s.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
        out.push(
            Finding::at(
                p.clone(),
                format!(
                    "json_http source {id:?} has no url: expected the JSON API's URL, like \
                     url: \"https://api.open-meteo.com/v1/forecast?latitude=52.5&longitude=13.4&current=temperature_2m\""
                ),
            )
            .reading([p.key("url")]),
        );
    }
    if s.values.is_empty() {
        out.push(
            Finding::at(
                p.clone(),
                format!(
                    "json_http source {id:?} has no values: expected at least one metric and the \
                     JSON Pointer of its value, like values: {{ temperature_c: /current/temperature_2m }}"
                ),
            )
            .reading([p.key("values")]),
        );
    }
    named_pointers(id, "values", &s.values, p, is_metric_name, out);
    named_pointers(id, "labels", &s.labels, p, is_label_name, out);
    if let Some(items) = &s.items {
        if let Err(why) = check_pointer(items) {
            out.push(Finding::at(
                p.key("items"),
                format!(
                    "items {items:?} of json_http source {id:?} {why}: expected the JSON Pointer \
                     of an array, like /stations"
                ),
            ));
        }
    }
}

/// Each name and pointer of `values` or `labels`: the name must be one a recipe can write, the
/// pointer an RFC 6901 pointer into the document.
fn named_pointers(
    id: &str,
    field: &str,
    map: &BTreeMap<String, String>,
    p: &YamlPath,
    name_ok: fn(&str) -> bool,
    out: &mut Vec<Finding>,
) {
    for (name, pointer) in map {
        let at = p.key(field).key(name);
        if !name_ok(name) {
            let expected = if field == "values" {
                "letters, digits, _ and : only (recipes select <source id>.<name>)"
            } else {
                "a letter or _ then letters, digits and _"
            };
            out.push(Finding::at_key(
                at.clone(),
                format!("{field} name {name:?} of json_http source {id:?}: expected {expected}"),
            ));
        }
        if let Err(why) = check_pointer(pointer) {
            out.push(Finding::at(
                at,
                format!(
                    "{field}.{name} {pointer:?} of json_http source {id:?} {why}: expected a JSON \
                     Pointer like /current/temperature_2m"
                ),
            ));
        }
    }
}

/// RFC 6901: empty (the whole document) is not useful here, so a pointer starts with `/`; `~`
/// escapes only `~0` (`~`) and `~1` (`/`).
fn check_pointer(pointer: &str) -> Result<(), &'static str> {
    if !pointer.starts_with('/') {
        return Err("does not start with /");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("has a ~ that is not ~0 or ~1");
        }
    }
    Ok(())
}

/// What a recipe selector accepts after `<source id>.`.
fn is_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// What a label matcher of a selector accepts.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use crate::parse;

    const RECIPE: &str = "  metric_recipes:\n    - { name: temp, from: weather.temperature_c, window: { tumble: 1m } }\n";

    fn template(source: &str) -> String {
        format!("app: shop\ndynamic_metadata:\n  sources:\n    - {source}\n{RECIPE}")
    }

    /// (line, column, message) of each error.
    fn errors(text: &str) -> Vec<(usize, usize, String)> {
        parse(text, "t.yaml")
            .expect_err("a mistake")
            .errors
            .into_iter()
            .map(|e| (e.line, e.column, e.message))
            .collect()
    }

    #[test]
    fn a_url_and_pointers_make_a_json_http_source() {
        let t = parse(
            &template(
                "{ id: weather, kind: json_http, url: \"http://w/api\", values: { temperature_c: /current/temperature_2m }, labels: { city: /name }, items: /stations }",
            ),
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let s = &t.dynamic_metadata.sources[0];
        assert_eq!(s.values["temperature_c"], "/current/temperature_2m");
        assert_eq!(s.labels["city"], "/name");
        assert_eq!(s.items.as_deref(), Some("/stations"));
    }

    #[test]
    fn a_pointer_without_a_leading_slash_is_reported_at_its_value() {
        let text = "app: shop\ndynamic_metadata:\n  sources:\n    - id: weather\n      kind: json_http\n      url: http://w/api\n      values:\n        temperature_c: current.temperature_2m\n      labels:\n        city: /na~2me\n      items: stations\n".to_string() + RECIPE;
        let errs = errors(&text);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!((errs[0].0, errs[0].1), (8, 24), "{errs:?}");
        assert!(
            errs[0].2.contains("\"current.temperature_2m\"")
                && errs[0].2.contains("does not start with /"),
            "{errs:?}"
        );
        assert_eq!((errs[1].0, errs[1].1), (10, 15), "{errs:?}");
        assert!(errs[1].2.contains("~0 or ~1"), "{errs:?}");
        assert_eq!((errs[2].0, errs[2].1), (11, 14), "{errs:?}");
        assert!(errs[2].2.contains("items \"stations\""), "{errs:?}");
    }

    #[test]
    fn no_url_and_no_values_are_each_reported() {
        let errs = errors(&template("{ id: weather, kind: json_http }"));
        assert!(errs.iter().any(|e| e.2.contains("has no url")), "{errs:?}");
        assert!(
            errs.iter().any(|e| e.2.contains("has no values")),
            "{errs:?}"
        );
    }

    #[test]
    fn a_value_name_a_recipe_cannot_select_is_reported_at_its_key() {
        let errs = errors(&template(
            "{ id: weather, kind: json_http, url: \"http://w/\", values: { temperature_c: /t, \"temp c\": /t } }",
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].2.contains("values name \"temp c\""), "{errs:?}");
    }

    #[test]
    fn recipes_may_only_select_the_declared_values() {
        let errs = errors(&template(
            "{ id: weather, kind: json_http, url: \"http://w/\", values: { humidity: /h } }",
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].0, errs[0].1), (6, 27), "{errs:?}");
        assert!(
            errs[0]
                .2
                .contains("has no metric \"temperature_c\": expected one of humidity"),
            "{errs:?}"
        );
    }

    #[test]
    fn values_on_another_kind_of_source_are_reported_at_the_key() {
        let text = template(
            "{ id: weather, kind: http_probe, url: \"http://w/\", values: { temperature_c: /t } }",
        );
        let errs = errors(&text);
        assert!(
            errs.iter()
                .any(|e| e.2.contains("values does not apply to http_probe source")),
            "{errs:?}"
        );
    }
}
