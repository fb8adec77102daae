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

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};

use presage_template::calendar::{civil_from_days, day_number, weekday};

use crate::report::{
    BandPoint, CapacityStep, Contender, ContenderKind, DemandStep, Report, Score, SeriesReport,
};

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
/// Directives listed one by one; the rest are only counted.
const DIRECTIVES_LISTED: usize = 20;
/// Apps named in the header before "…".
const APPS_LISTED: usize = 12;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

// Chart geometry, in SVG user units (the SVG scales to the page width).
const WIDTH: f64 = 1100.0;
const MARGIN_LEFT: f64 = 78.0;
const MARGIN_RIGHT: f64 = 64.0;
const FONT: f64 = 12.0;

const DEMAND_COLOR: &str = "#1a1a1a";
const BAND_FILL: &str = "#a9c4e8";
const BAND_MEAN: &str = "#4f74a8";
const UNDER_FILL: &str = "#e53935";
const WARMUP_FILL: &str = "#9e9e9e";
const POLICY_COLORS: [&str; 6] = [
    "#1f5fbf", "#8e3fb0", "#c2185b", "#00897b", "#795548", "#9e9d24",
];
const REACTIVE_COLOR: &str = "#e8710a";
const ORACLE_COLOR: &str = "#2e7d32";

/// Writes to a `String`, which cannot fail.
macro_rules! w {
    ($($arg:tt)*) => {{
        let _ = write!($($arg)*);
    }};
}

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

