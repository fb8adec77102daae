//! The backtest report as one self-contained HTML page.
//!
//! The page must open from a file, on a machine with no network, long after the run: so it
//! fetches nothing (no CDN, no web fonts, no images, no stylesheets), its charts are SVG drawn
//! here, and the small script at the end only adds a hover readout: every chart reads the same
//! without it. Everything a user wrote (template, app, resource and metric names) is escaped.
//!
//! A report can hold hundreds of series and months of one-second windows, so what is drawn is
//! bounded: full charts for the first [`CHARTED_SERIES`] series only (the others get their
//! scorecards), an overview downsampled to at most [`MAX_BUCKETS`] min–max buckets, and a
//! detail chart of the week that matters most: the one in which the first policy was
//! under-provisioned longest, drawn exactly.

/// Writes to a `String`, which cannot fail.
macro_rules! w {
    ($($arg:tt)*) => {{
        let _ = write!($($arg)*);
    }};
}

mod assets;
mod axis;
mod chart;
mod detail;
mod directives;
mod downsample;
#[cfg(test)]
mod fixtures;
mod frontier;
mod paths;
mod scorecard;
mod section;
mod steps;
mod style;
mod text;

use std::fmt::Write as _;

use crate::report::{Report, SeriesReport};

use assets::{CSS, SCRIPT};
use directives::directives_section;
use scorecard::{scorecard, HIGHLIGHT_NOTE};
use section::series_section;
use text::{escape, fmt_num, format_duration, format_utc, group_digits, Esc};

