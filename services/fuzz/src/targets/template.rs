//! Templates, as `presage validate` and every service's template feed read them: random YAML
//! built from the template's own vocabulary (its keys and the values of the shipped templates,
//! with anchors, aliases, flow and block styles), and the shipped templates mutated line by line
//! and byte by byte. Whatever the input, every mistake must come with a line and a column.

use super::{text, Target};
use crate::mutate;
use crate::rng::Rng;

const SHIPPED: &[&str] = &[
    include_str!("../../../../templates/grid-demand.yaml"),
    include_str!("../../../../templates/checkout-api.yaml"),
    include_str!("../../../../templates/order-workers.yaml"),
    include_str!("../../../../templates/backtest/airport.yaml"),
    include_str!("../../../../templates/backtest/grid-ew.yaml"),
];

/// YAML's own syntax, put into lines by the mutator.
const YAML_TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a",
    "? ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    ", ",
    "'",
    "\"",
    "|",
    ">-",
    "!!binary ",
    "!!str ",
    "!!float ",
    "~",
    "null",
    "---",
    "...",
    "#",
    "\t",
    "%YAML 1.2",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "1e400",
    "-0",
    "18446744073709551616",
    "é",
];

pub(super) fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "template-vocabulary",
            reads: "templates: random YAML from the template's keys and values",
            generate: vocabulary_yaml,
            run,
        },
        Target {
            name: "template-mutated",
            reads: "templates: the shipped templates mutated",
            generate: mutated,
            run,
        },
    ]
}

fn run(input: &[u8]) {
    let text = text(input);
    if let Err(errors) = presage_template::parse(&text, "fuzz.yaml") {
        assert!(!errors.is_empty(), "refused with no error");
        for e in &errors {
            assert!(
                e.line >= 1 && e.column >= 1 && !e.message.is_empty(),
                "an error without a position or a message: {e:?}"
            );
        }
    }
}

/// Keys (`word:`) and scalar values of the shipped templates.
fn vocabulary() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for line in SHIPPED.iter().flat_map(|t| t.lines()) {
        let line = line.trim_start().trim_start_matches("- ");
        if line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                keys.push(key);
                let value = value.trim();
                if !value.is_empty() {
                    values.push(value);
                }
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    values.sort_unstable();
    values.dedup();
    (keys, values)
}

fn vocabulary_yaml(rng: &mut Rng) -> Vec<u8> {
    let (keys, values) = vocabulary();
    let mut out = String::from("app: fuzz\ndynamic_metadata:\n");
    let mut anchors = 0;
    for _ in 0..1 + rng.below(5) {
        out.push_str(&format!("  {}:", rng.pick(&keys)));
        node(rng, &keys, &values, &mut out, 2, &mut anchors);
    }
    if rng.one_in(2) {
        out.push_str("bootstrap:");
        node(rng, &keys, &values, &mut out, 1, &mut anchors);
    }
    out.into_bytes()
}

/// Writes a value after a `key:`: a scalar, a block mapping, a block list or a flow value.
fn node(
    rng: &mut Rng,
    keys: &[&str],
    values: &[&str],
    out: &mut String,
    depth: usize,
    anchors: &mut usize,
) {
    let indent = "  ".repeat(depth);
    if rng.one_in(10) {
        *anchors += 1;
        out.push_str(&format!(" &x{anchors}"));
    }
    match if depth > 5 { 0 } else { rng.below(5) } {
        0 if *anchors > 0 && rng.one_in(4) => {
            out.push_str(&format!(" *x{}\n", 1 + rng.below(*anchors)));
        }
        0 | 1 => out.push_str(&format!(" {}\n", rng.pick(values))),
        2 => {
            out.push('\n');
            for _ in 0..1 + rng.below(4) {
                out.push_str(&format!("{indent}{}:", rng.pick(keys)));
                node(rng, keys, values, out, depth + 1, anchors);
            }
        }
        3 => {
            out.push('\n');
            for _ in 0..1 + rng.below(3) {
                out.push_str(&format!("{indent}- {}:", rng.pick(keys)));
                node(rng, keys, values, out, depth + 2, anchors);
                for _ in 0..rng.below(3) {
                    out.push_str(&format!("{indent}  {}:", rng.pick(keys)));
                    node(rng, keys, values, out, depth + 2, anchors);
                }
            }
        }
        _ => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| format!("{}: {}", rng.pick(keys), rng.pick(values)))
                .collect();
            out.push_str(&format!(" {{ {} }}\n", items.join(", ")));
        }
    }
}

/// A line of what bounds exist for: deep nesting, and aliases that expand.
fn hostile(rng: &mut Rng) -> String {
    let n = 1 + rng.below(3_000);
    match rng.below(4) {
        0 => format!("deep: {}\n", "[".repeat(n)),
        1 => format!("deep: {}\n", "{a: ".repeat(n)),
        2 => format!("{}x\n", "- ".repeat(n)),
        _ => {
            let mut out = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 1..1 + n % 9 {
                out.push_str(&format!(
                    "l{i}: &l{i} [{}]\n",
                    vec![format!("*l{}", i - 1); 10].join(", ")
                ));
            }
            out
        }
    }
}

fn mutated(rng: &mut Rng) -> Vec<u8> {
    let (keys, values) = vocabulary();
    let mut tokens: Vec<&str> = YAML_TOKENS.to_vec();
    tokens.extend(keys.iter().map(|k| &k[..]));
    tokens.extend(values.iter().map(|v| &v[..]));
    let base = rng.pick(SHIPPED);
    let mut text = mutate::lines(rng, base, &tokens);
    if rng.one_in(10) {
        text.push_str(&hostile(rng));
    }
    if rng.one_in(3) {
        let other = rng.pick(SHIPPED).as_bytes();
        mutate::bytes(rng, text.as_bytes(), other)
    } else {
        text.into_bytes()
    }
}
