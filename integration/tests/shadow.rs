//! Shadow directives are published for people to watch; the applier on the broker never applies
//! them, and goes on applying the live ones.

mod common;

use std::time::Duration;

use common::{directive, Pipeline};
use presage_events::ApplyOutcome;
use presage_integration::topics::{produce, TopicReader};

#[test]
fn a_shadow_directive_never_reaches_the_configuration() {
    let mut pipeline = Pipeline::prepare();
    std::fs::create_dir_all(pipeline.config_path.parent().unwrap()).unwrap();
    let original = "resources:\n  replicas: 12\n  memory_mb: 2048\nconfig:\n  cache_mb: 256\n";
    std::fs::write(&pipeline.config_path, original).unwrap();
    pipeline.start(&["applier"]);
    let kafka = pipeline.broker.kafka.clone();
    let topics = kafka.topics();
    let applied = TopicReader::open(&kafka, &topics.applied());

    // a shadow directive first, then a live one: outcomes are in order on the app's partition,
    // so the first outcome seen answers whichever the applier acted on first
    let mut shadow = directive(30, "shadow");
    shadow.mode = "shadow".into();
    produce(&kafka, &topics.directives(), &shadow);
    let live = directive(20, "live");
    produce(&kafka, &topics.directives(), &live);

    let mut outcomes: Vec<ApplyOutcome> = Vec::new();
    assert!(
        applied.wait_until(&mut outcomes, Duration::from_secs(60), |seen| !seen
            .is_empty()),
        "no outcome\n{}",
        pipeline.services.logs()
    );
    // nothing more arrives for the shadow directive
    outcomes.extend(applied.poll::<ApplyOutcome>(Duration::from_secs(3)));
    assert!(
        outcomes.iter().all(|o| o.directive_id != shadow.event_id),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[0].directive_id, live.event_id);
    assert_eq!(outcomes[0].status, "applied", "{:?}", outcomes[0]);
    assert_eq!(pipeline.replicas_on_disk(), Some(20));
}
