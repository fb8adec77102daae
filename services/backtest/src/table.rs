//! The scorecard as a plain-text table, one block per series.

use std::fmt::Write;

use crate::report::{Frontier, FrontierKind, Report};

pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    for series in &report.series {
        let _ = writeln!(
            out,
            "{} · {} on {} ({} per unit)",
            series.app, series.resource, series.metric, series.per_unit
        );
        let width = name_width(series.contenders.iter().map(|c| c.name.as_str()));
        let _ = writeln!(
            out,
            "  {:<width$}  {:>11}  {:>7}  {:>7}  {:>10}  {:>9}  {:>7}",
            "contender", "unit-hours", "slack", "under", "depth mean", "depth max", "actions"
        );
        for c in &series.contenders {
            let s = &c.score;
            let _ = writeln!(
                out,
                "  {:<width$}  {:>11.1}  {:>6.1}%  {:>6.2}%  {:>9.1}%  {:>8.1}%  {:>7}",
                c.name,
                s.unit_hours,
                s.slack_pct,
                s.under_provisioned_pct,
                s.under_depth_mean_pct,
                s.under_depth_max_pct,
                s.actions
            );
        }
        if let Some(first) = series.contenders.first() {
            if first.score.gap_hours > 0.0 {
                let _ = writeln!(
                    out,
                    "  ({:.1} h scored, {:.1} h without demand data: cost only)",
                    first.score.covered_hours, first.score.gap_hours
                );
            }
        }
        if let Some(frontier) = &series.frontier {
            frontier_table(&mut out, frontier);
        }
        out.push('\n');
    }
    out
}

/// Each contender's cheapest setting at the SLO, its cost against the tuned reactive baseline
/// and the oracle, and where no setting met the SLO, the best reached.
pub fn frontier_table(out: &mut String, frontier: &Frontier) {
    let _ = writeln!(
        out,
        "  at the SLO: under-provisioned at most {}% of the time",
        frontier.slo_pct
    );
    let cost_of = |kind: FrontierKind| {
        frontier
            .curves
            .iter()
            .find(|c| c.kind == kind && c.meets)
            .and_then(|c| c.chosen.map(|i| c.points[i].unit_hours))
    };
    let (reactive, oracle) = (
        cost_of(FrontierKind::Reactive),
        cost_of(FrontierKind::Oracle),
    );
    let width = name_width(frontier.curves.iter().map(|c| c.name.as_str()));
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12}  {:>11}  {:>7}  {:>10}  {:>10}  {:>7}",
        "contender", "setting", "unit-hours", "under", "×reactive", "×oracle", "tried"
    );
    let ratio = |cost: f64, of: Option<f64>| match of {
        Some(of) if of > 0.0 => format!("{:.2}", cost / of),
        _ => "-".to_string(),
    };
    for curve in &frontier.curves {
        let Some(point) = curve.chosen.map(|i| &curve.points[i]) else {
            let _ = writeln!(out, "  {:<width$}  nothing evaluated", curve.name);
            continue;
        };
        let (vs_reactive, vs_oracle) = if curve.meets {
            (
                ratio(point.unit_hours, reactive),
                ratio(point.unit_hours, oracle),
            )
        } else {
            ("-".to_string(), "-".to_string())
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:>12}  {:>11.1}  {:>6.2}%  {:>10}  {:>10}  {:>7}",
            curve.name,
            point.setting,
            point.unit_hours,
            point.under_provisioned_pct,
            vs_reactive,
            vs_oracle,
            curve.points.len()
        );
        if !curve.meets {
            let _ = writeln!(
                out,
                "    not met: no setting tried meets {}%; the least under-provisioned was {:.2}% at {}",
                frontier.slo_pct, point.under_provisioned_pct, point.setting
            );
        }
        if !curve.monotone {
            let _ = writeln!(
                out,
                "    under-provisioning did not always fall as the setting rose: the cheapest \
                 evaluated setting that meets the SLO was taken"
            );
        }
        if curve.points.len() == 1 && curve.kind == FrontierKind::Forecast {
            let _ = writeln!(out, "    {}", curve.note);
        }
    }
}

/// The width of a table's first column: its longest name, at least the header's.
fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        .max("contender".len())
}
