//! Metadata fragment bodies as the applier reads them (JSON or YAML text in a fragment record)
//! before patching a configuration. The HTTP hook reads nothing of a response but its status,
//! so this is the applier's only parser of outside text besides the Avro events.

use super::{text, Target};
use crate::mutate;
use crate::rng::Rng;

const BODIES: &[&str] = &[
    "{\"config\": {\"worker_threads\": 8, \"cache\": {\"mb\": 512}}}",
    "config:\n  worker_threads: 8\n  cache: { mb: 512 }\n",
    "config:\n  hosts: &h [a, b]\n  again: *h\n",
    "{\"config\": [1, 2.5e300, null, true, \"x\"]}",
];

const TOKENS: &[&str] = &[
    "&a ", "*a", "[", "{", "- ", ": ", "\"", "\\u0000", "1e999", "<<: *a",
];

pub(super) fn target() -> Target {
    Target {
        name: "fragment-body",
        reads: "metadata fragment bodies (JSON and YAML) at the applier",
        generate,
        run,
    }
}

fn generate(rng: &mut Rng) -> Vec<u8> {
    let (a, b) = (rng.pick(BODIES), rng.pick(BODIES));
    let mut out = vec![u8::from(rng.one_in(2))];
    if rng.one_in(2) {
        out.extend(mutate::lines(rng, a, TOKENS).into_bytes());
    } else {
        out.extend(mutate::bytes(rng, a.as_bytes(), b.as_bytes()));
    }
    out
}

fn run(input: &[u8]) {
    let Some((format, body)) = input.split_first() else {
        return;
    };
    let format = if *format == 0 { "json" } else { "yaml" };
    let _ = presage_applier::parse_body(format, &text(body));
}
