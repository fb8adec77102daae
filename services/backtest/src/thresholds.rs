//! Policy checks for CI: every template policy must stay within the limits, or the backtest
//! fails (`--max-under-provisioned 0.5% --max-slack 30%`).

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

/// One line per template policy that misses a limit; empty when all pass.
pub fn violations(report: &Report, limits: Limits) -> Vec<String> {
    let mut found = Vec::new();
    for series in &report.series {
        for c in series
            .contenders
            .iter()
            .filter(|c| c.kind == ContenderKind::Policy)
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
