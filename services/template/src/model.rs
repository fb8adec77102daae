//! The typed template. Plain data: every field is public and every type derives serde, so the
//! template can be parsed once, hashed, published and handed to each core.
//!
//! The structs are deliberately flat (no internally tagged or untagged enums, no `flatten`):
//! yaml_serde can then report the exact line and column of any type error or unknown field.
//! Cross-field rules (a prometheus source needs a `url`, a recipe must name a known source) are
//! checked afterwards by `validate`, which locates its errors through the YAML node index.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::rules::Rule;
use crate::zone::Zone;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The application id: the Kafka key of every event about this application.
    pub app: String,
    #[serde(default)]
    pub bootstrap: Bootstrap,
    pub dynamic_metadata: DynamicMetadata,
    /// The IANA time zone of the app's clock, e.g. `Europe/London`; UTC when absent. Cron
    /// floors, calendar signals, the linear model's hour and weekday features and holidays
    /// follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Zone>,
    /// The compute nodes the app runs on (`placement: { nodes: [a, b] }`): node-local
    /// collectors and appliers (`--node NAME`) serve it there; absent, the central ones do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::placement::Placement>,
}

impl Template {
    /// The zone the app's clock reads: `timezone`, or UTC.
    pub fn zone(&self) -> Zone {
        self.timezone.unwrap_or_default()
    }

    /// The metric recipe with this name.
    pub fn recipe(&self, name: &str) -> Option<&MetricRecipe> {
        self.dynamic_metadata
            .metric_recipes
            .iter()
            .find(|r| r.name == name)
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.dynamic_metadata.sources.iter().find(|s| s.id == id)
    }

    /// The configuration hook with this name.
    pub fn hook(&self, name: &str) -> Option<&ConfigurationHook> {
        self.dynamic_metadata
            .configuration_hooks
            .iter()
            .find(|h| h.name == name)
    }

    /// The validation rules, parsed. Meant for validated templates, where every rule parses;
    /// on an unvalidated one a rule that does not parse is left out.
    pub fn rules(&self) -> Vec<Rule> {
        self.dynamic_metadata
            .validation_rules
            .iter()
            .filter_map(|r| Rule::parse(r).ok())
            .collect()
    }

    /// The bootstrap as the document validation rules read:
    /// `{"resources": {...}, "config": {...}}`.
    pub fn bootstrap_doc(&self) -> serde_json::Value {
        // Whole numbers stay integers (`replicas: 3`, not `3.0`) in generated configurations.
        let resources: serde_json::Map<String, serde_json::Value> = self
            .bootstrap
            .resources
            .iter()
            .map(|(name, value)| {
                let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
                    serde_json::Value::from(*value as i64)
                } else {
                    serde_json::Value::from(*value)
                };
                (name.clone(), number)
            })
            .collect();
        serde_json::json!({
            "resources": resources,
            "config": self.bootstrap.config,
        })
    }
}

/// The static starting point: resources and application config before any directive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    #[serde(default)]
    pub resources: BTreeMap<String, f64>,
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicMetadata {
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub windowing: Windowing,
    #[serde(default)]
    pub metric_recipes: Vec<MetricRecipe>,
    #[serde(default)]
    pub prediction_algorithms: Vec<PredictionAlgorithm>,
    #[serde(default)]
    pub scaling_policies: Vec<ScalingPolicy>,
    #[serde(default)]
    pub configuration_hooks: Vec<ConfigurationHook>,
    /// Boolean expressions every generated configuration must satisfy, e.g.
    /// `resources.replicas >= 1 && resources.replicas <= 50`.
    #[serde(default)]
    pub validation_rules: Vec<String>,
}

// ---------------------------------------------------------------- sources (collector)

