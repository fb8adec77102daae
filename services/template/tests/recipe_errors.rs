//! Mistakes in metric recipes: selectors, filters, how transform-specific fields combine, the
//! column names a recipe defines, `sql`, `fragments`, and the template's `windowing`. Each is
//! reported at its 1-based line and column with a message that says what was expected.
//! Snippets are written one line per array element, so an element's index + 1 is its line.

use presage_template::{parse, Aggregate, TemplateError, Transform};

/// Lines 1 to 6 of every snippet: a host source, a Prometheus source `api`, and the start of
/// `metric_recipes`. The recipes given start at line 7.
const HEAD: [&str; 6] = [
    "app: a",
    "dynamic_metadata:",
    "  sources:",
    "    - { id: host, kind: host }",
    "    - { id: api, kind: prometheus, url: \"http://x\" }",
    "  metric_recipes:",
];

fn text(recipes: &[&str]) -> String {
    HEAD.iter()
        .chain(recipes)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn errors(recipes: &[&str]) -> Vec<TemplateError> {
    match parse(&text(recipes), "t.yaml") {
        Ok(t) => panic!("accepted a bad template: {t:#?}"),
        Err(e) => e.errors,
    }
}

#[track_caller]
fn check(e: &TemplateError, line: usize, column: usize, message: &str) {
    assert_eq!((e.line, e.column), (line, column), "position of: {e}");
    assert!(
        e.message.contains(message),
        "{e}\n  should contain: {message}"
    );
}

#[track_caller]
fn count(all: &[TemplateError], n: usize) {
    assert_eq!(all.len(), n, "{all:#?}");
}

// ------------------------------------------------------------------ a recipe that uses it all

#[test]
fn a_template_using_every_recipe_feature_is_accepted() {
    let mut lines = vec![
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: host, kind: host }",
        "    - { id: api, kind: prometheus, url: \"http://x\" }",
        "  windowing: { allowed_lateness: 0s, idle_timeout: 30s }",
        "  metric_recipes:",
    ];
    lines.extend([
        "    - name: error_ratio",
        "      from: api.http_requests_total{code=~\"5..\"}",
        "      filter: value >= 0 && labels.method != \"OPTIONS\" && ts > 0",
        "      transform: ratio",
        "      over: api.http_requests_total",
        "      counter: true",
        "      aggregate: p99.9",
        "      group_by: [zone]",
        "      window: { hop: { size: 5m, slide: 1m } }",
        "      join: [ { signal: host.cpu_utilization, as: cpu } ]",
        "      fragments:",
        "        format: json",
        "        set:",
        "          - config.shed = error_ratio > 0.1 && cpu > 0.9",
        "          - resources.replicas = clamp(ceil(value * n / max(cpu, 0.1)), 2, 32)",
        "          - config.zone = labels.zone",
        "    - name: p95",
        "      from: api.latency_seconds_bucket",
        "      transform: histogram_quantile",
        "      quantile: 0.95",
        "      window: { tumble: 1m }",
        "    - name: custom",
        "      from: api.http_requests_total",
        "      join: [ { signal: 'host.cpu_utilization{cpu=\"0\"}', as: cpu0 } ]",
        "      sql: |",
        "        SELECT window_end, sum(value) AS value FROM samples GROUP BY window_end",
        "      window: { tumble: 1m }",
    ]);
    let text = lines.join("\n") + "\n";
    let t = parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let ratio = t.recipe("error_ratio").expect("recipe");
    assert_eq!(ratio.transform, Some(Transform::Ratio));
    assert_eq!(ratio.aggregate, Some(Aggregate::Percentile(99.9)));
    assert_eq!(ratio.fragments.as_ref().map(|f| f.set.len()), Some(3));
    assert_eq!(t.recipe("p95").and_then(|r| r.quantile), Some(0.95));
    assert!(t.recipe("custom").and_then(|r| r.sql.as_ref()).is_some());
    assert_eq!(t.dynamic_metadata.windowing.allowed_lateness.as_millis(), 0);
}

