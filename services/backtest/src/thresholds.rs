//! Policy checks for CI: the live policies of the template under test must stay within the
//! limits, or the backtest fails (`--max-under-provisioned 0.5% --max-slack 30%`); compared
//! templates and shadow policies are references and are not held to them. A series with
//! nothing scored fails too: a limit met by no data is not met.

use crate::report::{ContenderKind, Report};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// In %, like the scores.
    pub max_under_provisioned_pct: Option<f64>,
    pub max_slack_pct: Option<f64>,
}

/// A percentage as written on the command line: `0.5%` or `0.5`.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(value) if value.is_finite() && (0.0..=100.0).contains(&value) => Ok(value),
        _ => Err(format!("`{text}` is not a percentage between 0% and 100%")),
    }
}

/// Series with no demand scored: the policy's recipe selected no sample, or the warm-up
/// covers the whole trace. Limits cannot be checked on them.
pub fn unscored(report: &Report) -> Vec<String> {
    let mut found = Vec::new();
    if report.series.is_empty() {
        found.push("the template has no live scaling policy to score".to_string());
    }
    for series in &report.series {
        if series
            .contenders
            .first()
            .is_none_or(|c| c.score.covered_hours <= 0.0)
        {
            found.push(format!(
                "{} · {}: no demand was scored: no window of recipe `{}` closed after the \
                 warm-up (does its selector match the samples? is the warm-up shorter than \
                 the trace?)",
                series.app, series.resource, series.metric
            ));
        }
    }
    found
}

/// One line per gated policy that misses a limit; empty when all pass.
pub fn violations(report: &Report, limits: Limits) -> Vec<String> {
    let mut found = Vec::new();
    for series in &report.series {
        for c in series
            .contenders
            .iter()
            .filter(|c| c.kind == ContenderKind::Policy && c.gated)
        {
            let what = format!("{} · {} · {}", c.name, series.app, series.resource);
            if let Some(max) = limits.max_under_provisioned_pct {
                if c.score.under_provisioned_pct > max {
                    found.push(format!(
                        "{what}: under-provisioned {:.2}% of the time, over the {max}% allowed",
                        c.score.under_provisioned_pct
                    ));
                }
            }
            if let Some(max) = limits.max_slack_pct {
                if c.score.slack_pct > max {
                    found.push(format!(
                        "{what}: slack {:.1}%, over the {max}% allowed",
                        c.score.slack_pct
                    ));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_with_or_without_the_sign() {
        assert_eq!(parse_percent("0.5%"), Ok(0.5));
        assert_eq!(parse_percent("30"), Ok(30.0));
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("lots").is_err());
    }
}
