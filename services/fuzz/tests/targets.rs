//! Every fuzz target, 2,000 cases each from a fixed seed, as part of the test suite (CI): no
//! panic, no case running past a minute, no case holding more than 64 MiB beyond its input.
//! `cargo xtask fuzz --cases N` runs more.

use presage_fuzz::{alloc, by_name, harness, Limits};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const CASES: u64 = 2_000;
const SEED: u64 = 13;

fn fuzz(name: &str) {
    let target = by_name(name).unwrap_or_else(|| panic!("no target {name}"));
    // In the suite a hang is a case still running after a minute, 400 times the slowest case
    // measured (150 ms): a slow, shared CI machine must not fail it.
    let limits = Limits {
        time_limit: std::time::Duration::from_secs(60),
        ..Limits::default()
    };
    let report = harness::run(&target, CASES, SEED, limits);
    assert!(
        alloc::installed(),
        "the counting allocator measures every case"
    );
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("case {}: {}\n  input: {}", f.case, f.what, f.input))
        .collect();
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases failed (replay: cargo xtask fuzz --target {name} --seed {SEED} --cases {CASES}):\n{}",
        failures.len(),
        report.cases,
        failures.join("\n")
    );
    assert_eq!(report.cases, CASES);
    eprintln!(
        "{name}: {} cases, peak {} bytes, slowest {:?}, {:?}",
        report.cases, report.peak_alloc, report.slowest, report.elapsed
    );
}

macro_rules! fuzz_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { fuzz($name); })*

        #[test]
        fn every_target_has_a_test() {
            let tested = [$($name),*];
            for target in presage_fuzz::all() {
                assert!(tested.contains(&target.name), "target {} has no test here", target.name);
            }
        }
    };
}

fuzz_tests! {
    avro_raw_sample => "avro-raw-sample",
    avro_derived_metric => "avro-derived-metric",
    avro_metadata_fragment => "avro-metadata-fragment",
    avro_forecast => "avro-forecast",
    avro_scaling_directive => "avro-scaling-directive",
    avro_apply_outcome => "avro-apply-outcome",
    avro_template_version => "avro-template-version",
    avro_dead_letter => "avro-dead-letter",
    template_vocabulary => "template-vocabulary",
    template_mutated => "template-mutated",
    duration => "duration",
    selector => "selector",
    cron => "cron",
    calendar => "calendar",
    rule => "rule",
    prometheus => "prometheus",
    csv_trace => "csv-trace",
    fragment_body => "fragment-body",
    promql_answer => "promql-answer",
    json_http => "json-http",
    ics => "ics",
}
