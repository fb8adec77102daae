//! One demand trace through all five services on a real broker.

mod common;

use std::time::Duration;

use common::Pipeline;
use presage_events::{ApplyOutcome, DeadLetter, Forecast, MetadataFragment, ScalingDirective};
use presage_integration::topics::{produce_raw, TopicReader};

use presage_integration::services::ALL;

#[test]
fn a_demand_trace_becomes_directives_outcomes_and_a_changed_config_file() {
    let mut pipeline = Pipeline::prepare();
    pipeline.start(&ALL);
    let topics = pipeline.broker.kafka.topics();
    let directives_topic = TopicReader::open(&pipeline.broker.kafka, &topics.directives());
    let applied_topic = TopicReader::open(&pipeline.broker.kafka, &topics.applied());
    let fragments_topic = TopicReader::open(&pipeline.broker.kafka, &topics.fragments());
    let forecasts_topic = TopicReader::open(&pipeline.broker.kafka, &topics.forecasts());

    let mut outcomes: Vec<ApplyOutcome> = Vec::new();
    let applied = applied_topic.wait_until(&mut outcomes, Duration::from_secs(90), |seen| {
        seen.iter().any(|o| o.status == "applied")
    });
    assert!(
        applied,
        "no applied outcome within 90 s\n{}",
        pipeline.services.logs()
    );

    // Forecasts made before the series has two seasons are cold starts, and a window the
    // collector missed is filled in (and counted) for as long as it is in the fitted history;
    // wait for a warm forecast on complete history and a directive made from it.
    let exact = |f: &Forecast| !f.cold_start && f.filled_points == 0;
    let mut forecasts: Vec<Forecast> = Vec::new();
    let warm_forecast = forecasts_topic.wait_until(&mut forecasts, Duration::from_secs(90), |f| {
        f.iter().any(exact)
    });
    assert!(
        warm_forecast,
        "no warm forecast on complete history within 90 s\n{}",
        pipeline.services.logs()
    );
    let warm_ids: std::collections::HashSet<String> = forecasts
        .iter()
        .filter(|f| exact(f))
        .map(|f| f.event_id.clone())
        .collect();
    let mut directives: Vec<ScalingDirective> = Vec::new();
    let from_warm = directives_topic.wait_until(&mut directives, Duration::from_secs(60), |d| {
        d.iter()
            .any(|d| d.lineage.first().is_some_and(|id| warm_ids.contains(id)))
    });
    assert!(
        from_warm,
        "no directive from a warm forecast within 60 s\n{}",
        pipeline.services.logs()
    );

    // Stop the source and let the rest of the pipeline drain, so the file stops changing.
    pipeline.services.stop("collector");
    directives.extend(directives_topic.poll::<ScalingDirective>(Duration::from_secs(1)));
    let mut fragments: Vec<MetadataFragment> = fragments_topic.poll(Duration::from_secs(1));
    loop {
        let fresh: Vec<ApplyOutcome> = applied_topic.poll(Duration::from_secs(4));
        directives.extend(directives_topic.poll::<ScalingDirective>(Duration::from_millis(500)));
        fragments.extend(fragments_topic.poll::<MetadataFragment>(Duration::from_millis(500)));
        if fresh.is_empty() {
            break;
        }
        outcomes.extend(fresh);
    }

    // On complete, warm history seasonal naive wins the evaluation (the cycle is exact), its
    // bounds have no width, and the target is exactly the demand at the effective time.
    forecasts.extend(forecasts_topic.poll::<Forecast>(Duration::from_secs(2)));
    let exact_ids: std::collections::HashSet<&str> = forecasts
        .iter()
        .filter(|f| exact(f))
        .map(|f| f.event_id.as_str())
        .collect();
    assert!(!directives.is_empty());
    let mut warm = 0;
    for directive in &directives {
        assert_eq!(directive.app, "grid-demand");
        assert_eq!(directive.resource, "replicas");
        assert!(
            !directive.lineage.is_empty(),
            "a directive names the forecast it came from"
        );
        if !exact_ids.contains(directive.lineage[0].as_str()) {
            continue;
        }
        warm += 1;
        assert_eq!(
            directive.target,
            pipeline.expected_target(directive.effective_at_ms),
            "directive for demand at {} (reason: {})",
            directive.effective_at_ms,
            directive.reason
        );
    }
    assert!(
        warm > 0,
        "no directive from a warm forecast among {} directives and {} forecasts",
        directives.len(),
        forecasts.len()
    );
    // Outcomes answer directives (replicas) and the recipe's metadata fragments
    // (config.worker_threads = clamp(ceil(demand_mw / 4000), 2, 32)).
    for outcome in &outcomes {
        assert_eq!(outcome.status, "applied", "{outcome:?}");
        assert!(
            directives
                .iter()
                .any(|d| d.event_id == outcome.directive_id)
                || fragments.iter().any(|f| f.event_id == outcome.directive_id),
            "outcome for an unknown directive or fragment: {outcome:?}"
        );
    }
    let fragment_outcomes: Vec<&ApplyOutcome> = outcomes
        .iter()
        .filter(|o| fragments.iter().any(|f| f.event_id == o.directive_id))
        .collect();
    let last_fragment = fragment_outcomes
        .last()
        .map(|o| {
            fragments
                .iter()
                .find(|f| f.event_id == o.directive_id)
                .unwrap()
        })
        .expect("the recipe's fragments are applied too");
    let body: serde_json::Value = serde_json::from_str(&last_fragment.body).unwrap();
    let threads = body["config"]["worker_threads"].as_i64().unwrap();
    assert!((2..=32).contains(&threads), "{body}");
    let on_disk: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(pipeline.config_file()).unwrap()).unwrap();
    assert_eq!(
        on_disk["config"]["worker_threads"].as_i64(),
        Some(threads),
        "the file holds the last fragment applied"
    );

    // The file holds the target of the last directive applied.
    let outcomes: Vec<ApplyOutcome> = outcomes
        .into_iter()
        .filter(|o| directives.iter().any(|d| d.event_id == o.directive_id))
        .collect();
    let last = outcomes.last().expect("at least one outcome");
    let last_directive = directives
        .iter()
        .find(|d| d.event_id == last.directive_id)
        .unwrap();
    assert_eq!(pipeline.replicas_on_disk(), Some(last_directive.target));
    if outcomes.len() > 1 {
        let backup = last
            .backup_path
            .as_ref()
            .expect("a replaced file keeps its previous version");
        assert!(std::path::Path::new(backup).is_file());
    }
}

