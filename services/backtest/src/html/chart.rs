//! One chart as inline SVG: legend, axes, shading, the forecast band, capacity and demand.

use std::fmt::Write as _;

use crate::report::{Contender, ContenderKind, SeriesReport};

use super::axis::{nice_ticks, tick_labels, time_label, time_ticks, Scale};
use super::downsample::{band_runs, StepView};
use super::paths::{band_paths, bucket_band_path, shade_path, step_path};
use super::section::SeriesData;
use super::style::Style;
use super::text::{fmt_plain, format_duration, format_utc, truncate, Esc};

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

/// What one chart draws.
pub(super) struct Chart<'a> {
    /// Unique in the page: the clip path's id.
    pub(super) id: String,
    pub(super) from_ms: i64,
    pub(super) to_ms: i64,
    pub(super) plot_height: f64,
    pub(super) exact_limit: usize,
    pub(super) buckets: usize,
    pub(super) series: &'a SeriesReport,
    pub(super) data: &'a SeriesData,
    /// Shade `[from_ms, warmup_until)` as warm-up.
    pub(super) warmup_until: Option<i64>,
    /// Outline this window (the detail chart's) on the overview.
    pub(super) window_mark: Option<(i64, i64)>,
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
pub(super) fn render_chart(chart: &Chart) -> (String, String) {
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
