//! When the shared run loop tells a stage a partition has caught up (`Stage::caught_up`), on a
//! real broker (the local Nisshi), with a stage that records every call: once per assignment,
//! after every record that was on the partition when it was assigned (more than one batch of
//! them, so idle ticks may run in between) and after its restore; for a partition with nothing
//! to read, right after its restore. Records arriving later do not make it caught up again; a
//! restarted loop catches up again after the records produced while it was down.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use presage_events::{event_id, RawSample};
use presage_runner::broker::{find_nisshi, free_port, LocalBroker};
use presage_runner::publisher::Publisher;
use presage_runner::{
    run_stage, KafkaArgs, LoadedTemplate, Origin, Outgoing, Shutdown, Stage, StageError, Topology,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Restore { partition: i32, resume: i64 },
    Record { partition: i32, offset: i64 },
    CaughtUp { partition: i32 },
    Forget { partition: i32 },
}

impl Call {
    fn partition(&self) -> i32 {
        match *self {
            Call::Restore { partition, .. }
            | Call::Record { partition, .. }
            | Call::CaughtUp { partition }
            | Call::Forget { partition } => partition,
        }
    }
}

struct Recorder {
    topic: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    fn push(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }
}

impl Stage for Recorder {
    type Input = RawSample;

    fn name(&self) -> &'static str {
        "caught-up-probe"
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
        self.push(Call::Record {
            partition: at.partition,
            offset: at.offset,
        });
        Ok(Vec::new())
    }

    fn restore(&mut self, partition: i32, _metadata: &str, resume: i64) {
        self.push(Call::Restore { partition, resume });
    }

    fn caught_up(&mut self, partition: i32) {
        self.push(Call::CaughtUp { partition });
    }

    fn forget(&mut self, partition: i32) {
        self.push(Call::Forget { partition });
    }
}

/// A local broker with the topology's topics, and its data directory (removed when dropped).
struct Broker {
    kafka: KafkaArgs,
    local: Option<LocalBroker>,
    dir: std::path::PathBuf,
}

impl Broker {
    fn start() -> Self {
        let nisshi = find_nisshi().expect(
            "no local broker: set PRESAGE_NISSHI or install it with `cargo xtask install-broker`",
        );
        let port = free_port().expect("free port");
        let dir =
            std::env::temp_dir().join(format!("presage-caught-up-{}-{port}", std::process::id()));
        let local = LocalBroker::start(&nisshi, &dir.join("broker"), port)
            .expect("starting the local broker");
        let kafka = KafkaArgs::for_brokers(local.bootstrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Err(err) =
            presage_runner::admin::create_topics(&kafka, &Topology::default_topology())
        {
            assert!(Instant::now() < deadline, "creating topics: {err:#}");
            std::thread::sleep(Duration::from_millis(250));
        }
        Self {
            kafka,
            local: Some(local),
            dir,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        drop(self.local.take());
        let _ = std::fs::remove_dir_all(&self.dir);
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
                "{what}: not within 180 s; calls: {:?}",
                calls
                    .iter()
                    .filter(|c| !matches!(c, Call::Record { .. }))
                    .collect::<Vec<_>>()
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
        lineage: "caught_up test".into(),
    }
}

/// Records `from..to` of one app, so all on one partition.
fn produce(kafka: &KafkaArgs, from: i64, to: i64) {
    let records: Vec<Outgoing> = (from..to)
        .map(|n| Outgoing::event(kafka.topics().raw(), &sample(n)).expect("encode"))
        .collect();
    Publisher::new(kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce");
}

fn partitions_of(kafka: &KafkaArgs) -> BTreeSet<i32> {
    let raw = kafka.topics().raw();
    let spec = Topology::default_topology()
        .topics
        .into_iter()
        .find(|spec| kafka.topics().name(&spec.name) == raw)
        .expect("the raw topic in the topology");
    (0..spec.partitions).collect()
}

/// Each partition's calls, in the order they were made.
fn by_partition(calls: &[Call]) -> HashMap<i32, Vec<Call>> {
    let mut of: HashMap<i32, Vec<Call>> = HashMap::new();
    for call in calls {
        of.entry(call.partition()).or_default().push(*call);
    }
    of
}

fn all_caught_up(calls: &[Call], partitions: &BTreeSet<i32>) -> bool {
    let caught: BTreeSet<i32> = calls
        .iter()
        .filter_map(|c| match c {
            Call::CaughtUp { partition } => Some(*partition),
            _ => None,
        })
        .collect();
    &caught == partitions
}

fn records_then_caught_up(partition: i32, resume: i64, to: i64) -> Vec<Call> {
    let mut expected = vec![Call::Restore { partition, resume }];
    expected.extend((resume..to).map(|offset| Call::Record { partition, offset }));
    expected.push(Call::CaughtUp { partition });
    expected
}

#[test]
fn a_partition_catches_up_once_after_every_record_it_held_and_an_empty_one_right_after_its_restore()
{
    let broker = Broker::start();
    let kafka = broker.kafka.clone();
    let partitions = partitions_of(&kafka);
    assert!(partitions.len() > 1, "some partitions stay empty");

    // More than one batch (500) of records on one partition before the loop starts.
    produce(&kafka, 0, 1_200);
    let run = Run::start(&kafka);
    let calls = run.wait_for("every partition caught up", |calls| {
        all_caught_up(calls, &partitions)
    });
    let of = by_partition(&calls);
    let busy = *of
        .iter()
        .find(|(_, calls)| calls.iter().any(|c| matches!(c, Call::Record { .. })))
        .expect("a partition with records")
        .0;
    assert_eq!(
        of[&busy],
        records_then_caught_up(busy, 0, 1_200),
        "restored, every record held, then caught up once"
    );
    for partition in partitions.iter().filter(|p| **p != busy) {
        assert_eq!(
            of[partition],
            vec![
                Call::Restore {
                    partition: *partition,
                    resume: 0
                },
                Call::CaughtUp {
                    partition: *partition
                }
            ],
            "an empty partition catches up right after its restore"
        );
    }

    // Records arriving later reach the stage; the partition does not catch up again.
    produce(&kafka, 1_200, 1_205);
    let seen = run.wait_for("the later records", |calls| {
        calls.contains(&Call::Record {
            partition: busy,
            offset: 1_204,
        })
    });
    // Time for the end after them to be reported (it is, within a poll or two).
    std::thread::sleep(Duration::from_secs(3));
    let calls = run.calls();
    assert!(calls.len() >= seen.len());
    let caught_ups = calls
        .iter()
        .filter(|c| matches!(c, Call::CaughtUp { .. }))
        .count();
    assert_eq!(caught_ups, partitions.len(), "once per assignment: {:?}", {
        calls
            .iter()
            .filter(|c| !matches!(c, Call::Record { .. }))
            .collect::<Vec<_>>()
    });
    run.stop();

    // Restarted with records produced while it was down: it catches up after them.
    produce(&kafka, 1_205, 1_800);
    let run = Run::start(&kafka);
    let calls = run.wait_for("every partition caught up again", |calls| {
        all_caught_up(calls, &partitions)
    });
    let of = by_partition(&calls);
    assert_eq!(
        of[&busy],
        records_then_caught_up(busy, 1_205, 1_800),
        "the restart reads from the committed offset, then catches up"
    );
    run.stop();
}