#[test]
fn a_malformed_record_goes_to_the_dead_letter_topic_and_the_pipeline_keeps_working() {
    let mut pipeline = Pipeline::prepare();
    pipeline.start(&ALL);
    let kafka = pipeline.broker.kafka.clone();
    let topics = kafka.topics();
    let dlq = TopicReader::open(&kafka, &topics.dlq());
    let directives_topic = TopicReader::open(&kafka, &topics.directives());

    let injected_at_ms = presage_runner::dlq::now_ms();
    produce_raw(
        &kafka,
        &topics.raw(),
        "grid-demand",
        b"\xC3\x01 definitely not avro",
    );
    produce_raw(
        &kafka,
        &topics.forecasts(),
        "grid-demand",
        b"{\"json\": true}",
    );

    let mut letters: Vec<DeadLetter> = Vec::new();
    let both = dlq.wait_until(&mut letters, Duration::from_secs(60), |seen| {
        seen.len() >= 2
    });
    assert!(
        both,
        "dead letters: {letters:?}\n{}",
        pipeline.services.logs()
    );
    let raw_letter = letters
        .iter()
        .find(|l| l.source_topic == topics.raw())
        .expect("raw topic letter");
    assert_eq!(raw_letter.stage, "recipe-processor");
    assert_eq!(raw_letter.payload, b"\xC3\x01 definitely not avro");
    assert!(
        raw_letter.reason.contains("cannot decode"),
        "{}",
        raw_letter.reason
    );
    assert_eq!(raw_letter.key.as_deref(), Some("grid-demand"));
    let forecast_letter = letters
        .iter()
        .find(|l| l.source_topic == topics.forecasts())
        .expect("forecasts letter");
    assert_eq!(forecast_letter.stage, "planner");

    // Every stage kept going: directives about demand measured after the bad records still flow.
    let mut directives: Vec<ScalingDirective> = Vec::new();
    let flowing = directives_topic.wait_until(&mut directives, Duration::from_secs(90), |seen| {
        seen.iter()
            .filter(|d| d.issued_at_ms > injected_at_ms + 1_000)
            .count()
            >= 2
    });
    assert!(
        flowing,
        "no directives after the malformed records\n{}",
        pipeline.services.logs()
    );
}