/// `Default` only so code building a `Source` by hand can write `..Default::default()` and keep
/// compiling as source kinds gain fields; a template always names its `kind`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Recipes refer to a source's metrics as `<id>.<metric>`.
    pub id: String,
    pub kind: SourceKind,
    /// Where the source is read (`http://` or `https://`): required for `prometheus`,
    /// `http_probe`, `promql` (the Prometheus server) and `json_http`; for `ics`, the calendar's
    /// URL when it has no `path`. Unused by the other kinds.
    #[serde(default)]
    pub url: Option<String>,
    /// How often the collector reads this source; defaults to 15s.
    #[serde(default)]
    pub every: Option<Duration>,
    /// Per-read timeout; defaults to the smaller of `every` and 5s.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// `kafka_lag`: the consumer group whose lag is read (on the cluster Presage runs on).
    #[serde(default)]
    pub group: Option<String>,
    /// `kafka_lag`: the topics the group consumes; every partition of each is read.
    #[serde(default)]
    pub topics: Vec<String>,
    /// `promql`: the PromQL expression evaluated at each read (an instant query against `url`,
    /// the Prometheus server's base URL); each series of its result is one sample.
    #[serde(default)]
    pub query: Option<String>,
    /// `promql`: the name recipes read the query's samples by (`<id>.<metric>`); defaults to the
    /// source's id. See [`Source::metric_name`].
    #[serde(default)]
    pub metric: Option<String>,
    /// `json_http`: each metric the source produces, by name, with the JSON Pointer (RFC 6901)
    /// of its value, `{ temperature_c: /current/temperature_2m }`. Recipes read `<id>.<name>`.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// `json_http`: labels of every sample, by name, with the JSON Pointer of each.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `json_http`: the JSON Pointer of an array; one sample per element and value, the
    /// pointers of `values` and `labels` then relative to each element.
    #[serde(default)]
    pub items: Option<String>,
    /// `ics`: the iCalendar file read (absolute, granted by the allow-list's `paths`); else `url`.
    #[serde(default)]
    pub path: Option<String>,
    /// `ics`: a regular expression; only events whose SUMMARY it matches count.
    #[serde(default, rename = "match")]
    pub summary_match: Option<String>,
    /// `cgroup`: which cgroup v2 is read, `{ path: /sys/fs/cgroup/... }` or `{ pid_file: ... }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<crate::placement::CgroupSelector>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// CPU, memory and network I/O of the host the collector runs on.
    #[default]
    Host,
    /// A Prometheus text-format endpoint.
    Prometheus,
    /// An HTTP GET whose status and response time become samples.
    HttpProbe,
    /// Time of day and weekday as external signals, on the template's `timezone`.
    Calendar,
    /// A consumer group's lag per topic and partition: the partition's end minus the group's
    /// committed offset.
    KafkaLag,
    /// A PromQL query against a Prometheus server's HTTP API, each result series a sample.
    Promql,
    /// A JSON API read over HTTP; JSON Pointers pick its values and labels.
    JsonHttp,
    /// Events of an iCalendar file or URL: whether one is in progress, how many, how soon the next.
    Ics,
    /// One application's CPU, memory and network from its cgroup v2, on the collector's node.
    Cgroup,
}

impl SourceKind {
    /// The name as written in templates.
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Host => "host",
            SourceKind::Prometheus => "prometheus",
            SourceKind::HttpProbe => "http_probe",
            SourceKind::Calendar => "calendar",
            SourceKind::KafkaLag => "kafka_lag",
            SourceKind::Promql => "promql",
            SourceKind::JsonHttp => "json_http",
            SourceKind::Ics => "ics",
            SourceKind::Cgroup => "cgroup",
        }
    }

    /// The metrics the collector produces for this kind of source, or `None` when the source
    /// itself names them (a Prometheus page). The collector names its readings with these
    /// constants, and the validator checks recipes against them, so the two cannot drift.
    pub fn metrics(&self) -> Option<&'static [&'static str]> {
        match self {
            SourceKind::Host => Some(&metric_names::HOST),
            SourceKind::HttpProbe => Some(&metric_names::HTTP_PROBE),
            SourceKind::Calendar => Some(&metric_names::CALENDAR),
            SourceKind::KafkaLag => Some(&metric_names::KAFKA_LAG),
            SourceKind::Prometheus => None,
            // One metric, named by the source (`Source::metric_name`), not by the kind.
            SourceKind::Promql => None,
            // The source declares them: its `values` keys.
            SourceKind::JsonHttp => None,
            SourceKind::Ics => Some(&metric_names::ICS),
            SourceKind::Cgroup => Some(&metric_names::CGROUP),
        }
    }
}

impl Source {
    /// The metric a `promql` source's samples carry: its `metric`, else its id. The collector
    /// and `presage backtest --prometheus` both name samples with it, so recipes match either.
    pub fn metric_name(&self) -> &str {
        self.metric.as_deref().unwrap_or(&self.id)
    }
}

/// Names of the metrics the collector's built-in sources produce.
pub mod metric_names {
    pub const CPU_UTILIZATION: &str = "cpu_utilization";
    pub const MEMORY_TOTAL_BYTES: &str = "memory_total_bytes";
    pub const MEMORY_USED_BYTES: &str = "memory_used_bytes";
    pub const NETWORK_RECEIVE_BYTES_TOTAL: &str = "network_receive_bytes_total";
    pub const NETWORK_TRANSMIT_BYTES_TOTAL: &str = "network_transmit_bytes_total";
    pub const HOST: [&str; 5] = [
        CPU_UTILIZATION,
        MEMORY_TOTAL_BYTES,
        MEMORY_USED_BYTES,
        NETWORK_RECEIVE_BYTES_TOTAL,
        NETWORK_TRANSMIT_BYTES_TOTAL,
    ];

    pub const UP: &str = "up";
    pub const STATUS_CODE: &str = "status_code";
    pub const LATENCY_MS: &str = "latency_ms";
    pub const HTTP_PROBE: [&str; 3] = [UP, STATUS_CODE, LATENCY_MS];

    pub const HOUR_OF_DAY: &str = "hour_of_day";
    pub const DAY_OF_WEEK: &str = "day_of_week";
    pub const IS_WEEKEND: &str = "is_weekend";
    pub const CALENDAR: [&str; 3] = [HOUR_OF_DAY, DAY_OF_WEEK, IS_WEEKEND];

