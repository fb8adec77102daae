//! Templates reach every service through the compacted `presage.templates` topic. A service
//! reads the topic to its end before it handles any event, then keeps tailing it for changes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use presage_events::{decode, event_id, Event, TemplateVersion};
use presage_template::Template;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::dlq::now_ms;
use crate::publisher::Publisher;
use crate::settings::KafkaArgs;
use crate::stage::Outgoing;

/// A parsed template and the version (content hash) events made under it carry.
#[derive(Debug, Clone)]
pub struct LoadedTemplate {
    pub version: String,
    pub template: Arc<Template>,
}

/// The latest template of each app.
#[derive(Debug, Default, Clone)]
pub struct TemplateBook {
    by_app: HashMap<String, LoadedTemplate>,
}

impl TemplateBook {
    pub fn insert(&mut self, loaded: LoadedTemplate) {
        self.by_app.insert(loaded.template.app.clone(), loaded);
    }
    pub fn get(&self, app: &str) -> Option<&LoadedTemplate> {
        self.by_app.get(app)
    }
    pub fn all(&self) -> impl Iterator<Item = &LoadedTemplate> {
        self.by_app.values()
    }
    pub fn len(&self) -> usize {
        self.by_app.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_app.is_empty()
    }
}

/// Parses a published template event; a template that no longer validates is an error.
pub fn load_published(event: &TemplateVersion) -> anyhow::Result<LoadedTemplate> {
    let template = presage_template::parse(&event.body, &event.source_path)
        .map_err(|errors| anyhow!("published template is invalid:\n{errors}"))?;
    Ok(LoadedTemplate {
        version: event.template_version.clone(),
        template: Arc::new(template),
    })
}

/// The event that publishes a template file.
pub fn template_event(path: &Path) -> anyhow::Result<TemplateVersion> {
    let body = std::fs::read_to_string(path)
        .with_context(|| format!("reading template {}", path.display()))?;
    let source_path = path.display().to_string();
    let template =
        presage_template::parse(&body, &source_path).map_err(|errors| anyhow!("{errors}"))?;
    let version = presage_template::version_of(&body);
    Ok(TemplateVersion {
        event_id: event_id(&["template", &template.app, &version]),
        app: template.app.clone(),
        template_version: version,
        source_path,
        body,
        published_at_ms: now_ms(),
        lineage: format!("file:{}", path.display()),
    })
}

/// Validates and publishes template files to the templates topic, keyed by app id.
pub fn publish_templates(
    kafka: &KafkaArgs,
    paths: &[std::path::PathBuf],
) -> anyhow::Result<Vec<TemplateVersion>> {
    let events = paths
        .iter()
        .map(|path| template_event(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let topic = kafka.topics().templates();
    let records = events
        .iter()
        .map(|event| Outgoing::event(topic.clone(), event))
        .collect::<Result<Vec<_>, _>>()?;
    let publisher = Publisher::new(kafka)?;
    publisher.send_all(&records)?;
    Ok(events)
}

/// A reader of the whole templates topic, outside any consumer group: every instance of every
/// service needs every template.
pub struct TemplateFeed {
    consumer: BaseConsumer,
    topic: String,
}

impl TemplateFeed {
    pub fn open(kafka: &KafkaArgs, service: &str) -> anyhow::Result<Self> {
        let topic = kafka.topics().templates();
        let consumer: BaseConsumer = kafka
            .client_config(&[
                ("group.id", &format!("presage-{service}-templates")),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "false"),
            ])?
            .create()
            .context("creating template reader")?;
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .with_context(|| format!("reading metadata of {topic}"))?;
        let mut assignment = TopicPartitionList::new();
        for meta_topic in metadata.topics() {
            if let Some(err) = meta_topic.error() {
                return Err(anyhow!(
                    "topic {topic}: {err:?} (run `presage topics create`)"
                ));
            }
            for partition in meta_topic.partitions() {
                assignment.add_partition_offset(&topic, partition.id(), Offset::Beginning)?;
            }
        }
        if assignment.count() == 0 {
            return Err(anyhow!(
                "topic {topic} has no partitions (run `presage topics create`)"
            ));
        }
        consumer.assign(&assignment)?;
        Ok(Self { consumer, topic })
    }

    /// Reads every template published so far into `book`.
    pub fn read_to_end(&self, book: &mut TemplateBook) -> anyhow::Result<()> {
        let mut ends = Vec::new();
        let metadata = self
            .consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(10))?;
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(&self.topic, partition.id(), Duration::from_secs(10))
                    .with_context(|| format!("watermarks of {}", self.topic))?;
                ends.push((partition.id(), high));
            }
        }
        let mut next: HashMap<i32, i64> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ends
            .iter()
            .any(|(p, high)| next.get(p).copied().unwrap_or(0) < *high)
        {
            if Instant::now() > deadline {
                return Err(anyhow!("timed out reading {} to its end", self.topic));
            }
            if let Some(result) = self.consumer.poll(Duration::from_millis(200)) {
                let message = result?;
                next.insert(message.partition(), message.offset() + 1);
                self.absorb(message.payload(), book);
            }
        }
        Ok(())
    }

    /// Takes in templates published since the last call, without blocking.
    /// Client errors are drained with the records: after a broker outage the queue holds one
    /// per failed reconnection, and stopping at each would hold a template back for as many
    /// polls. They are logged once per call, counted.
    pub fn poll_new(&self, book: &mut TemplateBook) -> Vec<LoadedTemplate> {
        let mut fresh = Vec::new();
        let mut errors = 0u64;
        let mut last_error = None;
        while let Some(result) = self.consumer.poll(Duration::ZERO) {
            match result {
                Ok(message) => fresh.extend(self.absorb(message.payload(), book)),
                Err(err) => {
                    errors += 1;
                    last_error = Some(err);
                }
            }
        }
        if let Some(err) = last_error {
            tracing::debug!(topic = %self.topic, errors, error = %err, "template feed errors");
        }
        fresh
    }

    fn absorb(&self, payload: Option<&[u8]>, book: &mut TemplateBook) -> Option<LoadedTemplate> {
        // A compacted topic may hold tombstones (no payload): nothing to load.
        let payload = payload?;
        let loaded = decode::<TemplateVersion>(payload)
            .map_err(anyhow::Error::from)
            .and_then(|event| load_published(&event));
        match loaded {
            Ok(loaded) => {
                tracing::info!(app = %loaded.template.app, version = %loaded.version, "template loaded");
                book.insert(loaded.clone());
                Some(loaded)
            }
            Err(err) => {
                tracing::error!(topic = %self.topic, schema = TemplateVersion::NAME, error = %err, "skipping unusable template");
                None
            }
        }
    }
}
