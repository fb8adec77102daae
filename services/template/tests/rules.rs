//! The validation-rule language: precedence, evaluation against a JSON document, and errors
//! that say where and what was expected.

use presage_template::rules::{Rule, RuleEvalError};
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
