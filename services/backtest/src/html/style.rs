//! How each contender is drawn: the same colour and dash in the chart, its legend and the
//! scorecard swatch.

use crate::report::{Contender, ContenderKind};

const POLICY_COLORS: [&str; 6] = [
    "#1f5fbf", "#8e3fb0", "#c2185b", "#00897b", "#795548", "#9e9d24",
];
const REACTIVE_COLOR: &str = "#e8710a";
const ORACLE_COLOR: &str = "#2e7d32";

/// How a contender's line looks, the same in the chart, its legend and the scorecard swatch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Style {
    pub(super) color: &'static str,
    pub(super) dash: Option<&'static str>,
    pub(super) width: f64,
}

/// Policies take distinct colours in turn; the baselines have fixed ones (the oracle dotted), so
/// they read the same across series.
pub(super) fn contender_styles(contenders: &[Contender]) -> Vec<Style> {
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
