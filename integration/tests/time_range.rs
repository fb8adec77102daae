//! Reading a span of event time back from a topic: `read_time_range` hands over exactly the
//! records stamped within `[from, to)`, from every partition, in offset order per partition.
//!
//! Thirty records, one a second, are produced round-robin to a three-partition topic with
//! explicit record timestamps. Two of them are stamped an hour early (a late arrival): they sit
//! among the others in the log, and a read of the span around them must skip them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_integration::broker::TestBroker;
use presage_runner::admin::create_topics;
use presage_runner::range::read_time_range;
use presage_runner::{HistoryRead, KafkaArgs, PartitionRange, Topology};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const RECORDS: i64 = 30;
const PARTITIONS: i32 = 3;
const SECOND: i64 = 1_000;
const HOUR: i64 = 3_600 * SECOND;
/// Records stamped an hour before their neighbours.
const LATE: [i64; 2] = [13, 17];

/// One produced record.
#[derive(Debug, Clone)]
struct Stamped {
    partition: i32,
    timestamp_ms: i64,
    payload: String,
}

/// A broker with a three-partition topic holding the thirty records.
struct StampedTopic {
    broker: TestBroker,
    topic: String,
    /// The timestamp of record 0; record `i` is stamped `base + i` seconds (the late ones aside).
    base_ms: i64,
    records: Vec<Stamped>,
}

impl StampedTopic {
    fn start() -> Self {
        let broker = TestBroker::start();
        let topic = broker.kafka.topics().name("test.time-range");
        let topology = Topology::parse(
            "topics:\n  - { name: test.time-range, partitions: 3, retention: 7d, cleanup: delete }\n",
            "time_range test topic",
        )
        .expect("test topology");
        create_topics(&broker.kafka, &topology).expect("creating the test topic");
        // A recent past, well within the topic's retention.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let base_ms = now - 10 * 60 * SECOND;
        let records: Vec<Stamped> = (0..RECORDS)
            .map(|i| Stamped {
                partition: (i % PARTITIONS as i64) as i32,
                timestamp_ms: base_ms + i * SECOND - if LATE.contains(&i) { HOUR } else { 0 },
                payload: format!("record-{i}"),
            })
            .collect();
        produce_stamped(&broker.kafka, &topic, &records);
        Self {
            broker,
            topic,
            base_ms,
            records,
        }
    }

    fn kafka(&self) -> &KafkaArgs {
        &self.broker.kafka
    }

    /// The payloads stamped within `[from_ms, to_ms)`, with their partitions.
    fn stamped_within(&self, from_ms: i64, to_ms: i64) -> BTreeSet<(i32, String)> {
        self.records
            .iter()
            .filter(|r| r.timestamp_ms >= from_ms && r.timestamp_ms < to_ms)
            .map(|r| (r.partition, r.payload.clone()))
            .collect()
    }

    /// Per partition, from the first offset stamped `from_ms` or later to the first stamped
    /// `to_ms` or later (or the partition's end): ListOffsets by time, worked out by hand.
    fn bounds(&self, from_ms: i64, to_ms: i64) -> Vec<PartitionRange> {
        (0..PARTITIONS)
            .map(|partition| {
                let stamps: Vec<i64> = self
                    .records
                    .iter()
                    .filter(|r| r.partition == partition)
                    .map(|r| r.timestamp_ms)
                    .collect();
                let first_from =
                    |ms: i64| stamps.iter().position(|&t| t >= ms).unwrap_or(stamps.len()) as i64;
                PartitionRange {
                    partition,
                    start: first_from(from_ms),
                    end: first_from(to_ms),
                }
            })
            .collect()
    }

