//! The result of a backtest, as written to JSON and read by the table and HTML renderers.
//! Times are epoch milliseconds; capacities are in units of the resource.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Where the samples came from: a file path, or `kafka:<topic>` with the range.
    pub source: String,
    /// Raw samples replayed (per template set: each set replays all of them).
    pub samples: u64,
    pub apps: Vec<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Scores start at `scored_from_ms` (the warm-up before it only feeds history) and end with
    /// each series' last closed window; `scored_to_ms` is the latest of those ends.
    pub scored_from_ms: i64,
    #[serde(default)]
    pub scored_to_ms: i64,
    /// What the replays produced: derived windows, forecasts, and inputs a live stage would have
    /// dead-lettered (late or refused samples, windows the forecaster refused).
    #[serde(default)]
    pub derived: u64,
    #[serde(default)]
    pub forecasts: u64,
    #[serde(default)]
    pub dead_letters: u64,
    /// Wall time of the replays, and the samples they took in per second (all template sets).
    pub elapsed_ms: u64,
    pub samples_per_second: f64,
    /// CPU seconds in each core (summed over threads and template sets).
    #[serde(default)]
    pub busy_seconds: BusySeconds,
    /// One per (app, resource) a live policy scales.
    pub series: Vec<SeriesReport>,
    /// Every directive each template set's planner issued, in order.
    pub directives: Vec<DirectiveRecord>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BusySeconds {
    pub recipes: f64,
    pub forecaster: f64,
    pub planner: f64,
}

/// One resource of one app: what was demanded, what was forecast, and each contender's capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesReport {
    pub app: String,
    pub resource: String,
    /// The recipe whose value is the demand.
    pub metric: String,
    /// How much of `metric` one unit serves (the first template's policy).
    pub per_unit: f64,
    /// The demand: one step per derived window, `[start, end)`.
    pub demand: Vec<DemandStep>,
    /// The forecast the first template's live policy acted on: the point at its lead time.
    pub band: Vec<BandPoint>,
    /// The template sets' policies, then the reactive baseline, then the oracle.
    pub contenders: Vec<Contender>,
    /// With `--slo`: each contender's cost against its under-provisioning over the settings
    /// tried, and the cheapest that meets the SLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier: Option<Frontier>,
}

/// The cheapest setting of each contender whose under-provisioned time is at most the SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontier {
    /// The SLO on under-provisioned time, in % (like the scores).
    pub slo_pct: f64,
    /// The first template's live policy (by quantile), the reactive baseline (by headroom),
    /// the two combined (by both), and the oracle (one point).
    pub curves: Vec<FrontierCurve>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontierKind {
    /// The policy with its `use` changed: the planner replayed over the recorded forecasts.
    Forecast,
    /// The reactive baseline provisioning for demand × (1 + headroom).
    Reactive,
    /// The higher of the forecast policy's target and the reactive one's with headroom.
    Combined,
    /// Perfect foresight: nothing to tune.
    Oracle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierCurve {
    pub name: String,
    pub kind: FrontierKind,
    /// Every setting evaluated, in the order of the setting (cheapest first, as searched).
    pub points: Vec<FrontierPoint>,
    /// The chosen point: the cheapest that meets the SLO or, when none does, the least
    /// under-provisioned (then `meets` is false).
    pub chosen: Option<usize>,
    pub meets: bool,
    /// Under-provisioning never rose as the setting rose over the points evaluated. When it
    /// did, the search may have missed a cheaper setting between them; the choice is still the
    /// cheapest evaluated point that meets the SLO.
    pub monotone: bool,
    /// How the setting was searched, and anything the reader should know about the choice.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierPoint {
    /// As a template would write it: `p97.5`, `+25%` headroom, `p90 + 10%`.
    pub setting: String,
    /// The quantile provisioned for (forecast and combined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    /// The reactive part's headroom, as a fraction of demand (reactive and combined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom: Option<f64>,
    pub unit_hours: f64,
    pub under_provisioned_pct: f64,
    pub under_depth_mean_pct: f64,
    pub meets: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandStep {
    pub start_ms: i64,
    pub end_ms: i64,
    pub value: f64,
}

/// A forecast made at `issued_ms` for `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandPoint {
    pub issued_ms: i64,
    pub at_ms: i64,
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContenderKind {
    /// A template's policy, decided by the planner from the forecasts.
    Policy,
    /// Kubernetes-HPA-style: the observed value, 5-minute scale-down stabilization.
    Reactive,
    /// Perfect foresight: each window's need, in place when the window starts.
    Oracle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contender {
    /// e.g. `templates/airport.yaml` (`… shadow` for a shadow policy), `reactive (HPA)`, `oracle`.
    pub name: String,
    pub kind: ContenderKind,
    /// Held to `--max-*` limits: the first template's live policies.
    #[serde(default)]
    pub gated: bool,
    pub score: Score,
    /// How much of the demand one of its units serves (its own policy's; the baselines use the
    /// series' policy's).
    pub per_unit: f64,
    /// Units in service from `at_ms` on (after the provisioning delay), oldest first.
    pub capacity: Vec<CapacityStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityStep {
    pub at_ms: i64,
    pub units: i64,
}

/// How a capacity fared against the demand over the scored range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Cost: units in service × hours, over the whole scored range.
    pub unit_hours: f64,
    /// Share of provisioned capacity (units × per_unit) left unused where demand is known, in %.
    pub slack_pct: f64,
    /// Share of the time with known demand during which demand exceeded capacity, in %.
    pub under_provisioned_pct: f64,
    /// While under-provisioned: the mean and the worst shortfall, in % of demand.
    pub under_depth_mean_pct: f64,
    pub under_depth_max_pct: f64,
    /// Changes of target decided within the scored range.
    pub actions: u64,
    /// Hours of the scored range with known demand, and without (gaps in the trace).
    pub covered_hours: f64,
    pub gap_hours: f64,
}

/// A directive as the planner issued it: enough to compare a replay with the live pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectiveRecord {
    /// The template set (its file) whose planner issued it.
    pub template: String,
    pub event_id: String,
    pub app: String,
    pub mode: String,
    pub issued_at_ms: i64,
    pub fallback: bool,
    pub targets: Vec<TargetRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub resource: String,
    pub target: i64,
}
