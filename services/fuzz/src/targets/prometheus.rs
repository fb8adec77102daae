//! The Prometheus text format as the collector scrapes it: pages of samples with labels,
//! escapes, comments, special values and timestamps, mutated line by line and byte by byte.

use super::{text, Target};
use crate::mutate;
use crate::rng::Rng;

const PAGE: &str = "# HELP http_requests_total Requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"POST\",code=\"400\"} 3\n\
queue_depth 12.5\n\
weird{path=\"C:\\\\dir\",quote=\"a\\\"b\",nl=\"x\\ny\"} -Inf\n\
nan_metric NaN\n\
big 1e400\n\
    \n\
process_start_time_seconds 1.7e9 -1\n";

const TOKENS: &[&str] = &[
    "{",
    "}",
    "=",
    "\"",
    ",",
    "\\",
    "\\\"",
    " ",
    "NaN",
    "+Inf",
    "-Inf",
    "1e308",
    "9223372036854775807",
    "-9223372036854775809",
    "#",
    "a=\"",
    "le=\"0.5\"",
    "é",
    "\t",
];

pub(super) fn target() -> Target {
    Target {
        name: "prometheus",
        reads: "Prometheus text exposition pages (the collector's scrapes)",
        generate,
        run,
    }
}

fn generate(rng: &mut Rng) -> Vec<u8> {
    let page = mutate::lines(rng, PAGE, TOKENS);
    if rng.one_in(2) {
        mutate::bytes(rng, page.as_bytes(), PAGE.as_bytes())
    } else {
        page.into_bytes()
    }
}

fn run(input: &[u8]) {
    let text = text(input);
    let (readings, errors) = presage_collector::prometheus::parse_text(&text, 1_700_000_000_000);
    let lines = text.lines().count();
    for e in &errors {
        assert!(
            e.line >= 1 && e.line <= lines,
            "error on line {} of {lines}",
            e.line
        );
    }
    assert!(readings.len() + errors.len() <= lines);
}
