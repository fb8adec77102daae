//! The scorecard as a plain-text table, one block per series.

use std::fmt::Write;

use crate::report::Report;

pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    for series in &report.series {
        let _ = writeln!(
            out,
            "{} · {} on {} ({} per unit)",
            series.app, series.resource, series.metric, series.per_unit
        );
        let width = series
            .contenders
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("contender".len());
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
        out.push('\n');
    }
    out
}
