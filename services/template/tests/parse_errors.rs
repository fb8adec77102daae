//! Every class of template mistake: where it is reported (1-based line and column) and that the
//! message says what was expected. Snippets are written one line per array element, so an
//! element's index + 1 is its line number.

mod common;

use common::{check, doc, errors, one, positions};
use presage_template::parse;

// ------------------------------------------------------------------ structure (yaml_serde)

#[test]
fn bad_yaml_syntax() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: a, kind: host ]",
    ]);
    check(&e, 3, 34, &["invalid YAML", "expected ',' or '}'"]);
    // The position moved from the message to the error's line and column.
    assert!(!e.message.contains("line 3 column 34"), "{e}");
}

#[test]
fn unknown_top_level_field() {
    let e = one(&["app: a", "apps: b", "dynamic_metadata: {}"]);
    check(
        &e,
        2,
        1,
        &["unknown field `apps`, expected one of `app`, `bootstrap`, `dynamic_metadata`"],
    );
}

#[test]
fn unknown_field_points_at_the_key() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - id: host",
        "      kind: host",
        "      evry: 10s",
    ]);
    check(
        &e,
        6,
        7,
        &["dynamic_metadata.sources[0]: unknown field `evry`, expected one of `id`, `kind`, `url`, `every`, `timeout`"],
    );
}

#[test]
fn wrong_type_points_at_the_value() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: api, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: api.cpu_utilization, window: { tumble: 1m } }",
        "  scaling_policies:",
        "    - resource: replicas",
        "      metric: rps",
        "      per_unit: lots",
        "      min: 1",
        "      max: 2",
    ]);
    check(
        &e,
        9,
        17,
        &["dynamic_metadata.scaling_policies[0].per_unit: invalid type: string \"lots\", expected a number"],
    );
}

#[test]
fn bad_duration() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - id: host",
        "      kind: host",
        "      every: 5 minutes",
    ]);
    check(&e, 6, 14, &[]);
    assert_eq!(
        e.message,
        "dynamic_metadata.sources[0].every: invalid duration \"5 minutes\": expected a number \
         followed by a unit (ms, s, m, h, d), like 30s or 5m"
    );
}

#[test]
fn bad_duration_inside_a_hop_window() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - name: p95",
        "      from: h.cpu_utilization",
        "      window:",
        "        hop: { size: 5 m, slide: 1m }",
    ]);
    check(&e, 8, 22, &["window.hop.size: invalid duration \"5 m\""]);
}

#[test]
fn unknown_enum_value() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: a, kind: ftp }",
    ]);
    check(
        &e,
        4,
        22,
        &["unknown variant `ftp`, expected one of `host`, `prometheus`, `http_probe`, `calendar`"],
    );
}

#[test]
fn missing_required_field_points_at_the_mapping() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: api, kind: host } ]",
        "  metric_recipes:",
        "    - name: rps",
        "      from: api.x",
    ]);
    check(
        &e,
        5,
        7,
        &["dynamic_metadata.metric_recipes[0]: missing field `window`"],
    );
}

#[test]
fn missing_top_level_field() {
    let e = one(&["app: a"]);
    check(&e, 1, 1, &["missing field `dynamic_metadata`"]);
}

#[test]
fn duplicate_key() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - id: a",
        "      kind: host",
        "      kind: calendar",
    ]);
    check(
        &e,
        6,
        7,
        &["duplicate key `kind` in dynamic_metadata.sources[0]: expected each key at most once"],
    );
}

#[test]
fn every_duplicate_key_is_reported() {
    let all = errors(&[
        "app: a",
        "app: b",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: a, kind: host, id: b }",
    ]);
    assert_eq!(positions(&all), vec![(2, 1), (5, 28)], "{all:#?}");
    assert!(all[0]
        .message
        .starts_with("duplicate key `app`: expected each key at most once"));
    assert!(all[1]
        .message
        .contains("duplicate key `id` in dynamic_metadata.sources[0]"));
}

#[test]
fn empty_or_non_mapping_document() {
    check(
        &one(&[""]),
        1,
        1,
        &["the template is empty: expected a mapping"],
    );
    check(&one(&["- a"]), 1, 1, &["expected a mapping"]);
}

#[test]
fn several_structural_errors_in_one_item_are_all_reported() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: a, kind: host, bogus: 1, every: nope }",
    ]);
    assert_eq!(positions(&all), vec![(4, 28), (4, 45)], "{all:#?}");
    assert!(all[0].message.contains("unknown field `bogus`"));
    assert!(all[1].message.contains("invalid duration \"nope\""));
}

