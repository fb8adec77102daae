//! Scorecards: a table row per contender, the best competing value of each column highlighted.

use std::fmt::Write as _;

use crate::report::{Contender, ContenderKind, Score, SeriesReport};

use super::style::contender_styles;
use super::text::{fmt_count, fmt_num, fmt_pct, fmt_plain, Esc};

pub(super) const HIGHLIGHT_NOTE: &str = "<p class=\"note\">Highlighted: the best value of each column among the policies and the reactive baseline (lower is better). The oracle, with perfect foresight, is the bound to approach, not a contender. Capacity = units × per_unit; unit-hours are the cost.</p>\n";

struct Column {
    title: &'static str,
    value: fn(&Score) -> f64,
    format: fn(f64) -> String,
}

const COLUMNS: [Column; 6] = [
    Column {
        title: "unit-hours",
        value: |s| s.unit_hours,
        format: fmt_num,
    },
    Column {
        title: "slack %",
        value: |s| s.slack_pct,
        format: fmt_pct,
    },
    Column {
        title: "under-provisioned %",
        value: |s| s.under_provisioned_pct,
        format: fmt_pct,
    },
    Column {
        title: "depth mean %",
        value: |s| s.under_depth_mean_pct,
        format: fmt_pct,
    },
    Column {
        title: "depth max %",
        value: |s| s.under_depth_max_pct,
        format: fmt_pct,
    },
    Column {
        title: "actions",
        value: |s| s.actions as f64,
        format: fmt_count,
    },
];

/// For each column, the formatted best (lowest) value among the contenders that compete: the
/// oracle is a bound, and highlighting its unbeatable zeros would say nothing. Compared as
/// formatted so that values that read the same are highlighted together. `None` when fewer than
/// two compete, or when they all read the same (a column of highlights says nothing either).
fn best_values(contenders: &[Contender]) -> Vec<Option<String>> {
    let competing: Vec<&Contender> = contenders
        .iter()
        .filter(|c| c.kind != ContenderKind::Oracle)
        .collect();
    COLUMNS
        .iter()
        .map(|col| {
            let texts: Vec<(f64, String)> = competing
                .iter()
                .map(|c| (col.value)(&c.score))
                .filter(|v| v.is_finite())
                .map(|v| (v, (col.format)(v)))
                .collect();
            if texts.len() < 2 || texts.iter().all(|(_, t)| *t == texts[0].1) {
                return None;
            }
            texts
                .into_iter()
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, t)| t)
        })
        .collect()
}

/// One table of scorecards; with `with_series`, a group row names each series (for the series
/// that get no charts of their own).
pub(super) fn scorecard(out: &mut String, series: &[&SeriesReport], with_series: bool) {
    out.push_str("<table class=\"scorecard\">\n<thead><tr><th class=\"l\">contender</th><th class=\"l\">kind</th>");
    for col in &COLUMNS {
        w!(out, "<th>{}</th>", col.title);
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for s in series {
        if with_series {
            w!(
                out,
                "<tr class=\"group\"><td colspan=\"{}\">{} · {} <span class=\"note\">({}, {} per unit)</span></td></tr>\n",
                COLUMNS.len() + 2,
                Esc(&s.app),
                Esc(&s.resource),
                Esc(&s.metric),
                fmt_plain(s.per_unit)
            );
        }
        let best = best_values(&s.contenders);
        let styles = contender_styles(&s.contenders);
        for (c, style) in s.contenders.iter().zip(&styles) {
            let class = if c.kind == ContenderKind::Oracle {
                " class=\"oracle\""
            } else {
                ""
            };
            w!(
                out,
                "<tr{class}><td class=\"l\"><span class=\"sw\" style=\"background:{}\"></span>{}</td><td class=\"l\">{}</td>",
                style.color,
                Esc(&c.name),
                kind_label(c.kind)
            );
            for (col, best) in COLUMNS.iter().zip(&best) {
                let text = (col.format)((col.value)(&c.score));
                let is_best =
                    c.kind != ContenderKind::Oracle && best.as_deref() == Some(text.as_str());
                w!(
                    out,
                    "<td{}>{}</td>",
                    if is_best { " class=\"best\"" } else { "" },
                    Esc(&text)
                );
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

fn kind_label(kind: ContenderKind) -> &'static str {
    match kind {
        ContenderKind::Policy => "policy",
        ContenderKind::Reactive => "reactive baseline",
        ContenderKind::Oracle => "oracle (bound)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::fixtures::*;

    #[test]
    fn the_best_competitor_is_highlighted_not_the_oracle() {
        let mut s = flat_series("checkout", 2);
        s.contenders[0].score = score(100.0, 2.0, 7);
        s.contenders[1].score = score(120.0, 0.5, 7);
        s.contenders[2].score = score(80.0, 0.0, 1);
        let mut shadow = contender("templates/a.yaml shadow", ContenderKind::Policy, &[(0, 4)]);
        shadow.score = score(150.0, 3.0, 9);
        s.contenders.insert(1, shadow);
        let mut html = String::new();
        scorecard(&mut html, &[&s], false);
        assert!(html.contains("<td class=\"best\">100</td>"), "{html}");
        assert!(html.contains("<td>120</td>"));
        assert!(html.contains("<td class=\"best\">0.50</td>"));
        assert!(html.contains("<td>2.00</td>"));
        // Equal values are highlighted together; the oracle's better ones never are.
        assert_eq!(html.matches("<td class=\"best\">7</td>").count(), 2);
        assert!(html.contains("<td>80.0</td>") && html.contains("<td>1</td>"));
        // A column in which every competitor reads the same has no highlight.
        assert!(html.contains("<td>20.0</td>") && !html.contains("<td class=\"best\">20.0</td>"));
    }
}
