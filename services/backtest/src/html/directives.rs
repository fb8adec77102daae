//! The directives section: counts per template and mode, and the first directives listed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::Report;

use super::text::{escape, format_utc, group_digits, Esc};

/// Directives listed one by one; the rest are only counted.
const DIRECTIVES_LISTED: usize = 20;

pub(super) fn directives_section(out: &mut String, report: &Report) {
    out.push_str("<section id=\"directives\"><h2>Directives</h2>\n");
    if report.directives.is_empty() {
        out.push_str("<p class=\"note\">No directives were issued.</p>\n</section>\n");
        return;
    }
    let mut counts: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    for d in &report.directives {
        let entry = counts
            .entry((d.template.as_str(), d.mode.as_str()))
            .or_default();
        entry.0 += 1;
        entry.1 += usize::from(d.fallback);
    }
    out.push_str("<table>\n<thead><tr><th class=\"l\">template</th><th class=\"l\">mode</th><th>directives</th><th>of which fallback</th></tr></thead>\n<tbody>\n");
    for ((template, mode), (count, fallback)) in &counts {
        w!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>\n",
            Esc(template),
            Esc(mode),
            group_digits(&count.to_string()),
            group_digits(&fallback.to_string())
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let listed = report.directives.len().min(DIRECTIVES_LISTED);
    w!(
        out,
        "<h3>The first {listed} of {} directives, in the order issued</h3>\n<table>\n<thead><tr><th class=\"l\">issued (UTC)</th><th class=\"l\">template</th><th class=\"l\">app</th><th class=\"l\">mode</th><th class=\"l\">targets</th></tr></thead>\n<tbody>\n",
        report.directives.len()
    );
    for d in report.directives.iter().take(listed) {
        let targets: Vec<String> = d
            .targets
            .iter()
            .map(|t| format!("{} → {}", escape(&t.resource), t.target))
            .collect();
        w!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}{}</td><td class=\"l\">{}</td></tr>\n",
            format_utc(d.issued_at_ms),
            Esc(&d.template),
            Esc(&d.app),
            Esc(&d.mode),
            if d.fallback { " (fallback)" } else { "" },
            targets.join(", ")
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use crate::html::fixtures::*;
    use crate::html::{render_html, DAY, MINUTE};
    use crate::report::{DirectiveRecord, TargetRecord};

    #[test]
    fn directives_are_counted_and_the_first_listed() {
        let mut r = report(vec![flat_series("checkout", 2)], 2 * DAY);
        r.directives = (0..30)
            .map(|i| DirectiveRecord {
                template: if i % 3 == 0 {
                    "templates/b.yaml"
                } else {
                    "templates/a.yaml"
                }
                .to_string(),
                event_id: format!("e{i}"),
                app: "checkout".to_string(),
                mode: if i % 2 == 0 { "live" } else { "shadow" }.to_string(),
                issued_at_ms: T0 + i * MINUTE,
                fallback: i == 4,
                targets: vec![TargetRecord {
                    resource: "replicas".to_string(),
                    target: i,
                }],
            })
            .collect();
        let html = render_html(&r);
        let section = &html[html.find("id=\"directives\"").unwrap()..];
        assert!(section.contains("The first 20 of 30 directives"));
        // a: 20 of 30 (10 live, 10 shadow); b: 10 (5 live, 5 shadow, one fallback).
        assert!(section.contains(
            "<td class=\"l\">templates/a.yaml</td><td class=\"l\">live</td><td>10</td><td>1</td>"
        ));
        assert!(section.contains(
            "<td class=\"l\">templates/b.yaml</td><td class=\"l\">live</td><td>5</td><td>0</td>"
        ));
        assert!(section.contains("2024-01-01T00:19:00Z"));
        assert!(!section.contains("2024-01-01T00:20:00Z"));
        assert!(section.contains("replicas → 4") && section.contains("(fallback)"));
    }
}
