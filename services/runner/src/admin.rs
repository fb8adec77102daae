//! Creates the topology's topics on any Kafka-protocol broker. Idempotent: a topic that exists
//! already is left as it is.

use std::time::Duration;

use anyhow::{anyhow, Context};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::settings::KafkaArgs;
use crate::topology::{Cleanup, Topology};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicState {
    Created,
    AlreadyExisted,
}

pub fn create_topics(
    kafka: &KafkaArgs,
    topology: &Topology,
) -> anyhow::Result<Vec<(String, TopicState)>> {
    let admin: AdminClient<DefaultClientContext> = kafka
        .client_config(&[])?
        .create()
        .context("creating Kafka admin client")?;
    let topics = kafka.topics();
    let specs: Vec<(String, String, &str, i32)> = topology
        .topics
        .iter()
        .map(|spec| {
            let retention = spec
                .retention_ms()
                .map_err(|e| anyhow!("{}: {e}", spec.name))?;
            let cleanup = match spec.cleanup {
                Cleanup::Delete => "delete",
                Cleanup::Compact => "compact",
            };
            Ok((
                topics.name(&spec.name),
                retention.to_string(),
                cleanup,
                spec.partitions,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|(name, retention, cleanup, partitions)| {
            NewTopic::new(name, *partitions, TopicReplication::Fixed(-1))
                .set("retention.ms", retention)
                .set("cleanup.policy", cleanup)
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = futures_executor::block_on(admin.create_topics(&new_topics, &options))
        .context("creating topics")?;
    results
        .into_iter()
        .map(|result| match result {
            Ok(name) => Ok((name, TopicState::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                Ok((name, TopicState::AlreadyExisted))
            }
            Err((name, code)) => Err(anyhow!("creating topic {name}: {code}")),
        })
        .collect()
}