// ------------------------------------------------------------------ selectors

#[test]
fn selectors_with_label_matchers_are_checked_like_bare_ones() {
    let all = errors(&[
        "    - name: cpu0",
        "      from: host.cpu_utilization{cpu=\"0\"}",
        "      window: { tumble: 1m }",
        "    - name: cpu1",
        "      from: host.cpu_percent{cpu=\"0\"}",
        "      window: { tumble: 1m }",
        "    - name: bad",
        "      from: api.m{code=5}",
        "      window: { tumble: 1m }",
    ]);
    count(&all, 2);
    check(
        &all[0],
        11,
        13,
        "source \"host\" (host) has no metric \"cpu_percent\": expected one of cpu_utilization,",
    );
    // Column 12 of the selector, inside the YAML value.
    check(
        &all[1],
        14,
        24,
        "from \"api.m{code=5}\" of recipe \"bad\" does not parse at column 12: expected a \
         double-quoted label value",
    );
}

#[test]
fn over_and_join_signals_are_selectors_too() {
    let all = errors(&[
        "    - name: errors",
        "      from: api.http_requests_total{code=~\"5..\"}",
        "      transform: ratio",
        "      over: apx.http_requests_total",
        "      window: { tumble: 1m }",
        "      join:",
        "        - { signal: host.hour_of_day, as: hour }",
        "        - { signal: \"host.cpu_utilization{\", as: cpu }",
    ]);
    count(&all, 3);
    check(
        &all[0],
        10,
        13,
        "unknown source \"apx\" in over of recipe \"errors\": expected one of host, api",
    );
    check(
        &all[1],
        13,
        21,
        "source \"host\" (host) has no metric \"hour_of_day\"",
    );
    check(
        &all[2],
        14,
        43,
        "join[1].signal \"host.cpu_utilization{\" of recipe \"errors\" does not parse at \
         column 22: expected a label name",
    );
}

// ------------------------------------------------------------------ filter

#[test]
fn a_filter_must_parse_and_read_only_value_ts_and_labels() {
    let all = errors(&[
        "    - name: rps",
        "      from: api.http_requests_total",
        "      filter: value >= 0 && labels.method != \"OPTIONS\" && ts > 0",
        "      window: { tumble: 1m }",
        "    - name: bad_syntax",
        "      from: api.http_requests_total",
        "      filter: value >= && 1",
        "      window: { tumble: 1m }",
        "    - name: bad_names",
        "      from: api.http_requests_total",
        "      filter: code == 500 || labels.a.b == \"x\" || labels == 1",
        "      window: { tumble: 1m }",
    ]);
    count(&all, 4);
    check(
        &all[0],
        13,
        24,
        "filter \"value >= && 1\" of recipe \"bad_syntax\" does not parse at column 10: \
         expected a value",
    );
    // Each name the filter may not read is pointed at.
    let expected = "expected value, ts or labels.<label>";
    check(
        &all[1],
        17,
        15,
        &format!("filter of recipe \"bad_names\" reads `code`: {expected}"),
    );
    check(&all[2], 17, 30, "reads `labels.a.b`");
    check(&all[3], 17, 51, "reads `labels`");
}

// ------------------------------------------------------------------ transforms

#[test]
fn a_ratio_needs_over_and_over_and_counter_need_a_ratio() {
    let all = errors(&[
        "    - name: no_over",
        "      from: api.errors_total",
        "      transform: ratio",
        "      window: { tumble: 1m }",
        "    - name: stray_over",
        "      from: api.errors_total",
        "      over: api.requests_total",
        "      counter: true",
        "      window: { tumble: 1m }",
        "    - name: good_ratio",
        "      from: api.errors_total",
        "      transform: ratio",
        "      over: api.requests_total",
        "      counter: true",
        "      window: { tumble: 1m }",
    ]);
    count(&all, 3);
    check(
        &all[0],
        9,
        18,
        "transform ratio of recipe \"no_over\" has no over: expected over: <selector of the \
         denominator>",
    );
    check(
        &all[1],
        13,
        13,
        "over of recipe \"stray_over\" is the denominator of a ratio: expected transform: \
         ratio, or no over",
    );
    check(
        &all[2],
        14,
        16,
        "counter of recipe \"stray_over\" only applies to a ratio: expected transform: ratio, \
         or no counter",
    );
}

