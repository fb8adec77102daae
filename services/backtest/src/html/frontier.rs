//! The frontier at an SLO: each contender's cost (unit-hours) against its under-provisioned
//! time over the settings tried, the SLO as a vertical line, the chosen settings ringed, and a
//! table of the cost at the SLO beside the oracle's.

use std::fmt::Write as _;

use crate::report::{Frontier, FrontierCurve, FrontierKind};

use super::axis::{nice_ticks, tick_labels, Scale};
use super::text::{fmt_num, fmt_pct, Esc};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 56.0;
const FONT: f64 = 12.0;

const FORECAST_COLOR: &str = "#1f5fbf";
const REACTIVE_COLOR: &str = "#e8710a";
const COMBINED_COLOR: &str = "#8e3fb0";
const ORACLE_COLOR: &str = "#2e7d32";
const SLO_COLOR: &str = "#e53935";

/// Under-provisioned ticks on the square-root axis, in %.
const UNDER_TICKS: [f64; 12] = [
    0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0,
];

fn color(kind: FrontierKind) -> &'static str {
    match kind {
        FrontierKind::Forecast => FORECAST_COLOR,
        FrontierKind::Reactive => REACTIVE_COLOR,
        FrontierKind::Combined => COMBINED_COLOR,
        FrontierKind::Oracle => ORACLE_COLOR,
    }
}

/// The frontier's section of one series: the chart, then the cost at the SLO.
pub(super) fn frontier_section(out: &mut String, index: usize, frontier: &Frontier) {
    w!(
        out,
        "<h3>Cost at the SLO (under-provisioned ≤ {}%)</h3>\n<figure>\n",
        fmt_pct(frontier.slo_pct)
    );
    frontier_svg(out, index, frontier);
    out.push_str("<figcaption>Each contender's cost against its under-provisioned time, one point per setting tried (the forecast policy by the quantile it provisions for, the reactive baseline by its headroom, the two combined by both); the square-root axis spreads the small shortfalls. Red dashed line: the SLO. Ringed: the setting chosen, the cheapest that meets it.</figcaption>\n</figure>\n");
    frontier_rows(out, frontier);
}

fn frontier_svg(out: &mut String, index: usize, frontier: &Frontier) {
    let points = frontier.curves.iter().flat_map(|c| &c.points);
    let max_under = points
        .clone()
        .map(|p| p.under_provisioned_pct)
        .fold(frontier.slo_pct * 3.0, f64::max)
        .min(100.0);
    let max_cost = points.clone().map(|p| p.unit_hours).fold(0.0, f64::max);
    let min_cost = points.map(|p| p.unit_hours).fold(f64::INFINITY, f64::min);
    let y_ticks = nice_ticks(min_cost.min(max_cost) * 0.95, max_cost * 1.02, 6);
    let (y0, y1) = (
        *y_ticks.first().unwrap_or(&0.0),
        *y_ticks.last().unwrap_or(&1.0),
    );
    let x = Scale {
        d0: 0.0,
        d1: max_under.max(1e-9).sqrt(),
        r0: LEFT,
        r1: WIDTH - RIGHT,
    };
    let y = Scale {
        d0: y0,
        d1: y1,
        r0: HEIGHT - BOTTOM,
        r1: TOP,
    };
    let px = |under: f64| x.px(under.max(0.0).sqrt());
    w!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"frontier\" id=\"frontier-{index}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" font-size=\"{FONT}\" role=\"img\" aria-label=\"cost against under-provisioned time\">\n"
    );
    // Axes and grid.
    for (tick, label) in y_ticks.iter().zip(tick_labels(&y_ticks)) {
        let ty = y.px(*tick);
        w!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ty}\" y2=\"{ty}\" stroke=\"#e0e0e0\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n",
            WIDTH - RIGHT,
            LEFT - 6.0,
            ty + 4.0
        );
    }
    // Ticks crowd near zero on a square-root axis: a label only where it has room.
    let mut last_label = f64::NEG_INFINITY;
    for tick in UNDER_TICKS.iter().filter(|t| **t <= max_under) {
        let tx = px(*tick);
        if tx - last_label < 44.0 {
            continue;
        }
        last_label = tx;
        w!(
            out,
            "<line x1=\"{tx}\" x2=\"{tx}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#eeeeee\"/><text x=\"{tx}\" y=\"{}\" text-anchor=\"middle\">{}%</text>\n",
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 16.0,
            fmt_pct(*tick)
        );
    }
    w!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">under-provisioned time (square-root scale)</text>\n<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">unit-hours</text>\n",
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 12.0,
        (TOP + HEIGHT - BOTTOM) / 2.0,
        (TOP + HEIGHT - BOTTOM) / 2.0
    );
    // The SLO.
    let sx = px(frontier.slo_pct);
    w!(
        out,
        "<line class=\"slo\" x1=\"{sx}\" x2=\"{sx}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"{SLO_COLOR}\" stroke-dasharray=\"5 4\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" fill=\"{SLO_COLOR}\">SLO {}%</text>\n",
        HEIGHT - BOTTOM,
        sx + 4.0,
        TOP + 12.0,
        fmt_pct(frontier.slo_pct)
    );
    // Curves: the searched ones joined in the order of their setting; the grid as points.
    for curve in &frontier.curves {
        let c = color(curve.kind);
        if matches!(curve.kind, FrontierKind::Forecast | FrontierKind::Reactive)
            && curve.points.len() > 1
        {
            let path: Vec<String> = curve
                .points
                .iter()
                .map(|p| format!("{},{}", px(p.under_provisioned_pct), y.px(p.unit_hours)))
                .collect();
            w!(
                out,
                "<polyline class=\"curve\" data-kind=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.6\"/>\n",
                kind_name(curve.kind),
                path.join(" ")
            );
        }
        for (i, p) in curve.points.iter().enumerate() {
            let (cx, cy) = (px(p.under_provisioned_pct), y.px(p.unit_hours));
            let r = if curve.kind == FrontierKind::Oracle {
                4.5
            } else {
                2.8
            };
            w!(
                out,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"{c}\"><title>{}: {} · {} unit-hours · under {}%</title></circle>\n",
                Esc(&curve.name),
                Esc(&p.setting),
                fmt_num(p.unit_hours),
                fmt_pct(p.under_provisioned_pct)
            );
            if curve.chosen == Some(i) {
                w!(
                    out,
                    "<circle class=\"chosen\" cx=\"{cx}\" cy=\"{cy}\" r=\"7\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>\n"
                );
            }
        }
    }
    // Legend: the kinds (the contenders' full names are in the table below).
    let mut lx = LEFT;
    for curve in &frontier.curves {
        let label = kind_name(curve.kind);
        w!(
            out,
            "<circle cx=\"{}\" cy=\"20\" r=\"4\" fill=\"{}\"/><text x=\"{}\" y=\"24\">{label}</text>\n",
            lx + 4.0,
            color(curve.kind),
            lx + 12.0
        );
        lx += 28.0 + label.len() as f64 * 7.0;
    }
    w!(
        out,
        "<circle cx=\"{}\" cy=\"20\" r=\"7\" fill=\"none\" stroke=\"#555\" stroke-width=\"2\"/><text x=\"{}\" y=\"24\">chosen</text>\n",
        lx + 6.0,
        lx + 18.0
    );
    out.push_str("</svg>\n");
}

