//! Output the broker will never take does not stop a stage, and output larger than the
//! producer's queue waits for room instead of failing: `Publisher::send_reliably` against a real
//! broker.

use std::time::Duration;

use presage_integration::broker::TestBroker;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::{Outgoing, Shutdown};

fn record(topic: &str, id: &str, bytes: usize) -> Outgoing {
    Outgoing {
        topic: topic.to_string(),
        key: "app".into(),
        event_id: id.to_string(),
        payload: vec![b'x'; bytes],
        timestamp_ms: None,
    }
}

#[test]
fn a_record_over_the_size_limit_is_handed_back_and_the_others_are_delivered() {
    let broker = TestBroker::start();
    let topic = broker.kafka.topics().derived();
    let records = vec![
        record(&topic, "small-1", 100),
        record(&topic, "huge", 2_000_000), // over librdkafka's and the broker's 1 MB default
        record(&topic, "small-2", 100),
    ];
    let publisher = Publisher::new(&broker.kafka).unwrap();
    let refused = publisher
        .send_reliably(&records, &Shutdown::default())
        .unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].index, 1);
    assert!(
        refused[0].reason.contains("too large") || refused[0].reason.contains("TooLarge"),
        "{}",
        refused[0].reason
    );
    let delivered = TopicReader::open(&broker.kafka, &topic).poll_raw(Duration::from_secs(10));
    assert_eq!(delivered.len(), 2, "both small records, and only them");
    assert!(delivered.iter().all(|(payload, _, _)| payload.len() == 100));
}

#[test]
fn a_batch_larger_than_the_producer_queue_is_delivered_whole() {
    let broker = TestBroker::start();
    let topic = broker.kafka.topics().derived();
    // The producer queues 1,000 messages at most here (librdkafka's default is 100,000): a
    // batch of 30,000 overflows it thirty times over, and its chunks of 5,000 five times.
    let mut kafka = broker.kafka.clone();
    kafka
        .kafka_settings
        .push("queue.buffering.max.messages=1000".into());
    let records: Vec<Outgoing> = (0..30_000)
        .map(|i| record(&topic, &format!("r{i}"), 16))
        .collect();
    let publisher = Publisher::new(&kafka).unwrap();
    let refused = publisher
        .send_reliably(&records, &Shutdown::default())
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let reader = TopicReader::open(&broker.kafka, &topic);
    let mut count = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while count < records.len() && std::time::Instant::now() < deadline {
        count += reader.poll_raw(Duration::from_secs(2)).len();
    }
    assert_eq!(count, records.len());
}
