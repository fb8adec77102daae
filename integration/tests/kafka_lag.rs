//! A `kafka_lag` source watches a real consumer group on the local broker: the collector
//! publishes each partition's lag as raw samples, and they follow the group as it falls behind
//! and catches up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use presage_events::RawSample;
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::{KafkaArgs, Outgoing};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};

const TEMPLATE: &str = r#"
app: billing-workers
dynamic_metadata:
  sources:
    - { id: billing, kind: kafka_lag, group: billing, topics: [orders], every: 1s }
  metric_recipes:
    - { name: lag, from: billing.consumer_lag, aggregate: sum, window: { tumble: 5s } }
"#;

const PARTITIONS: i32 = 3;
const RECORDS: usize = 90;

#[test]
fn the_lag_of_a_real_group_is_published_as_it_falls_behind_and_catches_up() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();
    create_orders(kafka);
    produce_orders(kafka, RECORDS);

    // The group reads a third of the orders and commits: two thirds behind.
    let billing = consumer(kafka, "billing");
    consume_and_commit(&billing, RECORDS / 3);

    let template = dir.path().join("billing.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    publish_templates(kafka, &[template]).unwrap();
    let mut services = Services::new(&dir.path().join("logs"));
    services.start("collector", kafka, dir.path());
    let raw = TopicReader::open(kafka, &kafka.topics().raw());
    let mut lags = Lags::default();

    let behind = (RECORDS - RECORDS / 3) as f64;
    assert!(
        lags.wait_for_total(&raw, behind),
        "no read of the group {behind} records behind; saw {:?}\n{}",
        lags.totals(),
        services.logs()
    );

    // It catches up: the rest read and committed, and the lag read falls to zero.
    consume_and_commit(&billing, RECORDS - RECORDS / 3);
    assert!(
        lags.wait_for_total(&raw, 0.0),
        "no read of the group caught up; saw {:?}\n{}",
        lags.totals(),
        services.logs()
    );
    // Each read covers every partition, labelled with the group and topic.
    let last = lags.reads.values().last().unwrap();
    assert_eq!(last.len(), PARTITIONS as usize, "{last:?}");
}

/// Per read (its sample time), the lag of each partition.
#[derive(Default)]
struct Lags {
    reads: BTreeMap<i64, BTreeMap<String, f64>>,
}

impl Lags {
    /// Reads samples until a complete read (every partition) adds up to `total`.
    fn wait_for_total(&mut self, raw: &TopicReader, total: f64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            for sample in raw.poll::<RawSample>(Duration::from_millis(500)) {
                assert_eq!(sample.metric, "consumer_lag");
                assert_eq!(
                    sample.labels.get("group").map(String::as_str),
                    Some("billing")
                );
                assert_eq!(
                    sample.labels.get("topic").map(String::as_str),
                    Some("orders")
                );
                let partition = sample.labels["partition"].clone();
                self.reads
                    .entry(sample.event_time_ms)
                    .or_default()
                    .insert(partition, sample.value);
            }
            if self.totals().iter().any(|(_, sum)| *sum == total) {
                return true;
            }
        }
        false
    }

    /// The totals of complete reads, in time order.
    fn totals(&self) -> Vec<(i64, f64)> {
        self.reads
            .iter()
            .filter(|(_, partitions)| partitions.len() == PARTITIONS as usize)
            .map(|(at, partitions)| (*at, partitions.values().sum()))
            .collect()
    }
}

fn create_orders(kafka: &KafkaArgs) {
    let admin: AdminClient<DefaultClientContext> =
        kafka.client_config(&[]).unwrap().create().unwrap();
    let topic = NewTopic::new("orders", PARTITIONS, TopicReplication::Fixed(1));
    let results = futures_executor::block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .expect("creating the orders topic");
    for result in results {
        result.expect("the orders topic");
    }
}

fn produce_orders(kafka: &KafkaArgs, count: usize) {
    let records: Vec<Outgoing> = (0..count)
        .map(|i| Outgoing {
            topic: "orders".into(),
            key: format!("order-{i}"),
            event_id: format!("order-{i}"),
            payload: format!("order {i}").into_bytes(),
            timestamp_ms: None,
        })
        .collect();
    Publisher::new(kafka).unwrap().send_all(&records).unwrap();
}

fn consumer(kafka: &KafkaArgs, group: &str) -> BaseConsumer {
    let consumer: BaseConsumer = kafka
        .client_config(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
        ])
        .unwrap()
        .create()
        .unwrap();
    consumer.subscribe(&["orders"]).unwrap();
    consumer
}

/// Reads `count` orders, then commits the position it reached.
fn consume_and_commit(consumer: &BaseConsumer, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut read = 0;
    while read < count {
        assert!(
            Instant::now() < deadline,
            "read only {read} of {count} orders"
        );
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(200)) {
            read += 1;
        }
    }
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("committing the group's offsets");
}

/// A group whose topics hold more partitions than the collector reads in one source is refused
/// whole, with a dead letter, before a request per partition is made.
#[test]
fn a_source_with_more_partitions_than_the_bound_is_refused_with_a_dead_letter() {
    let broker = TestBroker::start();
    let kafka = &broker.kafka;
    let dir = tempfile::tempdir().unwrap();
    create_orders(kafka);
    let template = dir.path().join("billing.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    publish_templates(kafka, &[template]).unwrap();
    let mut services = Services::new(&dir.path().join("logs"));
    // Fewer than the topic's three partitions.
    services.set_env("collector", "PRESAGE_COLLECTOR_MAX_SCRAPE_SERIES", "2");
    services.start("collector", kafka, dir.path());

    let dlq = TopicReader::open(kafka, &kafka.topics().dlq());
    let mut letters: Vec<presage_events::DeadLetter> = Vec::new();
    assert!(
        dlq.wait_until(&mut letters, Duration::from_secs(60), |l| !l.is_empty()),
        "no dead letter\n{}",
        services.logs()
    );
    assert_eq!(letters[0].kind, "scrape_too_large");
    assert_eq!(letters[0].app, "billing-workers");
    assert!(
        letters[0].reason.contains("3 series"),
        "{}",
        letters[0].reason
    );
    let raw = TopicReader::open(kafka, &kafka.topics().raw());
    assert!(
        raw.poll::<RawSample>(Duration::from_secs(2)).is_empty(),
        "a refused source published samples"
    );
}
