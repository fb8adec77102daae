//! `position_of`: where a node's value starts, for mistakes found after parsing (a recipe's
//! `sql` that DataFusion cannot plan is reported at its line).

use presage_template::position_of;

const TEXT: &str = "\
app: a
dynamic_metadata:
  sources: [ { id: api, kind: prometheus, url: \"http://x\" } ]
  metric_recipes:
    - name: plain
      from: api.http_requests_total
      sql: SELECT window_end, sum(value) AS value FROM samples GROUP BY window_end
      window: { tumble: 1m }
    - name: block
      from: api.http_requests_total
      sql: |
        SELECT window_end, sum(value) AS value
        FROM samples GROUP BY window_end
      window: { tumble: 1m }
bootstrap:
  config: { \"log.level\": info }
";

#[test]
fn finds_the_value_of_a_node_named_as_errors_name_it() {
    assert_eq!(
        position_of(TEXT, "dynamic_metadata.metric_recipes[0].sql"),
        Some((7, 12))
    );
    assert_eq!(
        position_of(TEXT, "dynamic_metadata.sources[0].url"),
        Some((3, 48))
    );
    assert_eq!(
        position_of(TEXT, "dynamic_metadata.metric_recipes[1].window.tumble"),
        Some((14, 25))
    );
}

#[test]
fn a_block_scalar_is_found_at_its_first_line_of_text() {
    // Line 1, column 1 of the SQL statement, not the `|` before it.
    assert_eq!(
        position_of(TEXT, "dynamic_metadata.metric_recipes[1].sql"),
        Some((12, 9))
    );
}

#[test]
fn keys_may_contain_dots() {
    assert_eq!(
        position_of(TEXT, "bootstrap.config.log.level"),
        Some((16, 26))
    );
}

#[test]
fn a_missing_node_or_a_text_that_is_not_yaml_has_no_position() {
    assert_eq!(
        position_of(TEXT, "dynamic_metadata.metric_recipes[2].sql"),
        None
    );
    assert_eq!(
        position_of(TEXT, "dynamic_metadata.metric_recipes[0].over"),
        None
    );
    assert_eq!(position_of("app: [", "app"), None);
}
