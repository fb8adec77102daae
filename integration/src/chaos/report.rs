//! The chaos run's report: a table on stdout and the same figures as JSON.

use std::fmt::Write;

use serde_json::{json, Value};

use super::reconcile::CHECKS;
use super::{Options, Outcome};

pub fn to_json(options: &Options, outcome: &Outcome) -> Value {
    json!({
        "seed": options.seed,
        "load_seconds": options.load.as_secs(),
        "apps": options.apps,
        "outage_seconds": options.outage.as_secs(),
        "elapsed_seconds": outcome.elapsed.as_secs(),
        "faults": outcome.faults,
        "sigkills_by_service": outcome.kills_by_service,
        "crashes": outcome.crashes,
        "dead_letters": outcome.dead_letters,
        "reconciliation": outcome.verdict.to_json(),
        "ok": outcome.ok(),
    })
}

pub fn table(options: &Options, outcome: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "chaos run: seed {}, {} apps, {} s of load, broker away {} s, {} s in all",
        options.seed,
        options.apps,
        options.load.as_secs(),
        options.outage.as_secs(),
        outcome.elapsed.as_secs()
    );
    let _ = writeln!(out, "\n| fault | injected |\n| --- | ---: |");
    for (kind, n) in &outcome.faults {
        let _ = writeln!(out, "| {kind} | {n} |");
    }
    for (service, n) in &outcome.kills_by_service {
        let _ = writeln!(out, "| sigkill of {service} | {n} |");
    }
    let _ = writeln!(out, "\n| topic / files | records checked |\n| --- | ---: |");
    for (topic, n) in &outcome.verdict.records {
        let _ = writeln!(out, "| {topic} | {n} |");
    }
    let _ = writeln!(out, "\n| check | found (must be 0) |\n| --- | ---: |");
    for kind in CHECKS {
        let _ = writeln!(out, "| {kind} | {} |", outcome.verdict.count(kind));
    }
    let _ = writeln!(
        out,
        "| instances that exited by themselves | {} |",
        outcome.crashes.len()
    );
    let _ = writeln!(out, "\n| note | count |\n| --- | ---: |");
    for (note, n) in &outcome.verdict.notes {
        let _ = writeln!(out, "| {note} | {n} |");
    }
    for (kind, n) in &outcome.dead_letters {
        let _ = writeln!(out, "| dead letters {kind} | {n} |");
    }
    for (kind, examples) in &outcome.verdict.problems {
        for example in examples.iter().take(5) {
            let _ = writeln!(out, "PROBLEM {kind}: {example}");
        }
    }
    for crash in &outcome.crashes {
        let _ = writeln!(out, "PROBLEM crash: {crash}");
    }
    let _ = writeln!(
        out,
        "\n{}",
        if outcome.ok() {
            "OK: nothing lost, duplicated, conflicting or wrong"
        } else {
            "FAILED"
        }
    );
    out
}
