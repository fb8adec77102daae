//! What one run loop records: its handles on the process's metric families, resolved once so a
//! record costs a few atomic adds, not a label lookup.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use presage_events::{decode, DeadLetter};
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use crate::stage::Outgoing;
use crate::telemetry::{labels, telemetry, LoopHealth, Telemetry};

pub struct LoopMetrics {
    telemetry: &'static Telemetry,
    stage: &'static str,
    dlq_topic: String,
    pub health: Arc<LoopHealth>,
    records_in: Counter,
    reachable: Gauge<f64, AtomicU64>,
    duplicates: Counter,
    processing: Histogram,
    delivery: Histogram,
    records_out: RefCell<HashMap<String, Counter>>,
}

impl LoopMetrics {
    pub fn new(stage: &'static str, input_topic: &str, dlq_topic: &str) -> Self {
        let telemetry = telemetry();
        let metrics = &telemetry.metrics;
        let of_stage = labels([("stage", stage)]);
        let records_in = metrics
            .records_in
            .get_or_create_owned(&labels([("stage", stage), ("topic", input_topic)]));
        Self {
            telemetry,
            stage,
            dlq_topic: dlq_topic.to_string(),
            health: telemetry.health.register(stage),
            records_in,
            reachable: metrics.broker_reachable.get_or_create_owned(&of_stage),
            duplicates: metrics.duplicates_dropped.get_or_create_owned(&of_stage),
            processing: metrics.processing_seconds.get_or_create_owned(&of_stage),
            delivery: metrics.delivery_seconds.get_or_create_owned(&of_stage),
            records_out: RefCell::default(),
        }
    }

    pub fn templates(&self, count: usize) {
        self.health.templates_loaded();
        self.telemetry
            .metrics
            .templates_loaded
            .get_or_create(&labels([("stage", self.stage)]))
            .set(count as f64);
    }

    pub fn broker(&self, away: bool) {
        self.health.broker_away(away);
        self.reachable.set(if away { 0.0 } else { 1.0 });
    }

    /// What the publisher calls when a send starts and stops waiting for the broker: a loop
    /// blocked delivering its outputs through an outage is not ready either.
    pub fn wait_reporter(&self) -> Box<dyn Fn(bool) + Send + Sync> {
        let health = self.health.clone();
        let reachable = self.reachable.clone();
        Box::new(move |away| {
            health.broker_away(away);
            reachable.set(if away { 0.0 } else { 1.0 });
        })
    }

    pub fn record_in(&self, processing: Duration) {
        self.records_in.inc();
        self.processing.observe(processing.as_secs_f64());
    }

    pub fn duplicate(&self) {
        self.duplicates.inc();
    }

    /// Outputs the broker acknowledged: counted per topic, and dead letters by their kind.
    pub fn delivered<'a>(&self, outputs: impl IntoIterator<Item = &'a Outgoing>, took: Duration) {
        self.delivery.observe(took.as_secs_f64());
        let mut records_out = self.records_out.borrow_mut();
        for output in outputs {
            if !records_out.contains_key(&output.topic) {
                let counter = self
                    .telemetry
                    .metrics
                    .records_out
                    .get_or_create_owned(&labels([
                        ("stage", self.stage),
                        ("topic", &output.topic),
                    ]));
                records_out.insert(output.topic.clone(), counter);
            }
            records_out[&output.topic].inc();
            if output.topic == self.dlq_topic {
                count_dead_letter(self.telemetry, self.stage, output);
            }
        }
    }
}

/// Counts outputs the broker acknowledged, for a shell outside [`crate::run_stage`] (the
/// collector's spool sender): per topic, and dead letters by kind.
pub fn count_delivered<'a>(
    stage: &str,
    dlq_topic: &str,
    outputs: impl IntoIterator<Item = &'a Outgoing>,
) {
    let telemetry = telemetry();
    for output in outputs {
        telemetry
            .metrics
            .records_out
            .get_or_create(&labels([("stage", stage), ("topic", &output.topic)]))
            .inc();
        if output.topic == dlq_topic {
            count_dead_letter(telemetry, stage, output);
        }
    }
}

fn count_dead_letter(telemetry: &Telemetry, stage: &str, output: &Outgoing) {
    let kind = decode::<DeadLetter>(&output.payload)
        .map(|letter| letter.kind)
        .unwrap_or_else(|_| "unknown".to_string());
    telemetry
        .metrics
        .dead_letters
        .get_or_create(&labels([("stage", stage), ("kind", &kind)]))
        .inc();
}