const CSS: &str = r#"body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;max-width:1180px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:24px;margin:8px 0 12px}h2{font-size:19px;margin:32px 0 6px;padding-top:10px;border-top:2px solid #ddd}
h3{font-size:15px;margin:18px 0 4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 12px}dl.meta dt{color:#666}dl.meta dd{margin:0}
nav ol{columns:3;margin:4px 0 8px}nav p{margin:8px 0 0;color:#666}
table{border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{padding:3px 9px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}
th{background:#f4f4f4;font-weight:600}th.l,td.l{text-align:left}
td.best{background:#d8f0d8;font-weight:700}tr.oracle td{color:#666;font-style:italic}
tr.group td{background:#fafafa;border-top:2px solid #ddd;font-weight:600;text-align:left}
.sw{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;vertical-align:baseline}
.note{color:#555;font-size:13px}code{font-size:13px}
figure{margin:12px 0 20px}figcaption{color:#444;font-size:13px;margin-top:2px}
svg.chart{width:100%;height:auto;display:block;background:#fff}
footer{margin-top:40px;color:#777;font-size:12px}
"#;

const HIGHLIGHT_NOTE: &str = "<p class=\"note\">Highlighted: the best value of each column among the policies and the reactive baseline (lower is better). The oracle, with perfect foresight, is the bound to approach, not a contender. Capacity = units × per_unit; unit-hours are the cost.</p>\n";

/// Hover readout: the time and value under the pointer. Optional: the charts carry their own
/// axes, so nothing depends on it.
const SCRIPT: &str = r#"document.querySelectorAll('svg.chart').forEach(function (svg) {
  var d = svg.dataset, px0 = +d.px0, px1 = +d.px1, py0 = +d.py0, py1 = +d.py1;
  var t0 = +d.t0, t1 = +d.t1, v0 = +d.v0, v1 = +d.v1;
  var line = svg.querySelector('.cursor'), label = svg.querySelector('.readout');
  function hide() { line.setAttribute('visibility', 'hidden'); label.textContent = ''; }
  svg.addEventListener('mousemove', function (e) {
    var m = svg.getScreenCTM(); if (!m) return;
    var p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY; p = p.matrixTransform(m.inverse());
    if (p.x < px0 || p.x > px1 || p.y < py1 || p.y > py0) { hide(); return; }
    var t = t0 + (p.x - px0) / (px1 - px0) * (t1 - t0), v = v0 + (py0 - p.y) / (py0 - py1) * (v1 - v0);
    line.setAttribute('x1', p.x); line.setAttribute('x2', p.x); line.setAttribute('visibility', 'visible');
    label.textContent = new Date(Math.round(t)).toISOString().replace('.000Z', 'Z') + '   ' + v.toPrecision(4) + ' ' + d.metric;
  });
  svg.addEventListener('mouseleave', hide);
});
"#;

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
        format_utc(report.to_ms),
        format_duration(report.to_ms - report.scored_from_ms),
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

/// What one series' charts are drawn from, worked out once for both charts.
struct SeriesData {
    demand: Vec<Segment>,
    /// Each contender's capacity in metric units (units × per_unit), in the contenders' order.
    capacities: Vec<Vec<Segment>>,
    styles: Vec<Style>,
    /// Where the first contender fell short of the demand in the scored range.
    under: Vec<(i64, i64)>,
    detail: DetailWindow,
}

fn series_data(report: &Report, series: &SeriesReport) -> SeriesData {
    let demand = demand_segments(&series.demand);
    let end_ms = report.to_ms.max(
        series
            .demand
            .iter()
            .map(|d| d.end_ms)
            .max()
            .unwrap_or(i64::MIN),
    );
    let capacities: Vec<Vec<Segment>> = series
        .contenders
        .iter()
        .map(|c| capacity_segments(&c.capacity, series.per_unit, end_ms))
        .collect();
    let (from, to) = scored_range(report);
    let under = match series.contenders.first() {
        Some(first) => under_provisioned(&demand, &first.capacity, series.per_unit, from, to),
        None => Vec::new(),
    };
    let who = series
        .contenders
        .first()
        .map_or("the first policy", |c| c.name.as_str());
    let detail = detail_window(&under, &demand, from, to, DETAIL_MS, who);
    SeriesData {
        demand,
        capacities,
        styles: contender_styles(&series.contenders),
        under,
        detail,
    }
}

/// The range the scores cover, or the whole range if the report's bounds are inverted.
fn scored_range(report: &Report) -> (i64, i64) {
    if report.scored_from_ms < report.to_ms {
        (report.scored_from_ms.max(report.from_ms), report.to_ms)
    } else {
        (report.from_ms, report.to_ms.max(report.from_ms + 1))
    }
}

fn series_section(out: &mut String, report: &Report, index: usize, series: &SeriesReport) {
    let data = series_data(report, series);
    w!(
        out,
        "<section id=\"series-{index}\" class=\"series\">\n<h2>{} · {}</h2>\n",
        Esc(&series.app),
        Esc(&series.resource)
    );
    let (covered, gaps) = series
        .contenders
        .first()
        .map_or((0.0, 0.0), |c| (c.score.covered_hours, c.score.gap_hours));
    w!(
        out,
        "<p class=\"note\">Demand: the recipe <code>{}</code>. One unit of {} serves {} {}. Scored over {} h with known demand{}.</p>\n",
        Esc(&series.metric),
        Esc(&series.resource),
        fmt_plain(series.per_unit),
        Esc(&series.metric),
        fmt_num(covered),
        if gaps > 0.0 { format!(" and {} h of gaps in the trace (cost counted, nothing else)", fmt_num(gaps)) } else { String::new() }
    );
    scorecard(out, &[series], false);
    out.push_str(HIGHLIGHT_NOTE);

    let first = series
        .contenders
        .first()
        .map_or("the first policy", |c| c.name.as_str());
    let (from, to) = (report.from_ms, report.to_ms.max(report.from_ms + 1));
    let overview = Chart {
        id: format!("s{index}o"),
        from_ms: from,
        to_ms: to,
        plot_height: 250.0,
        exact_limit: OVERVIEW_EXACT,
        buckets: MAX_BUCKETS,
        series,
        data: &data,
        warmup_until: (report.scored_from_ms > from).then_some(report.scored_from_ms),
        window_mark: Some((data.detail.from_ms, data.detail.to_ms)),
    };
    let (svg, notes) = render_chart(&overview);
    w!(
        out,
        "<h3>Overview</h3>\n<figure>\n{svg}<figcaption>The whole range, {} → {}. {} Red: {} under-provisioned; grey: warm-up (not scored); dashed box: the detail window below.</figcaption>\n</figure>\n",
        format_utc(from),
        format_utc(to),
        Esc(&notes),
        Esc(first)
    );

    let detail = Chart {
        id: format!("s{index}d"),
        from_ms: data.detail.from_ms,
        to_ms: data.detail.to_ms,
        plot_height: 290.0,
        exact_limit: DETAIL_EXACT,
        buckets: DETAIL_BUCKETS,
        series,
        data: &data,
        warmup_until: None,
        window_mark: None,
    };
    let (svg, notes) = render_chart(&detail);
    w!(
        out,
        "<h3>Detail: {} → {}</h3>\n<p class=\"note\">Chosen as {}.</p>\n<figure>\n{svg}<figcaption>{} Red: {} under-provisioned.</figcaption>\n</figure>\n</section>\n",
        format_utc(data.detail.from_ms),
        format_utc(data.detail.to_ms),
        Esc(&data.detail.reason),
        Esc(&notes),
        Esc(first)
    );
}

// ---------------------------------------------------------------------------------------------
// Scorecards

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
fn scorecard(out: &mut String, series: &[&SeriesReport], with_series: bool) {
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

// ---------------------------------------------------------------------------------------------
// Directives

fn directives_section(out: &mut String, report: &Report) {
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

// ---------------------------------------------------------------------------------------------
// Step functions: demand, capacity, and where one falls short of the other

/// A value held over `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start_ms: i64,
    end_ms: i64,
    value: f64,
}

/// The demand as non-overlapping steps in time order. Hopping windows overlap; as in the
/// scorer, each instant belongs to the first window over it, so what is drawn is what was
/// scored. Non-finite values are dropped (nothing known there).
fn demand_segments(demand: &[DemandStep]) -> Vec<Segment> {
    let mut steps: Vec<DemandStep> = demand
        .iter()
        .copied()
        .filter(|s| s.value.is_finite() && s.end_ms > s.start_ms)
        .collect();
    steps.sort_by_key(|s| s.start_ms); // stable, and linear when already in order
    let mut out = Vec::with_capacity(steps.len());
    let mut previous_end = i64::MIN;
    for s in steps {
        let start = s.start_ms.max(previous_end);
        previous_end = previous_end.max(s.end_ms);
        if s.end_ms > start {
            out.push(Segment {
                start_ms: start,
                end_ms: s.end_ms,
                value: s.value,
            });
        }
    }
    out
}

/// A contender's capacity in metric units: each step's units × `per_unit`, held until the next
/// step (the last until `end_ms`). Nothing before the first step: that is not drawn.
fn capacity_segments(steps: &[CapacityStep], per_unit: f64, end_ms: i64) -> Vec<Segment> {
    let mut steps = steps.to_vec();
    steps.sort_by_key(|s| s.at_ms);
    (0..steps.len())
        .filter_map(|i| {
            let end = steps.get(i + 1).map_or(end_ms, |n| n.at_ms);
            (end > steps[i].at_ms).then(|| Segment {
                start_ms: steps[i].at_ms,
                end_ms: end,
                value: steps[i].units as f64 * per_unit,
            })
        })
        .collect()
}

/// Units in service at `at_ms`: those of the last step at or before it, none before the first
/// (as the scorer counts them).
fn units_at(steps: &[CapacityStep], at_ms: i64) -> i64 {
    let i = steps.partition_point(|s| s.at_ms <= at_ms);
    if i == 0 {
        0
    } else {
        steps[i - 1].units
    }
}

/// The intervals within `[from, to)` in which the demand exceeded the capacity, merged and in
/// time order: what the scorer counts as under-provisioned, as times, so the detail chart can
/// find the worst week and shade it.
fn under_provisioned(
    demand: &[Segment],
    capacity: &[CapacityStep],
    per_unit: f64,
    from: i64,
    to: i64,
) -> Vec<(i64, i64)> {
    let mut steps = capacity.to_vec();
    steps.sort_by_key(|s| s.at_ms);
    let mut out: Vec<(i64, i64)> = Vec::new();
    for d in clip(demand, from, to) {
        let first = steps.partition_point(|s| s.at_ms <= d.start_ms);
        let changes = steps[first..]
            .iter()
            .map(|s| s.at_ms)
            .take_while(|&at| at < d.end_ms);
        let bounds: Vec<i64> = std::iter::once(d.start_ms)
            .chain(changes)
            .chain([d.end_ms])
            .collect();
        for pair in bounds.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b <= a || d.value <= 0.0 || d.value <= units_at(&steps, a) as f64 * per_unit {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 >= a => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
    }
    out
}

/// The part of `segments` (in time order, non-overlapping) within `[from, to)`.
fn clip(segments: &[Segment], from: i64, to: i64) -> Vec<Segment> {
    let first = segments.partition_point(|s| s.end_ms <= from);
    segments[first..]
        .iter()
        .take_while(|s| s.start_ms < to)
        .map(|s| Segment {
            start_ms: s.start_ms.max(from),
            end_ms: s.end_ms.min(to),
            value: s.value,
        })
        .filter(|s| s.end_ms > s.start_ms)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Downsampling

/// The least and the greatest value held within `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    start_ms: i64,
    end_ms: i64,
    min: f64,
    max: f64,
}

/// Bucket width that splits `[from, to)` into at most `max_buckets` whole-millisecond buckets.
fn bucket_width(from: i64, to: i64, max_buckets: usize) -> i64 {
    let n = max_buckets.max(1) as i64;
    ((to - from).max(1) + n - 1) / n
}

/// Equal-width buckets of `[from, to)`, at most `max_buckets`, each with the min and max of
/// every step over it. A month of one-second windows is millions of path points; a min–max
/// bucket per pixel draws the same picture, and keeping the max (rather than a mean) keeps
/// every peak, which is what under-provisioning is about. Buckets no step touches are left out,
/// so gaps stay gaps.
fn downsample(segments: &[Segment], from: i64, to: i64, max_buckets: usize) -> Vec<Bucket> {
    if to <= from || max_buckets == 0 {
        return Vec::new();
    }
    let width = bucket_width(from, to, max_buckets);
    let count = ((to - from + width - 1) / width) as usize;
    let mut acc: Vec<Option<(f64, f64)>> = vec![None; count];
    for s in segments {
        let (a, b) = (s.start_ms.max(from), s.end_ms.min(to));
        if b <= a {
            continue;
        }
        let first = ((a - from) / width) as usize;
        let last = (((b - 1 - from) / width) as usize).min(count - 1);
        for slot in &mut acc[first..=last] {
            *slot = Some(match *slot {
                None => (s.value, s.value),
                Some((lo, hi)) => (lo.min(s.value), hi.max(s.value)),
            });
        }
    }
    acc.into_iter()
        .enumerate()
        .filter_map(|(i, slot)| {
            slot.map(|(min, max)| {
                let start_ms = from + i as i64 * width;
                Bucket {
                    start_ms,
                    end_ms: (start_ms + width).min(to),
                    min,
                    max,
                }
            })
        })
        .collect()
}

/// A step function as drawn: exactly, or as min–max buckets of the given width.
enum StepView {
    Exact(Vec<Segment>),
    Buckets(Vec<Bucket>, i64),
}

impl StepView {
    /// Exact while there are at most `exact_limit` steps in the window, else buckets.
    fn new(
        segments: &[Segment],
        from: i64,
        to: i64,
        exact_limit: usize,
        buckets: usize,
    ) -> StepView {
        let clipped = clip(segments, from, to);
        if clipped.len() <= exact_limit {
            StepView::Exact(clipped)
        } else {
            StepView::Buckets(
                downsample(&clipped, from, to, buckets),
                bucket_width(from, to, buckets),
            )
        }
    }

    fn range(&self) -> Option<(f64, f64)> {
        let values: Box<dyn Iterator<Item = (f64, f64)>> = match self {
            StepView::Exact(s) => Box::new(s.iter().map(|s| (s.value, s.value))),
            StepView::Buckets(b, _) => Box::new(b.iter().map(|b| (b.min, b.max))),
        };
        values.fold(None, |acc, (lo, hi)| match acc {
            None => Some((lo, hi)),
            Some((a, b)) => Some((lo.min(a), hi.max(b))),
        })
    }

    /// The line: the values themselves, or each bucket's max so that peaks show.
    fn line(&self) -> Vec<(i64, i64, f64)> {
        match self {
            StepView::Exact(s) => s.iter().map(|s| (s.start_ms, s.end_ms, s.value)).collect(),
            StepView::Buckets(b, _) => b.iter().map(|b| (b.start_ms, b.end_ms, b.max)).collect(),
        }
    }

    fn bucket_width(&self) -> Option<i64> {
        match self {
            StepView::Exact(_) => None,
            StepView::Buckets(_, w) => Some(*w),
        }
    }
}

/// One forecast (or one bucket of them) at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BandSample {
    at_ms: i64,
    lower: f64,
    mean: f64,
    upper: f64,
}

/// The forecast band within `[from, to]` as runs of samples to join with lines, split where
/// forecasts are missing (more than three times the usual spacing apart) so a pause in
/// forecasting is not drawn as a straight band. More than `exact_limit` points become buckets
/// (lowest lower, highest upper, mean of means), with the bucket width returned.
fn band_runs(
    band: &[BandPoint],
    from: i64,
    to: i64,
    exact_limit: usize,
    max_buckets: usize,
) -> (Vec<Vec<BandSample>>, Option<i64>) {
    let mut points: Vec<BandSample> = band
        .iter()
        .filter(|p| p.at_ms >= from && p.at_ms <= to)
        .filter(|p| p.lower.is_finite() && p.mean.is_finite() && p.upper.is_finite())
        .map(|p| BandSample {
            at_ms: p.at_ms,
            lower: p.lower,
            mean: p.mean,
            upper: p.upper,
        })
        .collect();
    points.sort_by_key(|p| p.at_ms);
    if points.len() <= exact_limit {
        let mut gaps: Vec<i64> = points
            .windows(2)
            .map(|w| w[1].at_ms - w[0].at_ms)
            .filter(|&g| g > 0)
            .collect();
        gaps.sort_unstable();
        let limit = gaps
            .get(gaps.len() / 2)
            .map_or(i64::MAX, |m| m.saturating_mul(3));
        let mut runs: Vec<Vec<BandSample>> = Vec::new();
        for p in points {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|q| p.at_ms - q.at_ms <= limit) => run.push(p),
                _ => runs.push(vec![p]),
            }
        }
        return (runs, None);
    }
    let width = bucket_width(from, to, max_buckets);
    let count = ((to - from) / width + 1) as usize;
    let mut acc: Vec<Option<(f64, f64, f64, u32)>> = vec![None; count];
    for p in &points {
        let slot = &mut acc[(((p.at_ms - from) / width) as usize).min(count - 1)];
        *slot = Some(match *slot {
            None => (p.lower, p.upper, p.mean, 1),
            Some((lo, hi, sum, n)) => (lo.min(p.lower), hi.max(p.upper), sum + p.mean, n + 1),
        });
    }
    let mut runs: Vec<Vec<BandSample>> = Vec::new();
    let mut previous: Option<usize> = None;
    for (i, slot) in acc.into_iter().enumerate() {
        let Some((lower, upper, sum, n)) = slot else {
            continue;
        };
        let sample = BandSample {
            at_ms: (from + i as i64 * width + width / 2).min(to),
            lower,
            mean: sum / f64::from(n),
            upper,
        };
        match runs.last_mut() {
            Some(run) if previous.is_some_and(|p| p + 1 == i) => run.push(sample),
            _ => runs.push(vec![sample]),
        }
        previous = Some(i);
    }
    (runs, Some(width))
}

// ---------------------------------------------------------------------------------------------
// The detail window

/// Which stretch the detail chart shows, and why (plain text; escaped when written).
#[derive(Debug, Clone, PartialEq)]
struct DetailWindow {
    from_ms: i64,
    to_ms: i64,
    reason: String,
}

/// The `len_ms` window within `[from, to]` that holds the most of `intervals` (sorted,
/// disjoint), and how much it holds. An optimal window starts at an interval's start or ends
/// at an interval's end, so only those are tried, each measured in O(log n) with prefix sums.
/// The window is then centred on the under-provisioned time it holds, which keeps everything it
/// held (so it stays optimal) and shows what led up to the shortfall as well as what followed.
fn busiest_window(intervals: &[(i64, i64)], from: i64, to: i64, len_ms: i64) -> (i64, i64, i64) {
    let clipped: Vec<(i64, i64)> = intervals
        .iter()
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| b > a)
        .collect();
    let mut prefix = Vec::with_capacity(clipped.len() + 1);
    prefix.push(0i64);
    for (a, b) in &clipped {
        prefix.push(prefix.last().copied().unwrap_or(0) + (b - a));
    }
    // Time under-provisioned before `t`.
    let before = |t: i64| {
        let i = clipped.partition_point(|&(_, b)| b <= t);
        prefix[i] + clipped.get(i).map_or(0, |&(a, _)| (t - a).max(0))
    };
    if to - from <= len_ms {
        return (from, to, prefix.last().copied().unwrap_or(0));
    }
    let latest = to - len_ms;
    let mut best = (from, 0i64);
    for &(a, b) in &clipped {
        for start in [a.min(latest), (b - len_ms).clamp(from, latest)] {
            let held = before(start + len_ms) - before(start);
            if held > best.1 || (held == best.1 && start < best.0) {
                best = (start, held);
            }
        }
    }
    let (start, held) = best;
    if held == 0 {
        return (start, start + len_ms, 0);
    }
    let end = start + len_ms;
    let first = clipped
        .iter()
        .find(|&&(_, b)| b > start)
        .map_or(start, |&(a, _)| a.max(start));
    let last = clipped
        .iter()
        .rev()
        .find(|&&(a, _)| a < end)
        .map_or(end, |&(_, b)| b.min(end));
    let centred = (first - (len_ms - (last - first)) / 2).clamp(from, latest);
    (centred, centred + len_ms, held)
}

/// `start` moved to a whole hour if that keeps `[start, start + len_ms)` within `[from, to]`
/// and holding as much of `intervals` (hour-aligned windows read better); else `start`.
fn snap_to_hour(start: i64, len_ms: i64, from: i64, to: i64, intervals: &[(i64, i64)]) -> i64 {
    let held = |s: i64| -> i64 {
        intervals
            .iter()
            .map(|&(a, b)| (b.min(s + len_ms).min(to) - a.max(s).max(from)).max(0))
            .sum()
    };
    let floor = start - start.rem_euclid(HOUR);
    let target = held(start);
    [floor, floor + HOUR]
        .into_iter()
        .find(|&s| s >= from && s + len_ms <= to && held(s) >= target)
        .unwrap_or(start)
}

/// The detail chart's window in the scored range `[from, to)`: the `len_ms` in which the first
/// policy (`who`) was under-provisioned longest, or around the peak demand if it never was.
fn detail_window(
    under: &[(i64, i64)],
    demand: &[Segment],
    from: i64,
    to: i64,
    len_ms: i64,
    who: &str,
) -> DetailWindow {
    let (start, end, held) = busiest_window(under, from, to, len_ms);
    if to - from <= len_ms {
        let what = if held > 0 {
            format!(
                "{who} was under-provisioned for {} of it",
                format_duration(held)
            )
        } else {
            format!("{who} was never under-provisioned in it")
        };
        return DetailWindow {
            from_ms: from,
            to_ms: to,
            reason: format!(
                "the whole scored range, which is shorter than {}; {what}",
                format_duration(len_ms)
            ),
        };
    }
    if held > 0 {
        let start = snap_to_hour(start, len_ms, from, to, under);
        return DetailWindow {
            from_ms: start,
            to_ms: start + len_ms,
            reason: format!(
                "the {} in which {who} was under-provisioned longest: {} in all, {} % of the window",
                format_duration(len_ms),
                format_duration(held),
                fmt_pct(100.0 * held as f64 / len_ms as f64)
            ),
        };
    }
    debug_assert_eq!(end - start, len_ms);
    let peak = clip(demand, from, to)
        .into_iter()
        .reduce(|a, b| if b.value > a.value { b } else { a });
    match peak {
        Some(p) => {
            let start = (p.start_ms - len_ms / 2).clamp(from, to - len_ms);
            DetailWindow {
                from_ms: start,
                to_ms: start + len_ms,
                reason: format!(
                    "{who} was never under-provisioned: the {} around the peak demand, {} at {}",
                    format_duration(len_ms),
                    fmt_plain(p.value),
                    format_utc(p.start_ms)
                ),
            }
        }
        None => DetailWindow {
            from_ms: from,
            to_ms: from + len_ms,
            reason: format!(
                "there is no demand to compare with: the first {} scored",
                format_duration(len_ms)
            ),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Charts

/// How a contender's line looks, the same in the chart, its legend and the scorecard swatch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    color: &'static str,
    dash: Option<&'static str>,
    width: f64,
}

/// Policies take distinct colours in turn; the baselines have fixed ones (the oracle dotted), so
/// they read the same across series.
fn contender_styles(contenders: &[Contender]) -> Vec<Style> {
    let mut policies = 0;
    contenders
        .iter()
        .map(|c| match c.kind {
            ContenderKind::Policy => {
                policies += 1;
                Style {
                    color: POLICY_COLORS[(policies - 1) % POLICY_COLORS.len()],
                    dash: None,
                    width: if policies == 1 { 2.0 } else { 1.6 },
                }
            }
            ContenderKind::Reactive => Style {
                color: REACTIVE_COLOR,
                dash: None,
                width: 1.6,
            },
            ContenderKind::Oracle => Style {
                color: ORACLE_COLOR,
                dash: Some("2 3"),
                width: 1.6,
            },
        })
        .collect()
}

/// A linear map from data to SVG coordinates. (SVG's y grows downwards: a y scale maps the low
/// end of the data to the bottom of the plot.)
#[derive(Debug, Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn map(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            (self.r0 + self.r1) / 2.0
        } else {
            self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
        }
    }

    /// As [`Scale::map`], to a tenth of a unit and kept near the range: values beyond the axis
    /// are clipped anyway, and huge coordinates only bloat the path.
    fn px(&self, v: f64) -> f64 {
        let (lo, hi) = if self.r0 <= self.r1 {
            (self.r0, self.r1)
        } else {
            (self.r1, self.r0)
        };
        (self.map(v).clamp(lo - 4.0, hi + 4.0) * 10.0).round() / 10.0
    }
}

/// SVG path data for a step line: each `(start, end, value)` a horizontal run, joined by a
/// vertical where one run ends as the next starts and broken where they do not, so a gap in the
/// data is not bridged. Runs at the same height merge, which keeps slowly changing capacity to a
/// few commands.
fn step_path(runs: &[(i64, i64, f64)], x: Scale, y: Scale) -> String {
    let mut d = String::new();
    let mut pen: Option<(i64, f64)> = None; // where the last run ended: time, y
    let mut pending: Option<f64> = None; // the x of a horizontal not yet written
    for &(start, end, value) in runs {
        let (x0, x1, py) = (x.px(start as f64), x.px(end as f64), y.px(value));
        match pen {
            Some((at, previous_y)) if at == start => {
                if py != previous_y {
                    if let Some(px) = pending.take() {
                        w!(d, "H{px}");
                    }
                    w!(d, "V{py}");
                }
            }
            _ => {
                if let Some(px) = pending.take() {
                    w!(d, "H{px}");
                }
                w!(d, "M{x0} {py}");
            }
        }
        pending = Some(x1);
        pen = Some((end, py));
    }
    if let Some(px) = pending {
        w!(d, "H{px}");
    }
    d
}

/// SVG path data filling between each bucket's min and max: one closed shape per run of adjacent
/// buckets, along the maxima and back along the minima.
fn bucket_band_path(buckets: &[Bucket], x: Scale, y: Scale) -> String {
    let mut d = String::new();
    let mut i = 0;
    while i < buckets.len() {
        let mut j = i + 1;
        while j < buckets.len() && buckets[j].start_ms == buckets[j - 1].end_ms {
            j += 1;
        }
        let run = &buckets[i..j];
        w!(d, "M{} {}", x.px(run[0].start_ms as f64), y.px(run[0].max));
        for (k, b) in run.iter().enumerate() {
            if k > 0 {
                w!(d, "V{}", y.px(b.max));
            }
            w!(d, "H{}", x.px(b.end_ms as f64));
        }
        for b in run.iter().rev() {
            w!(d, "V{}H{}", y.px(b.min), x.px(b.start_ms as f64));
        }
        d.push('Z');
        i = j;
    }
    d
}

/// SVG path data for the forecast band (an area from lower to upper per run) and for its mean.
fn band_paths(runs: &[Vec<BandSample>], x: Scale, y: Scale) -> (String, String) {
    let (mut area, mut mean) = (String::new(), String::new());
    for run in runs {
        for (k, p) in run.iter().enumerate() {
            let cmd = if k == 0 { 'M' } else { 'L' };
            w!(area, "{cmd}{} {}", x.px(p.at_ms as f64), y.px(p.upper));
            w!(mean, "{cmd}{} {}", x.px(p.at_ms as f64), y.px(p.mean));
        }
        for p in run.iter().rev() {
            w!(area, "L{} {}", x.px(p.at_ms as f64), y.px(p.lower));
        }
        area.push('Z');
    }
    (area, mean)
}

/// Round ticks, 1, 2 or 5 × 10^k apart, covering `[lo, hi]` with about `target` of them: axis
/// labels that read at a glance. Computed as integer multiples scaled by a power of ten, so a
/// tick of 0.3 is the float closest to 0.3, not 0.30000000000000004.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if !(lo.is_finite() && hi.is_finite()) {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + lo.abs().max(1.0))
    };
    let raw = (hi - lo) / (target.max(2) - 1) as f64;
    let exp = raw.log10().floor() as i32;
    let f = raw / 10f64.powi(exp);
    let (mantissa, exp) = match f {
        f if f <= 1.0 => (1i64, exp),
        f if f <= 2.0 => (2, exp),
        f if f <= 5.0 => (5, exp),
        _ => (1, exp + 1),
    };
    let value = |i: i64| {
        let n = (i * mantissa) as f64;
        if exp < 0 {
            n / 10f64.powi(-exp)
        } else {
            n * 10f64.powi(exp)
        }
    };
    let step = value(1);
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    (first..=last).map(value).collect()
}

/// Labels for value ticks: as many decimals as the step needs, and k/M/G for large values so
/// labels stay short (25k, not 25000.0).
fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => 1.0,
    };
    let max = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let (div, suffix) = match max {
        m if m >= 1e9 => (1e9, "G"),
        m if m >= 1e6 => (1e6, "M"),
        m if m >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let s = step / div;
    let decimals = if s >= 1.0 || s <= 0.0 {
        0
    } else {
        ((-s.log10() - 1e-9).ceil() as usize).min(12)
    };
    ticks
        .iter()
        .map(|&t| {
            if t == 0.0 {
                return "0".to_string();
            }
            format!(
                "{}{suffix}",
                strip_negative_zero(format!("{:.decimals$}", t / div))
            )
        })
        .collect()
}

/// Tick spacings for time axes: round in the units people read times in.
const TIME_STEPS: [i64; 34] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    WEEK,
    2 * WEEK,
    4 * WEEK,
    13 * WEEK,
    26 * WEEK,
    52 * WEEK,
];

/// Ticks for a time axis over `[from, to]`: the smallest round step giving at most `max_ticks`,
/// aligned to whole steps in UTC (weeks on Mondays), so they fall on midnights and full hours.
fn time_ticks(from: i64, to: i64, max_ticks: usize) -> (i64, Vec<i64>) {
    let span = to - from;
    if span <= 0 {
        return (1, Vec::new());
    }
    let max = max_ticks.max(2) as i64;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|&s| span / s < max)
        .unwrap_or_else(|| {
            let years = 52 * WEEK;
            years * ((span / years) / (max - 1) + 1)
        });
    // 1970-01-05 was a Monday.
    let offset = if step % WEEK == 0 { 4 * DAY } else { 0 };
    let first = (from - offset).div_euclid(step) * step + offset;
    let first = if first < from { first + step } else { first };
    let ticks = (0..)
        .map(|i| first + i * step)
        .take_while(|&t| t <= to)
        .collect();
    (step, ticks)
}

