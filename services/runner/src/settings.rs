//! How a service reaches Kafka. Every librdkafka setting passes through (`-X key=value` or a
//! properties file), so SASL, SSL and any tuning work without Presage knowing about them.
//!
//! Settings often hold secrets (`sasl.password`), so a supervisor never puts them on a child's
//! command line, where `ps` shows them to every user of the host: [`KafkaChild::kafka`] hands
//! them down in `PRESAGE_KAFKA_SETTINGS`, which the child takes out of its environment as it
//! reads its arguments, so the child's own children (hook commands) never see them.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use rdkafka::ClientConfig;

use crate::topology::Topics;

/// `Debug` shows settings with secret values replaced (see [`presage_events::redact`]).
#[derive(Clone, Default, clap::Args)]
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
    /// Settings handed down by a supervisor in [`INHERITED_SETTINGS_ENV`], applied after the
    /// properties file and before `-X`.
    #[arg(skip = take_inherited_settings())]
    pub inherited_settings: Vec<String>,
}

impl std::fmt::Debug for KafkaArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |settings: &[String]| -> Vec<String> {
            settings
                .iter()
                .map(|s| match s.split_once('=') {
                    Some((key, value)) => presage_events::redact::redact_setting(key, value),
                    None => presage_events::redact::REDACTED.to_string(),
                })
                .collect()
        };
        f.debug_struct("KafkaArgs")
            .field("brokers", &self.brokers)
            .field("kafka_settings", &shown(&self.kafka_settings))
            .field("kafka_properties", &self.kafka_properties)
            .field("topic_prefix", &self.topic_prefix)
            .field("transactions", &self.transactions)
            .field("inherited_settings", &shown(&self.inherited_settings))
            .finish()
    }
}

/// The variable a supervisor hands librdkafka settings down in: one `key=value` per line.
pub const INHERITED_SETTINGS_ENV: &str = "PRESAGE_KAFKA_SETTINGS";

/// Reads the settings a supervisor handed down and removes them from this process's
/// environment, so that nothing this process starts inherits them. Called once, while the
/// arguments are parsed at the top of `main`, before any thread is started.
fn take_inherited_settings() -> Vec<String> {
    let Some(text) = std::env::var_os(INHERITED_SETTINGS_ENV) else {
        return Vec::new();
    };
    std::env::remove_var(INHERITED_SETTINGS_ENV);
    text.to_string_lossy()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Starting a Presage service with the same Kafka settings as this process.
pub trait KafkaChild {
    /// Adds the bootstrap servers, topic prefix, properties file path and transactions switch
    /// as arguments, and every librdkafka setting through the environment.
    fn kafka(&mut self, kafka: &KafkaArgs) -> &mut Self;
}

impl KafkaChild for Command {
    fn kafka(&mut self, kafka: &KafkaArgs) -> &mut Self {
        self.args(kafka.child_args());
        match kafka.child_settings() {
            Some(settings) => self.env(INHERITED_SETTINGS_ENV, settings),
            None => self.env_remove(INHERITED_SETTINGS_ENV),
        }
    }
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
        for setting in self.inherited_settings.iter().chain(&self.kafka_settings) {
            let (key, value) = split_setting(setting)?;
            config.set(key, value);
        }
        Ok(config)
    }

    /// Fails, naming the setting, if librdkafka refuses any of the user's settings. A service
    /// calls it once at start: a setting that can never work must stop the service with its
    /// name, not be retried forever as if the broker were away.
    pub fn check_settings(&self) -> anyhow::Result<()> {
        self.client_config(&[])?
            .create_native_config()
            .map(drop)
            .context("the Kafka settings (-X, --kafka-properties)")
    }

    /// The arguments a child service needs besides its settings: nothing secret (a properties
    /// file is passed by path; the file's permissions guard its contents).
    pub fn child_args(&self) -> Vec<String> {
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
        if self.transactions {
            args.push("--transactions".into());
        }
        args
    }

    /// Every librdkafka setting this process was given (handed down and `-X`), one per line,
    /// in the order they apply; `None` when there are none.
    fn child_settings(&self) -> Option<String> {
        let all: Vec<&str> = self
            .inherited_settings
            .iter()
            .chain(&self.kafka_settings)
            .map(String::as_str)
            .collect();
        (!all.is_empty()).then(|| all.join("\n"))
    }
}

fn split_setting(setting: &str) -> anyhow::Result<(&str, &str)> {
    match setting.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value.trim())),
        // Not echoed whole: a malformed line may still hold a secret.
        _ if presage_events::redact::is_secret_name(setting) => {
            bail!("a Kafka setting that names a secret: expected key=value")
        }
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

    #[test]
    fn a_setting_librdkafka_does_not_know_is_refused_by_name() {
        let args = KafkaArgs {
            kafka_settings: vec!["no.such.setting=1".into()],
            ..KafkaArgs::for_brokers("b:9092")
        };
        let err = args.check_settings().unwrap_err();
        assert!(format!("{err:#}").contains("no.such.setting"), "{err:#}");
        assert!(KafkaArgs::for_brokers("b:9092").check_settings().is_ok());
    }

    #[test]
    fn settings_handed_down_apply_before_the_command_line_and_are_passed_on() {
        let args = KafkaArgs {
            inherited_settings: vec!["acks=0".into(), "linger.ms=7".into()],
            kafka_settings: vec!["acks=1".into()],
            ..KafkaArgs::for_brokers("b:9092")
        };
        let config = args.client_config(&[]).unwrap();
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("linger.ms"), Some("7"));
        assert_eq!(
            args.child_settings().as_deref(),
            Some("acks=0\nlinger.ms=7\nacks=1")
        );
        assert!(!args.child_args().iter().any(|a| a.contains("acks")));
    }

    #[test]
    fn a_child_gets_the_settings_in_its_environment_and_not_in_its_arguments() {
        let args = KafkaArgs {
            kafka_settings: vec!["sasl.password=hunter2".into()],
            ..KafkaArgs::for_brokers("b:9092")
        };
        let mut command = Command::new("true");
        command.kafka(&args);
        let env: Vec<_> = command.get_envs().collect();
        assert!(env.contains(&(
            std::ffi::OsStr::new(INHERITED_SETTINGS_ENV),
            Some(std::ffi::OsStr::new("sasl.password=hunter2"))
        )));
        assert!(!command
            .get_args()
            .any(|a| a.to_string_lossy().contains("hunter2")));
    }

    #[test]
    fn handed_down_settings_leave_the_environment_as_they_are_read() {
        // nextest runs each test in its own process, so no other test sees this variable.
        std::env::set_var(INHERITED_SETTINGS_ENV, "sasl.password=hunter2\n\nacks=1\n");
        assert_eq!(
            take_inherited_settings(),
            vec!["sasl.password=hunter2".to_string(), "acks=1".to_string()]
        );
        assert!(
            std::env::var_os(INHERITED_SETTINGS_ENV).is_none(),
            "a hook command started later would inherit the secret"
        );
    }

    #[test]
    fn debug_output_hides_secret_values() {
        let args = KafkaArgs {
            kafka_settings: vec!["sasl.password=hunter2".into(), "acks=1".into()],
            ..KafkaArgs::for_brokers("b:9092")
        };
        let shown = format!("{args:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("sasl.password=***") && shown.contains("acks=1"),
            "{shown}"
        );
    }
}