#[test]
fn histogram_quantile_needs_a_quantile_between_0_and_1_and_no_aggregate() {
    let all = errors(&[
        "    - name: no_q",
        "      from: api.latency_bucket",
        "      transform: histogram_quantile",
        "      window: { tumble: 1m }",
        "    - name: big_q",
        "      from: api.latency_bucket",
        "      transform: histogram_quantile",
        "      quantile: 1.5",
        "      aggregate: max",
        "      window: { tumble: 1m }",
        "    - name: stray_q",
        "      from: api.latency_seconds",
        "      quantile: 0.9",
        "      window: { tumble: 1m }",
        "    - name: p99",
        "      from: api.latency_bucket",
        "      transform: histogram_quantile",
        "      quantile: 0.99",
        "      group_by: [route]",
        "      window: { tumble: 1m }",
    ]);
    count(&all, 4);
    check(
        &all[0],
        9,
        18,
        "transform histogram_quantile of recipe \"no_q\" has no quantile: expected quantile: \
         <q> with 0 < q < 1, like 0.95",
    );
    check(
        &all[1],
        14,
        17,
        "quantile 1.5 of recipe \"big_q\" is not between 0 and 1: expected 0 < q < 1",
    );
    check(
        &all[2],
        15,
        18,
        "aggregate of recipe \"big_q\" does not combine with transform: histogram_quantile, \
         whose quantile is the output: expected no aggregate",
    );
    check(
        &all[3],
        19,
        17,
        "quantile of recipe \"stray_q\" only applies to transform: histogram_quantile",
    );
}

#[test]
fn an_unknown_aggregate_is_reported_at_its_value() {
    let all = errors(&[
        "    - { name: a, from: host.cpu_utilization, aggregate: p150, window: { tumble: 1m } }",
        "    - name: b",
        "      from: host.cpu_utilization",
        "      aggregate: median",
        "      window: { tumble: 1m }",
        "    - { name: c, from: host.cpu_utilization, aggregate: 95, window: { tumble: 1m } }",
    ]);
    count(&all, 3);
    check(
        &all[0],
        7,
        57,
        "dynamic_metadata.metric_recipes[0].aggregate: percentile p150 is out of range: \
         expected more than 0 and less than 100",
    );
    check(
        &all[1],
        10,
        18,
        "dynamic_metadata.metric_recipes[1].aggregate: unknown aggregate \"median\": expected \
         avg, min, max, sum, count, last, stddev or a percentile like p50, p95, p99.9",
    );
    check(
        &all[2],
        12,
        57,
        "dynamic_metadata.metric_recipes[2].aggregate: unknown aggregate \"95\": expected avg,",
    );
}

// ------------------------------------------------------------------ column names

#[test]
fn group_by_labels_and_join_aliases_are_distinct_unreserved_identifiers() {
    let all = errors(&[
        "    - name: rps",
        "      from: api.http_requests_total",
        "      group_by: [route, 9lives, value, route]",
        "      window: { tumble: 1m }",
        "      join:",
        "        - { signal: host.cpu_utilization, as: route }",
        "        - { signal: host.cpu_utilization, as: rps }",
        "        - { signal: host.cpu_utilization, as: window_end }",
        "        - { signal: host.cpu_utilization, as: cpu }",
    ]);
    count(&all, 6);
    check(
        &all[0],
        9,
        25,
        "group_by label \"9lives\" of recipe \"rps\" is not an identifier: expected letters, \
         digits and _, not starting with a digit",
    );
    check(
        &all[1],
        9,
        33,
        "group_by label \"value\" of recipe \"rps\" is a column the query uses itself: expected \
         a name other than app, window_start, window_end, ts, series, value, n, \
         is_denominator, le",
    );
    check(
        &all[2],
        9,
        40,
        "group_by label \"route\" of recipe \"rps\" is already a group_by label of this recipe: \
         expected distinct names",
    );
    check(
        &all[3],
        12,
        47,
        "join alias \"route\" of recipe \"rps\" is already a group_by label of this recipe",
    );
    check(
        &all[4],
        13,
        47,
        "join alias \"rps\" of recipe \"rps\" is the recipe's own name",
    );
    check(
        &all[5],
        14,
        47,
        "join alias \"window_end\" of recipe \"rps\" is a column the query uses itself",
    );
}

