//! The expression language: precedence, functions, evaluation against a JSON document,
//! rendering as SQL, assignments, and errors that say where and what was expected.

use presage_template::{Assignment, Rule, RuleEvalError};
use serde_json::json;

fn eval(src: &str) -> bool {
    rule(src)
        .check(&json!({}))
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn rule(src: &str) -> Rule {
    Rule::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn syntax_error(src: &str) -> (usize, String) {
    let e = Rule::parse(src).expect_err(src);
    (e.column, e.message)
}

#[test]
fn multiplication_binds_tighter_than_addition() {
    assert!(eval("1 + 2 * 3 == 7"));
    assert!(eval("(1 + 2) * 3 == 9"));
    assert!(eval("2 * 3 + 1 == 7"));
}

#[test]
fn arithmetic_is_left_associative() {
    assert!(eval("10 - 4 - 3 == 3"));
    assert!(eval("8 / 4 / 2 == 1"));
}

#[test]
fn and_binds_tighter_than_or() {
    assert!(eval("true || false && false"));
    assert!(!eval("(true || false) && false"));
}

#[test]
fn unary_operators_bind_tightest() {
    assert!(!eval("!false && false"));
    assert!(eval("!(false && false)"));
    assert!(eval("-2 * -3 == 6"));
    assert!(eval("-(1 + 2) == -3"));
    assert!(eval("!!true"));
}

#[test]
fn comparison_binds_tighter_than_logic_and_looser_than_arithmetic() {
    assert!(eval("1 + 1 == 2 && 3 > 2 * 1"));
    assert!(eval("1 < 2 == true"));
}

#[test]
fn evaluates_the_design_examples_on_a_document() {
    let doc = json!({
        "resources": { "replicas": 3, "memory_mb": 1024 },
        "config": { "cache_mb": 256, "mode": "off" },
    });
    assert!(rule("resources.replicas >= 1 && resources.replicas <= 50")
        .check(&doc)
        .expect("eval"));
    assert!(rule("config.cache_mb <= resources.memory_mb / 2")
        .check(&doc)
        .expect("eval"));
    assert!(rule("!(config.mode == \"off\") || resources.replicas > 2")
        .check(&doc)
        .expect("eval"));
    let small = json!({ "resources": { "replicas": 1 }, "config": { "mode": "off" } });
    assert!(!rule("!(config.mode == \"off\") || resources.replicas > 2")
        .check(&small)
        .expect("eval"));
    let too_big = json!({ "resources": { "memory_mb": 100 }, "config": { "cache_mb": 60 } });
    assert!(!rule("config.cache_mb <= resources.memory_mb / 2")
        .check(&too_big)
        .expect("eval"));
}

#[test]
fn strings_and_booleans_compare() {
    let doc = json!({ "config": { "mode": "fast", "tls": true, "name": "a\"b" } });
    assert!(rule("config.mode != \"slow\" && config.tls == true")
        .check(&doc)
        .expect("eval"));
    assert!(rule("config.mode < \"zebra\"").check(&doc).expect("eval"));
    assert!(rule("config.name == \"a\\\"b\"").check(&doc).expect("eval"));
}

#[test]
fn numeric_path_segments_index_arrays() {
    let doc = json!({ "nodes": [ { "cpu": 2 }, { "cpu": 4 } ] });
    assert!(rule("nodes.1.cpu == 4").check(&doc).expect("eval"));
}

#[test]
fn numbers_have_fractions_and_exponents() {
    assert!(eval("0.5 * 4 == 2"));
    assert!(eval("1e3 == 1000"));
    assert!(eval("2.5e-1 == 0.25"));
}

#[test]
fn a_missing_path_is_an_error_not_false() {
    let doc = json!({ "resources": { "replicas": 3 } });
    let err = rule("config.cache_mb <= 10")
        .check(&doc)
        .expect_err("missing");
    assert_eq!(
        err,
        RuleEvalError::MissingPath {
            path: "config.cache_mb".into(),
            detail: "the document has no `config`".into(),
        }
    );
    let err = rule("resources.memory_mb > 1")
        .check(&doc)
        .expect_err("missing");
    assert_eq!(
        err.to_string(),
        "path `resources.memory_mb` not found: `resources` has no key `memory_mb`"
    );
}

#[test]
fn a_path_to_an_object_is_an_error() {
    let doc = json!({ "resources": { "replicas": 3 } });
    let err = rule("resources == 3").check(&doc).expect_err("object");
    assert_eq!(
        err.to_string(),
        "path `resources` is an object: expected a number, a string or a boolean"
    );
}

#[test]
fn type_mismatches_are_errors() {
    let doc = json!({ "config": { "mode": "off" } });
    let err = rule("config.mode > 1").check(&doc).expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        "`>` expects two numbers or two strings, found the string \"off\" and the number 1"
    );
    let err = rule("config.mode == 1").check(&doc).expect_err("mismatch");
    assert!(
        err.to_string()
            .contains("expects two values of the same type"),
        "{err}"
    );
    let err = rule("1 && true").check(&doc).expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        "`&&` expects true or false, found the number 1"
    );
    let err = rule("config.mode + 1 > 0")
        .check(&doc)
        .expect_err("mismatch");
    assert!(err.to_string().starts_with("`+` expects numbers"), "{err}");
}