/// A time tick's label on two lines: the date (with its weekday) for day steps; else the time,
/// with the date underneath whenever it changes, so a multi-day axis of hours stays placed.
fn time_label(t: i64, step: i64, previous: Option<i64>) -> (String, String) {
    let (date, clock) = split_utc(t);
    if step >= DAY {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        return (date, DAYS[weekday(t) as usize].to_string());
    }
    let clock = if step < SECOND {
        clock
    } else if step < MINUTE {
        clock[..8].to_string()
    } else {
        clock[..5].to_string()
    };
    let new_day = previous.is_none_or(|p| day_number(p) != day_number(t));
    (clock, if new_day { date } else { String::new() })
}

/// What one chart draws.
struct Chart<'a> {
    /// Unique in the page: the clip path's id.
    id: String,
    from_ms: i64,
    to_ms: i64,
    plot_height: f64,
    exact_limit: usize,
    buckets: usize,
    series: &'a SeriesReport,
    data: &'a SeriesData,
    /// Shade `[from_ms, warmup_until)` as warm-up.
    warmup_until: Option<i64>,
    /// Outline this window (the detail chart's) on the overview.
    window_mark: Option<(i64, i64)>,
}

enum Swatch {
    Line(Style),
    Fill(&'static str, f64),
    Band,
}

/// Legend entries laid out left to right, wrapping: `(x, y, swatch, label)`, and the height used.
fn legend_layout(
    entries: Vec<(Swatch, String)>,
    top: f64,
) -> (Vec<(f64, f64, Swatch, String)>, f64) {
    let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    let (mut x, mut y) = (left, top);
    let mut out = Vec::new();
    for (swatch, label) in entries {
        let w = 30.0 + text_width(&label, FONT) + 18.0;
        if x > left && x + w > right {
            x = left;
            y += 18.0;
        }
        out.push((x, y, swatch, label));
        x += w;
    }
    (out, y - top + 18.0)
}

/// Roughly how wide `text` is in a sans-serif font of `size`: enough to lay out labels.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

/// The chart as inline SVG, and a plain-text note on how it was drawn (for the caption).
fn render_chart(chart: &Chart) -> (String, String) {
    let (from, to) = (chart.from_ms, chart.to_ms.max(chart.from_ms + 1));
    let series = chart.series;
    let data = chart.data;
    let demand = StepView::new(&data.demand, from, to, chart.exact_limit, chart.buckets);
    let capacities: Vec<StepView> = data
        .capacities
        .iter()
        .map(|c| StepView::new(c, from, to, chart.exact_limit, chart.buckets))
        .collect();
    let (band, band_width) = band_runs(&series.band, from, to, chart.exact_limit, chart.buckets);

    // The y range: demand and capacity in full; the band only up to half as much again, so one
    // wild forecast cannot flatten everything else (the band is clipped at the top instead).
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for view in std::iter::once(&demand).chain(&capacities) {
        if let Some((a, b)) = view.range() {
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    let band_hi = band
        .iter()
        .flatten()
        .map(|p| p.upper)
        .fold(f64::NEG_INFINITY, f64::max);
    let band_lo = band
        .iter()
        .flatten()
        .map(|p| p.lower)
        .fold(f64::INFINITY, f64::min);
    if band_hi.is_finite() {
        hi = if hi > 0.0 {
            hi.max(band_hi.min(1.5 * hi))
        } else {
            band_hi
        };
    }
    if band_lo.is_finite() && band_lo < lo {
        lo = lo.min(band_lo.max(lo - 0.5 * (hi - lo)));
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let y_ticks = nice_ticks(lo, hi * 1.02, 6);
    let (y0, y1) = (y_ticks[0], y_ticks[y_ticks.len() - 1]);

    // Legend first: its height decides where the plot starts.
    let mut entries: Vec<(Swatch, String)> = vec![(
        Swatch::Line(Style {
            color: DEMAND_COLOR,
            dash: None,
            width: 1.4,
        }),
        format!("demand ({})", series.metric),
    )];
    if !band.is_empty() {
        entries.push((
            Swatch::Band,
            "forecast band, lower…upper (dashed: mean)".to_string(),
        ));
    }
    for (c, style) in series.contenders.iter().zip(&data.styles) {
        entries.push((Swatch::Line(*style), truncate(&c.name, 70)));
    }
    if !data.under.is_empty() {
        let who = series
            .contenders
            .first()
            .map_or("first policy", |c| c.name.as_str());
        entries.push((
            Swatch::Fill(UNDER_FILL, 0.25),
            format!("{} under-provisioned", truncate(who, 50)),
        ));
    }
    if chart.warmup_until.is_some() {
        entries.push((
            Swatch::Fill(WARMUP_FILL, 0.3),
            "warm-up (not scored)".to_string(),
        ));
    }
    let (legend, legend_height) = legend_layout(entries, 10.0);
    let plot_top = 10.0 + legend_height + 22.0;
    let plot_bottom = plot_top + chart.plot_height;
    let height = plot_bottom + 58.0;
    let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    let x = Scale {
        d0: from as f64,
        d1: to as f64,
        r0: left,
        r1: right,
    };
    let y = Scale {
        d0: y0,
        d1: y1,
        r0: plot_bottom,
        r1: plot_top,
    };

    let mut s = String::with_capacity(64 * 1024);
    w!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" font-size=\"{FONT}\" role=\"img\" data-t0=\"{from}\" data-t1=\"{to}\" data-v0=\"{y0}\" data-v1=\"{y1}\" data-px0=\"{left}\" data-px1=\"{right}\" data-py0=\"{plot_bottom}\" data-py1=\"{plot_top}\" data-metric=\"{}\">\n",
        Esc(&series.metric)
    );
    w!(
        s,
        "<title>{} · {}: demand, forecast and capacity, {} → {}</title>\n",
        Esc(&series.app),
        Esc(&series.resource),
        format_utc(from),
        format_utc(to)
    );
    w!(
        s,
        "<defs><clipPath id=\"clip-{}\"><rect x=\"{left}\" y=\"{plot_top}\" width=\"{}\" height=\"{}\"/></clipPath></defs>\n",
        chart.id,
        right - left,
        chart.plot_height
    );

    // Legend.
    for (lx, ly, swatch, label) in &legend {
        let mid = ly + 4.0;
        match swatch {
            Swatch::Line(style) => w!(
                s,
                "<line x1=\"{lx}\" y1=\"{mid}\" x2=\"{}\" y2=\"{mid}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
                lx + 24.0,
                style.color,
                style.width + 0.4,
                dash_attr(style.dash)
            ),
            Swatch::Fill(color, opacity) => w!(
                s,
                "<rect x=\"{lx}\" y=\"{}\" width=\"24\" height=\"10\" fill=\"{color}\" fill-opacity=\"{opacity}\"/>",
                mid - 5.0
            ),
            Swatch::Band => w!(
                s,
                "<rect x=\"{lx}\" y=\"{}\" width=\"24\" height=\"10\" fill=\"{BAND_FILL}\" fill-opacity=\"0.55\"/><line x1=\"{lx}\" y1=\"{mid}\" x2=\"{}\" y2=\"{mid}\" stroke=\"{BAND_MEAN}\" stroke-dasharray=\"4 3\"/>",
                mid - 5.0,
                lx + 24.0
            ),
        }
        w!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"#333\">{}</text>\n",
            lx + 30.0,
            mid + 4.0,
            Esc(label)
        );
    }
    // Units note, above the plot.
    w!(
        s,
        "<text x=\"{left}\" y=\"{}\" fill=\"#555\" font-size=\"11\">capacity = units × per_unit (1 unit = {} {})</text>\n",
        plot_top - 8.0,
        fmt_plain(series.per_unit),
        Esc(&series.metric)
    );

    // Shading behind the lines: warm-up, then the first contender's shortfalls.
    if let Some(until) = chart.warmup_until {
        let x1 = x.px(until.min(to) as f64);
        if x1 > left {
            w!(
                s,
                "<rect x=\"{left}\" y=\"{plot_top}\" width=\"{}\" height=\"{}\" fill=\"{WARMUP_FILL}\" fill-opacity=\"0.18\"/>",
                x1 - left,
                chart.plot_height
            );
            if x1 - left > 60.0 {
                w!(
                    s,
                    "<text x=\"{}\" y=\"{}\" fill=\"#777\" font-size=\"11\">warm-up</text>",
                    left + 4.0,
                    plot_top + 13.0
                );
            }
            s.push('\n');
        }
    }
    let shade = shade_path(&data.under, from, to, x, plot_top, plot_bottom);
    if !shade.is_empty() {
        w!(
            s,
            "<path d=\"{shade}\" fill=\"{UNDER_FILL}\" fill-opacity=\"0.16\"/>\n"
        );
    }

    // Grid and y axes.
    let labels = tick_labels(&y_ticks);
    for (t, label) in y_ticks.iter().zip(&labels) {
        let py = y.px(*t);
        w!(
            s,
            "<line x1=\"{left}\" y1=\"{py}\" x2=\"{right}\" y2=\"{py}\" stroke=\"#e6e6e6\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#444\">{label}</text>\n",
            left - 6.0,
            py + 4.0
        );
    }
    if series.per_unit.is_finite() && series.per_unit > 0.0 {
        let (u0, u1) = (y0 / series.per_unit, y1 / series.per_unit);
        let ticks = nice_ticks(u0.max(0.0), u1, 6);
        let ticks: Vec<f64> = ticks
            .into_iter()
            .filter(|&u| u >= u0 - 1e-9 && u <= u1 + 1e-9 && u.fract() == 0.0)
            .collect();
        for (u, label) in ticks.iter().zip(tick_labels(&ticks)) {
            let py = y.px(u * series.per_unit);
            w!(
                s,
                "<line x1=\"{right}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" fill=\"#666\">{label}</text>\n",
                right + 4.0,
                right + 7.0,
                py + 4.0
            );
        }
        let cy = (plot_top + plot_bottom) / 2.0;
        w!(
            s,
            "<text transform=\"translate({} {cy}) rotate(90)\" text-anchor=\"middle\" fill=\"#666\">units</text>\n",
            WIDTH - 14.0
        );
    }
    let cy = (plot_top + plot_bottom) / 2.0;
    w!(
        s,
        "<text transform=\"translate(16 {cy}) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n",
        Esc(&truncate(&series.metric, 40))
    );

    // x axis: ticks and labels.
    let (step, ticks) = time_ticks(from, to, ((right - left) / 80.0) as usize);
    let mut previous = None;
    for t in ticks {
        let px = x.px(t as f64);
        let (line1, line2) = time_label(t, step, previous);
        previous = Some(t);
        w!(
            s,
            "<line x1=\"{px}\" y1=\"{plot_top}\" x2=\"{px}\" y2=\"{}\" stroke=\"#f0f0f0\"/><line x1=\"{px}\" y1=\"{plot_bottom}\" x2=\"{px}\" y2=\"{}\" stroke=\"#888\"/><text x=\"{px}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\">{line1}</text>",
            plot_bottom,
            plot_bottom + 5.0,
            plot_bottom + 18.0
        );
        if !line2.is_empty() {
            w!(s, "<text x=\"{px}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\" font-size=\"11\">{line2}</text>", plot_bottom + 32.0);
        }
        s.push('\n');
    }
    w!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">time (UTC)</text>\n",
        (left + right) / 2.0,
        plot_bottom + 50.0
    );

    // The data, clipped to the plot: band, demand range, capacities (the first policy on top
    // of the others), demand.
    w!(
        s,
        "<g clip-path=\"url(#clip-{})\" fill=\"none\">\n",
        chart.id
    );
    let (area, mean) = band_paths(&band, x, y);
    if !area.is_empty() {
        w!(
            s,
            "<path d=\"{area}\" fill=\"{BAND_FILL}\" fill-opacity=\"0.45\"/>\n<path d=\"{mean}\" stroke=\"{BAND_MEAN}\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>\n"
        );
    }
    if let StepView::Buckets(b, _) = &demand {
        w!(
            s,
            "<path d=\"{}\" fill=\"{DEMAND_COLOR}\" fill-opacity=\"0.22\"/>\n",
            bucket_band_path(b, x, y)
        );
    }
    // Capacity: ranges first, then lines with the first policy over the other policies and the
    // reactive baseline, and the dotted oracle over them all (it often coincides with a policy).
    let drawn: Vec<(&StepView, &Style, &Contender)> = capacities
        .iter()
        .zip(&data.styles)
        .zip(&series.contenders)
        .map(|((v, s), c)| (v, s, c))
        .collect();
    for (view, style, _) in &drawn {
        if let StepView::Buckets(b, _) = view {
            w!(
                s,
                "<path d=\"{}\" fill=\"{}\" fill-opacity=\"0.2\"/>\n",
                bucket_band_path(b, x, y),
                style.color
            );
        }
    }
    let oracles = drawn.iter().filter(|d| d.2.kind == ContenderKind::Oracle);
    for (view, style, _) in drawn
        .iter()
        .rev()
        .filter(|d| d.2.kind != ContenderKind::Oracle)
        .chain(oracles)
    {
        w!(
            s,
            "<path d=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n",
            step_path(&view.line(), x, y),
            style.color,
            style.width,
            dash_attr(style.dash)
        );
    }
    w!(
        s,
        "<path d=\"{}\" stroke=\"{DEMAND_COLOR}\" stroke-width=\"1.2\"/>\n",
        step_path(&demand.line(), x, y)
    );
    s.push_str("</g>\n");

    if let Some((a, b)) = chart.window_mark {
        let (xa, xb) = (x.px(a.max(from) as f64), x.px(b.min(to) as f64));
        if xb > xa {
            w!(
                s,
                "<rect x=\"{xa}\" y=\"{plot_top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\" font-size=\"11\">detail</text>\n",
                xb - xa,
                chart.plot_height,
                (xa + xb) / 2.0,
                plot_top - 8.0
            );
        }
    }
    // Axes over everything, then the hover elements the script moves.
    w!(
        s,
        "<path d=\"M{left} {plot_top}V{plot_bottom}H{right}V{plot_top}\" fill=\"none\" stroke=\"#888\"/>\n<line class=\"cursor\" x1=\"0\" y1=\"{plot_top}\" x2=\"0\" y2=\"{plot_bottom}\" stroke=\"#555\" stroke-dasharray=\"2 2\" visibility=\"hidden\"/><text class=\"readout\" x=\"{right}\" y=\"{}\" text-anchor=\"end\" fill=\"#222\" font-size=\"11\"></text>\n</svg>\n",
        plot_top - 8.0
    );

    // How it was drawn.
    let mut steps: Vec<&str> = Vec::new();
    if demand.bucket_width().is_some() {
        steps.push("demand");
    }
    if capacities.iter().any(|c| c.bucket_width().is_some()) {
        steps.push("capacity");
    }
    let width = demand
        .bucket_width()
        .or(capacities.iter().find_map(StepView::bucket_width))
        .or(band_width);
    let mut parts: Vec<String> = Vec::new();
    if !steps.is_empty() {
        parts.push(format!(
            "{} as each bucket's maximum (line) and min–max range (shaded)",
            steps.join(" and ")
        ));
    }
    if band_width.is_some() {
        parts.push(
            "the forecast as each bucket's lowest lower, highest upper and mean of means"
                .to_string(),
        );
    }
    let note = match width {
        None => "Drawn exactly.".to_string(),
        Some(w) => format!(
            "Downsampled to buckets of {}: {}; the rest exactly.",
            format_duration(w),
            parts.join(", ")
        ),
    };
    (s, note)
}

fn dash_attr(dash: Option<&str>) -> String {
    dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\""))
}

