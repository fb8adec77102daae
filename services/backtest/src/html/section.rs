//! One charted series' section: its scorecard, the overview of the whole range and the detail
//! chart, drawn from data worked out once for both.

use std::fmt::Write as _;

use crate::report::{Report, SeriesReport};

use super::chart::{render_chart, Chart};
use super::detail::{detail_window, DetailWindow};
use super::frontier::frontier_section;
use super::scorecard::{scorecard, HIGHLIGHT_NOTE};
use super::steps::{capacity_segments, demand_segments, under_provisioned, Segment};
use super::style::{contender_styles, Style};
use super::text::{fmt_num, fmt_plain, format_utc, Esc};
use super::{DETAIL_BUCKETS, DETAIL_EXACT, DETAIL_MS, MAX_BUCKETS, OVERVIEW_EXACT};

/// What one series' charts are drawn from, worked out once for both charts.
pub(super) struct SeriesData {
    pub(super) demand: Vec<Segment>,
    /// Each contender's capacity in metric units (units × per_unit), in the contenders' order.
    pub(super) capacities: Vec<Vec<Segment>>,
    pub(super) styles: Vec<Style>,
    /// Where the first contender fell short of the demand in the scored range.
    pub(super) under: Vec<(i64, i64)>,
    pub(super) detail: DetailWindow,
}

pub(super) fn series_data(report: &Report, series: &SeriesReport) -> SeriesData {
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
        .map(|c| capacity_segments(&c.capacity, c.per_unit, end_ms))
        .collect();
    let (from, to) = scored_range(report, series);
    let under = match series.contenders.first() {
        Some(first) => under_provisioned(&demand, &first.capacity, first.per_unit, from, to),
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

/// The range this series' scores cover (from the end of the warm-up to its last window, as the
/// scorer counts), or the whole range if that is empty.
fn scored_range(report: &Report, series: &SeriesReport) -> (i64, i64) {
    let from = report.scored_from_ms.max(report.from_ms);
    let to = series.demand.iter().map(|d| d.end_ms).max();
    match to {
        Some(to) if from < to => (from, to),
        _ => (
            report.from_ms,
            report.to_ms.max(report.from_ms.saturating_add(1)),
        ),
    }
}

pub(super) fn series_section(
    out: &mut String,
    report: &Report,
    index: usize,
    series: &SeriesReport,
) {
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
    if let Some(frontier) = &series.frontier {
        frontier_section(out, index, frontier);
    }

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
