//! The collector and a broker that goes away: samples read during an outage are spooled on disk
//! and delivered, in order, when the broker is back; a collector killed with SIGKILL mid-outage
//! loses nothing its spool acknowledged; a spool too small for the outage drops its oldest
//! samples and reports exactly how many. Real parts throughout: a local Nisshi broker stopped
//! and started again on the same data directory and port, the real collector binary, and a
//! real HTTP server whose every page says how many times it was scraped.
//!
//! Each scrape serves the next number, so a sample's value names the scrape it came from, and
//! the collector reads a source again only after the previous reading's spool append returned:
//! when the server has served `n` pages, samples `1..n` are in the spool (or delivered).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use presage_events::{decode, DeadLetter, RawSample};
use presage_integration::services::{allow_templates, binary};
use presage_integration::topics::TopicReader;
use presage_runner::admin::create_topics;
use presage_runner::broker::{find_nisshi, free_port, LocalBroker};
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;
use presage_runner::{KafkaArgs, Topology};

const APP: &str = "outage-app";
const METRIC: &str = "presage_test_scrapes_total";
/// The collector's producer gives up on a record after this long (librdkafka's
/// `message.timeout.ms`, 30 s by default): every outage below outlasts it several times.
const MESSAGE_TIMEOUT_MS: u64 = 3_000;
/// The dead-letter kind of the collector's report of samples its full spool dropped.
const OVERFLOW: &str = "spool_overflow";

/// The number of samples an overflow report counts: its payload is JSON for tools.
fn dropped_records(letter: &DeadLetter) -> u64 {
    let payload: serde_json::Value =
        serde_json::from_slice(&letter.payload).expect("an overflow report's payload is JSON");
    payload["dropped_records"]
        .as_u64()
        .unwrap_or_else(|| panic!("no dropped_records in {payload}"))
}

/// A Prometheus page whose value is the number of pages served so far.
struct Scrapes {
    url: String,
    served: Arc<AtomicU64>,
    /// While set, every scrape gets a 503 (a failed read: no sample), counted in `refused`.
    refusing: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    _server: Arc<tiny_http::Server>,
}