#[test]
fn a_rule_must_produce_a_boolean() {
    let err = rule("1 + 2").check(&json!({})).expect_err("number");
    assert_eq!(
        err.to_string(),
        "the rule evaluates to the number 3: expected true or false"
    );
}

#[test]
fn division_by_zero_is_an_error() {
    let err = rule("1 / 0 > 1").check(&json!({})).expect_err("div");
    assert_eq!(err, RuleEvalError::DivisionByZero);
}

#[test]
fn logic_short_circuits() {
    // The right side would fail (missing path), but the left side decides.
    assert!(rule("true || nope.nothing > 1")
        .check(&json!({}))
        .expect("eval"));
    assert!(!rule("false && nope.nothing > 1")
        .check(&json!({}))
        .expect("eval"));
}

#[test]
fn syntax_errors_point_at_the_column() {
    let (col, msg) = syntax_error("resources.replicas >= && 1");
    assert_eq!(col, 23);
    assert!(msg.starts_with("expected a value"), "{msg}");
    assert!(msg.contains("found '&&'"), "{msg}");

    let (col, msg) = syntax_error("resources.replicas = 3");
    assert_eq!(col, 20);
    assert_eq!(msg, "single '=': expected == to compare");

    let (col, msg) = syntax_error("config.mode == \"off");
    assert_eq!(col, 16);
    assert!(msg.contains("expected a closing \""), "{msg}");

    let (col, msg) = syntax_error("(1 + 2 > 1");
    assert_eq!(col, 11);
    assert!(
        msg.contains("expected ')' to close the '(' at column 1"),
        "{msg}"
    );

    let (col, msg) = syntax_error("1 < 2 < 3");
    assert_eq!(col, 7);
    assert!(msg.contains("comparisons cannot be chained"), "{msg}");

    let (col, msg) = syntax_error("a.b 3");
    assert_eq!(col, 5);
    assert!(msg.contains("expected an operator"), "{msg}");

    let (col, _) = syntax_error("resources. > 1");
    assert_eq!(col, 11);

    let (col, msg) = syntax_error("   ");
    assert_eq!(col, 1);
    assert!(msg.starts_with("empty rule"), "{msg}");

    let (col, msg) = syntax_error("a # b");
    assert_eq!(col, 3);
    assert!(msg.contains("unexpected character '#'"), "{msg}");

    let (col, _) = syntax_error("1 >");
    assert_eq!(col, 4);
}

#[test]
fn lists_the_paths_it_reads_once_each_in_order() {
    let r = rule("config.cache_mb <= resources.memory_mb / 2 && config.cache_mb > 0");
    assert_eq!(r.paths(), vec!["config.cache_mb", "resources.memory_mb"]);
    assert!(rule("1 < 2").paths().is_empty());
}

#[test]
fn keeps_its_source() {
    let src = "resources.replicas >= 1";
    assert_eq!(rule(src).source(), src);
    assert_eq!(rule(src).to_string(), src);
}