/// One path of rectangles over the under-provisioned intervals within the chart. Intervals less
/// than a pixel apart merge and each is at least a pixel wide: a minute short in a week still
/// shows, and thousands of them make a few hundred rectangles, not thousands.
fn shade_path(
    intervals: &[(i64, i64)],
    from: i64,
    to: i64,
    x: Scale,
    top: f64,
    bottom: f64,
) -> String {
    let mut rects: Vec<(f64, f64)> = Vec::new();
    let first = intervals.partition_point(|&(_, b)| b <= from);
    for &(a, b) in intervals[first..].iter().take_while(|&&(a, _)| a < to) {
        let (x0, x1) = (x.map(a.max(from) as f64), x.map(b.min(to) as f64));
        let x1 = x1.max(x0 + 1.0);
        match rects.last_mut() {
            Some(last) if x0 - last.1 < 1.0 => last.1 = last.1.max(x1),
            _ => rects.push((x0, x1)),
        }
    }
    let mut d = String::new();
    for (x0, x1) in rects {
        w!(d, "M{:.1} {top}H{:.1}V{bottom}H{:.1}Z", x0, x1, x0);
    }
    d
}

// ---------------------------------------------------------------------------------------------
// Text

/// Text made safe for HTML content and attribute values: names come from user templates and
/// trace files, and a name like `<script>` must show as itself, not run.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

