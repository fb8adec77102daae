//! What the collector refuses to read, and the dead letters that say so: a source whose URL the
//! operator did not grant (`not_granted`, one per source and template version, its origin the
//! template record), and a Prometheus page with more series than `--max-scrape-series`
//! (`scrape_too_large`, one per refused scrape). Pure.

use std::collections::{HashMap, HashSet};

use presage_events::{event_id, DeadLetter};
use presage_template::authority::{Allow, Violation};
use presage_template::Template;

use crate::report::STAGE;

pub const NOT_GRANTED: &str = "not_granted";
pub const SCRAPE_TOO_LARGE: &str = "scrape_too_large";

/// The default bound on a scrape's series: far above a single application's page (hundreds to a
/// few thousand series), far below what would fill the spool or the recipe-processor.
pub const DEFAULT_MAX_SCRAPE_SERIES: usize = 10_000;

/// The sources of `template` the allow-list does not grant, by id, with what each broke.
pub fn ungranted_sources(template: &Template, allow: &Allow) -> Vec<(String, Violation)> {
    template
        .dynamic_metadata
        .sources
        .iter()
        .enumerate()
        .flat_map(|(i, source)| {
            allow
                .check_source(source, i)
                .into_iter()
                .map(|v| (source.id.clone(), v))
        })
        .collect()
}

/// The sources of each app's template version the allow-list does not grant: found once per
/// version, each reported once (a dead letter) and then skipped.
#[derive(Debug, Default)]
pub struct Ungranted {
    by_app: HashMap<String, (String, HashSet<String>)>,
}

impl Ungranted {
    /// The ids of `template`'s sources not to read; on a version's first sight, the dead
    /// letters reporting them are pushed to `letters`.
    pub fn of(
        &mut self,
        template: &Template,
        version: &str,
        allow: &Allow,
        templates_topic: &str,
        now_ms: i64,
        letters: &mut Vec<DeadLetter>,
    ) -> &HashSet<String> {
        let app = &template.app;
        let fresh = self.by_app.get(app).is_none_or(|(seen, _)| seen != version);
        if fresh {
            let mut ids = HashSet::new();
            for (source, violation) in ungranted_sources(template, allow) {
                tracing::warn!(app = %app, version, source = %source, refused = %violation, "source not granted: not read");
                letters.push(not_granted(
                    app,
                    version,
                    &source,
                    &violation,
                    templates_topic,
                    now_ms,
                ));
                ids.insert(source);
            }
            self.by_app.insert(app.clone(), (version.to_string(), ids));
        }
        &self.by_app[app].1
    }
}

/// The dead letter of a source not read because the allow-list does not grant its URL. Its id
/// depends on the app, version and source only: reported again after a restart, it is the same
/// record.
pub fn not_granted(
    app: &str,
    version: &str,
    source_id: &str,
    violation: &Violation,
    templates_topic: &str,
    now_ms: i64,
) -> DeadLetter {
    DeadLetter {
        event_id: event_id(&["dead-letter", STAGE, NOT_GRANTED, app, version, source_id]),
        app: app.to_string(),
        template_version: version.to_string(),
        stage: STAGE.to_string(),
        source_topic: templates_topic.to_string(),
        source_partition: -1,
        source_offset: -1,
        key: Some(app.to_string()),
        payload: Vec::new(),
        kind: NOT_GRANTED.to_string(),
        reason: format!(
            "source `{source_id}` is not read: {violation}; grant it in the collector's \
             allow-list (--allow FILE / PRESAGE_ALLOW)"
        ),
        failed_at_ms: now_ms,
        lineage: format!("template:{app}@{version}"),
    }
}

/// The dead letter of a Prometheus page refused whole for its number of series.
pub fn scrape_too_large(
    app: &str,
    version: &str,
    source_id: &str,
    series: usize,
    max_series: usize,
    raw_topic: &str,
    now_ms: i64,
) -> DeadLetter {
    let at = now_ms.to_string();
    DeadLetter {
        event_id: event_id(&["dead-letter", STAGE, SCRAPE_TOO_LARGE, app, source_id, &at]),
        app: app.to_string(),
        template_version: version.to_string(),
        stage: STAGE.to_string(),
        source_topic: raw_topic.to_string(),
        source_partition: -1,
        source_offset: -1,
        key: Some(app.to_string()),
        payload: format!("{{\"series\":{series},\"max_scrape_series\":{max_series}}}").into_bytes(),
        kind: SCRAPE_TOO_LARGE.to_string(),
        reason: format!(
            "source `{source_id}`: the page has {series} series, more than --max-scrape-series \
             ({max_series}); none of it was read"
        ),
        failed_at_ms: now_ms,
        lineage: format!("source:{app}/{source_id}@{at}"),
    }
}

/// How many series a Prometheus text page holds, counted before it is parsed: each line that
/// is neither blank nor a comment is one sample of one series.
pub fn series_lines(page: &str) -> usize {
    page.lines()
        .filter(|line| {
            let line = line.trim_start();
            !line.is_empty() && !line.starts_with('#')
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        presage_template::parse(
            "app: shop\nbootstrap: { resources: { replicas: 1 } }\ndynamic_metadata:\n  sources:\n    - { id: host, kind: host }\n    - { id: api, kind: prometheus, url: \"http://u:pw@10.0.0.1:9000/metrics\" }\n    - { id: ok, kind: http_probe, url: \"http://127.0.0.1:9000/health\" }\n",
            "t.yaml",
        )
        .unwrap()
    }

    #[test]
    fn only_the_sources_not_granted_are_named_and_their_letter_says_which_rule() {
        let allow = Allow::parse("urls: [\"http://127.0.0.1:9000/\"]", "a.yaml").unwrap();
        let refused = ungranted_sources(&template(), &allow);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "api");
        let letter = not_granted("shop", "v1", "api", &refused[0].1, "presage.templates", 5);
        assert_eq!(letter.kind, "not_granted");
        assert!(letter.reason.contains("`urls`"), "{}", letter.reason);
        assert!(
            letter.reason.contains("sources[1].url"),
            "{}",
            letter.reason
        );
        assert!(!letter.reason.contains("pw"), "{}", letter.reason);
        assert_eq!(
            letter,
            not_granted("shop", "v1", "api", &refused[0].1, "presage.templates", 5),
            "the same record every time"
        );
    }

    #[test]
    fn a_source_not_granted_is_reported_once_per_template_version() {
        let (t, allow) = (template(), Allow::none());
        let mut ungranted = Ungranted::default();
        let mut letters = Vec::new();
        for now in 0..3 {
            let skipped = ungranted.of(&t, "v1", &allow, "presage.templates", now, &mut letters);
            assert_eq!(skipped.len(), 2, "{skipped:?}");
        }
        assert_eq!(
            letters.len(),
            2,
            "one per source, not one per look: {letters:?}"
        );
        ungranted.of(&t, "v2", &allow, "presage.templates", 9, &mut letters);
        assert_eq!(letters.len(), 4, "a new version is reported again");
        assert_ne!(letters[0].event_id, letters[2].event_id);
    }

    #[test]
    fn series_are_counted_without_comments_or_blank_lines() {
        assert_eq!(
            series_lines("# HELP x\n# TYPE x gauge\nx 1\n\n  y{a=\"b\"} 2\n"),
            2
        );
        assert_eq!(series_lines(""), 0);
    }
}