    /// Per partition, labelled `group`, `topic` and `partition`.
    pub const CONSUMER_LAG: &str = "consumer_lag";
    pub const KAFKA_LAG: [&str; 1] = [CONSUMER_LAG];

    /// 1 while a (matching) event of the calendar is in progress, else 0.
    pub const IN_EVENT: &str = "in_event";
    /// How many (matching) events are in progress.
    pub const EVENTS: &str = "events";
    /// Minutes until the next (matching) event starts; not read when none is ahead.
    pub const MINUTES_TO_NEXT_EVENT: &str = "minutes_to_next_event";
    pub const ICS: [&str; 3] = [IN_EVENT, EVENTS, MINUTES_TO_NEXT_EVENT];

    /// A cgroup's `memory.max`, or the host's memory when it has no limit.
    pub const MEMORY_LIMIT_BYTES: &str = "memory_limit_bytes";
    /// `cpu_utilization` is the cgroup's share of all the host's CPUs, as the host source's;
    /// memory used is `memory.current`; network counters are the network namespace's.
    pub const CGROUP: [&str; 5] = [
        CPU_UTILIZATION,
        MEMORY_USED_BYTES,
        MEMORY_LIMIT_BYTES,
        NETWORK_RECEIVE_BYTES_TOTAL,
        NETWORK_TRANSMIT_BYTES_TOTAL,
    ];
}

// ---------------------------------------------------------------- recipes (recipe-processor)

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRecipe {
    /// The derived metric's name; forecasts and policies refer to it.
    pub name: String,
    /// A selector: `<source id>.<metric>` with optional Prometheus-style label matchers,
    /// `api.http_requests_total{method="GET",code=~"5.."}` (see [`crate::Selector`]).
    pub from: String,
    /// A boolean expression over `value`, `ts` and `labels.<name>` that keeps a sample, e.g.
    /// `value >= 0 && labels.method != "OPTIONS"`.
    #[serde(default)]
    pub filter: Option<String>,
    /// Applied to each series before aggregation.
    #[serde(default)]
    pub transform: Option<Transform>,
    /// `ratio` only: the denominator's selector (`from` is the numerator).
    #[serde(default)]
    pub over: Option<String>,
    /// `ratio` only: both sides are counters, so each series contributes its increase in the
    /// window (resets handled) rather than its raw values.
    #[serde(default)]
    pub counter: bool,
    /// `histogram_quantile` only: the quantile, between 0 and 1.
    #[serde(default)]
    pub quantile: Option<f64>,
    /// How the window's (transformed) values become one number; `avg` when not set.
    #[serde(default)]
    pub aggregate: Option<Aggregate>,
    /// Labels that split the output: one derived metric per distinct combination.
    #[serde(default)]
    pub group_by: Vec<String>,
    pub window: Window,
    /// External signals aligned on the window: each gives its newest value before the
    /// window's end, under its alias.
    #[serde(default)]
    pub join: Vec<Join>,
    /// The escape hatch: a full SELECT over the `samples` table (and `signals` with `join`)
    /// that replaces the generated query. See the recipe-processor's documentation.
    #[serde(default)]
    pub sql: Option<String>,
    /// Dynamic metadata computed from each window's output.
    #[serde(default)]
    pub fragments: Option<Fragments>,
    /// What a window with no sample means: `zero` (no demand: emitted as 0) or `unknown` (a gap:
    /// emitted as the unknown marker, forecast through). Left out, an empty window emits
    /// nothing. See [`crate::absent`].
    #[serde(default)]
    pub absent: Option<crate::absent::Absent>,
}

impl MetricRecipe {
    /// `from` split at its first dot into (source id, metric name), label matchers removed;
    /// None unless both are non-empty. Metric names may contain further dots.
    pub fn source_and_metric(&self) -> Option<(&str, &str)> {
        let selector = self.from.split('{').next().unwrap_or_default().trim();
        let (source, metric) = selector.split_once('.')?;
        (!source.is_empty() && !metric.is_empty()).then_some((source, metric))
    }

    /// The aggregate, `avg` when the template leaves it out.
    pub fn aggregate_or_default(&self) -> Aggregate {
        self.aggregate.unwrap_or(Aggregate::Avg)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Per-second increase of a counter within the window (a drop is a reset).
    Rate,
    /// Increase of a counter within the window (a drop is a reset).
    Delta,
    /// `from` aggregated divided by `over` aggregated.
    Ratio,
    /// Prometheus `histogram_quantile` over cumulative `le` buckets' increase in the window.
    HistogramQuantile,
}

/// How a window's values become one number. Percentiles are written `p50`, `p95`, `p99.9`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
    /// Population standard deviation.
    Stddev,
    /// The percentile (0 < p < 100), interpolated between the closest ranks.
    Percentile(f64),
}