fn kind_name(kind: FrontierKind) -> &'static str {
    match kind {
        FrontierKind::Forecast => "forecast",
        FrontierKind::Reactive => "reactive",
        FrontierKind::Combined => "combined",
        FrontierKind::Oracle => "oracle",
    }
}

fn frontier_rows(out: &mut String, frontier: &Frontier) {
    let cost = |kind: FrontierKind| {
        frontier
            .curves
            .iter()
            .find(|c| c.kind == kind && c.meets)
            .and_then(chosen_cost)
    };
    let (reactive, oracle) = (cost(FrontierKind::Reactive), cost(FrontierKind::Oracle));
    out.push_str("<table class=\"frontier\">\n<thead><tr><th>contender</th><th>setting</th><th>unit-hours</th><th>under-provisioned</th><th>× tuned reactive</th><th>× oracle</th><th>settings tried</th><th>note</th></tr></thead>\n<tbody>\n");
    let ratio = |c: f64, of: Option<f64>| match of {
        Some(of) if of > 0.0 => format!("{:.2}", c / of),
        _ => "–".to_string(),
    };
    for curve in &frontier.curves {
        let Some(p) = curve.chosen.map(|i| &curve.points[i]) else {
            continue;
        };
        let (vr, vo) = if curve.meets {
            (ratio(p.unit_hours, reactive), ratio(p.unit_hours, oracle))
        } else {
            ("–".to_string(), "–".to_string())
        };
        let mut note = curve.note.clone();
        if !curve.meets {
            note = format!(
                "No setting tried meets the SLO; the least under-provisioned is shown. {note}"
            );
        }
        if !curve.monotone {
            note.push_str(". Under-provisioning did not always fall as the setting rose: the cheapest evaluated setting meeting the SLO was taken");
        }
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{vr}</td><td>{vo}</td><td>{}</td><td class=\"note\">{}</td></tr>\n",
            Esc(&curve.name),
            Esc(&p.setting),
            fmt_num(p.unit_hours),
            fmt_pct(p.under_provisioned_pct),
            curve.points.len(),
            Esc(&note)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn chosen_cost(curve: &FrontierCurve) -> Option<f64> {
    curve.chosen.map(|i| curve.points[i].unit_hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FrontierPoint;

    fn p(setting: &str, cost: f64, under: f64) -> FrontierPoint {
        FrontierPoint {
            setting: setting.into(),
            quantile: None,
            headroom: None,
            unit_hours: cost,
            under_provisioned_pct: under,
            under_depth_mean_pct: 0.0,
            meets: under <= 0.5,
        }
    }

    fn curve(kind: FrontierKind, points: Vec<FrontierPoint>, chosen: usize) -> FrontierCurve {
        FrontierCurve {
            name: format!("{kind:?} <x>"),
            kind,
            chosen: Some(chosen),
            meets: points[chosen].meets,
            monotone: true,
            note: String::new(),
            points,
        }
    }

    #[test]
    fn the_curve_the_slo_line_and_the_choice_are_drawn() {
        let frontier = Frontier {
            slo_pct: 0.5,
            curves: vec![
                curve(
                    FrontierKind::Forecast,
                    vec![p("p50", 100.0, 20.0), p("p95", 140.0, 0.4)],
                    1,
                ),
                curve(
                    FrontierKind::Reactive,
                    vec![p("+0%", 110.0, 9.0), p("+50%", 200.0, 0.3)],
                    1,
                ),
                curve(FrontierKind::Oracle, vec![p("-", 90.0, 0.0)], 0),
            ],
        };
        let mut html = String::new();
        frontier_section(&mut html, 0, &frontier);
        assert_eq!(html.matches("<polyline class=\"curve\"").count(), 2);
        assert!(html.contains("class=\"slo\""));
        assert_eq!(html.matches("class=\"chosen\"").count(), 3);
        // 140 / 200 against the tuned reactive, 140 / 90 against the oracle.
        assert!(html.contains("<td>0.70</td><td>1.56</td>"), "{html}");
        assert!(html.contains("Forecast &lt;x&gt;"), "names are escaped");
    }
}
