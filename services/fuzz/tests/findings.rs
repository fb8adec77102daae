//! What fuzzing and its probes found in parsers this crate does not own, kept as tests of the
//! behaviour their owners now give.

use presage_fuzz::alloc;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// yaml_serde's own limit counts alias jumps, not nodes: one anchored list repeated many times
/// expands in memory (here 33 KB of body become 2,500,000 nodes, 83 MB). The applier reads fragment
/// bodies with yaml_serde (`presage_applier::parse_body`), so a fragment record can ask for
/// gigabytes. The applier (`fragment.rs`) now holds the body to `presage_template::check_yaml_bounds`
/// before yaml_serde reads it.
#[test]
fn a_fragment_body_whose_aliases_expand_is_refused_within_the_allocation_bound() {
    let items = vec!["1"; 500].join(", ");
    let aliases = vec!["*big"; 5_000].join(", ");
    let body = format!("big: &big [{items}]\nconfig:\n  many: [{aliases}]\n");
    let base = alloc::start();
    let parsed = presage_applier::parse_body("yaml", &body);
    let peak = alloc::peak_since(base);
    eprintln!(
        "{} bytes of body held {peak} bytes at once: {parsed:?}",
        body.len()
    );
    assert!(
        matches!(
            parsed,
            Err(presage_applier::FragmentError::Unparsable { .. })
        ),
        "{parsed:?}"
    );
    assert!(
        peak < 64 << 20,
        "held {peak} bytes for {} bytes",
        body.len()
    );
}