impl Aggregate {
    pub fn name(&self) -> String {
        match self {
            Aggregate::Avg => "avg".into(),
            Aggregate::Min => "min".into(),
            Aggregate::Max => "max".into(),
            Aggregate::Sum => "sum".into(),
            Aggregate::Count => "count".into(),
            Aggregate::Last => "last".into(),
            Aggregate::Stddev => "stddev".into(),
            Aggregate::Percentile(p) => format!("p{p}"),
        }
    }
}

impl std::str::FromStr for Aggregate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = "expected avg, min, max, sum, count, last, stddev or a percentile \
                        like p50, p95, p99.9";
        Ok(match text {
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "sum" => Aggregate::Sum,
            "count" => Aggregate::Count,
            "last" => Aggregate::Last,
            "stddev" => Aggregate::Stddev,
            other => match other.strip_prefix('p').map(str::parse::<f64>) {
                Some(Ok(p)) if p > 0.0 && p < 100.0 => Aggregate::Percentile(p),
                Some(Ok(p)) => {
                    return Err(format!(
                        "percentile p{p} is out of range: expected more than 0 and less than 100"
                    ))
                }
                _ => return Err(format!("unknown aggregate {other:?}: {expected}")),
            },
        })
    }
}

impl Serialize for Aggregate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Aggregate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::scalar::deserialize_parsed(deserializer, "an aggregate like avg, sum or p95")
    }
}

/// An external signal joined to each window of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// A selector of the signal, e.g. `clock.hour_of_day` or `weather.temp{station="ewr"}`.
    pub signal: String,
    /// The name the value goes by in fragments, `sql` and the derived metric's signals.
    #[serde(rename = "as")]
    pub alias: String,
}

/// Dynamic metadata fragments: config paths computed from a recipe's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fragments {
    pub format: FragmentFormat,
    /// Assignments `path = expression`, e.g.
    /// `config.worker_threads = clamp(ceil(rps / 50), 2, 32)`. Expressions read the recipe's
    /// output by its name (or `value`), `n`, join aliases and `labels.<group_by label>`.
    pub set: Vec<String>,
}

/// Event-time settings of the recipe-processor for this template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windowing {
    /// How far behind the newest event time a sample may arrive and still count. A window
    /// closes once the watermark (newest event time minus this) passes its end.
    #[serde(default = "Windowing::default_lateness")]
    pub allowed_lateness: Duration,
    /// With no sample on a partition for this long (wall clock), its event time is taken to
    /// advance with the wall clock, so the last windows close.
    #[serde(default = "Windowing::default_idle_timeout")]
    pub idle_timeout: Duration,
}

impl Windowing {
    fn default_lateness() -> Duration {
        Duration::from_millis(0)
    }

    fn default_idle_timeout() -> Duration {
        Duration::from_millis(10_000)
    }
}

impl Default for Windowing {
    fn default() -> Self {
        Self {
            allowed_lateness: Self::default_lateness(),
            idle_timeout: Self::default_idle_timeout(),
        }
    }
}

/// The most panes a hop window may span (size / slide): every sample is kept once per window it
/// falls in, so a 1-day window sliding every second would hold each sample 86,400 times.
pub const MAX_HOP_PANES: u64 = 1_000;

/// The longest `windowing.allowed_lateness`: every window stays open (its samples held) this long
/// past its end. A day bridges any outage the collector's spool is meant for; a sample later than
/// that cannot change a scaling decision already taken.
pub const MAX_ALLOWED_LATENESS: Duration = Duration::from_secs(24 * 3600);

/// The tables a recipe's `sql` may read: what the recipe-processor registers (its `table.rs`).
pub const RECIPE_TABLES: [&str; 2] = ["samples", "signals"];

/// Exactly one of `tumble` or `hop` is set (checked by `validate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    pub tumble: Option<Duration>,
    #[serde(default)]
    pub hop: Option<HopWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopWindow {
    pub size: Duration,
    pub slide: Duration,
}

