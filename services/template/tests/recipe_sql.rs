//! A recipe's `sql` is one query over the recipe's own tables (`samples`, `signals`, names its
//! `WITH` defines) and nothing else: DDL, DML, COPY, CREATE EXTERNAL TABLE, SET, EXPLAIN, a
//! second statement, another table, a table function or a file read as a table is refused at
//! the offending token's line and column. Hop windows are bounded in panes, and
//! `allowed_lateness` in time.

use presage_template::{parse, TemplateError, MAX_ALLOWED_LATENESS, MAX_HOP_PANES};

/// Lines 1 to 7; the recipe's `sql:` goes on line 8, its value starting at column 12 (13 inside
/// double quotes).
fn template(sql_line: &str) -> String {
    [
        "app: a",
        "dynamic_metadata:",
        "  sources:",
        "    - { id: api, kind: prometheus, url: \"http://x\" }",
        "  metric_recipes:",
        "    - name: custom",
        "      from: api.http_requests_total",
        sql_line,
        "      window: { tumble: 1m }",
    ]
    .join("\n")
        + "\n"
}

/// The one error for `sql` written as a double-quoted scalar on line 8.
#[track_caller]
fn refused(sql: &str) -> TemplateError {
    let quoted = sql.replace('\\', "\\\\").replace('"', "\\\"");
    let text = template(&format!("      sql: \"{quoted}\""));
    match parse(&text, "t.yaml") {
        Ok(_) => panic!("accepted sql: {sql}"),
        Err(e) => {
            assert_eq!(e.len(), 1, "{e}");
            e.errors.into_iter().next().expect("one error")
        }
    }
}

/// Asserts the error sits at the column of `token` in `sql` (a double-quoted scalar on line 8
/// whose text starts at column 13) and says `message`.
#[track_caller]
fn check(sql: &str, token: &str, message: &str) {
    let e = refused(sql);
    let column = 13 + sql.find(token).expect("token in sql");
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("t.yaml", 8, column),
        "{e}"
    );
    assert!(
        e.message.contains(message),
        "{e}\n  should contain: {message}"
    );
    assert!(e.message.starts_with("sql of recipe \"custom\" "), "{e}");
}

#[track_caller]
fn accepted(sql: &str) {
    let quoted = sql.replace('"', "\\\"");
    let text = template(&format!("      sql: \"{quoted}\""));
    if let Err(e) = parse(&text, "t.yaml") {
        panic!("refused a query over the recipe's tables: {sql}\n{e}");
    }
}

// ------------------------------------------------------------------ statements

#[test]
fn copy_to_a_file_is_refused_at_copy() {
    check(
        "COPY (SELECT 1) TO '/tmp/x'",
        "COPY",
        "is a COPY statement: expected one query, SELECT … or WITH … SELECT …, over the \
         recipe's tables (samples, signals)",
    );
}

#[test]
fn create_external_table_over_a_file_is_refused_at_create() {
    check(
        "CREATE EXTERNAL TABLE f STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE",
        "is a CREATE statement",
    );
}

#[test]
fn ddl_and_dml_and_settings_are_refused_at_their_first_word() {
    for (sql, word) in [
        ("CREATE TABLE t AS SELECT * FROM samples", "CREATE"),
        ("DROP TABLE samples", "DROP"),
        ("INSERT INTO samples SELECT * FROM samples", "INSERT"),
        ("DELETE FROM samples", "DELETE"),
        ("UPDATE samples SET value = 0", "UPDATE"),
        ("SET datafusion.execution.batch_size = 1", "SET"),
        ("EXPLAIN SELECT * FROM samples", "EXPLAIN"),
        ("DESCRIBE samples", "DESCRIBE"),
    ] {
        check(sql, word, &format!("is a {word} statement"));
    }
}

#[test]
fn a_second_statement_is_refused_where_it_starts() {
    check(
        "SELECT app, window_start, 1.0 AS value FROM samples; DROP TABLE signals",
        "DROP",
        "has a second statement (from DROP): expected exactly one query",
    );
}

#[test]
fn a_statement_hidden_inside_a_query_is_refused() {
    let e = refused("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x");
    assert!(e.message.contains("INSERT"), "{e}");
}

#[test]
fn select_into_creates_a_table_and_is_refused() {
    check(
        "SELECT app INTO copied FROM samples",
        "SELECT",
        "selects INTO copied, which creates a table",
    );
}

// ------------------------------------------------------------------ tables

#[test]
fn a_file_or_url_read_as_a_table_is_refused_at_the_table() {
    check(
        "SELECT * FROM '/etc/passwd'",
        "'/etc/passwd'",
        "reads '/etc/passwd' as a table, a file or URL",
    );
    check(
        "SELECT a.app FROM samples a JOIN 'https://example.com/x.csv' b ON a.app = b.app",
        "'https://",
        "a file or URL",
    );
}

#[test]
fn table_functions_are_refused_at_the_call() {
    check(
        "SELECT * FROM read_csv('/etc/passwd')",
        "read_csv",
        "calls table function read_csv(…)",
    );
    check(
        "SELECT app, window_start, 1.0 AS value FROM samples, generate_series(1, 1000000000)",
        "generate_series",
        "calls table function generate_series(…)",
    );
}