fn escape(text: impl AsRef<str>) -> String {
    Esc(text.as_ref()).to_string()
}

/// At most `max` characters, with "…" when cut: legends must not run off the chart.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// `YYYY-MM-DD` and `HH:MM:SS.mmm` of an instant, UTC.
fn split_utc(ms: i64) -> (String, String) {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
    let t = ms.rem_euclid(DAY);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            t / HOUR,
            t / MINUTE % 60,
            t / SECOND % 60,
            t % SECOND
        ),
    )
}

/// RFC 3339 in UTC, with milliseconds only when there are any: `2024-03-04T05:06:07Z`.
fn format_utc(ms: i64) -> String {
    let (date, clock) = split_utc(ms);
    if ms.rem_euclid(SECOND) == 0 {
        format!("{date}T{}Z", &clock[..8])
    } else {
        format!("{date}T{clock}Z")
    }
}

/// A span in the two largest units that matter: `14 d 3 h`, `2 h 5 min`, `850 ms`.
fn format_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs() as i64;
    let pair = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        let (a, b) = (ms / big, ms % big / small);
        if b == 0 {
            format!("{sign}{a} {big_unit}")
        } else {
            format!("{sign}{a} {big_unit} {b} {small_unit}")
        }
    };
    if ms >= DAY {
        pair(DAY, "d", HOUR, "h")
    } else if ms >= HOUR {
        pair(HOUR, "h", MINUTE, "min")
    } else if ms >= MINUTE {
        pair(MINUTE, "min", SECOND, "s")
    } else if ms >= SECOND {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        format!("{sign}{} s", s.strip_suffix(".0").unwrap_or(&s))
    } else {
        format!("{sign}{ms} ms")
    }
}