    /// What `read_time_range` handed over, checked to come in offset order per partition.
    fn read(&self, from_ms: i64, to_ms: i64) -> (BTreeSet<(i32, String)>, HistoryRead) {
        let mut got = BTreeSet::new();
        let mut last_offset: BTreeMap<i32, i64> = BTreeMap::new();
        let read = read_time_range(
            self.kafka(),
            &self.topic,
            from_ms,
            to_ms,
            |partition, offset, payload| {
                if let Some(previous) = last_offset.insert(partition, offset) {
                    assert!(
                        offset > previous,
                        "partition {partition}: offset {offset} after {previous}"
                    );
                }
                let payload = String::from_utf8(payload.to_vec()).expect("utf-8 payload");
                assert!(
                    got.insert((partition, payload.clone())),
                    "{payload} handed over twice"
                );
            },
        )
        .unwrap_or_else(|e| panic!("reading {} [{from_ms}, {to_ms}): {e:#}", self.topic));
        assert_eq!(read.records as usize, got.len(), "{read}");
        (got, read)
    }
}

/// Produces every record to its partition, keyed and stamped, and waits until all are written.
fn produce_stamped(kafka: &KafkaArgs, topic: &str, records: &[Stamped]) {
    let producer: BaseProducer = kafka
        .client_config(&[])
        .expect("producer config")
        .create()
        .expect("producer");
    for (i, record) in records.iter().enumerate() {
        let key = format!("key-{i}");
        producer
            .send(
                BaseRecord::to(topic)
                    .key(&key)
                    .payload(&record.payload)
                    .partition(record.partition)
                    .timestamp(record.timestamp_ms),
            )
            .map_err(|(err, _)| err)
            .expect("queueing a record");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("writing the records");
}

#[test]
fn a_time_range_read_hands_over_exactly_the_records_stamped_within_it() {
    let topic = StampedTopic::start();
    // Records 8 to 21, minus 13 and 17 stamped an hour early: they lie between the bounds in
    // the log, so the read fetches them and must skip them. Record i is at offset i / 3 of
    // partition i % 3.
    let from = topic.base_ms + 8 * SECOND;
    let to = topic.base_ms + 22 * SECOND;
    let expected = topic.stamped_within(from, to);
    assert_eq!(expected.len(), 12);
    assert!(
        expected
            .iter()
            .map(|(p, _)| *p)
            .collect::<BTreeSet<_>>()
            .len()
            == PARTITIONS as usize,
        "the range must span every partition"
    );

    let (got, read) = topic.read(from, to);

    assert_eq!(got, expected, "{read}");
    assert_eq!(read.partitions(), PARTITIONS as usize, "{read}");
    assert_eq!(read.ranges, topic.bounds(from, to), "{read}");
}

#[test]
fn an_empty_range_and_a_range_past_the_newest_record_hand_over_nothing() {
    let topic = StampedTopic::start();
    let middle = topic.base_ms + 15 * SECOND;
    let newest = topic.base_ms + (RECORDS - 1) * SECOND;

    let (empty, read) = topic.read(middle, middle);
    assert!(empty.is_empty(), "[t, t) read {empty:?}");
    assert_eq!(read, HistoryRead::default());

    let (past_the_end, read) = topic.read(newest + 1, newest + HOUR);
    assert!(
        past_the_end.is_empty(),
        "past the end read {past_the_end:?} ({read})"
    );
    assert_eq!(read, HistoryRead::default());

    // The whole span still reads everything: the topic was not empty.
    let (all, _) = topic.read(topic.base_ms - 2 * HOUR, newest + 1);
    assert_eq!(all.len(), RECORDS as usize);
}

#[test]
fn reading_a_topic_that_does_not_exist_fails_naming_it() {
    let broker = TestBroker::start();
    let missing = broker.kafka.topics().name("test.no-such-topic");

    let err = read_time_range(&broker.kafka, &missing, 0, i64::MAX, |_, _, _| {
        panic!("a missing topic has no records")
    })
    .expect_err("reading a missing topic must fail");

    let message = format!("{err:#}");
    assert!(message.contains(&missing), "{message}");
}