impl Window {
    /// (size, slide) in milliseconds; a tumbling window slides by its size.
    pub fn size_and_slide_ms(&self) -> (u64, u64) {
        match (&self.tumble, &self.hop) {
            (Some(t), _) => (t.as_millis(), t.as_millis()),
            (None, Some(h)) => (h.size.as_millis(), h.slide.as_millis()),
            (None, None) => (0, 0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FragmentFormat {
    Json,
    Yaml,
}

// ---------------------------------------------------------------- forecasting

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionAlgorithm {
    /// A recipe name.
    pub target: String,
    pub horizon: Duration,
    /// The candidate models. With more than one, each refit scores them all by rolling-origin
    /// evaluation on the newest history and keeps the lowest MASE.
    #[serde(default = "default_models")]
    pub models: Vec<ModelKind>,
    /// Seasonal periods, e.g. `[1d, 7d]`; `auto` detects them from the history at each refit.
    #[serde(default)]
    pub seasonality: Vec<Season>,
    /// Coverage of the prediction interval, in (0, 1).
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// How far back history is kept, and rebuilt from `presage.metrics.derived` on start.
    /// Defaults to four of the longest season (or 256 windows without one).
    #[serde(default)]
    pub history: Option<Duration>,
    /// How often models are refitted (and chosen again). Refits of many series are spread over
    /// this interval.
    #[serde(default = "default_refit")]
    pub refit: Duration,
    /// Refit early when the recent mean absolute error exceeds this multiple of the error the
    /// evaluation expected.
    #[serde(default = "default_drift")]
    pub drift: f64,
    /// Rolling-origin folds used to score candidates and calibrate intervals.
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// Dates (`YYYY-MM-DD`) the `linear` model treats as holidays: whole days of the
    /// template's `timezone`.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Signals joined to the target recipe (`join: [{as: NAME}]`) that the `linear` model uses
    /// as external regressors. Their future values are their values one (shortest) season
    /// earlier, or the last known value without a season.
    #[serde(default)]
    pub regressors: Vec<String>,
    /// Ridge penalty of the `linear` model, on standardised features.
    #[serde(default = "default_ridge")]
    pub ridge: f64,
    /// Pairs of Fourier terms per seasonal period after the first that the `arima` model adds
    /// as regressors (dynamic harmonic regression: a weekly shape on top of the daily season
    /// the ARIMA models). Unset, see [`PredictionAlgorithm::arima_harmonics`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmonics: Option<usize>,
    /// Non-negative and integer (count) series: applied to every forecast after the fit.
    #[serde(default)]
    pub constraints: crate::constraints::Constraints,
    /// With `group_by` on the target recipe, each label combination is its own series: at most
    /// this many per app and algorithm are forecast (1 to `MAX_GROUPS`, the default).
    #[serde(default = "crate::constraints::default_max_groups")]
    pub max_groups: usize,
}

/// A seasonal period: a fixed span, or `auto` (detected from the history by periodogram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    Every(Duration),
    Auto,
}

impl Serialize for Season {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Season::Every(d) => d.serialize(serializer),
            Season::Auto => serializer.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Season {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "auto" {
            return Ok(Season::Auto);
        }
        text.parse::<Duration>()
            .map(Season::Every)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or auto")))
    }
}

impl PredictionAlgorithm {
    /// The fixed seasonal periods, shortest first.
    pub fn fixed_seasons(&self) -> Vec<Duration> {
        let mut seasons: Vec<Duration> = self
            .seasonality
            .iter()
            .filter_map(|s| match s {
                Season::Every(d) => Some(*d),
                Season::Auto => None,
            })
            .collect();
        seasons.sort();
        seasons.dedup();
        seasons
    }

    pub fn detects_seasons(&self) -> bool {
        self.seasonality.contains(&Season::Auto)
    }

    /// The Fourier pairs per longer period the `arima` model fits with: the template's
    /// `harmonics`, or unset [`SOLE_ARIMA_HARMONICS`] where `arima` is the only model and none
    /// where it is one candidate of several. Alone, nothing else gives the daily ARIMA the week
    /// (England and Wales demand, day ahead: MASE 1.120 without, 0.430 with eight pairs); among
    /// candidates, MSTL and Holt-Winters carry the week already, and on the bench series the
    /// terms moved the choice's error both ways (it would have lost to the peer's best on two
    /// series) at three times the cost of each refit.
    pub fn arima_harmonics(&self) -> usize {
        match self.harmonics {
            Some(pairs) => pairs,
            None if !self.models.is_empty()
                && self.models.iter().all(|m| *m == ModelKind::Arima) =>
            {
                SOLE_ARIMA_HARMONICS
            }
            None => 0,
        }
    }
}

/// The Fourier pairs per longer period of an `arima` that is the only model, unless the template
/// says otherwise: for a week over a day, every weekly shape up to just past the daily frequency.
pub const SOLE_ARIMA_HARMONICS: usize = 8;

fn default_models() -> Vec<ModelKind> {
    vec![ModelKind::SeasonalNaive]
}

fn default_interval() -> f64 {
    0.9
}

fn default_refit() -> Duration {
    Duration::from_secs(3600)
}

fn default_drift() -> f64 {
    2.0
}

fn default_folds() -> usize {
    5
}

fn default_ridge() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    SeasonalNaive,
    Naive,
    Mstl,
    Ets,
    Linear,
    /// Additive Holt-Winters (ETS with an additive season), Presage's own.
    HoltWinters,
    /// Seasonal AutoARIMA (stepwise order search), ARIMAX with the algorithm's regressors.
    Arima,
    /// The Prophet model: piecewise-linear trend, Fourier seasons, holidays, regressors.
    Prophet,
    /// An ensemble of small feed-forward networks on lagged values (NNAR).
    Nnar,
}

// ---------------------------------------------------------------- scaling policies (planner)

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingPolicy {
    /// What to scale: `replicas`, `nodes`, `memory_mb`, `bandwidth_mbps` or an app setting.
    pub resource: String,
    /// A recipe name whose forecast drives this policy.
    pub metric: String,
    #[serde(default)]
    pub kind: PolicyKind,
    /// Target tracking: how much of `metric` one unit of `resource` handles.
    pub per_unit: f64,
    /// Which part of the forecast to provision for.
    #[serde(default, rename = "use")]
    pub use_bound: ForecastBound,
    /// How far ahead of demand a directive is issued.
    #[serde(default)]
    pub lead_time: Option<Duration>,
    /// How long a scale-up takes to serve (instances to start, nodes to join). Not used by the
    /// live planner (its `lead_time` should cover it); the backtest's capacity takes this long
    /// to arrive after a higher target, while a lower target takes effect at once.
    #[serde(default)]
    pub provisioning_delay: Option<Duration>,
    pub min: f64,
    pub max: f64,
    #[serde(default)]
    pub max_step_up: Option<f64>,
    #[serde(default)]
    pub max_step_down: Option<f64>,
    /// Scale-down cooldown: no lower target within this long of the last change.
    #[serde(default)]
    pub cooldown: Option<Duration>,
    /// Kubernetes HPA v2 `behavior` stabilization: a scale-down takes the highest recommendation
    /// of the `down` window, a scale-up the lowest of the `up` window.
    #[serde(default)]
    pub stabilization: Stabilization,
    /// Scheduled floors: from each match of `cron` on the template's `timezone` (UTC by
    /// default), for `for`, at least `min`.
    #[serde(default)]
    pub schedule: Vec<ScheduledFloor>,
    /// A shadow policy is evaluated and published with mode `shadow`; the applier ignores it.
    #[serde(default)]
    pub shadow: bool,
    #[serde(default, deserialize_with = "deserialize_fallback")]
    pub fallback: Option<Fallback>,
    /// The one `group_by` group of `metric` whose forecast drives this policy, e.g.
    /// `{zone: eu}`; empty (the default) acts on the unlabelled forecast of the whole metric.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `target: { under_provisioned: 0.5% }`, instead of `use`: the planner chooses the
    /// quantile from the policy's own recent record (see [`crate::slo`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::slo::SloTarget>,
    /// `reactive: { headroom: 20% }`: act on the higher of the forecast's need and the newest
    /// observed value's with this headroom (see [`crate::slo`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactive: Option<crate::slo::ReactiveSide>,
    /// `plan: { ahead: 12h }`: each directive also schedules the targets the forecast's path
    /// needs later (see [`crate::plan`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::plan::PlanAhead>,
}

/// Stabilization windows (both default to `0s`: act on every recommendation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stabilization {
    #[serde(default)]
    pub up: Duration,
    #[serde(default)]
    pub down: Duration,
}

/// A capacity floor on a schedule, e.g. `{ cron: "0 8 * * MON-FRI", for: 10h, min: 6 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFloor {
    pub cron: String,
    #[serde(rename = "for")]
    pub duration: Duration,
    pub min: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    #[default]
    TargetTracking,
}

