//! The fields of an `ics` source: exactly one of `path` (an absolute file name, granted by the
//! allow-list's `paths`) and `url`; `match`, a regular expression on SUMMARY, must compile. On
//! any other kind of source, `path` and `match` are reported, not silently ignored.

use regex::RegexBuilder;

use crate::bounds::{MAX_REGEX_BYTES, MAX_REGEX_CACHE_BYTES};
use crate::finding::Finding;
use crate::model::{Source, SourceKind};
use crate::path::YamlPath;

pub(super) fn check(s: &Source, p: &YamlPath, out: &mut Vec<Finding>) {
    let id = &s.id;
    if s.kind != SourceKind::Ics {
        let set = [
            ("path", s.path.is_some()),
            ("match", s.summary_match.is_some()),
        ];
        for (field, _) in set.iter().filter(|(_, set)| *set) {
            out.push(Finding::at_key(
                p.key(field),
                format!(
                    "{field} does not apply to {} source {id:?}: path and match are an ics \
                     source's",
                    s.kind.as_str()
                ),
            ));
        }
        return;
    }
    match (&s.path, &s.url) {
        (None, None) => out.push(
            Finding::at(
                p.clone(),
                format!(
                    "ics source {id:?} has neither path nor url: expected path: \
                     /etc/presage/holidays.ics or url: \"https://host/calendar.ics\""
                ),
            )
            .reading([p.key("path"), p.key("url")]),
        ),
        (Some(_), Some(_)) => out.push(Finding::at_key(
            p.key("url"),
            format!("ics source {id:?} has both path and url: expected exactly one of them"),
        )),
        (Some(path), None) if !path.starts_with('/') => out.push(Finding::at(
            p.key("path"),
            format!(
                "path {path:?} of ics source {id:?} is relative: expected an absolute path, like \
                 /etc/presage/holidays.ics (the operator grants it in the allow-list's paths)"
            ),
        )),
        (None, Some(url)) if url.trim().is_empty() => out.push(Finding::at(
            p.key("url"),
            format!("url of ics source {id:?} is empty: expected \"https://host/calendar.ics\""),
        )),
        _ => {}
    }
    if let Some(pattern) = &s.summary_match {
        if let Err(e) = summary_regex(pattern) {
            out.push(Finding::at(
                p.key("match"),
                format!(
                    "match {pattern:?} of ics source {id:?} is not a regular expression: {}",
                    e.to_string().lines().last().unwrap_or_default().trim()
                ),
            ));
        }
    }
}

/// The regular expression an `ics` source's `match` is read as: unanchored (it matches within the
/// SUMMARY), held to the template's regex bounds. The collector compiles it the same way.
fn summary_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_CACHE_BYTES)
        .build()
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn template(source: &str) -> String {
        format!(
            "app: shop\ndynamic_metadata:\n  sources:\n    - {source}\n  metric_recipes:\n    - {{ name: busy, from: cal.in_event, window: {{ tumble: 1m }} }}\n"
        )
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
    fn a_path_or_a_url_makes_an_ics_source() {
        for source in [
            "{ id: cal, kind: ics, path: /etc/presage/holidays.ics, match: '(?i)holiday' }",
            "{ id: cal, kind: ics, url: \"https://cal.example/h.ics\" }",
        ] {
            let t = parse(&template(source), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.dynamic_metadata.sources[0].kind.as_str(), "ics");
        }
    }

    #[test]
    fn neither_or_both_of_path_and_url_are_reported() {
        let errs = errors(&template("{ id: cal, kind: ics }"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].2.contains("neither path nor url"), "{errs:?}");
        let errs = errors(&template(
            "{ id: cal, kind: ics, path: /h.ics, url: \"http://c/h.ics\" }",
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].0, errs[0].1), (4, 43), "{errs:?}");
        assert!(errs[0].2.contains("both path and url"), "{errs:?}");
    }

    #[test]
    fn a_relative_path_and_a_bad_match_are_reported_at_their_values() {
        let errs = errors(&template(
            "{ id: cal, kind: ics, path: holidays.ics, match: 'Holiday(' }",
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!((errs[0].0, errs[0].1), (4, 35), "{errs:?}");
        assert!(errs[0].2.contains("is relative"), "{errs:?}");
        assert_eq!((errs[1].0, errs[1].1), (4, 56), "{errs:?}");
        assert!(errs[1].2.contains("not a regular expression"), "{errs:?}");
    }

    #[test]
    fn recipes_select_the_ics_signals_by_name() {
        let errs = errors(
            &template("{ id: cal, kind: ics, path: /h.ics }").replace("cal.in_event", "cal.busy"),
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0]
                .2
                .contains("expected one of in_event, events, minutes_to_next_event"),
            "{errs:?}"
        );
    }

    #[test]
    fn path_on_another_kind_of_source_is_reported_at_the_key() {
        let errs = errors(
            &template("{ id: cal, kind: calendar, path: /h.ics }")
                .replace("cal.in_event", "cal.hour_of_day"),
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].2.contains("path does not apply to calendar source"),
            "{errs:?}"
        );
    }
}
