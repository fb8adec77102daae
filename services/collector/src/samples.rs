//! Readings → `RawSample` events, with ids derived from what they measure and when, so a
//! reading published twice is dropped downstream.

use std::collections::BTreeMap;

use presage_events::ids::labels_key;
use presage_events::{event_id, RawSample};

/// One value read from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub at_ms: i64,
}

impl Reading {
    pub fn new(metric: &str, value: f64, at_ms: i64) -> Self {
        Self {
            metric: metric.to_string(),
            labels: BTreeMap::new(),
            value,
            at_ms,
        }
    }
}

/// The label a node-local collector (`--node NAME`) stamps on every sample it publishes.
pub const NODE_LABEL: &str = "node";
/// Where a source's own `node` label goes when the collector stamps its node (as Prometheus
/// keeps a target's clashing label as `exported_<name>`).
pub const EXPORTED_NODE_LABEL: &str = "exported_node";

/// Stamps `node` on every reading: two nodes reading one app make two series (and two ids).
pub fn stamp_node(readings: &mut [Reading], node: &str) {
    for reading in readings {
        if let Some(own) = reading
            .labels
            .insert(NODE_LABEL.to_string(), node.to_string())
        {
            reading.labels.insert(EXPORTED_NODE_LABEL.to_string(), own);
        }
    }
}

pub fn to_raw_samples(
    app: &str,
    template_version: &str,
    source_id: &str,
    readings: Vec<Reading>,
) -> Vec<RawSample> {
    readings
        .into_iter()
        .map(|reading| {
            // Length-prefixed: `{a="1,b=2"}` and `{a="1",b="2"}` are two series, two ids.
            let series = labels_key(&reading.labels);
            let at = reading.at_ms.to_string();
            RawSample {
                event_id: event_id(&["raw", app, source_id, &reading.metric, &series, &at]),
                app: app.to_string(),
                template_version: template_version.to_string(),
                source: source_id.to_string(),
                metric: reading.metric,
                labels: reading.labels,
                value: reading.value,
                event_time_ms: reading.at_ms,
                lineage: format!("read:{source_id}@{at}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_reading_gets_the_same_id_and_another_time_another() {
        let a = to_raw_samples("app", "v1", "api", vec![Reading::new("rps", 1.0, 1000)]);
        let b = to_raw_samples("app", "v1", "api", vec![Reading::new("rps", 2.0, 1000)]);
        let c = to_raw_samples("app", "v1", "api", vec![Reading::new("rps", 1.0, 2000)]);
        assert_eq!(a[0].event_id, b[0].event_id);
        assert_ne!(a[0].event_id, c[0].event_id);
        assert_eq!(a[0].event_time_ms, 1000);
        assert_eq!(a[0].source, "api");
    }

    #[test]
    fn a_node_is_stamped_on_every_reading_and_a_source_s_own_node_label_is_kept_aside() {
        let mut own = Reading::new("up", 1.0, 1000);
        own.labels.insert("node".into(), "exporter-host".into());
        let mut readings = vec![Reading::new("rps", 1.0, 1000), own];
        stamp_node(&mut readings, "node-a");
        assert!(readings.iter().all(|r| r.labels["node"] == "node-a"));
        assert_eq!(readings[1].labels["exported_node"], "exporter-host");
        assert!(!readings[0].labels.contains_key("exported_node"));
        let on_b = {
            let mut r = vec![Reading::new("rps", 1.0, 1000)];
            stamp_node(&mut r, "node-b");
            to_raw_samples("app", "v1", "api", r)
        };
        let on_a = to_raw_samples("app", "v1", "api", readings);
        assert_ne!(on_a[0].event_id, on_b[0].event_id, "one series per node");
    }

    #[test]
    fn labels_whose_text_joins_the_same_way_are_two_series_with_two_ids() {
        let reading = |pairs: &[(&str, &str)]| Reading {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Reading::new("rps", 1.0, 1000)
        };
        let samples = to_raw_samples(
            "app",
            "v1",
            "api",
            vec![
                reading(&[("a", "1,b=2")]),
                reading(&[("a", "1"), ("b", "2")]),
            ],
        );
        assert_ne!(samples[0].event_id, samples[1].event_id);
        assert_ne!(samples[0].labels, samples[1].labels);
    }
}
