//! Metadata fragments through the real applier on a real broker: published to
//! `presage.metadata.fragments`, merged into the live file by the shadow flow, recorded in
//! `presage.applied`, alongside directives from `presage.directives`.

use std::path::Path;
use std::time::Duration;

use presage_events::{event_id, ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::{allow_templates, Services};
use presage_integration::topics::{produce, TopicReader};
use presage_runner::templates::publish_templates;

/// A template with one file hook whose test runs on the shadow copy, and two rules.
fn write_template(dir: &Path, config_path: &Path) -> std::path::PathBuf {
    let template = format!(
        "app: shop\n\
         bootstrap:\n  resources: {{ replicas: 3, memory_mb: 1024 }}\n  config: {{ worker_threads: 8, cache_mb: 256 }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    \
           - {{ name: config, kind: file, path: {config:?}, test: {{ command: [grep, -q, \"worker_threads:\", \"{{shadow}}\"], within: 5s }} }}\n  \
         validation_rules:\n    \
           - \"resources.replicas >= 1 && resources.replicas <= 50\"\n    \
           - \"config.cache_mb <= resources.memory_mb / 2\"\n",
        config = config_path.display().to_string()
    );
    let path = dir.join("shop.yaml");
    std::fs::write(&path, template).expect("write template");
    path
}

fn fragment(tag: &str, body: &str) -> MetadataFragment {
    MetadataFragment {
        event_id: event_id(&["test-fragment", tag]),
        app: "shop".into(),
        template_version: "test".into(),
        recipe: "rps".into(),
        format: "json".into(),
        body: body.into(),
        window_end_ms: 60_000,
        lineage: vec![],
    }
}

fn directive(target: i64) -> ScalingDirective {
    ScalingDirective {
        event_id: event_id(&["test-directive", &target.to_string()]),
        app: "shop".into(),
        template_version: "test".into(),
        resource: "replicas".into(),
        target,
        previous_target: None,
        forecast_value: 0.0,
        effective_at_ms: 0,
        issued_at_ms: 0,
        policy: "test".into(),
        reason: "sent by the test".into(),
        lineage: vec![],
        ..Default::default()
    }
}

#[test]
fn fragments_and_directives_on_the_broker_both_land_in_the_file_and_a_bad_fragment_is_rejected() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().expect("workdir");
    let config_path = workdir.path().join("app/config.yaml");
    let template = write_template(workdir.path(), &config_path);
    publish_templates(&kafka, std::slice::from_ref(&template)).expect("publish template");
    let applied = TopicReader::open(&kafka, &topics.applied());

    let mut services = Services::new(&workdir.path().join("logs"));
    services.grant(&allow_templates(
        &[template],
        workdir.path(),
        &workdir.path().join("allow.yaml"),
    ));
    services.start("applier", &kafka, workdir.path());

    let threads = fragment("threads", r#"{"config": {"worker_threads": 12}}"#);
    // cache_mb must stay at most half of memory_mb.
    let too_big = fragment("too-big", r#"{"config": {"cache_mb": 4096}}"#);
    let scale = directive(7);
    produce(&kafka, &topics.fragments(), &threads);
    produce(&kafka, &topics.fragments(), &too_big);
    produce(&kafka, &topics.directives(), &scale);

    let mut outcomes: Vec<ApplyOutcome> = Vec::new();
    let all = applied.wait_until(&mut outcomes, Duration::from_secs(60), |seen| {
        seen.len() >= 3
    });
    assert!(all, "outcomes: {outcomes:?}\n{}", services.logs());
    let outcome_of = |id: &str| {
        outcomes
            .iter()
            .find(|o| o.directive_id == id)
            .unwrap_or_else(|| panic!("no outcome for {id}: {outcomes:?}"))
    };
    assert_eq!(outcome_of(&threads.event_id).status, "applied");
    assert_eq!(
        outcome_of(&threads.event_id).event_id,
        event_id(&["applied", &threads.event_id, "config"])
    );
    let rejected = outcome_of(&too_big.event_id);
    assert_eq!(rejected.status, "rejected", "{rejected:?}");
    assert!(rejected
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("config.cache_mb <= resources.memory_mb / 2")));
    assert_eq!(outcome_of(&scale.event_id).status, "applied");

    let doc: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&config_path).expect("config file"))
            .expect("config yaml");
    assert_eq!(doc["config"]["worker_threads"].as_i64(), Some(12));
    assert_eq!(doc["config"]["cache_mb"].as_i64(), Some(256));
    assert_eq!(doc["resources"]["replicas"].as_i64(), Some(7));

    // Nothing further: each input was applied once.
    outcomes.extend(applied.poll::<ApplyOutcome>(Duration::from_secs(2)));
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
}