// ------------------------------------------------------------------ sources

#[test]
fn duplicate_source_id() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: host, kind: host }",
        "    - { id: host, kind: calendar }",
    ]);
    check(
        &e,
        5,
        13,
        &["duplicate source id \"host\": expected each source to have its own id"],
    );
}

#[test]
fn prometheus_and_http_probe_need_a_url() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: api, kind: prometheus }",
        "    - id: health",
        "      kind: http_probe",
        "    - { id: host, kind: host }",
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    check(
        &all[0],
        4,
        7,
        &["prometheus source \"api\" has no url: expected url:"],
    );
    check(
        &all[1],
        5,
        7,
        &["http_probe source \"health\" has no url: expected url:"],
    );
}

#[test]
fn zero_every_and_timeout() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: host, kind: host, every: 0s, timeout: 0ms }",
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    check(
        &all[0],
        4,
        38,
        &["every of source \"host\" is 0s: expected a positive duration"],
    );
    check(
        &all[1],
        4,
        51,
        &["timeout of source \"host\" is 0s: expected a positive duration"],
    );
}

// ------------------------------------------------------------------ recipes

#[test]
fn recipe_from_must_name_a_known_source_and_a_metric() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: host, kind: host }",
        "    - { id: api, kind: prometheus, url: \"http://x\" }",
        "  metric_recipes:",
        "    - name: rps",
        "      from: apx.http_requests_total",
        "      window: { tumble: 1m }",
        "    - name: cpu",
        "      from: cpu_percent",
        "      window: { tumble: 1m }",
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    check(&all[0], 8, 13, &[]);
    assert_eq!(
        all[0].message,
        "unknown source \"apx\" in recipe \"rps\": expected one of host, api"
    );
    check(
        &all[1],
        11,
        13,
        &["from \"cpu_percent\" of recipe \"cpu\" does not parse at column 1: \"cpu_percent\" is not <source id>.<metric>: expected something like api.http_requests_total"],
    );
}

#[test]
fn recipe_windows_and_names() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - name: both",
        "      from: h.cpu_utilization",
        "      window: { tumble: 1m, hop: { size: 5m, slide: 1m } }",
        "    - name: neither",
        "      from: h.cpu_utilization",
        "      window: {}",
        "    - name: zero_slide",
        "      from: h.cpu_utilization",
        "      window: { hop: { size: 5m, slide: 0s } }",
        "    - name: wide_slide",
        "      from: h.cpu_utilization",
        "      window:",
        "        hop: { size: 1m, slide: 2m }",
        "    - name: both",
        "      from: h.cpu_utilization",
        "      window: { tumble: 1m }",
    ]);
    assert_eq!(
        positions(&all),
        vec![(7, 15), (10, 15), (13, 41), (17, 33), (18, 13)],
        "{all:#?}"
    );
    assert!(all[0]
        .message
        .contains("recipe \"both\" sets both window.tumble and window.hop: expected exactly one"));
    assert!(all[1]
        .message
        .contains("recipe \"neither\" has no window: expected tumble: <duration> or hop:"));
    assert!(all[2].message.contains(
        "hop slide of recipe \"zero_slide\" is 0s: expected a positive duration no larger than the size (5m)"
    ));
    assert!(all[3].message.contains(
        "hop slide 2m of recipe \"wide_slide\" is larger than its size 1m: expected a slide no larger than the size"
    ));
    assert!(all[4]
        .message
        .contains("duplicate recipe name \"both\": expected each recipe to have its own name"));
}

#[test]
fn zero_tumble_window() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: c, from: h.cpu_utilization, window: { tumble: 0s } }",
    ]);
    check(
        &e,
        5,
        61,
        &["window of recipe \"c\" is 0s: expected a positive duration"],
    );
}

// ------------------------------------------------------------------ predictions

