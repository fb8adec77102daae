//! What an operator relies on: idempotent topic creation, a broker that keeps its data, and
//! services that neither lose nor repeat work across a restart.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{directive, Pipeline};
use presage_events::{ApplyOutcome, TemplateVersion};
use presage_integration::broker::TestBroker;
use presage_integration::services::binary;
use presage_integration::topics::{produce, TopicReader};
use presage_runner::broker::{find_nisshi, free_port, LocalBroker};
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;
use presage_runner::{KafkaArgs, Topology};

#[test]
fn topics_create_makes_the_topology_once_and_then_reports_it_exists() {
    let broker = TestBroker::start_bare();
    let create = || {
        let output = Command::new(binary("presage"))
            .args(["topics", "create"])
            .kafka(&broker.kafka)
            .output()
            .expect("presage topics create");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let declared = Topology::default_topology().topics.len();
    let first = create();
    assert_eq!(
        first.lines().filter(|l| l.ends_with(": created")).count(),
        declared,
        "{first}"
    );
    let second = create();
    assert_eq!(
        second.lines().filter(|l| l.ends_with(": exists")).count(),
        declared,
        "{second}"
    );
}

#[test]
fn the_local_broker_keeps_its_data_across_a_restart() {
    let nisshi = find_nisshi().expect("the local broker is installed (cargo xtask test does it)");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let kafka = KafkaArgs::for_brokers(format!("127.0.0.1:{port}"));
    let template = presage_integration::data::repo_file("templates/grid-demand.yaml");
    let published = {
        let _broker = LocalBroker::start(&nisshi, dir.path(), port).unwrap();
        presage_runner::admin::create_topics(&kafka, &Topology::default_topology()).unwrap();
        publish_templates(&kafka, &[template]).unwrap()
    };
    let _again = LocalBroker::start(&nisshi, dir.path(), port).unwrap();
    let reader = TopicReader::open(&kafka, &kafka.topics().templates());
    let mut read: Vec<TemplateVersion> = Vec::new();
    assert!(reader.wait_until(&mut read, Duration::from_secs(30), |seen| !seen.is_empty()));
    assert_eq!(read[0], published[0]);
}

#[test]
fn a_restarted_applier_neither_repeats_nor_loses_directives_and_drops_duplicates() {
    let mut pipeline = Pipeline::prepare();
    let kafka = pipeline.broker.kafka.clone();
    let topics = kafka.topics();
    let applied = TopicReader::open(&kafka, &topics.applied());
    let mut outcomes: Vec<ApplyOutcome> = Vec::new();

    pipeline.start(&["applier"]);
    let first = directive(5, "first");
    produce(&kafka, &topics.directives(), &first);
    // The same event again, as a producer retry or a replayed stage would send it.
    produce(&kafka, &topics.directives(), &first);
    assert!(
        applied.wait_until(&mut outcomes, Duration::from_secs(60), |seen| !seen
            .is_empty()),
        "no outcome\n{}",
        pipeline.services.logs()
    );

    // A graceful stop commits the offsets; a directive sent while it is down waits for it.
    pipeline.services.stop("applier");
    let second = directive(6, "second");
    produce(&kafka, &topics.directives(), &second);
    pipeline.start(&["applier"]);
    assert!(
        applied.wait_until(&mut outcomes, Duration::from_secs(60), |seen| seen
            .iter()
            .any(|o| o.directive_id == second.event_id)),
        "the directive sent during the restart was not applied\n{}",
        pipeline.services.logs()
    );
    outcomes.extend(applied.poll::<ApplyOutcome>(Duration::from_secs(3)));
    let ids: Vec<&str> = outcomes.iter().map(|o| o.directive_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![first.event_id.as_str(), second.event_id.as_str()],
        "each directive applied exactly once"
    );
    assert_eq!(pipeline.replicas_on_disk(), Some(6));
}