// ------------------------------------------------------------------ functions

#[test]
fn functions_round_and_bound_numbers() {
    assert!(eval("ceil(1.2) == 2 && ceil(-1.2) == -1"));
    assert!(eval("floor(1.8) == 1 && floor(-1.2) == -2"));
    assert!(eval("abs(-3) == 3 && abs(3) == 3"));
    assert!(eval("sqrt(16) == 4"));
    assert!(eval("min(3, 5) == 3 && max(3, 5) == 5"));
}

#[test]
fn round_goes_half_away_from_zero() {
    assert!(eval(
        "round(2.5) == 3 && round(-2.5) == -3 && round(2.49) == 2"
    ));
}

#[test]
fn clamp_keeps_a_value_between_its_bounds() {
    assert!(eval("clamp(1, 2, 32) == 2"));
    assert!(eval("clamp(40, 2, 32) == 32"));
    assert!(eval("clamp(7, 2, 32) == 7"));
    // Like least(greatest(x, lo), hi) in SQL: with bounds crossed, hi wins.
    assert!(eval("clamp(5, 10, 1) == 1"));
}

#[test]
fn function_arguments_are_whole_expressions() {
    let doc = json!({ "rps": 430 });
    let r = rule("clamp(ceil(rps / 50), 2, 32) == 9 && max(1 + 1, -(3)) == 2");
    assert!(r.check(&doc).expect("eval"));
    assert_eq!(r.paths(), vec!["rps"], "function names are not paths");
}

#[test]
fn functions_take_numbers_only() {
    let err = rule("ceil(\"a\") > 1")
        .check(&json!({}))
        .expect_err("string");
    assert_eq!(
        err.to_string(),
        "`ceil` expects numbers, found the string \"a\""
    );
    let err = rule("max(1, true) > 1")
        .check(&json!({}))
        .expect_err("bool");
    assert_eq!(
        err.to_string(),
        "`max` expects numbers, found the boolean true"
    );
}

#[test]
fn the_square_root_of_a_negative_number_is_an_error() {
    let err = rule("sqrt(0 - 4) > 1")
        .check(&json!({}))
        .expect_err("negative");
    assert_eq!(
        err.to_string(),
        "`sqrt` expects a number that is 0 or more, found the number -4"
    );
}

#[test]
fn unknown_functions_and_wrong_argument_counts_are_syntax_errors() {
    let (col, msg) = syntax_error("median(a, b) > 1");
    assert_eq!(col, 1);
    assert_eq!(
        msg,
        "unknown function `median`: expected one of ceil, floor, round, abs, sqrt, min, max, clamp"
    );

    let (col, msg) = syntax_error("1 + clamp(x, 2) > 0");
    assert_eq!(col, 15, "too few: the closing ')'");
    assert_eq!(
        msg,
        "clamp takes 3 arguments, found 2: expected clamp(x, lo, hi)"
    );

    let (col, msg) = syntax_error("ceil(a, b)");
    assert_eq!(col, 9, "too many: the first extra argument");
    assert_eq!(msg, "ceil takes 1 argument, found 2: expected ceil(x)");

    let (col, msg) = syntax_error("min()");
    assert_eq!(col, 5);
    assert!(msg.starts_with("min takes 2 arguments, found 0"), "{msg}");

    let (col, msg) = syntax_error("max(1 2)");
    assert_eq!(col, 7);
    assert_eq!(
        msg,
        "expected ',' or ')' in the call of max opened at column 4, found the number 2"
    );

    let (col, msg) = syntax_error("abs(1,");
    assert_eq!(col, 7);
    assert!(msg.starts_with("the rule ends too early"), "{msg}");

    let (col, msg) = syntax_error("config.ceil(1)");
    assert_eq!(col, 1);
    assert!(msg.starts_with("unknown function `config.ceil`"), "{msg}");
}

#[test]
fn a_function_name_without_parentheses_is_a_path() {
    let doc = json!({ "min": 2 });
    assert!(rule("min == 2").check(&doc).expect("eval"));
    assert_eq!(rule("min(min, 3) == 2").paths(), vec!["min"]);
}

