//! `constraints:` (non-negative, integer) and `max_groups` of a prediction algorithm: what they
//! default to, what they accept, and where a bad value is reported.

mod common;

use common::{check, doc, errors, positions};
use presage_template::{parse, Learned, MAX_GROUPS};

fn with(algorithm: &str) -> Vec<String> {
    vec![
        "app: a".into(),
        "dynamic_metadata:".into(),
        "  sources: [ { id: h, kind: host } ]".into(),
        "  metric_recipes:".into(),
        "    - { name: rps, from: h.cpu_utilization, group_by: [zone], window: { tumble: 1m } }"
            .into(),
        "  prediction_algorithms:".into(),
        format!("    - {{ target: rps, horizon: 10m{algorithm} }}"),
    ]
}

fn lines(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn constraints_default_to_learned_and_groups_to_the_bound() {
    let t = parse(&doc(&lines(&with(""))), "t.yaml").unwrap();
    let a = &t.dynamic_metadata.prediction_algorithms[0];
    assert_eq!(a.constraints.non_negative, Learned::Auto);
    assert_eq!(a.constraints.integer, Learned::Auto);
    assert_eq!(a.max_groups, MAX_GROUPS);
    assert_eq!(MAX_GROUPS, 1_000);
}

#[test]
fn constraints_accept_true_false_and_auto() {
    let text = doc(&lines(&with(
        ", constraints: { non_negative: true, integer: false }, max_groups: 3",
    )));
    let t = parse(&text, "t.yaml").unwrap();
    let a = &t.dynamic_metadata.prediction_algorithms[0];
    assert_eq!(a.constraints.non_negative, Learned::Always);
    assert_eq!(a.constraints.integer, Learned::Never);
    assert_eq!(a.max_groups, 3);
    let t = parse(
        &doc(&lines(&with(", constraints: { integer: auto }"))),
        "t.yaml",
    )
    .unwrap();
    assert_eq!(
        t.dynamic_metadata.prediction_algorithms[0]
            .constraints
            .integer,
        Learned::Auto
    );
}

#[test]
fn a_bad_constraint_setting_is_reported_where_it_is() {
    let all = errors(&lines(&with(", constraints: { non_negative: sometimes }")));
    assert_eq!(all.len(), 1, "{all:#?}");
    // `    - { target: rps, horizon: 10m, constraints: { non_negative: ` is 64 characters.
    check(
        &all[0],
        7,
        65,
        &["\"sometimes\" is not a constraint setting: expected true, false or auto"],
    );
}

#[test]
fn an_unknown_constraint_is_reported() {
    let all = errors(&lines(&with(", constraints: { nonnegative: true }")));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].line, 7, "{}", all[0]);
    assert!(all[0].message.contains("nonnegative"), "{}", all[0]);
}

#[test]
fn max_groups_out_of_range_is_reported_at_its_value() {
    for bad in ["0", "1001"] {
        let all = errors(&lines(&with(&format!(", max_groups: {bad}"))));
        // `    - { target: rps, horizon: 10m, max_groups: ` is 47 characters.
        assert_eq!(positions(&all), vec![(7, 48)], "{all:#?}");
        check(
            &all[0],
            7,
            48,
            &[
                &format!(
                    "max_groups {bad} of the prediction for \"rps\" is not between 1 and 1000"
                ),
                "group_by combinations",
            ],
        );
    }
}

fn with_policy(policy: &str) -> Vec<String> {
    let mut lines = with("");
    lines.push("  scaling_policies:".into());
    lines.push(format!(
        "    - {{ resource: replicas, metric: rps, per_unit: 10, min: 1, max: 9{policy} }}"
    ));
    lines
}

#[test]
fn a_policy_may_name_one_group_of_its_metric() {
    let t = parse(
        &doc(&lines(&with_policy(", labels: { zone: eu }"))),
        "t.yaml",
    )
    .unwrap();
    let labels = &t.dynamic_metadata.scaling_policies[0].labels;
    assert_eq!(labels.get("zone").map(String::as_str), Some("eu"));
}

#[test]
fn a_policy_naming_labels_the_recipe_does_not_group_by_is_reported_at_its_labels() {
    let all = errors(&lines(&with_policy(", labels: { region: eu }")));
    assert_eq!(all.len(), 1, "{all:#?}");
    // `    - { resource: replicas, metric: rps, per_unit: 10, min: 1, max: 9, labels: ` is 79.
    check(
        &all[0],
        9,
        80,
        &["labels region of the scaling policy for \"replicas\" do not name one group of recipe \"rps\": expected a value for each of its group_by labels (zone)"],
    );
}

#[test]
fn a_policy_on_one_group_has_no_fallback() {
    let all = errors(&lines(&with_policy(
        ", labels: { zone: eu }, fallback: { stale_after: 5m }",
    )));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].line, 9);
    assert!(
        all[0]
            .message
            .contains("acts on one group (labels) and has a fallback"),
        "{}",
        all[0]
    );
}