#[test]
fn prediction_mistakes() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1m } }",
        "  prediction_algorithms:",
        "    - target: rpz",
        "      horizon: 0s",
        "      models: []",
        "      interval: 1.5",
        "    - { target: rps, horizon: 30m, interval: 0 }",
    ]);
    assert_eq!(
        positions(&all),
        vec![(7, 15), (8, 16), (9, 15), (10, 17), (11, 46)],
        "{all:#?}"
    );
    assert_eq!(
        all[0].message,
        "prediction target \"rpz\" is not a recipe: expected one of rps"
    );
    assert!(all[1]
        .message
        .contains("horizon of the prediction for \"rpz\" is 0s: expected a positive duration"));
    assert!(all[2]
        .message
        .contains("has no models: expected at least one of seasonal_naive"));
    assert!(all[3]
        .message
        .contains("interval 1.5 of the prediction for \"rpz\" is not between 0 and 1: expected a coverage like 0.9"));
    assert!(all[4]
        .message
        .contains("interval 0 of the prediction for \"rps\""));
}

#[test]
fn harmonics_that_cannot_act_are_refused_where_they_are() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1h } }",
        "    - { name: rpz, from: h.cpu_utilization, window: { tumble: 1h } }",
        "    - { name: rpx, from: h.cpu_utilization, window: { tumble: 1h } }",
        "    - { name: rpw, from: h.cpu_utilization, window: { tumble: 1h } }",
        "  prediction_algorithms:",
        "    - { target: rps, horizon: 3h, models: [mstl], seasonality: [1d, 7d], harmonics: 8 }",
        "    - { target: rpz, horizon: 3h, models: [arima], seasonality: [1d], harmonics: 8 }",
        "    - { target: rpx, horizon: 3h, models: [arima], seasonality: [1d, 7d], harmonics: 8 }",
        // unset, a sole arima's default of eight pairs is no finding: it acts where it can
        "    - { target: rpw, horizon: 3h, models: [arima], seasonality: [1d] }",
    ]);
    assert_eq!(positions(&all), vec![(10, 85), (11, 82)], "{all:#?}");
    assert!(all[0].message.contains(
        "harmonics 8 of the prediction for \"rps\" only acts on the arima model, and its models do \
         not include arima"
    ));
    assert!(all[1].message.contains(
        "harmonics 8 of the prediction for \"rpz\" needs a period longer than the first, like \
         seasonality: [1d, 7d]"
    ));
}

#[test]
fn forecasting_settings_mistakes() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host }, { id: w, kind: calendar } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1h }, join: [ { signal: w.hour_of_day, as: hour } ] }",
        "  prediction_algorithms:",
        "    - target: rps",
        "      horizon: 3h",
        "      refit: 0s",
        "      drift: 0.5",
        "      folds: 0",
        "      ridge: -1",
        "      harmonics: 30",
        "      holidays: [2013-12-25, 2013-02-30]",
        "      regressors: [hour, temp]",
    ]);
    assert_eq!(
        positions(&all),
        vec![
            (9, 14),
            (10, 14),
            (11, 14),
            (12, 14),
            (13, 18),
            (14, 30),
            (15, 26)
        ],
        "{all:#?}"
    );
    assert!(all[0]
        .message
        .contains("refit of the prediction for \"rps\" is 0s"));
    assert!(all[1]
        .message
        .contains("drift 0.5 of the prediction for \"rps\" must be above 1"));
    assert!(all[2].message.contains("folds 0"));
    assert!(all[3].message.contains("ridge -1"));
    assert!(all[4]
        .message
        .contains("harmonics 30 of the prediction for \"rps\" is more than 24"));
    assert!(all[5]
        .message
        .contains("holiday \"2013-02-30\" is not a date: expected YYYY-MM-DD"));
    assert_eq!(
        all[6].message,
        "regressor \"temp\" is not a signal joined to recipe \"rps\": expected one of hour \
         (add it with join: [{signal: ..., as: temp}])"
    );
}

#[test]
fn schedule_and_stabilization_mistakes() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1m } }",
        "  scaling_policies:",
        "    - resource: replicas",
        "      metric: rps",
        "      per_unit: 100",
        "      min: 1",
        "      max: 10",
        "      use: p95",
        "      stabilization: { down: 5m }",
        "      schedule:",
        "        - { cron: \"0 8 * * MON-FRY\", for: 10h, min: 4 }",
        "        - { cron: \"0 20 * * *\", for: 0s, min: 12 }",
    ]);
    assert_eq!(
        positions(&all),
        vec![(15, 28), (16, 38), (16, 47)],
        "{all:#?}"
    );
    assert!(all[0].message.contains("day-of-week"), "{}", all[0]);
    assert!(all[1].message.contains("is 0s"), "{}", all[1]);
    assert!(all[2].message.contains("scheduled floor 12"), "{}", all[2]);
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1m } }",
        "  scaling_policies:",
        "    - { resource: replicas, metric: rps, per_unit: 100, min: 1, max: 10, use: p101 }",
    ]);
    assert!(
        e.message
            .contains("expected mean, upper, lower or a quantile like p95"),
        "{e}"
    );
}