/// Series beyond this many get scorecard rows but no charts: 300 apps must not make a
/// 300-chart page.
pub const CHARTED_SERIES: usize = 12;
/// The most x-buckets an overview chart draws: about one per pixel of the plot, which shows
/// every peak without writing a path point for each of a month's windows.
pub const MAX_BUCKETS: usize = 1500;
/// How long the detail chart is.
pub const DETAIL_MS: i64 = 7 * DAY;
/// The overview draws a layer exactly while it has at most this many steps.
const OVERVIEW_EXACT: usize = 2 * MAX_BUCKETS;
/// The detail chart draws exactly up to this many steps (a week of one-minute windows), and
/// beyond that (a week of one-second windows) min–max buckets of [`DETAIL_BUCKETS`].
const DETAIL_EXACT: usize = 12_000;
const DETAIL_BUCKETS: usize = 3_000;
/// Apps named in the header before "…".
const APPS_LISTED: usize = 12;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// The report as a complete HTML5 document that needs no network to display.
pub fn render_html(report: &Report) -> String {
    let mut out = String::with_capacity(256 * 1024);
    out.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>Presage backtest</title>\n<style>\n"
    ));
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<h1>Presage backtest</h1>\n");
    header(&mut out, report);

    let charted = report.series.len().min(CHARTED_SERIES);
    if charted > 1 {
        out.push_str("<nav><p>Series:</p><ol>");
        for (i, s) in report.series.iter().take(charted).enumerate() {
            w!(
                out,
                "<li><a href=\"#series-{i}\">{} · {}</a></li>",
                Esc(&s.app),
                Esc(&s.resource)
            );
        }
        if report.series.len() > charted {
            out.push_str("<li><a href=\"#other-series\">other series</a></li>");
        }
        out.push_str("</ol></nav>\n");
    }
    if report.series.is_empty() {
        out.push_str("<p class=\"note\">No series were scored: no live policy scales any resource of the replayed apps.</p>\n");
    }
    for (i, series) in report.series.iter().take(charted).enumerate() {
        series_section(&mut out, report, i, series);
    }
    if report.series.len() > charted {
        let rest: Vec<&SeriesReport> = report.series[charted..].iter().collect();
        w!(
            out,
            "<section id=\"other-series\"><h2>Other series</h2>\n<p class=\"note\">Charts are drawn for the first {charted} of {} series only, to keep this page small; the other {} have their scorecards here.</p>\n",
            report.series.len(),
            rest.len()
        );
        scorecard(&mut out, &rest, true);
        out.push_str(HIGHLIGHT_NOTE);
        out.push_str("</section>\n");
    }
    directives_section(&mut out, report);
    out.push_str(
        "<footer>Written by <code>presage backtest</code>. This page is self-contained: it loads nothing from the network.</footer>\n<script>\n",
    );
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &Report) {
    out.push_str("<dl class=\"meta\">\n");
    w!(out, "<dt>Source</dt><dd>{}</dd>\n", Esc(&report.source));
    w!(
        out,
        "<dt>Time range</dt><dd>{} → {} ({})</dd>\n",
        format_utc(report.from_ms),
        format_utc(report.to_ms),
        format_duration(report.to_ms - report.from_ms)
    );
    let warmup = report.scored_from_ms - report.from_ms;
    w!(
        out,
        "<dt>Scored range</dt><dd>{} → {} ({}){}</dd>\n",
        format_utc(report.scored_from_ms),
        format_utc(report.scored_to_ms.max(report.scored_from_ms)),
        format_duration(report.scored_to_ms.max(report.scored_from_ms) - report.scored_from_ms),
        if warmup > 0 {
            format!(
                "; the {} before it is warm-up, feeding history only",
                format_duration(warmup)
            )
        } else {
            String::new()
        }
    );
    w!(
        out,
        "<dt>Samples</dt><dd>{} replayed in {} ({} samples/s)</dd>\n",
        group_digits(&report.samples.to_string()),
        format_duration(report.elapsed_ms as i64),
        fmt_num(report.samples_per_second)
    );
    let shown: Vec<String> = report.apps.iter().take(APPS_LISTED).map(escape).collect();
    w!(
        out,
        "<dt>Apps</dt><dd>{}: {}{}</dd>\n",
        report.apps.len(),
        shown.join(", "),
        if report.apps.len() > APPS_LISTED {
            ", …"
        } else {
            ""
        }
    );
    w!(
        out,
        "<dt>Series</dt><dd>{} (app × resource)</dd>\n<dt>Directives</dt><dd>{}</dd>\n</dl>\n",
        report.series.len(),
        report.directives.len()
    );
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::report::{DirectiveRecord, TargetRecord};

    #[test]
    fn the_document_needs_no_network() {
        let html = render_html(&report(
            vec![flat_series("checkout", 3), flat_series("search", 3)],
            3 * DAY,
        ));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Presage backtest</title>"));
        for forbidden in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "<link",
            "@import",
            "url(http",
            "<img",
            "<iframe",
        ] {
            assert!(!html.contains(forbidden), "{forbidden} in the page");
        }
        // The only script is inline.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script>\n"));
    }

    #[test]
    fn the_header_gives_source_ranges_and_throughput() {
        let mut r = report(vec![flat_series("checkout", 3)], 3 * DAY);
        r.scored_from_ms = T0 + DAY;
        let html = render_html(&r);
        assert!(html.contains("samples.csv"));
        assert!(
            html.contains("2024-01-01T00:00:00Z → 2024-01-04T00:00:00Z (3 d)"),
            "{html}"
        );
        assert!(html.contains(
            "2024-01-02T00:00:00Z → 2024-01-04T00:00:00Z (2 d); the 1 d before it is warm-up"
        ));
        assert!(html.contains("1,234,567 replayed in 2.5 s (493,827 samples/s)"));
    }

    #[test]
    fn one_overview_and_one_detail_chart_per_charted_series() {
        let html = render_html(&report(
            (0..3)
                .map(|i| flat_series(&format!("app-{i}"), 2))
                .collect(),
            2 * DAY,
        ));
        assert_eq!(html.matches("<svg").count(), 6);
        assert!(!html.contains("other-series\">"));
    }

    #[test]
    fn series_past_the_twelfth_get_scorecards_only() {
        let many: Vec<SeriesReport> = (0..300)
            .map(|i| flat_series(&format!("app-{i:03}"), 2))
            .collect();
        let html = render_html(&report(many, 2 * DAY));
        assert_eq!(html.matches("<svg").count(), 2 * CHARTED_SERIES);
        assert!(html.contains("Charts are drawn for the first 12 of 300 series only"));
        // Every series still has its scorecard: one row per contender, three per series.
        assert_eq!(
            html.matches("<td class=\"l\"><span class=\"sw\"").count(),
            300 * 3
        );
        assert!(html.contains("app-299 · replicas"));
        assert!(html.len() < 2_000_000, "{} bytes", html.len());
    }

    #[test]
    fn names_from_templates_are_escaped() {
        let mut s = flat_series("<script>alert(1)</script>", 2);
        s.contenders[0].name = "templates/\"a&b\".yaml".to_string();
        s.metric = "<b>rps</b>".to_string();
        let mut r = report(vec![s], 2 * DAY);
        r.directives.push(DirectiveRecord {
            template: "<i>t</i>".to_string(),
            event_id: "e1".to_string(),
            app: "<script>alert(2)</script>".to_string(),
            mode: "live".to_string(),
            issued_at_ms: T0,
            fallback: false,
            targets: vec![TargetRecord {
                resource: "<u>replicas</u>".to_string(),
                target: 3,
            }],
        });
        let html = render_html(&r);
        assert!(!html.contains("<script>alert"), "unescaped app name");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
        assert!(!html.contains("<b>rps") && html.contains("&lt;b&gt;rps&lt;/b&gt;"));
        assert!(!html.contains("<i>t</i>") && !html.contains("<u>replicas"));
        assert!(html.contains("templates/&quot;a&amp;b&quot;.yaml"));
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    }

    #[test]
    fn an_empty_report_still_renders() {
        let mut r = report(Vec::new(), 0);
        r.scored_from_ms = T0 + DAY;
        let html = render_html(&r);
        assert!(html.contains("No series were scored"));
        assert!(html.contains("No directives were issued"));
        assert!(!html.contains("<svg"));
        // A series without demand, band or contenders still gets its two (empty) charts.
        let mut s = flat_series("idle", 1);
        s.demand.clear();
        s.band.clear();
        s.contenders.clear();
        let html = render_html(&report(vec![s], DAY));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("Chosen as the whole scored range"));
    }

    #[test]
    fn a_long_fine_grained_series_stays_small() {
        // 35 days of 30-second windows: the overview and the detail week are both downsampled.
        let s = series(
            "checkout",
            100_000,
            30 * SECOND,
            |i| 100.0 + (i % 97) as f64,
            three_contenders(3),
        );
        let html = render_html(&report(vec![s], 100_000 * 30 * SECOND));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.len() < 1_000_000, "{} bytes", html.len());
        assert!(html.contains("Downsampled to buckets of"));
    }

    /// A realistic report to look at: `cargo test -p presage-backtest --lib html -- --ignored`
    /// writes it to /tmp/backtest-sample.html.
    #[test]
    #[ignore]
    fn write_sample_report() {
        let html = render_html(&sample_report());
        std::fs::write("/tmp/backtest-sample.html", &html).unwrap();
        eprintln!("wrote /tmp/backtest-sample.html, {} bytes", html.len());
    }
}
