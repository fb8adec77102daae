//! The applier refuses a directive that breaks a validation rule, and leaves the file alone.

mod common;

use std::time::Duration;

use common::{directive, Pipeline};
use presage_events::ApplyOutcome;
use presage_integration::topics::{produce, TopicReader};

#[test]
fn a_directive_that_breaks_a_rule_is_refused_and_the_file_is_unchanged() {
    let mut pipeline = Pipeline::prepare();
    std::fs::create_dir_all(pipeline.config_path.parent().unwrap()).unwrap();
    let original = "resources:\n  replicas: 12\n  memory_mb: 2048\nconfig:\n  cache_mb: 256\n";
    std::fs::write(&pipeline.config_path, original).unwrap();
    pipeline.start(&["applier"]);
    let kafka = pipeline.broker.kafka.clone();
    let topics = kafka.topics();
    let applied = TopicReader::open(&kafka, &topics.applied());

    let too_many = directive(500, "too-many");
    produce(&kafka, &topics.directives(), &too_many);
    let mut outcomes: Vec<ApplyOutcome> = Vec::new();
    assert!(
        applied.wait_until(&mut outcomes, Duration::from_secs(60), |seen| !seen
            .is_empty()),
        "no outcome\n{}",
        pipeline.services.logs()
    );
    let refused = &outcomes[0];
    assert_eq!(refused.directive_id, too_many.event_id);
    assert_eq!(refused.status, "rejected");
    let reason = refused.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("resources.replicas <= 40"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(&pipeline.config_path).unwrap(),
        original
    );

    // The same applier applies a directive within the rules: the refusal was the rule's doing.
    let fine = directive(20, "fine");
    produce(&kafka, &topics.directives(), &fine);
    assert!(
        applied.wait_until(&mut outcomes, Duration::from_secs(60), |seen| seen.len()
            >= 2),
        "no second outcome\n{}",
        pipeline.services.logs()
    );
    assert_eq!(outcomes[1].status, "applied", "{:?}", outcomes[1]);
    assert_eq!(pipeline.replicas_on_disk(), Some(20));
    let backup = outcomes[1]
        .backup_path
        .as_ref()
        .expect("previous version kept");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), original);
}