#[test]
fn numbers_too_large_for_a_double_are_refused() {
    let (col, msg) = syntax_error("x < 1e999");
    assert_eq!(col, 5);
    assert_eq!(
        msg,
        "the number 1e999 is too large: expected at most 1.7e308"
    );
}

#[test]
fn path_columns_give_where_each_path_first_appears() {
    let r = rule("max(value, n) / value > labels.zone");
    assert_eq!(
        r.path_columns(),
        vec![
            ("value".to_string(), 5),
            ("n".to_string(), 12),
            ("labels.zone".to_string(), 25),
        ]
    );
}

// ------------------------------------------------------------------ values

#[test]
fn eval_value_keeps_whole_numbers_whole() {
    let doc = json!({ "rps": 430 });
    let value = rule("clamp(ceil(rps / 50), 2, 32)")
        .eval_value(&doc)
        .expect("eval");
    assert_eq!(value, json!(9));
    assert!(value.is_i64(), "{value:?}");
    assert_eq!(rule("rps / 200").eval_value(&doc), Ok(json!(2.15)));
    assert_eq!(rule("-0.5 * 4").eval_value(&doc), Ok(json!(-2)));
    // Beyond 2^53 integers are no longer exact: the number stays a float.
    assert!(rule("1e16").eval_value(&doc).expect("eval").is_f64());
}

#[test]
fn eval_value_gives_strings_and_booleans_too() {
    let doc = json!({ "labels": { "zone": "eu" } });
    assert_eq!(rule("labels.zone").eval_value(&doc), Ok(json!("eu")));
    assert_eq!(
        rule("labels.zone == \"eu\" && 1 < 2").eval_value(&doc),
        Ok(json!(true))
    );
}

#[test]
fn eval_value_refuses_a_result_that_is_not_finite() {
    let err = rule("1e308 * 10")
        .eval_value(&json!({}))
        .expect_err("overflow");
    assert_eq!(
        err.to_string(),
        "the expression evaluates to the number inf: expected a finite number"
    );
    assert_eq!(
        rule("value / 0").eval_value(&json!({ "value": 1 })),
        Err(RuleEvalError::DivisionByZero)
    );
}

// ------------------------------------------------------------------ SQL

fn filter_columns(path: &str) -> Option<String> {
    match path {
        "value" | "ts" => Some(path.to_string()),
        _ => path
            .strip_prefix("labels.")
            .map(|label| format!("labels['{label}']")),
    }
}

