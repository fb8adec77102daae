//! `absent:` on a metric recipe (what a window with no sample means): accepted as `zero` or
//! `unknown`; anything else, a combination that has no meaning, or a horizon too short for the
//! policies it feeds, is reported at its line and column with what was expected.

use presage_template::{parse, Absent, TemplateError};

/// Lines 1 to 5; the recipe given is line 6, then the prediction (7-8) and the policy (9-10).
fn text(recipe: &str, horizon: &str) -> String {
    [
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: api, kind: prometheus, url: \"http://x\" }",
        "  metric_recipes:",
        recipe,
        "  prediction_algorithms:",
        &format!("    - {{ target: rps, horizon: {horizon}, models: [naive] }}"),
        "  scaling_policies:",
        "    - { resource: replicas, metric: rps, per_unit: 10, min: 1, max: 5, lead_time: 30m, provisioning_delay: 10m }",
    ]
    .join("\n")
        + "\n"
}

fn errors(recipe: &str, horizon: &str) -> Vec<TemplateError> {
    match parse(&text(recipe, horizon), "t.yaml") {
        Ok(t) => panic!("accepted a bad template: {t:#?}"),
        Err(e) => e.errors,
    }
}

#[test]
fn zero_and_unknown_are_read_and_leaving_it_out_keeps_empty_windows_silent() {
    for (said, expected) in [
        ("zero", Some(Absent::Zero)),
        ("unknown", Some(Absent::Unknown)),
    ] {
        let recipe = format!(
            "    - {{ name: rps, from: api.requests, aggregate: sum, window: {{ tumble: 15m }}, absent: {said} }}"
        );
        let t = parse(&text(&recipe, "1h"), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.dynamic_metadata.metric_recipes[0].absent, expected);
    }
    let plain = "    - { name: rps, from: api.requests, window: { tumble: 15m } }";
    let t = parse(&text(plain, "1h"), "t.yaml").unwrap();
    assert_eq!(t.dynamic_metadata.metric_recipes[0].absent, None);
}

#[test]
fn an_unknown_value_names_the_allowed_ones_at_its_position() {
    let e = errors(
        "    - { name: rps, from: api.requests, window: { tumble: 15m }, absent: maybe }",
        "1h",
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, 6, "{}", e[0]);
    assert!(e[0].column > 60, "points at the value: {}", e[0]);
    assert!(
        e[0].message.contains("maybe")
            && e[0].message.contains("zero")
            && e[0].message.contains("unknown"),
        "{}",
        e[0]
    );
}

#[test]
fn absent_with_group_by_is_refused_at_absent() {
    let recipe = "    - { name: rps, from: api.requests, group_by: [route], window: { tumble: 15m }, absent: unknown }";
    let e = errors(recipe, "1h");
    assert_eq!(e.len(), 1, "{e:#?}");
    let value_column = recipe.find("unknown").unwrap() + 1;
    assert_eq!((e[0].line, e[0].column), (6, value_column), "{}", e[0]);
    assert!(
        e[0].message.contains("does not combine with group_by"),
        "{}",
        e[0]
    );
}

#[test]
fn zero_is_refused_where_no_sample_is_not_a_zero_value() {
    let ratio = "    - { name: rps, from: api.errors, over: api.requests, transform: ratio, window: { tumble: 15m }, absent: zero }";
    let e = errors(ratio, "1h");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, 6);
    assert!(e[0].message.contains("0/0"), "{}", e[0]);
    // unknown is what a quiet ratio is
    let unknown = ratio.replace("absent: zero", "absent: unknown");
    parse(&text(&unknown, "1h"), "t.yaml").unwrap_or_else(|e| panic!("{e}"));

    let latency = "    - { name: rps, from: api.latency_bucket, transform: histogram_quantile, quantile: 0.9, window: { tumble: 15m }, absent: zero }";
    let e = errors(latency, "1h");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("no latency"), "{}", e[0]);
}

#[test]
fn a_horizon_shorter_than_lead_time_plus_provisioning_delay_is_refused_at_the_horizon() {
    let recipe = "    - { name: rps, from: api.requests, window: { tumble: 15m }, absent: zero }";
    let e = errors(recipe, "30m");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, 8, "{}", e[0]);
    assert!(e[0].message.contains("lead_time plus"), "{}", e[0]);
    assert!(e[0].message.contains("40m"), "{}", e[0]);
    // 40 minutes is enough
    parse(&text(recipe, "40m"), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    // without absent the check does not apply (the planner is fed by arrivals)
    let plain = "    - { name: rps, from: api.requests, window: { tumble: 15m } }";
    parse(&text(plain, "30m"), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
}