/// Which value of the forecast a policy provisions for: `mean` (or `point`), `upper` or `lower`
/// bound of the interval, or a quantile `pNN` (`p95`, `p99.9`), read from the interval assuming
/// normal errors.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum ForecastBound {
    Point,
    #[default]
    Upper,
    Lower,
    /// A quantile in (0, 1).
    Quantile(f64),
}

impl ForecastBound {
    /// As templates write it: `mean`, `upper`, `lower`, `p95`, `p99.9`.
    pub fn name(&self) -> String {
        match self {
            ForecastBound::Point => "mean".into(),
            ForecastBound::Upper => "upper".into(),
            ForecastBound::Lower => "lower".into(),
            // to a tenth of a percent, so 0.57 reads p57, not p56.99999999999999
            ForecastBound::Quantile(q) => format!("p{}", (q * 1000.0).round() / 10.0),
        }
    }
}

impl Serialize for ForecastBound {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ForecastBound::Point => serializer.serialize_str("mean"),
            ForecastBound::Upper => serializer.serialize_str("upper"),
            ForecastBound::Lower => serializer.serialize_str("lower"),
            ForecastBound::Quantile(_) => serializer.serialize_str(&self.name()),
        }
    }
}

impl<'de> Deserialize<'de> for ForecastBound {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "mean" | "point" => Ok(ForecastBound::Point),
            "upper" => Ok(ForecastBound::Upper),
            "lower" => Ok(ForecastBound::Lower),
            other => other
                .strip_prefix('p')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|n| *n > 0.0 && *n < 100.0)
                .map(|n| ForecastBound::Quantile(n / 100.0))
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown forecast value {other:?}: expected mean, upper, lower or a \
                         quantile like p95"
                    ))
                }),
        }
    }
}

/// When the forecast cannot be trusted, scale on what is observed: `fallback: reactive` (the
/// defaults) or `fallback: { stale_after: 10m, max_score: 1.5, headroom: 0.2 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// A forecast older than this (in event time) is stale.
    #[serde(default = "default_stale_after")]
    pub stale_after: Duration,
    /// A forecast whose model scored a MASE above this is not trusted.
    #[serde(default)]
    pub max_score: Option<f64>,
    /// The observed value is provisioned for with this much headroom (0.2 = 20%).
    #[serde(default = "default_headroom")]
    pub headroom: f64,
}

