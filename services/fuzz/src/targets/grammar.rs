//! Each field's own grammar inside a template: durations, selectors and their regex matchers,
//! cron schedules, calendar dates and timestamps, rule expressions and assignments. Valid
//! examples are mutated; random strings come from each grammar's alphabet. What parses is also
//! used (matched, evaluated, rendered to SQL, asked for instants at the edges of i64), since a
//! parser that accepts what its users cannot handle is a crash waiting for them.

use std::collections::BTreeMap;

use presage_template::{calendar, cron::Cron, Assignment, Duration, Rule, Selector, Zone};

use super::{random_text, text, Target};
use crate::mutate;
use crate::rng::Rng;

pub(super) fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "duration",
            reads: "template durations (5m, 1h30m)",
            generate: |rng| grammar(rng, DURATIONS, "0123456789smhdwµ. -+e_"),
            run: run_duration,
        },
        Target {
            name: "selector",
            reads: "template selectors and their regex matchers",
            generate: |rng| grammar(rng, SELECTORS, "abcxyz_.{}=!~\",()|*+?[]\\^$ 0123456789"),
            run: run_selector,
        },
        Target {
            name: "cron",
            reads: "template cron schedules",
            generate: |rng| {
                let text = grammar(rng, CRONS, "0123456789*/-, MONFRIJANSU?L#W");
                with_instants(rng, text)
            },
            run: run_cron,
        },
        Target {
            name: "calendar",
            reads: "dates and RFC 3339 timestamps (templates, CSV traces)",
            generate: |rng| {
                let text = grammar(rng, DATES, "0123456789-:TZ.+ ");
                with_instants(rng, text)
            },
            run: run_calendar,
        },
        Target {
            name: "rule",
            reads: "rule expressions (validation_rules, filters) and fragment assignments",
            generate: generate_rule,
            run: run_rule,
        },
    ]
}

const DURATIONS: &[&str] = &["5m", "1h30m", "10s", "250ms", "7d", "2w", "0s", "1h", "90m"];
const SELECTORS: &[&str] = &[
    "http.rps",
    "http.latency{method=\"GET\"}",
    "app.queue{region=~\"eu-.*\",status!=\"500\"}",
    "db.conns{pool!~\"(a|b)+\", env=\"prod\"}",
    "host.cpu{}",
    "a.b{x=~\"\\\\w{20}\", y!~\"((a|b)*c){3}\"}",
    "a.b{x=~\"(?i)[[:alpha:]]+|\\\\p{Greek}{2,9}\"}",
];
const CRONS: &[&str] = &[
    "*/5 * * * *",
    "0 8 * * MON-FRI",
    "30 1-3 1,15 * *",
    "0 0 29 2 *",
    "0 0 * JAN-MAR SUN",
    "59 23 31 12 6",
];
const DATES: &[&str] = &[
    "2026-11-28",
    "2026-11-28T00:51:30Z",
    "2024-02-29",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
];

/// A mutated valid example, or a random string of the grammar's alphabet.
fn grammar(rng: &mut Rng, examples: &[&str], alphabet: &str) -> Vec<u8> {
    let alphabet: Vec<char> = alphabet.chars().collect();
    if rng.one_in(3) {
        let n = rng.below(40);
        random_text(rng, &alphabet, n).into_bytes()
    } else {
        let a = rng.pick(examples).as_bytes();
        let b = rng.pick(examples).as_bytes();
        mutate::bytes(rng, a, b)
    }
}

/// Three instants (the first 24 bytes) before the text, for what parsed to be asked about.
fn with_instants(rng: &mut Rng, text: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + text.len());
    for _ in 0..3 {
        out.extend(rng.interesting_i64().to_le_bytes());
    }
    out.extend(text);
    out
}