#[test]
fn a_second_live_policy_on_one_resource_is_refused_but_a_shadow_one_is_not() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1m } }",
        "  scaling_policies:",
        "    - { resource: replicas, metric: rps, per_unit: 100, min: 1, max: 10 }",
        "    - { resource: replicas, metric: rps, per_unit: 90, min: 1, max: 10, shadow: true }",
        "    - { resource: replicas, metric: rps, per_unit: 80, min: 1, max: 10 }",
    ]);
    check(
        &e,
        9,
        19,
        &["a second live scaling policy for \"replicas\""],
    );
}

#[test]
fn a_horizon_of_more_than_5000_windows_is_refused() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1s } }",
        "  prediction_algorithms:",
        "    - { target: rps, horizon: 1d }",
    ]);
    check(
        &e,
        7,
        31,
        &[
            "horizon 1d of the prediction for \"rps\" is 86400 windows",
            "at most 5000",
        ],
    );
}

#[test]
fn a_seasonality_is_a_duration_or_auto() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1h } }",
        "  prediction_algorithms:",
        "    - { target: rps, horizon: 3h, seasonality: [1d, automatic] }",
    ]);
    assert_eq!(e.line, 7, "{e}");
    assert!(e.message.contains("or auto"), "{e}");
    let t = parse(
        &doc(&[
            "app: a",
            "dynamic_metadata:",
            "  sources: [ { id: h, kind: host } ]",
            "  metric_recipes:",
            "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1h } }",
            "  prediction_algorithms:",
            "    - { target: rps, horizon: 3h, seasonality: [7d, auto, 1d] }",
        ]),
        "t.yaml",
    )
    .unwrap();
    let a = &t.dynamic_metadata.prediction_algorithms[0];
    assert!(a.detects_seasons());
    assert_eq!(
        a.fixed_seasons(),
        vec![
            presage_template::Duration::from_secs(86_400),
            presage_template::Duration::from_secs(7 * 86_400)
        ]
    );
    assert_eq!((a.refit.as_millis(), a.drift, a.folds), (3_600_000, 2.0, 5));
}

// ------------------------------------------------------------------ scaling policies

#[test]
fn scaling_policy_mistakes() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 1m } }",
        "  scaling_policies:",
        "    - resource: replicas",
        "      metric: rpz",
        "      per_unit: 0",
        "      min: 5",
        "      max: 2",
        "    - { resource: nodes, metric: rps, per_unit: -1, min: -1, max: 3 }",
    ]);
    assert_eq!(
        positions(&all),
        vec![(8, 15), (9, 17), (10, 12), (12, 49), (12, 58)],
        "{all:#?}"
    );
    assert_eq!(
        all[0].message,
        "scaling policy for \"replicas\" uses metric \"rpz\", which is not a recipe: expected one of rps"
    );
    assert!(all[1].message.contains(
        "per_unit of the scaling policy for \"replicas\" is 0: expected a positive number"
    ));
    assert!(all[2]
        .message
        .contains("scaling policy for \"replicas\" has min 5 above max 2: expected min <= max"));
    assert!(all[3].message.contains(
        "per_unit of the scaling policy for \"nodes\" is -1: expected a positive number"
    ));
    assert!(all[4].message.contains(
        "min of the scaling policy for \"nodes\" is -1: expected a whole number, 0 or more"
    ));
}

// ------------------------------------------------------------------ hooks

#[test]
fn hook_mistakes() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  configuration_hooks:",
        "    - name: config",
        "      kind: file",
        "      test: { command: [check, \"{shadow}\"] }",
        "    - { name: scale, kind: http }",
        "    - name: config",
        "      kind: http",
        "      url: \"http://127.0.0.1:7000/scale\"",
        "      test: { expect: 200 }",
    ]);
    assert_eq!(
        positions(&all),
        vec![(4, 7), (7, 7), (8, 13), (11, 13)],
        "{all:#?}"
    );
    assert!(all[0]
        .message
        .contains("file hook \"config\" has no path: expected path:"));
    assert!(all[1]
        .message
        .contains("http hook \"scale\" has no url: expected url:"));
    assert!(all[2]
        .message
        .contains("duplicate hook name \"config\": expected each hook to have its own name"));
    assert!(all[3].message.contains(
        "test of hook \"config\" has neither command nor http: expected command: [program, args...] or http: <url>"
    ));
}