/// A measured value with the precision it deserves: whole numbers from 100 on (with thousands
/// separators), three significant digits below.
fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    let a = x.abs();
    let decimals = if !(1e-9..100.0).contains(&a) {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        ((-a.log10()).floor() as usize + 3).min(9)
    };
    group_digits(&strip_negative_zero(format!("{x:.decimals$}")))
}

/// As [`fmt_num`] without trailing zeros, for a lone value in a sentence: `50`, not `50.0`.
fn fmt_plain(x: f64) -> String {
    let text = fmt_num(x);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A count: whole, with thousands separators.
fn fmt_count(x: f64) -> String {
    if x.is_finite() {
        group_digits(&format!("{x:.0}"))
    } else {
        "–".to_string()
    }
}

/// A percentage: one decimal from 10 %, two below, `<0.01` rather than a misleading `0.00`.
fn fmt_pct(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let text = if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if x > 0.0 && text == "0.00" {
        "<0.01".to_string()
    } else {
        strip_negative_zero(text)
    }
}

/// `-0.0` reads as a loss that is not there.
fn strip_negative_zero(text: String) -> String {
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// `1234567.5` → `1,234,567.5`: large counts are read, not parsed.
fn group_digits(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return number.to_string();
    }
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{DirectiveRecord, TargetRecord};

    /// 2024-01-01T00:00:00Z, a Monday.
    const T0: i64 = 1_704_067_200_000;

    fn score(unit_hours: f64, under_pct: f64, actions: u64) -> Score {
        Score {
            unit_hours,
            slack_pct: 20.0,
            under_provisioned_pct: under_pct,
            under_depth_mean_pct: under_pct / 2.0,
            under_depth_max_pct: under_pct,
            actions,
            covered_hours: 24.0,
            gap_hours: 0.0,
        }
    }

    fn contender(name: &str, kind: ContenderKind, steps: &[(i64, i64)]) -> Contender {
        Contender {
            name: name.to_string(),
            kind,
            score: score(100.0, 1.0, 3),
            capacity: steps
                .iter()
                .map(|&(at, units)| CapacityStep {
                    at_ms: T0 + at,
                    units,
                })
                .collect(),
        }
    }

    /// `count` demand windows of `step_ms` from T0, valued by `value`, and a band 10 % either
    /// side of it.
    fn series(
        app: &str,
        count: usize,
        step_ms: i64,
        value: impl Fn(usize) -> f64,
        contenders: Vec<Contender>,
    ) -> SeriesReport {
        let demand: Vec<DemandStep> = (0..count)
            .map(|i| DemandStep {
                start_ms: T0 + i as i64 * step_ms,
                end_ms: T0 + (i as i64 + 1) * step_ms,
                value: value(i),
            })
            .collect();
        let band = demand
            .iter()
            .step_by(5)
            .map(|d| BandPoint {
                issued_ms: d.start_ms - 5 * MINUTE,
                at_ms: d.start_ms,
                mean: d.value,
                lower: d.value * 0.9,
                upper: d.value * 1.1,
            })
            .collect();
        SeriesReport {
            app: app.to_string(),
            resource: "replicas".to_string(),
            metric: "rps".to_string(),
            per_unit: 50.0,
            demand,
            band,
            contenders,
        }
    }

    fn three_contenders(units: i64) -> Vec<Contender> {
        vec![
            contender("templates/a.yaml", ContenderKind::Policy, &[(0, units)]),
            contender("reactive (HPA)", ContenderKind::Reactive, &[(0, units + 1)]),
            contender("oracle", ContenderKind::Oracle, &[(0, units)]),
        ]
    }

    fn report(series: Vec<SeriesReport>, span_ms: i64) -> Report {
        Report {
            source: "samples.csv".to_string(),
            samples: 1_234_567,
            apps: series.iter().map(|s| s.app.clone()).collect(),
            from_ms: T0,
            to_ms: T0 + span_ms,
            scored_from_ms: T0,
            elapsed_ms: 2_500,
            samples_per_second: 493_826.8,
            busy_seconds: Default::default(),
            series,
            directives: Vec::new(),
        }
    }

    /// Hourly demand of 100 for `days`: many short series of this make a large report cheaply.
    fn flat_series(app: &str, days: usize) -> SeriesReport {
        series(app, days * 24, HOUR, |_| 100.0, three_contenders(3))
    }

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
        // Every series still has its scorecard.
        for i in 0..300 {
            assert!(
                html.contains(&format!("app-{i:03} · replicas")),
                "app-{i:03}"
            );
        }
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
    fn downsampling_keeps_the_peak_within_the_bucket_limit() {
        // 100k one-second windows, a smooth wave and one sharp one-second peak.
        let steps: Vec<DemandStep> = (0..100_000)
            .map(|i| DemandStep {
                start_ms: T0 + i * SECOND,
                end_ms: T0 + (i + 1) * SECOND,
                value: if i == 71_234 {
                    9_999.0
                } else {
                    500.0 + 300.0 * (i as f64 / 3_000.0).sin()
                },
            })
            .collect();
        let segments = demand_segments(&steps);
        let (from, to) = (T0, T0 + 100_000 * SECOND);
        let buckets = downsample(&segments, from, to, MAX_BUCKETS);
        assert!(
            buckets.len() <= MAX_BUCKETS && buckets.len() > MAX_BUCKETS - 10,
            "{}",
            buckets.len()
        );
        let peak = buckets.iter().map(|b| b.max).fold(f64::MIN, f64::max);
        assert_eq!(peak, 9_999.0);
        let at = T0 + 71_234 * SECOND;
        let holder = buckets
            .iter()
            .find(|b| b.start_ms <= at && at < b.end_ms)
            .unwrap();
        assert_eq!(holder.max, 9_999.0);
        // The trough is kept too, and the buckets tile the range.
        let trough = buckets.iter().map(|b| b.min).fold(f64::MAX, f64::min);
        let true_trough = steps.iter().map(|s| s.value).fold(f64::MAX, f64::min);
        assert_eq!(trough, true_trough);
        assert_eq!(
            (buckets[0].start_ms, buckets[buckets.len() - 1].end_ms),
            (from, to)
        );
        assert!(buckets.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
        // And the overview draws it as buckets, the detail week exactly (or finer buckets).
        let view = StepView::new(&segments, from, to, OVERVIEW_EXACT, MAX_BUCKETS);
        assert!(matches!(view, StepView::Buckets(ref b, _) if b.len() <= MAX_BUCKETS));
    }

    #[test]
    fn downsampling_leaves_gaps_empty() {
        let segments = [
            Segment {
                start_ms: 0,
                end_ms: 100,
                value: 1.0,
            },
            Segment {
                start_ms: 900,
                end_ms: 1000,
                value: 2.0,
            },
        ];
        let buckets = downsample(&segments, 0, 1000, 10);
        assert_eq!(buckets.len(), 2);
        assert_eq!((buckets[0].start_ms, buckets[0].max), (0, 1.0));
        assert_eq!(
            (buckets[1].start_ms, buckets[1].end_ms, buckets[1].min),
            (900, 1000, 2.0)
        );
    }

    /// 28 days of hourly demand at 100; the first policy holds 3 units of 50 (150) but drops to
    /// one (50) on day 17 from 10:00 to 14:00, and for ten minutes on day 3.
    fn shortfall_series() -> SeriesReport {
        let policy = contender(
            "templates/a.yaml",
            ContenderKind::Policy,
            &[
                (0, 3),
                (3 * DAY, 1),
                (3 * DAY + 10 * MINUTE, 3),
                (17 * DAY + 10 * HOUR, 1),
                (17 * DAY + 14 * HOUR, 3),
            ],
        );
        let others = three_contenders(3).split_off(1);
        series(
            "checkout",
            28 * 24,
            HOUR,
            |_| 100.0,
            [vec![policy], others].concat(),
        )
    }

    #[test]
    fn the_detail_window_is_the_week_with_the_longest_shortfall() {
        let r = report(vec![shortfall_series()], 28 * DAY);
        let data = series_data(&r, &r.series[0]);
        assert_eq!(
            data.under,
            vec![
                (T0 + 3 * DAY, T0 + 3 * DAY + 10 * MINUTE),
                (T0 + 17 * DAY + 10 * HOUR, T0 + 17 * DAY + 14 * HOUR)
            ]
        );
        let w = &data.detail;
        assert_eq!(w.to_ms - w.from_ms, 7 * DAY);
        assert!(
            w.from_ms <= T0 + 17 * DAY + 10 * HOUR && T0 + 17 * DAY + 14 * HOUR <= w.to_ms,
            "{w:?}"
        );
        // Centred on the shortfall.
        assert_eq!(w.from_ms, T0 + 17 * DAY + 12 * HOUR - 7 * DAY / 2);
        assert!(
            w.reason
                .contains("templates/a.yaml was under-provisioned longest: 4 h in all"),
            "{}",
            w.reason
        );
        let html = render_html(&r);
        assert!(
            html.contains("Detail: 2024-01-15T00:00:00Z → 2024-01-22T00:00:00Z"),
            "detail heading"
        );
        assert!(html.contains("under-provisioned longest"));
    }

    #[test]
    fn without_a_shortfall_the_detail_shows_the_peak_week() {
        let s = series(
            "checkout",
            28 * 24,
            HOUR,
            |i| if i == 20 * 24 { 140.0 } else { 100.0 },
            three_contenders(3),
        );
        let r = report(vec![s], 28 * DAY);
        let data = series_data(&r, &r.series[0]);
        assert!(data.under.is_empty());
        let peak = T0 + 20 * DAY;
        assert!(data.detail.from_ms <= peak && peak < data.detail.to_ms);
        assert!(
            data.detail.reason.contains("never under-provisioned"),
            "{}",
            data.detail.reason
        );
        // Shorter than a week: the whole scored range.
        let r = report(vec![flat_series("short", 2)], 2 * DAY);
        let data = series_data(&r, &r.series[0]);
        assert_eq!((data.detail.from_ms, data.detail.to_ms), (T0, T0 + 2 * DAY));
    }

    #[test]
    fn the_busiest_window_holds_the_most_shortfall() {
        // Many short shortfalls early, one long one late: the late one wins.
        let mut intervals: Vec<(i64, i64)> = (0..10).map(|i| (i * DAY, i * DAY + HOUR)).collect();
        intervals.push((20 * DAY, 20 * DAY + 12 * HOUR));
        let (a, b, held) = busiest_window(&intervals, 0, 30 * DAY, WEEK);
        assert_eq!(held, 12 * HOUR);
        assert!(a <= 20 * DAY && 20 * DAY + 12 * HOUR <= b);
        // Two hours on each of ten days beat one long one of twelve.
        let mut intervals: Vec<(i64, i64)> =
            (0..7).map(|i| (i * DAY, i * DAY + 2 * HOUR)).collect();
        intervals.push((20 * DAY, 20 * DAY + 12 * HOUR));
        let (a, b, held) = busiest_window(&intervals, 0, 30 * DAY, WEEK);
        assert_eq!(held, 14 * HOUR);
        assert_eq!((a, b), (0, WEEK));
    }

    #[test]
    fn value_ticks_are_round_numbers() {
        assert_eq!(
            nice_ticks(0.0, 97.3, 6),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(0.0, 1.0, 6), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let ticks = nice_ticks(0.013, 0.087, 5);
        assert_eq!(
            tick_labels(&ticks),
            ["0", "0.02", "0.04", "0.06", "0.08", "0.10"]
        );
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 0.3, 4)),
            ["0", "0.1", "0.2", "0.3"]
        );
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 12_345.0, 6)),
            ["0", "5k", "10k", "15k"]
        );
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 4_200_000.0, 6)),
            ["0", "1M", "2M", "3M", "4M", "5M"]
        );
        for ticks in [
            nice_ticks(3.7, 1234.5, 6),
            nice_ticks(-17.0, 230.0, 6),
            nice_ticks(0.0, 0.00042, 5),
        ] {
            let step = ticks[1] - ticks[0];
            let exp = 10f64.powf(step.log10().floor());
            let mantissa = (step / exp).round();
            assert!([1.0, 2.0, 5.0].contains(&mantissa), "{ticks:?}");
            assert!(
                ticks
                    .iter()
                    .all(|t| ((t / step) - (t / step).round()).abs() < 1e-6),
                "{ticks:?}"
            );
        }
        // Degenerate ranges still give an axis.
        assert!(nice_ticks(5.0, 5.0, 6).len() >= 2);
        assert!(nice_ticks(0.0, 0.0, 6).len() >= 2);
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        // A week from 05:17: daily, at midnights, labelled with dates and weekdays.
        let from = T0 + 5 * HOUR + 17 * MINUTE;
        let (step, ticks) = time_ticks(from, from + WEEK, 11);
        assert_eq!(step, DAY);
        assert_eq!(ticks[0], T0 + DAY);
        assert!(ticks.iter().all(|t| t.rem_euclid(DAY) == 0));
        assert_eq!(
            time_label(ticks[0], step, None),
            ("2024-01-02".to_string(), "Tue".to_string())
        );
        // Six hours: hourly, with the date under the first tick and at midnight only.
        let (step, ticks) = time_ticks(T0 - 3 * HOUR - MINUTE, T0 + 3 * HOUR, 10);
        assert_eq!(step, HOUR);
        assert_eq!(ticks.len(), 7);
        assert_eq!(
            time_label(ticks[0], step, None),
            ("21:00".to_string(), "2023-12-31".to_string())
        );
        assert_eq!(
            time_label(ticks[1], step, Some(ticks[0])),
            ("22:00".to_string(), String::new())
        );
        assert_eq!(
            time_label(ticks[3], step, Some(ticks[2])),
            ("00:00".to_string(), "2024-01-01".to_string())
        );
        // Two months: weekly, on Mondays.
        let (step, ticks) = time_ticks(T0 + 3 * HOUR, T0 + 60 * DAY, 10);
        assert_eq!(step, WEEK);
        assert!(ticks
            .iter()
            .all(|&t| weekday(t) == 0 && t.rem_euclid(DAY) == 0));
        // Compressed time: seconds.
        let (step, _) = time_ticks(T0, T0 + 40 * SECOND, 10);
        assert_eq!(step, 5 * SECOND);
        assert_eq!(time_label(T0 + 5 * SECOND, step, Some(T0)).0, "00:00:05");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(T0 + 13 * HOUR + 5 * MINUTE + 9 * SECOND),
            "2024-01-01T13:05:09Z"
        );
        assert_eq!(format_utc(T0 + 59 * DAY + 123), "2024-02-29T00:00:00.123Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_duration(14 * DAY + 3 * HOUR + 5 * MINUTE),
            "14 d 3 h"
        );
        assert_eq!(format_duration(2 * HOUR + 5 * MINUTE), "2 h 5 min");
        assert_eq!(format_duration(7 * DAY), "7 d");
        assert_eq!(format_duration(2_500), "2.5 s");
        assert_eq!(format_duration(850), "850 ms");
    }

    #[test]
    fn numbers_have_sensible_precision() {
        assert_eq!(fmt_num(1_234_567.8), "1,234,568");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1.2345), "1.23");
        assert_eq!(fmt_num(0.012_345), "0.0123");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(-0.000_000_000_1), "0");
        assert_eq!(fmt_num(f64::NAN), "–");
        assert_eq!(fmt_pct(12.345), "12.3");
        assert_eq!(fmt_pct(1.234), "1.23");
        assert_eq!(fmt_pct(0.001), "<0.01");
        assert_eq!(fmt_pct(0.0), "0");
        assert_eq!(group_digits("-1234.5"), "-1,234.5");
    }

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

    #[test]
    fn step_paths_break_at_gaps_and_merge_equal_runs() {
        let x = Scale {
            d0: 0.0,
            d1: 100.0,
            r0: 0.0,
            r1: 100.0,
        };
        let y = Scale {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 0.0,
        };
        let d = step_path(
            &[(0, 10, 1.0), (10, 20, 1.0), (20, 30, 2.0), (50, 60, 2.0)],
            x,
            y,
        );
        assert_eq!(d, "M0 90H20V80H30M50 80H60");
    }

    #[test]
    fn overlapping_windows_are_drawn_as_scored() {
        // Hopping 2h windows sliding by 1h: each instant belongs to the first window over it.
        let d = [
            DemandStep {
                start_ms: 0,
                end_ms: 2 * HOUR,
                value: 100.0,
            },
            DemandStep {
                start_ms: HOUR,
                end_ms: 3 * HOUR,
                value: 300.0,
            },
        ];
        let segments = demand_segments(&d);
        assert_eq!(
            segments,
            vec![
                Segment {
                    start_ms: 0,
                    end_ms: 2 * HOUR,
                    value: 100.0
                },
                Segment {
                    start_ms: 2 * HOUR,
                    end_ms: 3 * HOUR,
                    value: 300.0
                }
            ]
        );
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

    /// A realistic report to look at: `cargo test -p presage-backtest --lib html -- --ignored`
    /// writes it to /tmp/backtest-sample.html.
    #[test]
    #[ignore]
    fn write_sample_report() {
        let html = render_html(&sample_report());
        std::fs::write("/tmp/backtest-sample.html", &html).unwrap();
        eprintln!("wrote /tmp/backtest-sample.html, {} bytes", html.len());
    }

    /// Three weeks of one-minute windows with a daily and weekly rhythm and a surge on day 15
    /// that the forecast sees late; a policy that follows the forecast's upper bound, a lagging
    /// reactive baseline and the oracle; plus 14 small series beyond the charted ones.
    fn sample_report() -> Report {
        let days = 21;
        let count = days * 24 * 60;
        let mut seed = 7u64;
        let mut noise = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let mut all = Vec::new();
        for (k, app) in ["checkout <api>", "search", "grid"].iter().enumerate() {
            let scale = 1.0 + k as f64 * 0.7;
            let demand: Vec<f64> = (0..count)
                .map(|i| {
                    let t = i as f64 / (24.0 * 60.0);
                    let daily = (std::f64::consts::TAU * (t - 0.3)).sin().max(-0.6);
                    let weekend = if (i / (24 * 60)) % 7 >= 5 { 0.6 } else { 1.0 };
                    let surge = if (15.0 * 1440.0..15.0 * 1440.0 + 180.0).contains(&(i as f64)) {
                        900.0
                    } else {
                        0.0
                    };
                    (scale * (400.0 + 350.0 * daily * weekend) + surge + 40.0 * noise()).max(0.0)
                })
                .collect();
            let per_unit = 50.0;
            let lagged = |i: usize, lag: usize| demand[i.saturating_sub(lag)];
            let steps: Vec<(i64, f64)> =
                (0..count).map(|i| (i as i64 * MINUTE, demand[i])).collect();
            let band: Vec<BandPoint> = (0..count)
                .step_by(5)
                .map(|i| {
                    let mean = 0.7 * lagged(i, 30) + 0.3 * lagged(i, 24 * 60);
                    BandPoint {
                        issued_ms: T0 + i as i64 * MINUTE - 5 * MINUTE,
                        at_ms: T0 + i as i64 * MINUTE,
                        mean,
                        lower: mean * 0.85,
                        upper: mean * 1.15 + 20.0,
                    }
                })
                .collect();
            let capacity_from = |units: &dyn Fn(usize) -> i64, every: usize| {
                let mut out: Vec<(i64, i64)> = Vec::new();
                for i in (0..count).step_by(every) {
                    let u = units(i);
                    if out.last().is_none_or(|&(_, last)| last != u) {
                        out.push((i as i64 * MINUTE, u));
                    }
                }
                out
            };
            let policy = capacity_from(&|i| (band[i / 5].upper / per_unit).ceil() as i64, 5);
            let reactive = capacity_from(
                &|i| {
                    ((0..5).map(|l| lagged(i, 2 + l)).fold(0.0, f64::max) / per_unit).ceil() as i64
                },
                1,
            );
            let oracle = capacity_from(&|i| (demand[i] / per_unit).ceil() as i64, 1);
            let mut contenders = vec![
                contender(
                    "templates/checkout-api.yaml",
                    ContenderKind::Policy,
                    &policy,
                ),
                contender(
                    "templates/checkout-api.yaml shadow",
                    ContenderKind::Policy,
                    &policy.iter().map(|&(t, u)| (t, u + 1)).collect::<Vec<_>>(),
                ),
                contender("reactive (HPA)", ContenderKind::Reactive, &reactive),
                contender("oracle", ContenderKind::Oracle, &oracle),
            ];
            let demand_steps: Vec<DemandStep> = steps
                .iter()
                .map(|&(t, v)| DemandStep {
                    start_ms: T0 + t,
                    end_ms: T0 + t + MINUTE,
                    value: v,
                })
                .collect();
            let segments = demand_segments(&demand_steps);
            for c in &mut contenders {
                let under = under_provisioned(
                    &segments,
                    &c.capacity,
                    per_unit,
                    T0 + DAY,
                    T0 + days as i64 * DAY,
                );
                let under_ms: i64 = under.iter().map(|(a, b)| b - a).sum();
                let caps = capacity_segments(&c.capacity, 1.0, T0 + days as i64 * DAY);
                let unit_ms: f64 = clip(&caps, T0 + DAY, T0 + days as i64 * DAY)
                    .iter()
                    .map(|s| s.value * (s.end_ms - s.start_ms) as f64)
                    .sum();
                c.score = Score {
                    unit_hours: unit_ms / HOUR as f64,
                    slack_pct: 18.0 + 10.0 * noise(),
                    under_provisioned_pct: 100.0 * under_ms as f64
                        / ((days as i64 - 1) * DAY) as f64,
                    under_depth_mean_pct: 12.0 + 5.0 * noise(),
                    under_depth_max_pct: 60.0 + 20.0 * noise(),
                    actions: c.capacity.len() as u64,
                    covered_hours: ((days - 1) * 24) as f64,
                    gap_hours: 0.0,
                };
            }
            all.push(SeriesReport {
                app: app.to_string(),
                resource: "replicas".to_string(),
                metric: "http_requests_per_s".to_string(),
                per_unit,
                demand: demand_steps,
                band,
                contenders,
            });
        }
        for i in 0..14 {
            all.push(flat_series(&format!("batch-{i:02}"), 21));
        }
        let mut r = report(all, days as i64 * DAY);
        r.scored_from_ms = T0 + DAY;
        r.source = "kafka:presage.samples [2024-01-01T00:00:00Z, 2024-01-22T00:00:00Z)".to_string();
        r.directives = (0..57)
            .map(|i| DirectiveRecord {
                template: "templates/checkout-api.yaml".to_string(),
                event_id: format!("d-{i}"),
                app: "checkout <api>".to_string(),
                mode: if i % 4 == 0 { "shadow" } else { "live" }.to_string(),
                issued_at_ms: T0 + DAY + i * 5 * MINUTE,
                fallback: i == 9,
                targets: vec![
                    TargetRecord {
                        resource: "replicas".to_string(),
                        target: 4 + i % 5,
                    },
                    TargetRecord {
                        resource: "memory".to_string(),
                        target: 2,
                    },
                ],
            })
            .collect();
        r
    }
}
