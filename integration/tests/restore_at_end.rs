//! When the shared run loop restores a partition's state (`Stage::restore`), on a real broker,
//! with a stage that records every call: before the first record of a partition that has
//! records to read; and, for a partition read to its end with none (a quiet stretch), at once,
//! with its last checkpoint and the group's committed offset, not at its next record. The state
//! of a partition restored that way is committed as it moves (the recipe-processor's watermark
//! through the night) though no record is read, and the record that ends the stretch reaches the
//! stage after the restore, which does not run again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use presage_events::{event_id, RawSample};
use presage_integration::broker::TestBroker;
use presage_runner::publisher::Publisher;
use presage_runner::{
    run_stage, Checkpoint, KafkaArgs, LoadedTemplate, Origin, Outgoing, Shutdown, Stage, StageError,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Restore {
        partition: i32,
        metadata: String,
        resume: i64,
    },
    Record {
        partition: i32,
        offset: i64,
    },
}

/// Per partition: the offset after the last record, the records seen, and the idle ticks, all
/// in the checkpoint: state that moves with the clock, as an idle clock does.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    next: i64,
    seen: u64,
    ticks: u64,
}

struct Recorder {
    topic: String,
    calls: Arc<Mutex<Vec<Call>>>,
    held: HashMap<i32, Held>,
}

impl Recorder {
    fn field(metadata: &str, name: &str) -> u64 {
        metadata
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map_or(0, |v| v.parse().expect("a number"))
    }
}

impl Stage for Recorder {
    type Input = RawSample;

    fn name(&self) -> &'static str {
        "restore-probe"
    }

    fn input_topic(&self) -> String {
        self.topic.clone()
    }

    fn on_template(&mut self, _template: &LoadedTemplate) {}

    fn on_event(&mut self, _event: RawSample) -> Result<Vec<Outgoing>, StageError> {
        Err(StageError::new("needs the record's position"))
    }

    fn on_event_at(
        &mut self,
        _event: RawSample,
        at: &Origin<'_>,
    ) -> Result<Vec<Outgoing>, StageError> {
        self.calls.lock().unwrap().push(Call::Record {
            partition: at.partition,
            offset: at.offset,
        });
        let held = self.held.entry(at.partition).or_default();
        held.next = at.offset + 1;
        held.seen += 1;
        Ok(Vec::new())
    }

    fn on_idle(&mut self, _now_ms: i64) -> Result<Vec<Outgoing>, StageError> {
        for held in self.held.values_mut() {
            held.ticks += 1;
        }
        Ok(Vec::new())
    }

    fn keeps_checkpoints(&self) -> bool {
        true
    }

    fn checkpoint(&self, partition: i32) -> Option<Checkpoint> {
        let held = self.held.get(&partition)?;
        Some(Checkpoint {
            offset: held.next,
            metadata: format!("seen={} ticks={}", held.seen, held.ticks),
        })
    }

    fn restore(&mut self, partition: i32, metadata: &str, resume: i64) {
        self.calls.lock().unwrap().push(Call::Restore {
            partition,
            metadata: metadata.to_string(),
            resume,
        });
        self.held.insert(
            partition,
            Held {
                next: resume,
                seen: Self::field(metadata, "seen"),
                ticks: Self::field(metadata, "ticks"),
            },
        );
    }

    fn forget(&mut self, partition: i32) {
        self.held.remove(&partition);
    }
}

