//! Every metric a Presage service exports, in one registry per process.
//!
//! Names are the contract with dashboards and alerts: [`EXPORTED`] lists each family as
//! Prometheus sees it, and a test holds the list to what the registry really encodes, so the
//! Grafana dashboard's test can check its queries against it. Counters are registered without
//! `_total`: the OpenMetrics encoder appends it.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label pairs, in the order they are exported.
pub type Labels = Vec<(&'static str, String)>;
pub type Counters = Family<Labels, Counter>;
pub type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
pub type Histograms = Family<Labels, Histogram, Buckets>;

/// The bucket bounds a histogram family is built with.
#[derive(Clone)]
pub struct Buckets(fn() -> Vec<f64>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new((self.0)())
    }
}

/// Short latencies: 0.5 ms to about 2 minutes.
fn latency_buckets() -> Vec<f64> {
    exponential_buckets(0.0005, 4.0, 10).collect()
}

/// Event-time delays and end-to-end latencies: 50 ms to about 2.5 hours.
fn delay_buckets() -> Vec<f64> {
    exponential_buckets(0.05, 3.0, 12).collect()
}

/// The families as Prometheus names them (a counter's `_total` included, a histogram by its
/// base name), in the order of [`Metrics`]. Dashboards may query only these.
pub const EXPORTED: &[&str] = &[
    "presage_build_info",
    "presage_ready",
    "presage_broker_reachable",
    "presage_templates_loaded",
    "presage_records_in_total",
    "presage_records_out_total",
    "presage_duplicates_dropped_total",
    "presage_dead_letters_total",
    "presage_consumer_lag",
    "presage_processing_seconds",
    "presage_delivery_seconds",
    "presage_window_close_delay_seconds",
    "presage_sample_to_directive_seconds",
    "presage_refits_total",
    "presage_refit_seconds",
    "presage_spool_bytes",
    "presage_spool_records",
    "presage_spool_dropped_total",
    "presage_source_reads_total",
    "presage_apply_outcomes_total",
    "presage_hook_seconds",
    "presage_app_observed",
    "presage_app_forecast",
    "presage_app_forecast_mase",
    "presage_app_target",
    "presage_app_at_max",
    "presage_app_series_refused_total",
];