fn default_stale_after() -> Duration {
    Duration::from_secs(600)
}

fn default_headroom() -> f64 {
    0.2
}

impl Default for Fallback {
    fn default() -> Self {
        Fallback {
            stale_after: default_stale_after(),
            max_score: None,
            headroom: default_headroom(),
        }
    }
}

/// `fallback: reactive` is the defaults; a mapping sets them.
pub fn deserialize_fallback<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Fallback>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Word(String),
        Settings(Fallback),
    }
    match Option::<Form>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Form::Settings(f)) => Ok(Some(f)),
        Some(Form::Word(w)) if w == "reactive" => Ok(Some(Fallback::default())),
        Some(Form::Word(w)) => Err(serde::de::Error::custom(format!(
            "unknown fallback {w:?}: expected reactive or {{ stale_after, max_score, headroom }}"
        ))),
    }
}

// ---------------------------------------------------------------- hooks (applier)

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurationHook {
    pub name: String,
    pub kind: HookKind,
    /// `file` hooks: the live configuration file (YAML or JSON by extension or `format`).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub format: Option<ConfigFormat>,
    /// `http` hooks: where directives are POSTed.
    #[serde(default)]
    pub url: Option<String>,
    /// Where each resource lands in the configuration document; a resource not named here
    /// lands at `resources.<resource>`.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    #[serde(default)]
    pub reload: Option<Reload>,
    #[serde(default)]
    pub test: Option<HookTest>,
    /// How a failed apply is tried again; absent means [`Retry::default`].
    #[serde(default)]
    pub retry: Option<Retry>,
    /// `command` hooks: the argv that applies the candidate's values, each element with
    /// placeholders (`--replicas={replicas}`, see [`placeholders`]); run without a shell.
    #[serde(default)]
    pub apply: Option<Vec<String>>,
    /// `command` hooks: run after `apply` with the candidate's values; failing, the previous
    /// values are put back with `rollback`.
    #[serde(default)]
    pub check: Option<Vec<String>>,
    /// `command` hooks: run with the previous values when the check fails.
    #[serde(default)]
    pub rollback: Option<Vec<String>>,
    /// `command` hooks: prints the current values (a JSON object, or `name=value` lines, each
    /// name a placeholder name); no placeholders.
    #[serde(default)]
    pub read: Option<Vec<String>>,
    /// `command` hooks (required), `http` and `kubernetes` hooks (optional: with it, a change
    /// interrupted by a crash is checked and rolled back on restart): the directory holding the
    /// hook's journal and lock (granted by the operator like a file hook's path), named
    /// `<state_dir>/.<app>.<hook>.presage-journal` (names escaped as
    /// [`ConfigurationHook::state_base`] says).
    #[serde(default)]
    pub state_dir: Option<String>,
    /// `command` hooks: how long each command may run (default [`DEFAULT_COMMAND_TIMEOUT`]).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// `env` hooks: the variables written to the env file at `path`, each value a text with
    /// placeholders (`JAVA_OPTS: "-Xmx{memory_mb}m"`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// `http` hooks: how the configuration is read, sent and checked (see [`crate::http_hook`]).
    #[serde(default)]
    pub http: Option<crate::http_hook::HttpHook>,
    /// `kubernetes` hooks: the workload and how each resource lands on it.
    #[serde(default)]
    pub kubernetes: Option<crate::kubernetes::KubernetesHook>,
}

/// How long a command hook's command may run when the hook gives no `timeout`.
pub const DEFAULT_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl ConfigurationHook {
    /// The hook's retry setting, or the defaults when the template gives none.
    pub fn retry(&self) -> Retry {
        self.retry.unwrap_or_default()
    }

    /// The dotted path in the configuration document that a resource's target is written to.
    pub fn key_for(&self, resource: &str) -> String {
        self.keys
            .get(resource)
            .cloned()
            .unwrap_or_else(|| format!("resources.{resource}"))
    }

    /// The document path a placeholder name reads: a dotted name (`config.worker_threads`) is a
    /// path; a bare one (`replicas`) is a resource, where the hook's `keys` put it.
    pub fn placeholder_path(&self, name: &str) -> String {
        if name.contains('.') {
            name.to_string()
        } else {
            self.key_for(name)
        }
    }

    /// The value a placeholder fills in from a configuration document: the node at its
    /// [`placeholder_path`](Self::placeholder_path), `None` when there is none. Validation
    /// checks placeholders against the bootstrap document with it, so it must read what the
    /// applier fills in.
    pub fn placeholder_value<'a>(
        &self,
        doc: &'a serde_json::Value,
        name: &str,
    ) -> Option<&'a serde_json::Value> {
        self.placeholder_path(name)
            .split('.')
            .try_fold(doc, |node, key| node.get(key))
    }

    /// A command hook's own commands, by field: `apply`, `check`, `rollback`, `read` (the test
    /// command is in `test`, as for every hook).
    pub fn commands(&self) -> Vec<(&'static str, &Vec<String>)> {
        [
            ("apply", &self.apply),
            ("check", &self.check),
            ("rollback", &self.rollback),
            ("read", &self.read),
        ]
        .into_iter()
        .filter_map(|(field, argv)| argv.as_ref().map(|argv| (field, argv)))
        .collect()
    }

    /// How long each of a command hook's commands may run.
    pub fn command_timeout(&self) -> std::time::Duration {
        self.timeout
            .map(|d| d.as_std())
            .unwrap_or(DEFAULT_COMMAND_TIMEOUT)
    }

    /// A command (http, kubernetes) hook's state base, `<state_dir>/<app>.<hook>`: its journal and lock are the
    /// files beside it, as a file hook's are beside its live file. App and hook names are
    /// written one to one (ASCII letters, digits, `_` and `-` as they are, any other byte as
    /// `%XX`, an empty name as `%`), so no two hooks of any apps share a journal (`shop.eu` +
    /// `scale` is not `shop` + `eu.scale`) and neither name can climb out of the directory.
    pub fn state_base(&self, app: &str) -> Option<std::path::PathBuf> {
        let dir = self.state_dir.as_deref()?;
        let name = format!("{}.{}", state_name(app), state_name(&self.name));
        Some(std::path::Path::new(dir).join(name))
    }
}