impl Scrapes {
    fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("http server"));
        let url = format!("http://{}/metrics", server.server_addr().to_ip().unwrap());
        let served = Arc::new(AtomicU64::new(0));
        let refusing = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicU64::new(0));
        let (serving, count) = (server.clone(), served.clone());
        let (refuse, refusals) = (refusing.clone(), refused.clone());
        std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                if refuse.load(Ordering::SeqCst) {
                    refusals.fetch_add(1, Ordering::SeqCst);
                    let _ = request.respond(tiny_http::Response::empty(503));
                    continue;
                }
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let page = format!("# TYPE {METRIC} counter\n{METRIC} {n}\n");
                let _ = request.respond(tiny_http::Response::from_string(page));
            }
        });
        Self {
            url,
            served,
            refusing,
            refused,
            _server: server,
        }
    }

    /// Stops serving samples and returns the last one served, once the collector has come back
    /// for more (so that last sample's spool append has returned).
    fn pause(&self, collector: &mut Collector) -> u64 {
        self.refusing.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.refused.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "the collector stopped scraping\n{}",
                collector.log()
            );
            collector.assert_running("while scraping");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.served()
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Waits until `n` pages have been served, failing the test after `limit`.
    fn wait_for(&self, n: u64, limit: Duration, collector: &mut Collector) {
        let deadline = Instant::now() + limit;
        while self.served() < n {
            assert!(
                Instant::now() < deadline,
                "{} scrapes after {limit:?}, waiting for {n}\n{}",
                self.served(),
                collector.log()
            );
            collector.assert_running("while scraping");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A local broker that can be stopped and started again on the same data directory and port.
struct Broker {
    nisshi: PathBuf,
    dir: PathBuf,
    port: u16,
    running: Option<LocalBroker>,
    kafka: KafkaArgs,
}

impl Broker {
    fn start(dir: &Path) -> Self {
        let nisshi = find_nisshi().expect(
            "these tests stop and restart a local broker: install it with `cargo xtask install-broker` (cargo xtask test does it)",
        );
        let port = free_port().expect("free port");
        let mut broker = Self {
            nisshi,
            dir: dir.to_path_buf(),
            port,
            running: None,
            kafka: KafkaArgs::for_brokers(format!("127.0.0.1:{port}")),
        };
        broker.restart();
        let mut last = None;
        for _ in 0..120 {
            match create_topics(&broker.kafka, &Topology::default_topology()) {
                Ok(_) => return broker,
                Err(err) => last = Some(err),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("creating topics: {:#}", last.unwrap());
    }

    fn stop(&mut self) {
        if let Some(mut broker) = self.running.take() {
            broker.stop();
        }
    }

    fn restart(&mut self) {
        let broker = LocalBroker::start(&self.nisshi, &self.dir, self.port)
            .expect("starting the local broker on its data directory");
        self.running = Some(broker);
    }
}

/// The collector binary as a child process, logging to a file.
struct Collector {
    child: Child,
    log: PathBuf,
}

impl Collector {
    fn start(kafka: &KafkaArgs, spool: &Path, log: &Path, extra: &[&str]) -> Self {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        // What `publish_template` granted, in the same directory as the spool.
        let allow = spool.parent().expect("work dir").join("allow.yaml");
        let child = Command::new(binary("presage-collector"))
            .kafka(kafka)
            .env("PRESAGE_ALLOW", allow)
            .args(["-X", &format!("message.timeout.ms={MESSAGE_TIMEOUT_MS}")])
            .arg("--spool-dir")
            .arg(spool)
            .args(extra)
            .env("RUST_LOG", "info,presage_collector=debug")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("spawning the collector");
        Self {
            child,
            log: log.to_path_buf(),
        }
    }

    fn assert_running(&mut self, when: &str) {
        if let Some(status) = self.child.try_wait().expect("collector status") {
            panic!("the collector exited ({status}) {when}\n{}", self.log());
        }
    }

    /// SIGKILL: no shutdown hook runs, nothing is flushed on the way out.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "--- collector log ({})\n{}",
            self.log.display(),
            tail.join("\n")
        )
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

fn publish_template(kafka: &KafkaArgs, dir: &Path, url: &str, every: &str) {
    let path = dir.join("outage.yaml");
    let template = format!(
        "app: {APP}\ndynamic_metadata:\n  sources:\n    - {{ id: scrapes, kind: prometheus, url: \"{url}\", every: {every}, timeout: 5s }}\n"
    );
    std::fs::write(&path, template).unwrap();
    publish_templates(kafka, std::slice::from_ref(&path)).expect("publishing the template");
    // Granted its URL; [`Collector::start`] finds the list beside its spool.
    allow_templates(&[path], dir, &dir.join("allow.yaml"));
}

/// One sample as it lies in the topic.
#[derive(Debug, Clone)]
struct Got {
    scrape: u64,
    sample: RawSample,
    payload: Vec<u8>,
    partition: i32,
    offset: i64,
}

/// Reads `presage.metrics.raw` from its beginning until `done` accepts what was read, or
/// `limit` passes; returns whether `done` accepted it, and what was read.
fn read_raw_until(
    kafka: &KafkaArgs,
    limit: Duration,
    collector: &mut Collector,
    mut done: impl FnMut(&[Got]) -> bool,
) -> (bool, Vec<Got>) {
    let reader = TopicReader::open(kafka, &kafka.topics().raw());
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        for (payload, partition, offset) in reader.poll_raw(Duration::from_millis(500)) {
            let sample: RawSample = decode(&payload).expect("a raw sample");
            assert_eq!((sample.app.as_str(), sample.metric.as_str()), (APP, METRIC));
            got.push(Got {
                scrape: sample.value as u64,
                sample,
                payload,
                partition,
                offset,
            });
        }
        if done(&got) {
            return (true, got);
        }
        collector.assert_running("while the topic was read");
    }
    (false, got)
}

/// [`read_raw_until`], failing the test with what was read if `done` never accepts it.
fn read_raw_expecting(
    kafka: &KafkaArgs,
    limit: Duration,
    collector: &mut Collector,
    done: impl FnMut(&[Got]) -> bool,
) -> Vec<Got> {
    let (complete, got) = read_raw_until(kafka, limit, collector, done);
    assert!(
        complete,
        "gave up after {limit:?}; scrapes read: {:?}\n{}",
        scrapes_of(&got),
        collector.log()
    );
    got
}

fn scrapes_of(got: &[Got]) -> BTreeSet<u64> {
    got.iter().map(|g| g.scrape).collect()
}

/// In the topic's order (one app, one partition), the first copy of each sample; a copy sent
/// again must be the same bytes with the same id, and the first copies must follow the scrapes'
/// order.
fn assert_in_order_and_repeats_identical(got: &[Got]) -> Vec<u64> {
    let mut sorted: Vec<&Got> = got.iter().collect();
    sorted.sort_by_key(|g| (g.partition, g.offset));
    let partitions: BTreeSet<i32> = sorted.iter().map(|g| g.partition).collect();
    assert_eq!(partitions.len(), 1, "one app's samples share a partition");
    let mut first: HashMap<u64, &Got> = HashMap::new();
    let mut order = Vec::new();
    for g in sorted {
        match first.get(&g.scrape) {
            Some(earlier) => {
                assert_eq!(
                    (&earlier.sample.event_id, &earlier.payload),
                    (&g.sample.event_id, &g.payload),
                    "scrape {} sent twice must be the same record",
                    g.scrape
                );
            }
            None => {
                first.insert(g.scrape, g);
                order.push(g.scrape);
            }
        }
    }
    let mut ids: HashMap<&str, u64> = HashMap::new();
    for (scrape, g) in &first {
        let other = ids.insert(g.sample.event_id.as_str(), *scrape);
        assert!(
            other.is_none(),
            "scrapes {scrape} and {other:?} share an id"
        );
    }
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "samples out of scrape order: {order:?}"
    );
    let times: Vec<i64> = order
        .iter()
        .map(|s| first[s].sample.event_time_ms)
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "event times out of order: {times:?}"
    );
    order
}

fn copies(got: &[Got]) -> BTreeMap<u64, usize> {
    let mut count = BTreeMap::new();
    for g in got {
        *count.entry(g.scrape).or_insert(0) += 1;
    }
    count
}

#[test]
fn samples_read_while_the_broker_is_away_arrive_once_and_in_order_when_it_is_back() {
    let work = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(&work.path().join("broker"));
    let scrapes = Scrapes::start();
    publish_template(&broker.kafka, work.path(), &scrapes.url, "1s");
    let spool = work.path().join("spool");
    let mut collector = Collector::start(
        &broker.kafka,
        &spool,
        &work.path().join("collector.log"),
        &[],
    );
    read_raw_expecting(
        &broker.kafka,
        Duration::from_secs(90),
        &mut collector,
        |got| scrapes_of(got).contains(&3),
    );

    broker.stop();
    let outage_started = Instant::now();
    let served_before = scrapes.served();
    // Long enough for several of the producer's message timeouts to pass, and a dozen scrapes.
    scrapes.wait_for(served_before + 12, Duration::from_secs(120), &mut collector);
    let timeouts = Duration::from_millis(4 * MESSAGE_TIMEOUT_MS);
    while outage_started.elapsed() < timeouts {
        collector.assert_running("during the outage");
        std::thread::sleep(Duration::from_millis(200));
    }
    collector.assert_running("after four message timeouts without a broker");
    let served_during = scrapes.served();
    broker.restart();

    // Every scrape up to the restart, and a few after it.
    let target = served_during + 3;
    let got = read_raw_expecting(
        &broker.kafka,
        Duration::from_secs(120),
        &mut collector,
        |got| {
            let seen = scrapes_of(got);
            (1..=target).all(|n| seen.contains(&n))
        },
    );
    let order = assert_in_order_and_repeats_identical(&got);
    assert_eq!(
        order[..target as usize],
        (1..=target).collect::<Vec<_>>(),
        "every scrape, in order"
    );
    // Scrapes after the broker stopped were never sent before it came back: exactly one copy.
    let count = copies(&got);
    for n in served_before + 1..=served_during {
        assert_eq!(
            count[&n], 1,
            "scrape {n}, read during the outage, arrived {} times",
            count[&n]
        );
    }
    collector.assert_running("after the backlog was delivered");
}

#[test]
fn a_collector_killed_during_an_outage_delivers_its_spooled_backlog_after_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(&work.path().join("broker"));
    let scrapes = Scrapes::start();
    publish_template(&broker.kafka, work.path(), &scrapes.url, "1s");
    let spool = work.path().join("spool");
    let log = work.path().join("collector.log");
    let mut collector = Collector::start(&broker.kafka, &spool, &log, &[]);
    read_raw_expecting(
        &broker.kafka,
        Duration::from_secs(90),
        &mut collector,
        |got| scrapes_of(got).contains(&2),
    );

    broker.stop();
    let served_before = scrapes.served();
    scrapes.wait_for(served_before + 6, Duration::from_secs(60), &mut collector);
    // Scrape n+1 is only requested once scrape n's append to the spool returned.
    let spooled_through = scrapes.served() - 1;
    collector.kill();

    // Started again before the broker: it must wait for it, not exit.
    let mut collector = Collector::start(&broker.kafka, &spool, &log, &[]);
    let waiting = Instant::now();
    while waiting.elapsed() < Duration::from_secs(5) {
        collector.assert_running("while the broker was still down");
        std::thread::sleep(Duration::from_millis(200));
    }
    broker.restart();

    let got = read_raw_expecting(
        &broker.kafka,
        Duration::from_secs(120),
        &mut collector,
        |got| {
            let seen = scrapes_of(got);
            // The backlog, and scrapes by the new collector after it.
            (1..=spooled_through).all(|n| seen.contains(&n))
                && seen.iter().any(|n| *n > spooled_through + 2)
        },
    );
    let order = assert_in_order_and_repeats_identical(&got);
    assert_eq!(
        order[..spooled_through as usize],
        (1..=spooled_through).collect::<Vec<_>>(),
        "the killed collector's backlog, in order"
    );
    let count = copies(&got);
    for n in served_before + 1..=spooled_through {
        assert_eq!(
            count[&n], 1,
            "scrape {n}, spooled during the outage, arrived {} times",
            count[&n]
        );
    }
}

