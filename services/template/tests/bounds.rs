//! A template cannot take the parser down: its size, its alias expansion, its nesting and the
//! depth of its rule expressions are bounded, and each bound is refused with a position.

use presage_template::{parse, Rule, TemplateErrors, MAX_RULE_DEPTH, MAX_TEMPLATE_BYTES};

fn refused(text: &str) -> TemplateErrors {
    match parse(text, "hostile.yaml") {
        Ok(t) => panic!("accepted a hostile template as {t:?}"),
        Err(e) => e,
    }
}

/// The classic "billion laughs": each level names the one before ten times, so the document
/// is a few hundred bytes but expands to 10^levels scalars.
fn laughs(levels: usize) -> String {
    let mut text = String::from("a0: &a0 [\"lol\"]\n");
    for i in 1..=levels {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str(&format!(
        "app: x\ndynamic_metadata: {{ sources: *a{levels} }}\n"
    ));
    text
}

#[test]
fn a_template_larger_than_the_limit_is_refused_before_it_is_read_as_yaml() {
    // Valid YAML from start to end, so only the size can be what is refused.
    let mut text = String::from("app: big\ndynamic_metadata: {}\n");
    while text.len() <= MAX_TEMPLATE_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let errors = refused(&text);
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.errors[0];
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    assert!(
        e.message.contains("bytes") && e.message.contains(&MAX_TEMPLATE_BYTES.to_string()),
        "{e}"
    );
}

#[test]
fn a_template_just_under_the_limit_is_still_read() {
    let mut text = String::from("app: big\ndynamic_metadata: {}\n");
    let pad = "# padding\n";
    while text.len() + pad.len() <= MAX_TEMPLATE_BYTES {
        text.push_str(pad);
    }
    parse(&text, "big.yaml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn an_alias_bomb_is_refused_at_the_alias_that_exceeds_the_expansion_bound() {
    let started = std::time::Instant::now();
    let errors = refused(&laughs(9));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let e = &errors.errors[0];
    assert!(e.message.contains("alias"), "{errors}");
    assert!(e.line >= 2, "expected the position of an alias, got {e}");
}

/// yaml_serde's own limit counts alias jumps (100 per event of the document), not nodes: one
/// anchored list of 2,000 items repeated 20,000 times is 40 million nodes in 100 KB of text.
#[test]
fn one_large_anchor_repeated_many_times_is_refused_too() {
    let items = vec!["x"; 2_000].join(", ");
    let aliases = vec!["*big"; 20_000].join(", ");
    let text = format!("big: &big [{items}]\nmany: [{aliases}]\napp: x\ndynamic_metadata: {{}}\n");
    let started = std::time::Instant::now();
    let errors = refused(&text);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let e = &errors.errors[0];
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("alias"), "{e}");
}

#[test]
fn a_few_aliases_still_resolve() {
    let text = "app: &name a\ndynamic_metadata:\n  sources: [ { id: *name, kind: host, every: &d 10s, timeout: *d } ]\n";
    parse(text, "alias.yaml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn deep_nesting_is_refused_without_exhausting_memory_or_stack() {
    for text in [
        format!("app: x\ndynamic_metadata: {}\n", "[".repeat(200_000)),
        format!("app: x\ndynamic_metadata: {}\n", "{a: ".repeat(100_000)),
        "- ".repeat(100_000),
    ] {
        let errors = refused(&text);
        assert!(errors.errors[0].line >= 1, "{errors}");
    }
}

#[test]
fn a_rule_nested_deeper_than_the_limit_is_a_syntax_error_at_the_column_past_the_limit() {
    for (open, close) in [("(", ")"), ("!", ""), ("-", ""), ("abs(", ")")] {
        let deep = format!("{}x{}", open.repeat(100_000), close.repeat(100_000));
        let err = Rule::parse(&deep).expect_err("a rule 100,000 levels deep");
        assert!(err.message.contains("deep"), "{open}: {err}");
        let expected = MAX_RULE_DEPTH * open.chars().count() + 1;
        assert_eq!(err.column, expected, "{open}: {err}");
    }
}

#[test]
fn a_rule_at_the_depth_limit_still_parses_and_evaluates() {
    let n = MAX_RULE_DEPTH - 1;
    let rule = Rule::parse(&format!("{}1{} == 1", "(".repeat(n), ")".repeat(n)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rule.check(&serde_json::json!({})), Ok(true));
    let rule = Rule::parse(&format!("{}true", "!".repeat(n - 1))).unwrap_or_else(|e| panic!("{e}"));
    assert!(rule.check(&serde_json::json!({})).is_ok());
}

#[test]
fn a_deep_rule_in_a_template_is_reported_at_its_line_and_column() {
    let rule = format!("{}x{}", "(".repeat(5_000), ")".repeat(5_000));
    let text = format!("app: x\ndynamic_metadata:\n  validation_rules:\n    - \"{rule}\"\n");
    let errors = refused(&text);
    let e = &errors.errors[0];
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("deep"), "{e}");
}

/// `1 + 1 + ...` parses as ((1 + 1) + 1) + ...: a tree as deep as the chain is long, which
/// evaluating and dropping recurse over. So a chain counts toward the depth, and the error
/// points at the operator that went past it.
#[test]
fn a_long_chain_of_operators_counts_toward_the_depth() {
    let rule =
        Rule::parse(&vec!["1"; MAX_RULE_DEPTH].join(" + ")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rule.eval_value(&serde_json::json!({})),
        Ok(serde_json::json!(MAX_RULE_DEPTH))
    );
    let err = Rule::parse(&vec!["1"; 100_000].join(" + ")).expect_err("a chain of 100,000");
    // "1 + " is 4 characters; the operator that makes the tree MAX + 1 high is the MAX-th.
    assert_eq!(err.column, (MAX_RULE_DEPTH - 1) * 4 + 3, "{err}");
}

/// Finding every mistake reads the document again once per mistake: a large template full of
/// them must not hold a service's template feed for minutes (it took 199 s in a debug build).
#[test]
fn a_large_template_with_many_mistakes_reports_some_and_stops() {
    let mut text = String::from("app: a\ndynamic_metadata:\n  sources:\n");
    for i in 0..500 {
        text.push_str(&format!(
            "    - {{ id: s{i}, kind: nope, every: bad, extra: 1 }}\n"
        ));
    }
    text.push_str("  metric_recipes:\n");
    let filler = "x".repeat(900);
    while text.len() < MAX_TEMPLATE_BYTES - 2_000 {
        text.push_str(&format!("    - {{ name: r, sql: \"{filler}\" }}\n"));
    }
    let started = std::time::Instant::now();
    let errors = refused(&text);
    // A hang detector, not a speed test: without the bound this took minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let stopped = errors
        .iter()
        .find(|e| e.message.starts_with("stopped after"))
        .unwrap_or_else(|| panic!("no stop among {} errors", errors.len()));
    assert_eq!((stopped.line, stopped.column), (1, 1), "{stopped}");
    assert!(
        errors.len() > 1,
        "the mistakes found before stopping are reported"
    );
}

#[test]
fn yaml_read_outside_a_template_can_be_held_to_the_same_bounds() {
    use presage_template::check_yaml_bounds;
    let items = vec!["1"; 500].join(", ");
    let aliases = vec!["*big"; 5_000].join(", ");
    let body = format!("big: &big [{items}]\nconfig:\n  many: [{aliases}]\n");
    let errors = check_yaml_bounds(&body, "fragment").expect_err("2,500,000 nodes");
    assert_eq!(errors.errors[0].line, 3, "{errors}");
    assert!(errors.errors[0].message.contains("alias"), "{errors}");
    let deep = format!("a: {}", "[".repeat(100_000));
    assert!(check_yaml_bounds(&deep, "fragment").is_err());
    assert!(check_yaml_bounds(&"x".repeat(MAX_TEMPLATE_BYTES + 1), "fragment").is_err());
    check_yaml_bounds("config:\n  hosts: &h [a, b]\n  again: *h\n", "fragment")
        .unwrap_or_else(|e| panic!("{e}"));
    check_yaml_bounds("{ not: yaml", "fragment").expect("left to the parser that reads it");
}

/// `\w{200}` compiles (within the regex crate's 10 MiB) to an automaton that held 11 MB, and a
/// template may hold many selectors; the matchers people write hold a few KiB.
#[test]
fn a_selector_regex_that_compiles_too_large_is_refused_at_its_column() {
    use presage_template::{Selector, MAX_REGEX_BYTES};
    let err = Selector::parse(r#"api.m{path=~"\\w{200}"}"#).expect_err("11 MB of automaton");
    assert!(
        err.message.contains(&MAX_REGEX_BYTES.to_string()) && err.message.contains("path"),
        "{err}"
    );
    assert!(err.column > 1, "{err}");
    for usual in [
        r#"api.m{code=~"5.."}"#,
        r#"api.m{region=~"eu-.*", method!~"(GET|HEAD|OPTIONS)"}"#,
        r#"api.m{pod=~"\\w+-[a-z0-9]{5}"}"#,
        r#"api.m{id=~"(?i)checkout-[a-z]+-v[0-9]+"}"#,
    ] {
        Selector::parse(usual).unwrap_or_else(|e| panic!("{usual}: {e}"));
    }
    let nested = format!(r#"api.m{{x=~"{}a{}"}}"#, "(".repeat(100), ")".repeat(100));
    assert!(Selector::parse(&nested).is_err(), "nested 100 deep");
}