fn sql(src: &str) -> String {
    rule(src)
        .to_sql(&filter_columns)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn to_sql_parenthesises_every_operation() {
    assert_eq!(
        sql("value >= 0 && labels.method != \"OPTIONS\""),
        "((value >= 0.0) AND (labels['method'] <> 'OPTIONS'))"
    );
    assert_eq!(sql("1 + 2 * value"), "(1.0 + (2.0 * value))");
    assert_eq!(sql("(1 + 2) * value"), "((1.0 + 2.0) * value)");
    assert_eq!(
        sql("!(value == 1) || ts < 5"),
        "((NOT (value = 1.0)) OR (ts < 5.0))"
    );
}

#[test]
fn to_sql_writes_numbers_as_doubles() {
    assert_eq!(sql("value / 50"), "(value / 50.0)");
    assert_eq!(sql("value * 0.25"), "(value * 0.25)");
    assert_eq!(sql("value < 1e300"), "(value < 1e300)");
}

#[test]
fn to_sql_keeps_a_double_minus_from_becoming_a_comment() {
    assert_eq!(sql("- -value"), "(- (- value))");
    assert_eq!(sql("value - -1"), "(value - (- 1.0))");
}

#[test]
fn to_sql_quotes_strings_for_sql() {
    assert_eq!(sql("labels.path == \"it's\""), "(labels['path'] = 'it''s')");
    assert_eq!(sql("labels.x == \"a\\\\b\""), "(labels['x'] = 'a\\b')");
    assert_eq!(sql("true && !false"), "(TRUE AND (NOT FALSE))");
}

#[test]
fn to_sql_maps_functions_to_datafusion_names() {
    assert_eq!(
        sql("clamp(ceil(value / 50), 2, 32)"),
        "least(greatest(ceil((value / 50.0)), 2.0), 32.0)"
    );
    assert_eq!(
        sql("min(value, 1) + max(value, 2)"),
        "(least(value, 1.0) + greatest(value, 2.0))"
    );
    assert_eq!(
        sql("floor(round(abs(sqrt(value))))"),
        "floor(round(abs(sqrt(value))))"
    );
}

#[test]
fn to_sql_refuses_a_name_the_caller_does_not_map() {
    let err = rule("value > 1 && labels.zone == \"eu\" && bogus.x > 2")
        .to_sql(&filter_columns)
        .expect_err("unmapped");
    assert_eq!(err, "unknown name `bogus.x`");
}

// ------------------------------------------------------------------ assignments

fn assignment_error(text: &str) -> (usize, String) {
    let e = Assignment::parse(text).expect_err(text);
    (e.column, e.message)
}

#[test]
fn an_assignment_is_a_path_an_equals_sign_and_an_expression() {
    let text = "config.worker_threads = clamp(ceil(rps / 50), 2, 32)";
    let a = Assignment::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.path, "config.worker_threads");
    assert_eq!(a.expr.source(), "clamp(ceil(rps / 50), 2, 32)");
    assert_eq!(a.expr.eval_value(&json!({ "rps": 120 })), Ok(json!(3)));
    assert_eq!(a.to_string(), text);
    assert_eq!(a.expr_offset(text), 24);
}

#[test]
fn an_assignment_tolerates_spaces_and_no_spaces() {
    let a = Assignment::parse("  resources.replicas=ceil(value)  ").expect("parses");
    assert_eq!(a.path, "resources.replicas");
    assert_eq!(a.expr.source(), "ceil(value)");
    assert_eq!(a.expr_offset("  resources.replicas=ceil(value)  "), 21);
}

#[test]
fn comparisons_on_the_right_are_not_mistaken_for_the_equals_sign() {
    let a = Assignment::parse("config.busy = value >= 10 && n != 0 || value <= 1 && n == 2")
        .expect("parses");
    assert_eq!(a.path, "config.busy");
    assert_eq!(
        a.expr.eval_value(&json!({ "value": 12, "n": 3 })),
        Ok(json!(true))
    );
}

#[test]
fn assignment_errors_point_into_the_whole_text() {
    let (col, msg) = assignment_error("config.x == 3");
    assert_eq!(col, 10);
    assert_eq!(
        msg,
        "expected '=' after config.x, like config.x = ceil(value / 50), found '==' (a comparison)"
    );

    let (col, msg) = assignment_error("config.x <= 3");
    assert_eq!(col, 10);
    assert!(msg.ends_with("found '<'"), "{msg}");

    let (col, msg) = assignment_error("config. = 1");
    assert_eq!(col, 8);
    assert!(msg.starts_with("expected a name after '.'"), "{msg}");

    let (col, msg) = assignment_error("= 3");
    assert_eq!(col, 1);
    assert!(msg.starts_with("expected a path to assign"), "{msg}");

    let (col, msg) = assignment_error("9lives = 3");
    assert_eq!(col, 1);
    assert!(msg.contains("not starting with a digit"), "{msg}");

    let (col, msg) = assignment_error("config.x =  ");
    assert_eq!(col, 13);
    assert_eq!(
        msg,
        "nothing after '=': expected an expression, like config.x = ceil(value / 50)"
    );

    // Errors in the expression are moved to columns of the whole text.
    let (col, msg) = assignment_error("config.x = ceil(value, 2)");
    assert_eq!(col, 24);
    assert!(msg.starts_with("ceil takes 1 argument"), "{msg}");

    let (col, msg) = assignment_error("config.x = value = 2");
    assert_eq!(col, 18);
    assert_eq!(msg, "single '=': expected == to compare");

    let (col, _) = assignment_error("config.x = value +");
    assert_eq!(col, 19);
}
