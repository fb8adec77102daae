//! The topology declared in `pipelines/topics.yaml`: topic names, partitions, retention and
//! cleanup policy, and which service writes and reads each topic.

use serde::Deserialize;

/// The topology file shipped with Presage; `--pipeline FILE` can replace it.
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../../pipelines/topics.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub topics: Vec<TopicSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// `-1` (keep forever) or a duration such as `7d`.
    pub retention: yaml_serde::Value,
    pub cleanup: Cleanup,
    #[serde(default)]
    pub writers: Vec<String>,
    #[serde(default)]
    pub readers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cleanup {
    Delete,
    Compact,
}

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("topology {file}: {source}")]
    Yaml {
        file: String,
        source: yaml_serde::Error,
    },
    #[error("topology {file}: topic {topic}: {message}")]
    Invalid {
        file: String,
        topic: String,
        message: String,
    },
}

impl Topology {
    pub fn parse(text: &str, file: &str) -> Result<Self, TopologyError> {
        let topology: Topology =
            yaml_serde::from_str(text).map_err(|source| TopologyError::Yaml {
                file: file.to_string(),
                source,
            })?;
        for topic in &topology.topics {
            let invalid = |message: String| TopologyError::Invalid {
                file: file.to_string(),
                topic: topic.name.clone(),
                message,
            };
            if topic.partitions < 1 {
                return Err(invalid("partitions must be at least 1".into()));
            }
            topic.retention_ms().map_err(invalid)?;
        }
        Ok(topology)
    }

    pub fn default_topology() -> Self {
        Self::parse(DEFAULT_TOPOLOGY, "pipelines/topics.yaml")
            .expect("the shipped topology is checked by a unit test")
    }
}

impl TopicSpec {
    /// `retention.ms` as Kafka wants it: -1 for forever.
    pub fn retention_ms(&self) -> Result<i64, String> {
        match &self.retention {
            yaml_serde::Value::Number(n) if n.as_i64() == Some(-1) => Ok(-1),
            yaml_serde::Value::String(s) => s
                .parse::<presage_template::Duration>()
                .map(|d| d.as_millis() as i64)
                .map_err(|e| format!("retention: {e}")),
            other => Err(format!(
                "retention: expected -1 or a duration like 7d, got {other:?}"
            )),
        }
    }
}

/// Topic names, optionally under a prefix so several stacks can share one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The physical name of a topic declared in the topology (e.g. `presage.directives`).
    pub fn name(&self, logical: &str) -> String {
        format!("{}{}", self.prefix, logical)
    }

    pub fn templates(&self) -> String {
        self.name("presage.templates")
    }
    pub fn raw(&self) -> String {
        self.name("presage.metrics.raw")
    }
    pub fn derived(&self) -> String {
        self.name("presage.metrics.derived")
    }
    pub fn fragments(&self) -> String {
        self.name("presage.metadata.fragments")
    }
    pub fn forecasts(&self) -> String {
        self.name("presage.forecasts")
    }
    pub fn directives(&self) -> String {
        self.name("presage.directives")
    }
    pub fn applied(&self) -> String {
        self.name("presage.applied")
    }
    pub fn dlq(&self) -> String {
        self.name("presage.dlq")
    }
    pub fn checkpoints(&self) -> String {
        self.name("presage.checkpoints")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_topology_declares_every_topic_the_services_use() {
        let topology = Topology::default_topology();
        let topics = Topics::default();
        let declared: Vec<&str> = topology.topics.iter().map(|t| t.name.as_str()).collect();
        for used in [
            topics.templates(),
            topics.raw(),
            topics.derived(),
            topics.fragments(),
            topics.forecasts(),
            topics.directives(),
            topics.applied(),
            topics.dlq(),
            topics.checkpoints(),
        ] {
            assert!(declared.contains(&used.as_str()), "{used} is not declared");
        }
    }

    #[test]
    fn templates_topic_is_compacted_and_kept_forever() {
        let topology = Topology::default_topology();
        let templates = topology
            .topics
            .iter()
            .find(|t| t.name == "presage.templates")
            .unwrap();
        assert_eq!(templates.cleanup, Cleanup::Compact);
        assert_eq!(templates.retention_ms(), Ok(-1));
    }

    #[test]
    fn retention_durations_become_milliseconds() {
        let topology = Topology::default_topology();
        let raw = topology
            .topics
            .iter()
            .find(|t| t.name == "presage.metrics.raw")
            .unwrap();
        assert_eq!(raw.retention_ms(), Ok(7 * 24 * 3600 * 1000));
    }

    #[test]
    fn a_bad_retention_is_refused_with_the_topic_name() {
        let text =
            "topics:\n  - { name: t, partitions: 1, retention: 5 minutes, cleanup: delete }\n";
        let err = Topology::parse(text, "x.yaml").unwrap_err().to_string();
        assert!(
            err.contains("topic t") && err.contains("retention"),
            "{err}"
        );
    }

    #[test]
    fn prefix_namespaces_every_topic() {
        assert_eq!(Topics::new("t1.").dlq(), "t1.presage.dlq");
    }
}