#[test]
fn a_spool_too_small_for_the_outage_drops_its_oldest_samples_and_reports_how_many() {
    let work = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(&work.path().join("broker"));
    let scrapes = Scrapes::start();
    publish_template(&broker.kafka, work.path(), &scrapes.url, "250ms");
    let spool = work.path().join("spool");
    // A few samples' worth.
    let mut collector = Collector::start(
        &broker.kafka,
        &spool,
        &work.path().join("collector.log"),
        &["--spool-max-bytes", "2KiB"],
    );
    read_raw_expecting(
        &broker.kafka,
        Duration::from_secs(90),
        &mut collector,
        |got| scrapes_of(got).contains(&3),
    );

    broker.stop();
    let served_before = scrapes.served();
    scrapes.wait_for(served_before + 40, Duration::from_secs(120), &mut collector);
    // No sample is read after this one, so nothing can overflow once the broker is back and
    // what the spool holds at the restart is exactly what it kept.
    let last = scrapes.pause(&mut collector);
    broker.restart();

    // Every scrape is delivered or counted in a report: wait until the counts add up.
    let dlq = TopicReader::open(&broker.kafka, &broker.kafka.topics().dlq());
    let mut letters: HashMap<String, DeadLetter> = HashMap::new();
    let mut reported = 0;
    let mut missing = Vec::new();
    let (settled, got) = read_raw_until(
        &broker.kafka,
        Duration::from_secs(120),
        &mut collector,
        |got| {
            for letter in dlq.poll::<DeadLetter>(Duration::from_millis(200)) {
                if letter.kind == OVERFLOW {
                    letters.insert(letter.event_id.clone(), letter);
                }
            }
            reported = letters.values().map(dropped_records).sum::<u64>();
            let seen = scrapes_of(got);
            missing = (1..=last).filter(|n| !seen.contains(n)).collect();
            seen.contains(&last) && reported == missing.len() as u64
        },
    );
    assert!(
        settled,
        "after 120 s, {reported} drops reported but {} scrapes missing: {missing:?}\n{}",
        missing.len(),
        collector.log()
    );
    assert!(
        reported > 0,
        "an outage of 40 scrapes must overflow a 2 KiB spool\n{}",
        collector.log()
    );
    // The oldest go: what is missing is one run of the outage's samples, and every sample
    // after that run, up to the last one read, arrived.
    let (first_missing, last_missing) = (missing[0], *missing.last().unwrap());
    assert_eq!(
        missing,
        (first_missing..=last_missing).collect::<Vec<_>>(),
        "one run of old samples is missing"
    );
    assert!(
        first_missing > served_before.saturating_sub(3) && last_missing < last - 2,
        "dropped {first_missing}..={last_missing}: not the outage's oldest (outage from {served_before}, last read {last})"
    );
    assert_in_order_and_repeats_identical(&got);
    for letter in letters.values() {
        assert_eq!(letter.stage, "collector");
        assert!(letter.reason.contains("oldest"), "{}", letter.reason);
    }
    let log = std::fs::read_to_string(work.path().join("collector.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("spool full") && l.contains("dropped_records")),
        "no warning with the drop count in the log\n{}",
        collector.log()
    );
}
