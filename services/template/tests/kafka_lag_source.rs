//! A `kafka_lag` source names the consumer group to watch and the topics it consumes; either
//! missing is reported where it is (or where it belongs), with what was expected.

use presage_template::{parse, SourceKind};

fn template(source: &str) -> String {
    format!(
        "app: workers\ndynamic_metadata:\n  sources:\n    - {source}\n  metric_recipes:\n    - {{ name: backlog, from: lag.consumer_lag, aggregate: sum, window: {{ tumble: 1m }} }}\n"
    )
}

#[test]
fn a_group_and_its_topics_make_a_source_of_consumer_lag() {
    let t = parse(
        &template("{ id: lag, kind: kafka_lag, group: order-workers, topics: [orders, refunds] }"),
        "t.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let source = &t.dynamic_metadata.sources[0];
    assert_eq!(source.kind, SourceKind::KafkaLag);
    assert_eq!(source.group.as_deref(), Some("order-workers"));
    assert_eq!(source.topics, ["orders", "refunds"]);
    assert_eq!(SourceKind::KafkaLag.metrics(), Some(&["consumer_lag"][..]));
}

#[test]
fn a_missing_group_and_empty_topics_are_each_reported_at_their_place() {
    let errors = parse(
        &template("{ id: lag, kind: kafka_lag, topics: [] }"),
        "t.yaml",
    )
    .expect_err("no group, no topics")
    .errors;
    let found: Vec<(usize, usize, &str)> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    // No `group` key: the source itself.
    assert_eq!((found[0].0, found[0].1), (4, 7), "{found:#?}");
    assert!(
        found[0].2.contains("has no group: expected group:"),
        "{found:#?}"
    );
    // An empty `topics`: the list.
    assert_eq!((found[1].0, found[1].1), (4, 43), "{found:#?}");
    assert!(found[1].2.contains("names no topics"), "{found:#?}");
}

#[test]
fn each_topic_that_is_not_a_topic_name_or_is_named_twice_is_reported_at_its_element() {
    let errors = parse(
        &template(
            "{ id: lag, kind: kafka_lag, group: g, topics: [orders, \"\", \"orders \", orders, ..] }",
        ),
        "t.yaml",
    )
    .expect_err("bad topics")
    .errors;
    let found: Vec<(usize, usize, &str)> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(found.len(), 4, "{found:#?}");
    // `    - { id: lag, kind: kafka_lag, group: g, topics: [` is 53 characters.
    assert_eq!((found[0].0, found[0].1), (4, 62), "{found:#?}");
    assert!(
        found[0]
            .2
            .starts_with("topic \"\" of kafka_lag source \"lag\" is not a Kafka topic name"),
        "{found:#?}"
    );
    assert_eq!((found[1].0, found[1].1), (4, 66), "{found:#?}");
    assert!(found[1].2.starts_with("topic \"orders \""), "{found:#?}");
    assert_eq!((found[2].0, found[2].1), (4, 77), "{found:#?}");
    assert!(found[2].2.contains("is named twice"), "{found:#?}");
    assert_eq!((found[3].0, found[3].1), (4, 85), "{found:#?}");
    assert!(found[3].2.starts_with("topic \"..\""), "{found:#?}");
    // The longest name Kafka takes passes; one more character does not.
    let longest = "t".repeat(249);
    let source = format!("{{ id: lag, kind: kafka_lag, group: g, topics: [{longest}, a.b_C-9] }}");
    parse(&template(&source), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let source = format!("{{ id: lag, kind: kafka_lag, group: g, topics: [{longest}x] }}");
    assert_eq!(
        parse(&template(&source), "t.yaml")
            .expect_err("250 characters")
            .errors
            .len(),
        1
    );
}

#[test]
fn a_group_or_topics_on_another_kind_of_source_is_reported_not_ignored() {
    let text = template("{ id: lag, kind: kafka_lag, group: g, topics: [t] }").replace(
        "  metric_recipes:",
        "    - { id: api, kind: http_probe, url: \"http://x/\", group: g, topics: [t] }\n  metric_recipes:",
    );
    let errors = parse(&text, "t.yaml").expect_err("foreign fields").errors;
    let found: Vec<(usize, usize, &str)> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!((found[0].0, found[0].1), (5, 54), "{found:#?}");
    assert_eq!(
        found[0].2,
        "group does not apply to http_probe source \"api\": group and topics are a kafka_lag \
         source's"
    );
    assert_eq!((found[1].0, found[1].1), (5, 64), "{found:#?}");
    assert!(
        found[1].2.starts_with("topics does not apply"),
        "{found:#?}"
    );
}

#[test]
fn a_recipe_may_only_read_the_metric_a_lag_source_produces() {
    let text = template("{ id: lag, kind: kafka_lag, group: g, topics: [t] }")
        .replace("lag.consumer_lag", "lag.consumer_offset");
    let errors = parse(&text, "t.yaml").expect_err("unknown metric").errors;
    assert!(
        errors.iter().any(|e| e.message.contains("consumer_lag")),
        "the message names the metric it has: {errors:#?}"
    );
}