/// One run of the loop, in a thread, with its record of calls.
struct Run {
    calls: Arc<Mutex<Vec<Call>>>,
    shutdown: Shutdown,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Run {
    fn start(kafka: &KafkaArgs) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let shutdown = Shutdown::default();
        let stage = Recorder {
            topic: kafka.topics().raw(),
            calls: calls.clone(),
            held: HashMap::new(),
        };
        let (kafka, stop) = (kafka.clone(), shutdown.clone());
        let thread = std::thread::spawn(move || run_stage(&kafka, stage, &stop));
        Self {
            calls,
            shutdown,
            thread: Some(thread),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits (generously) until `done` accepts the calls so far.
    fn wait_for(&self, what: &str, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let calls = self.calls();
            if done(&calls) {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 180 s; calls: {calls:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the loop the way SIGTERM does: it commits on the way out.
    fn stop(mut self) {
        self.shutdown.request();
        let result = self.thread.take().expect("running").join().expect("joined");
        result.expect("the loop ends cleanly");
    }
}

fn sample(n: i64) -> RawSample {
    RawSample {
        event_id: event_id(&["raw", "probe", &n.to_string()]),
        app: "probe".into(),
        template_version: String::new(),
        source: "api".into(),
        metric: "requests".into(),
        labels: Default::default(),
        value: n as f64,
        event_time_ms: 1_700_000_000_000 + n * 1_000,
        lineage: "restore_at_end test".into(),
    }
}

fn produce(kafka: &KafkaArgs, from: i64, to: i64) {
    let records: Vec<Outgoing> = (from..to)
        .map(|n| Outgoing::event(kafka.topics().raw(), &sample(n)).expect("encode"))
        .collect();
    Publisher::new(kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce");
}

fn restores_of(calls: &[Call], of: i32) -> Vec<(String, i64)> {
    calls
        .iter()
        .filter_map(|call| match call {
            Call::Restore {
                partition,
                metadata,
                resume,
            } if *partition == of => Some((metadata.clone(), *resume)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_partition_read_to_its_end_is_restored_at_once_and_one_with_records_before_the_first() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();

    // First run: five records of one app (one partition), restored before the first of them.
    produce(&kafka, 0, 5);
    let run = Run::start(&kafka);
    let calls = run.wait_for("five records", |calls| {
        calls
            .iter()
            .filter(|c| matches!(c, Call::Record { .. }))
            .count()
            == 5
    });
    let busy = calls
        .iter()
        .find_map(|c| match c {
            Call::Record { partition, .. } => Some(*partition),
            _ => None,
        })
        .expect("a record");
    let of_busy: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            matches!(c, Call::Restore { partition, .. } | Call::Record { partition, .. } if *partition == busy)
        })
        .collect();
    assert_eq!(
        of_busy[0],
        &Call::Restore {
            partition: busy,
            metadata: String::new(),
            resume: 0
        },
        "restored (nothing to restore yet) before its first record: {calls:?}"
    );
    assert_eq!(of_busy.len(), 6, "restored once: {calls:?}");
    run.stop();

    // Second run, no record sent: the partition is read to its end and restored at once, with
    // its checkpoint and the committed offset. It then runs a while with no record.
    let run = Run::start(&kafka);
    let calls = run.wait_for("the quiet partition's restore", |calls| {
        !restores_of(calls, busy).is_empty()
    });
    let restored = restores_of(&calls, busy);
    assert_eq!(restored.len(), 1, "{calls:?}");
    let (quiet_from, resume) = &restored[0];
    assert_eq!(*resume, 5, "the committed offset: {calls:?}");
    assert!(quiet_from.starts_with("seen=5 "), "{quiet_from}");
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Record { .. })),
        "{calls:?}"
    );
    // Idle ticks move its state; the loop commits it though it reads no record.
    std::thread::sleep(Duration::from_secs(3));
    run.stop();

    // Third run: restored at once from what the second committed; the record that ends the
    // stretch reaches the stage after that restore, which does not run again.
    let run = Run::start(&kafka);
    let calls = run.wait_for("the quiet partition's restore", |calls| {
        !restores_of(calls, busy).is_empty()
    });
    let restored = restores_of(&calls, busy);
    assert_eq!(restored.len(), 1, "{calls:?}");
    let (metadata, resume) = &restored[0];
    assert_eq!(*resume, 5, "{calls:?}");
    assert!(metadata.starts_with("seen=5 "), "{metadata}");
    assert!(
        Recorder::field(metadata, "ticks") > Recorder::field(quiet_from, "ticks"),
        "the second run's state, moved by idle ticks with no record read, was committed: \
         {metadata} after {quiet_from}"
    );
    produce(&kafka, 5, 6);
    let calls = run.wait_for("the next record", |calls| {
        calls.iter().any(|c| matches!(c, Call::Record { .. }))
    });
    let of_busy: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            matches!(c, Call::Restore { partition, .. } | Call::Record { partition, .. } if *partition == busy)
        })
        .collect();
    assert_eq!(
        of_busy,
        vec![
            &Call::Restore {
                partition: busy,
                metadata: metadata.clone(),
                resume: 5
            },
            &Call::Record {
                partition: busy,
                offset: 5
            }
        ],
        "{calls:?}"
    );
    // Every partition of the topic was restored once, the empty ones at their (empty) end.
    let partitions: std::collections::BTreeSet<i32> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Restore { partition, .. } => Some(*partition),
            _ => None,
        })
        .collect();
    let restores = calls
        .iter()
        .filter(|c| matches!(c, Call::Restore { .. }))
        .count();
    assert_eq!(restores, partitions.len(), "{calls:?}");
    run.stop();
}
