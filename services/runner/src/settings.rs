//! How a service reaches Kafka. Every librdkafka setting passes through (`-X key=value` or a
//! properties file), so SASL, SSL and any tuning work without Presage knowing about them.

use std::path::PathBuf;

use anyhow::{bail, Context};
use rdkafka::ClientConfig;

use crate::topology::Topics;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct KafkaArgs {
    /// Bootstrap servers, e.g. `127.0.0.1:9092`.
    #[arg(long, env = "PRESAGE_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// A librdkafka setting, `key=value`; repeatable (e.g. `-X security.protocol=SASL_SSL`).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub kafka_settings: Vec<String>,
    /// A Java-style properties file of librdkafka settings, applied before `-X`.
    #[arg(long, env = "PRESAGE_KAFKA_PROPERTIES")]
    pub kafka_properties: Option<PathBuf>,
    /// Prefix for every topic name, so several stacks can share one cluster.
    #[arg(long, env = "PRESAGE_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Commit output and input offsets in one Kafka transaction. Only for brokers with
    /// transactions (Apache Kafka); the local broker has none, and correctness does not need
    /// them (idempotent producer, deterministic ids, de-duplication downstream).
    #[arg(long, env = "PRESAGE_TRANSACTIONS", default_value_t = false)]
    pub transactions: bool,
}

impl KafkaArgs {
    pub fn for_brokers(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            ..Self::default()
        }
    }

    pub fn topics(&self) -> Topics {
        Topics::new(self.topic_prefix.clone())
    }

    /// The user's settings on top of `bootstrap.servers`; callers add their role's settings
    /// first so the user can still override them.
    pub fn client_config(&self, role_defaults: &[(&str, &str)]) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in role_defaults {
            config.set(*key, *value);
        }
        if let Some(path) = &self.kafka_properties {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading Kafka properties {}", path.display()))?;
            for (key, value) in parse_properties(&text)
                .with_context(|| format!("in Kafka properties {}", path.display()))?
            {
                config.set(key, value);
            }
        }
        for setting in &self.kafka_settings {
            let (key, value) = split_setting(setting)?;
            config.set(key, value);
        }
        Ok(config)
    }

    /// Every librdkafka setting the user gave, as `-X key=value` arguments, so a supervisor can
    /// hand them on to the services it starts.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--brokers".to_string(),
            self.brokers.clone(),
            "--topic-prefix".to_string(),
            self.topic_prefix.clone(),
        ];
        if let Some(path) = &self.kafka_properties {
            args.push("--kafka-properties".into());
            args.push(path.display().to_string());
        }
        for setting in &self.kafka_settings {
            args.push("-X".into());
            args.push(setting.clone());
        }
        if self.transactions {
            args.push("--transactions".into());
        }
        args
    }
}

fn split_setting(setting: &str) -> anyhow::Result<(&str, &str)> {
    match setting.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value.trim())),
        _ => bail!("Kafka setting {setting:?}: expected key=value"),
    }
}

/// Parses `key=value` lines; `#` and `!` start comments, as in Java properties files.
pub fn parse_properties(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut settings = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = split_setting(line).with_context(|| format!("line {}", number + 1))?;
        settings.push((key.to_string(), value.to_string()));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_skip_comments_and_keep_values_with_equals_signs() {
        let text = "# SASL\nsecurity.protocol=SASL_SSL\n! other comment\n\nsasl.jaas.config=a=b\n";
        let settings = parse_properties(text).unwrap();
        assert_eq!(
            settings,
            vec![
                ("security.protocol".to_string(), "SASL_SSL".to_string()),
                ("sasl.jaas.config".to_string(), "a=b".to_string()),
            ]
        );
    }

    #[test]
    fn a_setting_without_equals_names_its_line() {
        let err = parse_properties("a=1\nbroken\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }

    #[test]
    fn user_settings_override_role_defaults() {
        let args = KafkaArgs {
            kafka_settings: vec!["acks=1".into()],
            ..KafkaArgs::for_brokers("b:9092")
        };
        let config = args.client_config(&[("acks", "all")]).unwrap();
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("bootstrap.servers"), Some("b:9092"));
    }
}
