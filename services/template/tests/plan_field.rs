//! `plan: { ahead: … }` on a scaling policy: read when given, absent by default, and refused at
//! its line and column when it cannot plan (zero, no forecast of the metric, a horizon that does
//! not reach past the lead by a window, `ahead` beyond the horizon or before the first window
//! after the lead, `ahead` beyond the 7 days a plan's steps may reach).

use presage_template::{parse, Duration, TemplateError};

/// Lines 1 to 6; the prediction is line 7 (or left out), the policy line 9.
fn text(prediction: Option<&str>, policy_extra: &str) -> String {
    let mut lines = vec![
        "app: a".to_string(),
        "dynamic_metadata:".to_string(),
        "  sources:".to_string(),
        "    - { id: api, kind: prometheus, url: \"http://x\" }".to_string(),
        "  metric_recipes:".to_string(),
        "    - { name: rps, from: api.requests, aggregate: sum, window: { tumble: 15m } }"
            .to_string(),
        "  prediction_algorithms:".to_string(),
    ];
    lines.push(match prediction {
        Some(horizon) => format!("    - {{ target: rps, horizon: {horizon}, models: [naive] }}"),
        None => "    []".to_string(),
    });
    lines.push("  scaling_policies:".to_string());
    lines.push(format!(
        "    - {{ resource: replicas, metric: rps, per_unit: 10, min: 1, max: 5, lead_time: 15m, provisioning_delay: 10m{policy_extra} }}"
    ));
    lines.join("\n") + "\n"
}

fn errors(prediction: Option<&str>, extra: &str) -> Vec<TemplateError> {
    match parse(&text(prediction, extra), "t.yaml") {
        Ok(t) => panic!("accepted a template that cannot plan: {t:#?}"),
        Err(e) => e.errors,
    }
}

/// The column of the first `needle` on the policy's line (9), 1-based.
fn column_of(extra: &str, needle: &str) -> usize {
    text(Some("2h"), extra)
        .lines()
        .nth(9)
        .unwrap()
        .find(needle)
        .unwrap()
        + 1
}

#[test]
fn a_plan_is_read_and_leaving_it_out_plans_nothing() {
    let t = parse(&text(Some("12h"), ", plan: { ahead: 12h }"), "t.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = t.dynamic_metadata.scaling_policies[0].plan.unwrap();
    assert_eq!(plan.ahead, Duration::from_millis(12 * 3_600_000));
    let t = parse(&text(Some("2h"), ""), "t.yaml").unwrap();
    assert_eq!(t.dynamic_metadata.scaling_policies[0].plan, None);
}

#[test]
fn zero_ahead_is_refused_at_its_value() {
    let extra = ", plan: { ahead: 0s }";
    let e = errors(Some("2h"), extra);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (10, column_of(extra, "0s")),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("is 0s"), "{}", e[0]);
}

#[test]
fn a_plan_without_a_forecast_of_its_metric_is_refused_at_plan() {
    let extra = ", plan: { ahead: 2h }";
    let e = errors(None, extra);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (10, column_of(extra, "{ ahead")),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("no prediction forecasts"), "{}", e[0]);
}

#[test]
fn a_horizon_not_past_the_lead_by_a_window_cannot_plan() {
    // lead_time 15m + provisioning_delay 10m + one 15m window = 40m
    let extra = ", plan: { ahead: 30m }";
    let e = errors(Some("30m"), extra);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (10, column_of(extra, "30m }")),
        "{}",
        e[0]
    );
    assert!(
        e[0].message.contains("cannot plan") && e[0].message.contains("40m"),
        "{}",
        e[0]
    );
    // 40m is enough
    parse(&text(Some("40m"), ", plan: { ahead: 40m }"), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn ahead_beyond_the_horizon_is_refused() {
    let extra = ", plan: { ahead: 12h }";
    let e = errors(Some("2h"), extra);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (10, column_of(extra, "12h")),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("beyond the horizon 2h"), "{}", e[0]);
}

#[test]
fn ahead_shorter_than_the_lead_plus_a_window_plans_nothing_and_is_refused() {
    let extra = ", plan: { ahead: 20m }";
    let e = errors(Some("2h"), extra);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (10, column_of(extra, "20m")),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("nothing to plan"), "{}", e[0]);
}

#[test]
fn an_unknown_field_in_plan_is_refused() {
    let extra = ", plan: { ahead: 1h, every: 15m }";
    let e = errors(Some("2h"), extra);
    assert!(
        e.iter()
            .any(|e| e.line == 10 && e.message.contains("every")),
        "{e:#?}"
    );
}

#[test]
fn ahead_beyond_seven_days_is_refused_even_within_the_horizon() {
    // a step due more than 7 days after its directive is ignored when plans are carried out
    let extra = ", plan: { ahead: 8d }";
    let e = errors(Some("8d"), extra);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (10, column_of(extra, "8d")),
        "{}",
        e[0]
    );
    assert!(
        e[0].message
            .contains(&format!("beyond {}", presage_template::plan::MAX_AHEAD)),
        "{}",
        e[0]
    );
    // 7 days is the limit, and allowed
    let t = parse(&text(Some("8d"), ", plan: { ahead: 7d }"), "t.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.dynamic_metadata.scaling_policies[0].plan.unwrap().ahead,
        presage_template::plan::MAX_AHEAD
    );
    // a minute more is not
    let e = errors(Some("8d"), ", plan: { ahead: 10081m }");
    assert!(e[0].message.contains("beyond"), "{}", e[0]);
}