fn instants(input: &[u8]) -> ([i64; 3], &[u8]) {
    if input.len() < 24 {
        return ([0; 3], input);
    }
    let at = |i: usize| i64::from_le_bytes(input[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    ([at(0), at(1), at(2)], &input[24..])
}

fn run_duration(input: &[u8]) {
    if let Ok(d) = text(input).parse::<Duration>() {
        let _ = (d.as_millis(), d.as_std(), d.to_string());
    }
}

fn run_selector(input: &[u8]) {
    if let Ok(selector) = Selector::parse(&text(input)) {
        let labels: BTreeMap<String, String> = [("method", "GET"), ("region", "eu-west")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let _ = selector.matches(&selector.source, &selector.metric, &labels);
    }
}

fn run_cron(input: &[u8]) {
    let ([a, b, c], rest) = instants(input);
    if let Ok(cron) = text(rest).parse::<Cron>() {
        let _ = cron.matches(a);
        let _ = cron.last_at_or_before(a, b);
        let _ = cron.window_active(c, b);
        // The same walks on a local clock: zones with DST, a half-hour shift and a midnight
        // change, at any instant; spans up to a week, as templates write them.
        let zone = ZONES[rest
            .first()
            .map_or(0, |&byte| usize::from(byte) % ZONES.len())];
        let zone: Zone = zone.parse().expect("a known zone");
        let span = b.rem_euclid(7 * 86_400_000);
        let _ = cron.last_at_or_before_in(zone, a, span);
        let _ = cron.window_active_in(zone, c, span);
        let _ = (
            zone.local_ms(a),
            zone.hour_of_day(a),
            zone.weekday(a),
            zone.day_number(a),
        );
    }
}

/// Zones the cron target walks: UTC, daylight saving in both hemispheres, a 30-minute shift,
/// a change at midnight, a half-hour offset without DST.
const ZONES: [&str; 6] = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
];

fn run_calendar(input: &[u8]) {
    let ([a, _, _], rest) = instants(input);
    let text = text(rest);
    let _ = calendar::parse_date(&text);
    if let Some(at) = calendar::parse_timestamp(&text) {
        // What parses prints back as itself.
        assert_eq!(
            calendar::parse_timestamp(&calendar::rfc3339(at)),
            Some(at),
            "{text}"
        );
    }
    let _ = (
        calendar::rfc3339(a),
        calendar::day_number(a),
        calendar::hour_of_day(a),
        calendar::weekday(a),
    );
}

const RULE_ATOMS: &[&str] = &[
    "resources.replicas",
    "config.cache_mb",
    "value",
    "labels.method",
    "1",
    "0",
    "2.5",
    "1e308",
    "\"GET\"",
    "true",
    "false",
    "items.0",
];
const RULE_OPS: &[&str] = &[
    " + ", " - ", " * ", " / ", " == ", " != ", " < ", " <= ", " > ", " >= ", " && ", " || ",
];
const RULE_FUNCS: &[(&str, usize)] = &[
    ("ceil", 1),
    ("floor", 1),
    ("round", 1),
    ("abs", 1),
    ("sqrt", 1),
    ("min", 2),
    ("max", 2),
    ("clamp", 3),
];

fn generate_rule(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::new();
    if rng.one_in(4) {
        out.push_str(rng.pick_str(&["config.worker_threads = ", "a.b = ", "x = "]));
    }
    expression(rng, &mut out, 0);
    let out = out.into_bytes();
    if rng.one_in(3) {
        let mut other = String::new();
        expression(rng, &mut other, 0);
        mutate::bytes(rng, &out, other.as_bytes())
    } else {
        out
    }
}

fn expression(rng: &mut Rng, out: &mut String, depth: usize) {
    match if depth > 6 { 0 } else { rng.below(6) } {
        0 | 1 => out.push_str(rng.pick_str(RULE_ATOMS)),
        2 => {
            expression(rng, out, depth + 1);
            out.push_str(rng.pick_str(RULE_OPS));
            expression(rng, out, depth + 1);
        }
        3 => {
            out.push_str(rng.pick_str(&["!", "-", "(", "!("]));
            let closes = out.ends_with('(');
            expression(rng, out, depth + 1);
            if closes {
                out.push(')');
            }
        }
        4 => {
            let (name, arity) = *rng.pick(RULE_FUNCS);
            out.push_str(name);
            out.push('(');
            for i in 0..arity {
                if i > 0 {
                    out.push_str(", ");
                }
                expression(rng, out, depth + 1);
            }
            out.push(')');
        }
        _ => {
            // Deep on purpose: nesting is what overflows stacks.
            let n = rng.below(3_000);
            let open = rng.pick(&["(", "!", "-", "abs("]);
            out.push_str(&open.repeat(n));
            out.push_str(rng.pick_str(RULE_ATOMS));
            if open.ends_with('(') {
                out.push_str(&")".repeat(n));
            }
        }
    }
}

fn run_rule(input: &[u8]) {
    let text = text(input);
    let doc = serde_json::json!({
        "resources": {"replicas": 3},
        "config": {"cache_mb": 512.5},
        "value": -1.0,
        "labels": {"method": "GET"},
        "items": [1, 2],
    });
    if let Ok(rule) = Rule::parse(&text) {
        let _ = rule.check(&doc);
        let _ = rule.eval_value(&doc);
        let _ = rule.to_sql(&|path| Some(format!("\"{path}\"")));
        let _ = rule.path_columns();
    }
    if let Ok(assignment) = Assignment::parse(&text) {
        let _ = assignment.expr.eval_value(&doc);
        let _ = assignment.to_string();
    }
}