#[test]
fn tables_other_than_the_recipes_are_refused_at_their_name() {
    for (sql, name) in [
        ("SELECT * FROM events", "events"),
        (
            "SELECT * FROM information_schema.tables",
            "information_schema",
        ),
        ("SELECT * FROM datafusion.public.samples", "datafusion"),
        (
            "SELECT * FROM samples WHERE app IN (SELECT app FROM secrets)",
            "secrets",
        ),
        (
            "SELECT * FROM samples UNION ALL SELECT * FROM other",
            "other",
        ),
    ] {
        check(
            sql,
            name,
            "expected only the recipe's tables (samples, signals)",
        );
    }
    // Quoted names keep their case, as DataFusion resolves them.
    let e = refused("SELECT * FROM \"Samples\"");
    assert!(
        e.message.contains("reads table \"Samples\": expected only"),
        "{e}"
    );
}

#[test]
fn table_without_from_is_refused() {
    check("TABLE samples", "TABLE", "is a TABLE statement");
}

#[test]
fn queries_over_the_recipes_tables_are_accepted() {
    for sql in [
        "SELECT app, window_start, avg(value) AS value FROM samples GROUP BY app, window_start",
        "select app, window_start, avg(value) as value from SAMPLES group by app, window_start",
        "WITH s AS (SELECT * FROM samples), t AS (SELECT * FROM s) SELECT app, window_start, \
         count(*) AS value FROM t GROUP BY app, window_start",
        "SELECT s.app, s.window_start, max(s.value) AS value FROM samples s LEFT JOIN signals g \
         ON s.app = g.app AND s.window_start = g.window_start GROUP BY s.app, s.window_start",
        "SELECT app, window_start, value FROM samples UNION ALL SELECT app, window_start, \
         value FROM (SELECT * FROM samples WHERE value > (SELECT avg(value) FROM samples))",
        "(SELECT app, window_start, 1.0 AS value FROM samples);",
    ] {
        accepted(sql);
    }
}

// ------------------------------------------------------------------ positions and depth

#[test]
fn a_syntax_error_is_reported_at_the_token_the_parser_stopped_at() {
    check(
        "SELECT app FROM samples GROUP app",
        "GROUP",
        "does not parse: expected the end of the query, found GROUP",
    );
    // At the end of the text, the parser names no position: the end is where it stopped.
    let sql = "SELECT app FROM samples WHERE  ";
    let e = refused(sql);
    assert!(e.message.contains("found: EOF"), "{e}");
    assert_eq!((e.line, e.column), (8, 13 + sql.trim_end().len()), "{e}");
}

#[test]
fn nesting_deeper_than_datafusions_limit_is_refused_without_overflowing_the_stack() {
    let depth = 10_000;
    let sql = format!(
        "SELECT {}1{} FROM samples",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let e = refused(&sql);
    assert!(e.message.contains("nests deeper than 50 levels"), "{e}");
}

#[test]
fn in_a_block_scalar_the_error_names_the_line_and_column_inside_the_sql() {
    let text = template("      sql: |\n        SELECT app, window_start, 1.0 AS value\n        FROM samples, read_csv('/etc/passwd')");
    let e = parse(&text, "t.yaml").expect_err("a table function");
    let e = &e.errors[0];
    // `read_csv` itself: line 10 of the file, column 23 (8 of indentation, then "FROM samples, ").
    assert_eq!((e.line, e.column), (10, 23), "{e}");
    assert!(
        e.message.contains("calls table function read_csv(…)")
            && e.message.contains("(line 2, column 15 of the sql)"),
        "{e}"
    );
}

// ------------------------------------------------------------------ window bounds

fn windowed(window: &str, lateness: &str) -> String {
    [
        "app: a".to_string(),
        "dynamic_metadata:".into(),
        "  sources:".into(),
        "    - { id: api, kind: prometheus, url: \"http://x\" }".into(),
        format!("  windowing: {{ allowed_lateness: {lateness} }}"),
        "  metric_recipes:".into(),
        "    - name: rps".into(),
        "      from: api.http_requests_total".into(),
        format!("      window: {window}"),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn a_hop_window_of_more_panes_than_the_bound_is_refused_at_its_slide() {
    assert_eq!(MAX_HOP_PANES, 1_000);
    let text = windowed("{ hop: { size: 1d, slide: 1s } }", "0s");
    let errors = parse(&text, "t.yaml").expect_err("86,400 panes");
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.errors[0];
    //            "      window: { hop: { size: 1d, slide: " is 40 characters.
    assert_eq!((e.line, e.column), (9, 41), "{e}");
    assert!(
        e.message
            .contains("spans 86400 slides (size 1d / slide 1s): at most 1000"),
        "{e}"
    );
    // A slide that does not divide the size still counts its partial pane.
    let text = windowed("{ hop: { size: 1001s, slide: 1s } }", "0s");
    assert!(parse(&text, "t.yaml").is_err());
}

#[test]
fn a_hop_window_at_the_bound_is_accepted() {
    let text = windowed("{ hop: { size: 1000s, slide: 1s } }", "0s");
    parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn allowed_lateness_past_a_day_is_refused_at_its_value() {
    assert_eq!(MAX_ALLOWED_LATENESS.as_millis(), 86_400_000);
    let text = windowed("{ tumble: 1m }", "86401s");
    let errors = parse(&text, "t.yaml").expect_err("lateness past a day");
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.errors[0];
    //            "  windowing: { allowed_lateness: " is 33 characters.
    assert_eq!((e.line, e.column), (5, 34), "{e}");
    assert!(
        e.message
            .contains("windowing.allowed_lateness 1d1s is longer than 1d"),
        "{e}"
    );
    let text = windowed("{ tumble: 1m }", "1d");
    parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
}