/// The process's metric families. Cloning a family shares its series.
pub struct Metrics {
    pub registry: Registry,
    /// `{service, version}` = 1.
    pub build_info: Gauges,
    /// `{service}`: 1 when every loop of the process is ready (see `health`).
    pub ready: Gauges,
    /// `{stage}`: 0 while the stage's consumer reports every broker connection down.
    pub broker_reachable: Gauges,
    /// `{stage}`: templates the stage holds.
    pub templates_loaded: Gauges,
    /// `{stage, topic}`: records read from the input topic.
    pub records_in: Counters,
    /// `{stage, topic}`: records produced and acknowledged.
    pub records_out: Counters,
    /// `{stage}`: inputs dropped because their event id was already handled.
    pub duplicates_dropped: Counters,
    /// `{stage, kind}`: records sent to the dead-letter topic, by kind.
    pub dead_letters: Counters,
    /// `{stage, topic, partition}`: the broker's newest offset minus the consumer's position.
    pub consumer_lag: Gauges,
    /// `{stage}`: the core's time for one input record.
    pub processing_seconds: Histograms,
    /// `{stage}`: producing a batch's outputs until the broker acknowledged every one.
    pub delivery_seconds: Histograms,
    /// The recipe-processor: wall clock when a window's result is emitted, minus the window's end.
    pub window_close_delay_seconds: Histograms,
    /// `{mode}`: wall clock when a directive is published, minus the end of the window of
    /// samples it was decided from.
    pub sample_to_directive_seconds: Histograms,
    /// Forecaster refits (scheduled, on drift, while cold).
    pub refits: Counters,
    /// A refit's duration.
    pub refit_seconds: Histograms,
    /// The collector's spool: bytes and samples waiting for the broker, samples dropped.
    pub spool_bytes: Gauges,
    pub spool_records: Gauges,
    pub spool_dropped: Counters,
    /// `{kind, result}`: the collector's reads of its sources.
    pub source_reads: Counters,
    /// `{kind, status}`: what the applier did with directives and fragments, by hook kind.
    pub apply_outcomes: Counters,
    /// `{kind}`: one hook run, from the shadow copy to the outcome.
    pub hook_seconds: Histograms,
    /// `{app, metric}`: the newest observed value of a policy's metric.
    pub app_observed: Gauges,
    /// `{app, metric, bound}` (`mean`, `lower`, `upper`): the forecast at the policy's lead time.
    pub app_forecast: Gauges,
    /// `{app, metric, model}`: the chosen model's rolling-origin MASE.
    pub app_forecast_mase: Gauges,
    /// `{app, resource}`: the newest live target, and 1 when it is held at the policy's max.
    pub app_target: Gauges,
    pub app_at_max: Gauges,
    /// Updates of per-app series refused because the bound on apps was reached.
    pub app_series_refused: Counters,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let latency = || Histograms::new_with_constructor(Buckets(latency_buckets));
        let delay = || Histograms::new_with_constructor(Buckets(delay_buckets));
        let metrics = Self {
            build_info: Gauges::default(),
            ready: Gauges::default(),
            broker_reachable: Gauges::default(),
            templates_loaded: Gauges::default(),
            records_in: Counters::default(),
            records_out: Counters::default(),
            duplicates_dropped: Counters::default(),
            dead_letters: Counters::default(),
            consumer_lag: Gauges::default(),
            processing_seconds: latency(),
            delivery_seconds: latency(),
            window_close_delay_seconds: delay(),
            sample_to_directive_seconds: delay(),
            refits: Counters::default(),
            refit_seconds: latency(),
            spool_bytes: Gauges::default(),
            spool_records: Gauges::default(),
            spool_dropped: Counters::default(),
            source_reads: Counters::default(),
            apply_outcomes: Counters::default(),
            hook_seconds: latency(),
            app_observed: Gauges::default(),
            app_forecast: Gauges::default(),
            app_forecast_mase: Gauges::default(),
            app_target: Gauges::default(),
            app_at_max: Gauges::default(),
            app_series_refused: Counters::default(),
            registry: Registry::default(),
        };
        macro_rules! register {
            ($($field:ident: $name:literal, $help:literal;)*) => {
                $(registry.register($name, $help, metrics.$field.clone());)*
            };
        }
        register! {
            build_info: "presage_build_info", "The service and its version (always 1)";
            ready: "presage_ready", "1 when the process is ready: broker reached, templates loaded, partitions assigned and their state rebuilt";
            broker_reachable: "presage_broker_reachable", "0 while the stage's consumer reports every broker connection down";
            templates_loaded: "presage_templates_loaded", "Templates the stage holds";
            records_in: "presage_records_in", "Records read from the stage's input topic";
            records_out: "presage_records_out", "Records produced and acknowledged by the broker";
            duplicates_dropped: "presage_duplicates_dropped", "Input records dropped because their event id was already handled";
            dead_letters: "presage_dead_letters", "Records sent to the dead-letter topic, by kind";
            consumer_lag: "presage_consumer_lag", "Records between the consumer's position and the partition's end";
            processing_seconds: "presage_processing_seconds", "The core's time for one input record";
            delivery_seconds: "presage_delivery_seconds", "Producing a batch's outputs until the broker acknowledged every one";
            window_close_delay_seconds: "presage_window_close_delay_seconds", "Wall clock when a window's result is emitted, minus the window's end";
            sample_to_directive_seconds: "presage_sample_to_directive_seconds", "Wall clock when a directive is published, minus the end of the window of samples it was decided from";
            refits: "presage_refits", "Forecaster refits";
            refit_seconds: "presage_refit_seconds", "Duration of one forecaster refit";
            spool_bytes: "presage_spool_bytes", "Bytes in the collector's spool, waiting for the broker";
            spool_records: "presage_spool_records", "Samples in the collector's spool, waiting for the broker";
            spool_dropped: "presage_spool_dropped", "Samples the collector's spool dropped past its size bound";
            source_reads: "presage_source_reads", "The collector's reads of its sources, by kind and result";
            apply_outcomes: "presage_apply_outcomes", "Apply outcomes by hook and status";
            hook_seconds: "presage_hook_seconds", "One hook run, from the shadow copy to the outcome";
            app_observed: "presage_app_observed", "The newest observed value of a policy's metric, per app";
            app_forecast: "presage_app_forecast", "The forecast at the policy's lead time (mean, lower and upper bound), per app";
            app_forecast_mase: "presage_app_forecast_mase", "The chosen model's rolling-origin MASE, per app";
            app_target: "presage_app_target", "The newest live target of each resource, per app";
            app_at_max: "presage_app_at_max", "1 when a resource's target is held at its policy's max, per app";
            app_series_refused: "presage_app_series_refused", "Per-app series updates refused because the bound on apps was reached";
        }
        Self {
            registry,
            ..metrics
        }
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Labels from `(name, value)` pairs.
pub fn labels<const N: usize>(pairs: [(&'static str, &str); N]) -> Labels {
    pairs
        .into_iter()
        .map(|(name, value)| (name, value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The family names in `# TYPE` lines, as a scraper reads them.
    fn families(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn exported_names_are_exactly_the_families_the_registry_encodes() {
        let metrics = Metrics::new();
        // A family is encoded once it has a series: give every field one.
        let none = Labels::new();
        macro_rules! touch {
            ($($field:ident),*) => { $(let _ = metrics.$field.get_or_create(&none);)* };
        }
        touch!(
            build_info,
            ready,
            broker_reachable,
            templates_loaded,
            records_in,
            records_out,
            duplicates_dropped,
            dead_letters,
            consumer_lag,
            processing_seconds,
            delivery_seconds,
            window_close_delay_seconds,
            sample_to_directive_seconds,
            refits,
            refit_seconds,
            spool_bytes,
            spool_records,
            spool_dropped,
            source_reads,
            apply_outcomes,
            hook_seconds,
            app_observed,
            app_forecast,
            app_forecast_mase,
            app_target,
            app_at_max,
            app_series_refused
        );
        // Counters as OpenMetrics names a counter family: without `_total`.
        let mut encoded: Vec<String> = families(&metrics.encode());
        let mut listed: Vec<String> = EXPORTED
            .iter()
            .map(|name| name.trim_end_matches("_total").to_string())
            .collect();
        encoded.sort();
        listed.sort();
        assert_eq!(encoded, listed);
    }

    #[test]
    fn a_counter_is_exposed_with_its_labels_and_total_suffix() {
        let metrics = Metrics::new();
        metrics
            .records_in
            .get_or_create(&labels([
                ("stage", "planner"),
                ("topic", "presage.forecasts"),
            ]))
            .inc_by(3);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"presage_records_in_total{stage="planner",topic="presage.forecasts"} 3"#
            ),
            "{text}"
        );
    }

    #[test]
    fn histograms_count_observations_into_their_buckets() {
        let metrics = Metrics::new();
        let family = &metrics.processing_seconds;
        let stage = labels([("stage", "forecaster")]);
        family.get_or_create(&stage).observe(0.001);
        family.get_or_create(&stage).observe(100.0);
        let text = metrics.encode();
        assert!(
            text.contains(r#"presage_processing_seconds_count{stage="forecaster"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"presage_processing_seconds_bucket{le="0.002",stage="forecaster"} 1"#),
            "{text}"
        );
    }
}