#[test]
fn hook_retry_mistakes() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  configuration_hooks:",
        "    - { name: a, kind: file, path: /tmp/a.yaml, retry: { attempts: 0 } }",
        "    - { name: b, kind: file, path: /tmp/b.yaml, retry: { attempts: 11, backoff: 0s } }",
        "    - { name: c, kind: file, path: /tmp/c.yaml, retry: { attempts: 2, backof: 1s } }",
        "    - { name: d, kind: file, path: /tmp/d.yaml, retry: { backoff: soon } }",
    ]);
    assert_eq!(
        positions(&all),
        vec![(4, 68), (5, 68), (5, 81), (6, 71), (7, 67)],
        "{all:#?}"
    );
    assert!(all[0]
        .message
        .contains("retry.attempts of hook \"a\" is 0: expected 1 (no retry) to 10"));
    assert!(all[1]
        .message
        .contains("retry.attempts of hook \"b\" is 11: expected 1 (no retry) to 10"));
    assert!(all[2]
        .message
        .contains("retry.backoff of hook \"b\" is 0s: expected a positive duration like 500ms"));
    assert!(
        all[3]
            .message
            .contains("unknown field `backof`, expected `attempts` or `backoff`"),
        "{}",
        all[3]
    );
    assert!(all[4].message.contains("soon"), "{}", all[4]);
}

#[test]
fn a_hook_s_retry_is_read_and_defaults_when_absent() {
    let t = presage_template::parse(
        &doc(&[
            "app: a",
            "dynamic_metadata:",
            "  configuration_hooks:",
            "    - { name: a, kind: file, path: /tmp/a.yaml, retry: { attempts: 5, backoff: 2s } }",
            "    - { name: b, kind: file, path: /tmp/b.yaml, retry: { attempts: 1 } }",
            "    - { name: c, kind: http, url: \"http://127.0.0.1:1/scale\" }",
        ]),
        "t.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let retry: Vec<(u32, u64)> = t
        .dynamic_metadata
        .configuration_hooks
        .iter()
        .map(|h| (h.retry().attempts, h.retry().backoff.as_millis()))
        .collect();
    assert_eq!(retry, vec![(5, 2_000), (1, 500), (3, 500)]);
}

// ------------------------------------------------------------------ rules and app

#[test]
fn rule_syntax_errors_point_inside_the_rule() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  validation_rules:",
        "    - \"resources.replicas >= 1\"",
        "    - \"resources.replicas >= && 1\"",
        "    - resources.replicas = 3",
        "    - 'config.mode == \"off'",
        "    - \"config.mode == \\\"off\\\" &&\"",
    ]);
    assert_eq!(
        positions(&all),
        vec![(5, 30), (6, 26), (7, 23), (8, 7)],
        "{all:#?}"
    );
    assert!(all[0].message.contains(
        "validation rule \"resources.replicas >= && 1\" does not parse at column 23: expected a value"
    ));
    assert!(all[1]
        .message
        .contains("at column 20: single '=': expected == to compare"));
    assert!(all[2].message.contains("expected a closing \""));
    // Escapes make source and text differ: the error falls back to the rule's start.
    assert!(all[3]
        .message
        .contains("the rule ends too early: expected a value"));
}

#[test]
fn empty_app() {
    let e = one(&["app: \"\"", "dynamic_metadata: {}"]);
    check(
        &e,
        1,
        6,
        &["app is empty: expected the application id, like checkout-api"],
    );
    let e = one(&["app: '  '", "dynamic_metadata: {}"]);
    check(&e, 1, 6, &["app is empty"]);
}

// ------------------------------------------------------------------ all at once

#[test]
fn recipe_from_a_built_in_source_must_name_a_metric_it_produces() {
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: host, kind: host }",
        "  metric_recipes:",
        "    - { name: cpu, from: host.cpu_percent, window: { tumble: 1m } }",
    ]);
    check(&e, 6, 26, &["cpu_percent", "cpu_utilization"]);
    assert!(
        e.message.starts_with("source \"host\" (host) has no metric \"cpu_percent\": expected one of cpu_utilization,"),
        "{}",
        e.message
    );
}