/// A name as part of a file name, one to one: ASCII letters, digits, `_` and `-` as they are,
/// every other byte (`.` and `/` included) as `%XX`, and an empty name as `%`. The `.` joining
/// app and hook in [`ConfigurationHook::state_base`] is then the only dot.
fn state_name(name: &str) -> String {
    if name.is_empty() {
        return "%".to_string();
    }
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One `{name}` in a hook's text: its name and the byte offset of its `{`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub name: String,
    pub offset: usize,
}

/// A piece of a hook's text: literal text (`{{` and `}}` already read as `{` and `}`) or a
/// placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Hole(Placeholder),
}

/// Splits a hook's text into literal text and `{name}` placeholders (names of letters, digits,
/// `_` and `.`); `{{` and `}}` stand for literal braces. Err: the byte offset and why.
pub fn placeholders(text: &str) -> Result<Vec<Piece>, (usize, String)> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let rest = &text[i + 1..];
                let Some(end) = rest.find('}') else {
                    return Err((i, "unclosed `{`: write `{{` for a literal brace".into()));
                };
                let name = &rest[..end];
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                if !valid {
                    return Err((
                        i,
                        format!("`{{{name}}}` is not a placeholder: expected {{resource}} or {{config.path}}"),
                    ));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Hole(Placeholder {
                    name: name.to_string(),
                    offset: i,
                }));
                for _ in 0..name.chars().count() + 1 {
                    chars.next();
                }
            }
            '}' => return Err((i, "lone `}`: write `}}` for a literal brace".into())),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    File,
    Http,
    /// Runs argv templates (`apply`, `test`, `check`, `rollback`, `read`), never a shell.
    Command,
    /// Writes variables (`vars`) into an env file at `path` with the file hook's shadow flow.
    Env,
    /// Changes a Deployment's or StatefulSet's replicas, container resources and env through
    /// the Kubernetes API (`kubernetes`, see [`crate::kubernetes`]).
    Kubernetes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigFormat {
    Yaml,
    Json,
}

/// How the running application learns about a swapped configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reload {
    /// A signal name such as `HUP`, sent to the pid in `pid_file`.
    #[serde(default)]
    pub signal: Option<String>,
    #[serde(default)]
    pub pid_file: Option<String>,
    /// A command to run after the swap instead of a signal.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// How often a failed apply is tried (`attempts`, the first try included) and how long to wait
/// before the second try (`backoff`, doubled before each later one): `retry: { attempts: 3,
/// backoff: 500ms }`. Only failures that may pass on a second try are retried (a failing test
/// command, an HTTP 5xx or connection error, a write error, a rollback after a failing check);
/// a change a rule refuses is never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    #[serde(default = "default_retry_attempts")]
    pub attempts: u32,
    #[serde(default = "default_retry_backoff")]
    pub backoff: Duration,
}

/// The most tries a hook may ask for: retries hold the applier's writer for the app, so they
/// must stay bounded.
pub const MAX_RETRY_ATTEMPTS: u32 = 10;

fn default_retry_attempts() -> u32 {
    3
}

fn default_retry_backoff() -> Duration {
    Duration::from_millis(500)
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: default_retry_attempts(),
            backoff: default_retry_backoff(),
        }
    }
}

/// A check run against the shadow configuration before it is swapped in. `{shadow}` in the
/// command is replaced by the shadow file's path (it is also in `PRESAGE_SHADOW_PATH`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookTest {
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub http: Option<String>,
    #[serde(default)]
    pub expect: Option<u16>,
    #[serde(default)]
    pub within: Option<Duration>,
}
