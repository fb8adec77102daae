//! `target: { under_provisioned: 0.5% }` (an SLO instead of `use:`) and `reactive: { headroom:
//! 20% }` (combined with reactive) on a scaling policy: read as percentages or fractions; a
//! value out of range, a record window that cannot calibrate the SLO, or `use` beside `target`
//! is reported at its line and column with what was expected.

use presage_template::slo::DEFAULT_SLO_WINDOW;
use presage_template::{parse, TemplateError};

/// Lines 1 to 7; the policy's mapping body is line 8 (its text starts at column 7).
fn text(policy: &str) -> String {
    [
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: api, kind: prometheus, url: \"http://x\" }",
        "  metric_recipes:",
        "    - { name: rps, from: api.requests, window: { tumble: 15m } }",
        "  scaling_policies:",
        &format!(
            "    - {{ resource: replicas, metric: rps, per_unit: 10, min: 1, max: 50, {policy} }}"
        ),
    ]
    .join("\n")
        + "\n"
}

fn errors(policy: &str) -> Vec<TemplateError> {
    match parse(&text(policy), "t.yaml") {
        Ok(t) => panic!("accepted a bad template: {t:#?}"),
        Err(e) => e.errors,
    }
}

/// The column where `needle` starts on line 8 of `text(policy)`, 1-based.
fn column_of(policy: &str, needle: &str) -> usize {
    let text = text(policy);
    let line = text.lines().nth(7).unwrap();
    line.find(needle).unwrap() + 1
}

#[test]
fn an_slo_and_a_reactive_side_are_read_as_percentages_or_fractions() {
    let t = parse(
        &text("target: { under_provisioned: 0.5% }, reactive: { headroom: 20% }"),
        "t.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = &t.dynamic_metadata.scaling_policies[0];
    let target = p.target.unwrap();
    assert!((target.under_provisioned - 0.005).abs() < 1e-12);
    assert_eq!(target.window, DEFAULT_SLO_WINDOW);
    assert!((p.reactive.unwrap().headroom - 0.2).abs() < 1e-12);

    let t = parse(
        &text("target: { under_provisioned: 0.02, window: 3d }"),
        "t.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = &t.dynamic_metadata.scaling_policies[0];
    assert!((p.target.unwrap().under_provisioned - 0.02).abs() < 1e-12);
    assert_eq!(p.reactive, None);
}

#[test]
fn use_beside_target_is_refused_at_use() {
    let policy = "use: p99, target: { under_provisioned: 1% }";
    let e = errors(policy);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].column),
        (8, column_of(policy, "use")),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("keep one"), "{}", e[0]);
}

#[test]
fn an_slo_outside_0_to_50_percent_is_refused_at_its_value() {
    for slo in ["0%", "50%", "120%", "-1%", ".nan"] {
        let policy = format!("target: {{ under_provisioned: {slo} }}");
        let e = errors(&policy);
        assert_eq!(e.len(), 1, "{slo}: {e:#?}");
        assert_eq!(
            (e[0].line, e[0].column),
            (8, column_of(&policy, slo)),
            "{}",
            e[0]
        );
        assert!(e[0].message.contains("not between 0% and 50%"), "{}", e[0]);
    }
    let policy = "target: { under_provisioned: lots }";
    let e = errors(policy);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("not a share"), "{}", e[0]);
}

#[test]
fn a_record_window_out_of_bounds_or_too_short_for_the_slo_is_refused_at_the_window() {
    for (window, says) in [
        ("30m", "not between 1h and 28d"),
        ("60d", "not between 1h and 28d"),
        // a day of 15-minute windows is 96: 0.5% needs 199 to be calibrated
        ("1d", "needs at least 199"),
    ] {
        let policy = format!("target: {{ under_provisioned: 0.5%, window: {window} }}");
        let e = errors(&policy);
        assert_eq!(e.len(), 1, "{window}: {e:#?}");
        assert_eq!(
            (e[0].line, e[0].column),
            (8, column_of(&policy, window)),
            "{}",
            e[0]
        );
        assert!(e[0].message.contains(says), "{}", e[0]);
    }
    // the same day calibrates a looser SLO: 96 windows hold the 95th percentile (19 needed)
    parse(
        &text("target: { under_provisioned: 5%, window: 1d }"),
        "t.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_reactive_headroom_below_zero_or_huge_is_refused_at_its_value() {
    for headroom in ["-10%", "900%"] {
        let policy = format!("reactive: {{ headroom: {headroom} }}");
        let e = errors(&policy);
        assert_eq!(e.len(), 1, "{headroom}: {e:#?}");
        assert_eq!(
            (e[0].line, e[0].column),
            (8, column_of(&policy, headroom)),
            "{}",
            e[0]
        );
        assert!(e[0].message.contains("reactive headroom"), "{}", e[0]);
    }
    let e = errors("reactive: { headroom: 20%, lag: 1m }");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("lag"), "{}", e[0]);
}