#[test]
fn policy_bounds_must_be_finite_and_steps_whole() {
    let all = errors(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes: [ { name: cpu, from: h.cpu_utilization, window: { tumble: 1m } } ]",
        "  scaling_policies:",
        "    - { resource: nodes, metric: cpu, per_unit: 1, min: 1, max: .nan, max_step_up: 0.5 }",
    ]);
    let messages: Vec<&str> = all.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("max of the scaling policy") && m.contains("finite")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("max_step_up") && m.contains("whole number")),
        "{messages:?}"
    );
    assert!(all.iter().all(|e| e.line == 6), "{all:#?}");
    // targets are whole units, so are their bounds
    let e = one(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes: [ { name: cpu, from: h.cpu_utilization, window: { tumble: 1m } } ]",
        "  scaling_policies:",
        "    - { resource: nodes, metric: cpu, per_unit: 1, min: 1.5, max: 4 }",
    ]);
    assert!(
        e.message
            .contains("min of the scaling policy for \"nodes\" is 1.5: expected a whole number"),
        "{e}"
    );
}

#[test]
fn a_template_with_many_mistakes_reports_all_of_them() {
    let all = errors(&[
        "app: \"\"",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: old, kind: ftp }",
        "    - { id: host, kind: host, every: 5 minutes }",
        "    - { id: api, kind: prometheus }",
        "  metric_recipes:",
        "    - { name: a, from: old.x, window: { tumble: 1m } }",
        "    - { name: b, from: nope.x, window: { tumble: 1m }, colour: red }",
        "    - { name: c, from: api.x, window: { tumble: 0s } }",
        "  validation_rules:",
        "    - [not, a, rule]",
        "    - \"1 <\"",
    ]);
    assert_eq!(
        positions(&all),
        vec![
            (1, 6),   // empty app
            (4, 24),  // unknown kind: the source is dropped...
            (5, 38),  // bad duration
            (6, 7),   // ...so this source's path is shifted back to sources[2]
            (9, 24),  // unknown source; recipe "a" naming the dropped source is not reported
            (9, 56),  // unknown field
            (10, 49), // zero tumble
            (12, 7),  // a rule that is not a string: dropped...
            (13, 11), // ...so this rule is validation_rules[1] again
        ],
        "{all:#?}"
    );
    assert!(all[1]
        .message
        .contains("sources[0].kind: unknown variant `ftp`"));
    assert!(all[3]
        .message
        .contains("prometheus source \"api\" has no url"));
    assert_eq!(
        all[4].message,
        "unknown source \"nope\" in recipe \"b\": expected one of host, api, old"
    );
    assert!(all[5]
        .message
        .contains("dynamic_metadata.metric_recipes[1]: unknown field `colour`"));
    assert!(all[7].message.contains(
        "dynamic_metadata.validation_rules[0]: invalid type: sequence, expected a string"
    ));
    assert!(all[8]
        .message
        .contains("validation rule \"1 <\" does not parse at column 4"));
}

// ------------------------------------------------------------------ how errors print

#[test]
fn errors_print_as_file_line_column_message_one_per_line() {
    let errs = parse(
        &doc(&["app: a", "apps: b", "dynamic_metadata:", "  bogus: 1"]),
        "dir/t.yaml",
    )
    .expect_err("two unknown fields");
    let text = errs.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("dir/t.yaml:2:1: unknown field `apps`"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("dir/t.yaml:4:3: dynamic_metadata: unknown field `bogus`"),
        "{text}"
    );
    assert_eq!(errs.len(), 2);
}

#[test]
fn an_unreadable_file_is_reported_with_its_name() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("no/such/template.yaml");
    let errs = presage_template::load(&path).expect_err("missing file");
    assert_eq!(errs.len(), 1);
    let e = &errs.errors[0];
    assert_eq!(e.file, path.display().to_string());
    assert_eq!(e.line, 0);
    assert!(e.message.starts_with("cannot read the template: "), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read the template", path.display())),
        "{e}"
    );
}

#[test]
fn a_bootstrap_resource_that_is_not_a_usable_amount_is_refused_where_it_is() {
    let all = errors(&[
        "app: a",
        "bootstrap:",
        "  resources:",
        "    replicas: .nan",
        "    memory_mb: -512",
        "    bandwidth_mbps: 100",
        "dynamic_metadata: {}",
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    let at = |name: &str| all.iter().find(|e| e.message.contains(name)).unwrap();
    check(
        at("\"replicas\""),
        4,
        15,
        &["is NaN", "expected a number, 0 or more"],
    );
    check(at("\"memory_mb\""), 5, 16, &["is -512"]);
}