// ------------------------------------------------------------------ sql

#[test]
fn sql_replaces_the_generated_query_and_is_not_combined_with_it() {
    let all = errors(&[
        "    - name: custom",
        "      from: api.http_requests_total",
        "      transform: rate",
        "      filter: value > 0",
        "      sql: SELECT window_end, sum(value) AS value FROM samples GROUP BY window_end",
        "      window: { tumble: 1m }",
        "    - name: blank",
        "      from: api.http_requests_total",
        "      sql: \" \"",
        "      window: { tumble: 1m }",
    ]);
    count(&all, 2);
    check(
        &all[0],
        11,
        12,
        "recipe \"custom\" sets sql together with transform, filter: sql replaces the \
         generated query: expected either sql or transform/filter/aggregate",
    );
    check(
        &all[1],
        15,
        12,
        "sql of recipe \"blank\" is empty: expected a SELECT over the samples table",
    );
}

// ------------------------------------------------------------------ fragments

#[test]
fn fragments_assign_config_or_resources_from_the_recipe_output() {
    let all = errors(&[
        "    - name: rps",
        "      from: api.http_requests_total",
        "      transform: rate",
        "      aggregate: sum",
        "      group_by: [zone]",
        "      window: { tumble: 1m }",
        "      join: [ { signal: host.cpu_utilization, as: cpu } ]",
        "      fragments:",
        "        format: json",
        "        set:",
        "          - config.worker_threads = clamp(ceil(rps / 50), 2, 32)",
        "          - config.cache_mb = value * n / max(cpu, 1) + labels.region + rate",
        "          - replicas = ceil(rps / 100)",
        "          - config.x == 3",
        "          - config = 1",
        "    - name: nothing",
        "      from: api.http_requests_total",
        "      window: { tumble: 1m }",
        "      fragments: { format: yaml, set: [] }",
    ]);
    count(&all, 6);
    // Names the expression may not read are pointed at inside the assignment.
    check(
        &all[0],
        18,
        57,
        "fragment of recipe \"rps\" reads `labels.region`: expected one of value, n, rps, cpu, \
         labels.zone",
    );
    check(&all[1], 18, 73, "reads `rate`");
    check(
        &all[2],
        19,
        13,
        "fragment of recipe \"rps\" sets `replicas`: expected a path under config or \
         resources, like config.worker_threads or resources.replicas",
    );
    check(
        &all[3],
        20,
        22,
        "fragment \"config.x == 3\" of recipe \"rps\" does not parse at column 10: expected '=' \
         after config.x",
    );
    check(
        &all[4],
        21,
        13,
        "sets `config`: expected a path under config",
    );
    check(
        &all[5],
        25,
        39,
        "fragments of recipe \"nothing\" set nothing: expected at least one assignment",
    );
}

// ------------------------------------------------------------------ windowing

#[test]
fn windowing_allows_no_lateness_but_needs_an_idle_timeout() {
    let text =
        "app: a\ndynamic_metadata:\n  windowing: { allowed_lateness: 0s, idle_timeout: 0s }\n";
    let all = parse(text, "t.yaml").expect_err("idle_timeout 0s").errors;
    count(&all, 1);
    check(
        &all[0],
        3,
        52,
        "windowing.idle_timeout is 0s: expected a positive duration like 10s",
    );
}
