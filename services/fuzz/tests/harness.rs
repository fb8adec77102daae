//! The harness finds what it is there to find: a panic, a hang and a case that holds too much
//! memory are each reported as a failure of that case, and the run goes on (or, for a hang,
//! stops) without taking the process down.

use std::time::Duration;

use presage_fuzz::{alloc, harness, Limits, Target};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

fn target(run: fn(&[u8])) -> Target {
    Target {
        name: "probe",
        reads: "the harness's own probes",
        generate: |rng| vec![rng.byte()],
        run,
    }
}

fn limits() -> Limits {
    Limits {
        time_limit: Duration::from_millis(500),
        alloc_limit: 8 << 20,
    }
}

#[test]
fn a_panic_is_a_failure_of_its_case_and_the_run_goes_on() {
    let report = harness::run(
        &target(|input| assert!(input[0] % 2 == 0, "odd byte")),
        50,
        1,
        // The default panic hook may print a backtrace, slowly: no time limit to speak of.
        Limits {
            time_limit: Duration::from_secs(60),
            ..limits()
        },
    );
    assert_eq!(report.cases, 50);
    assert!(!report.failures.is_empty());
    assert!(report.failures.len() < 50);
    assert!(report.failures.iter().all(|f| f.what.contains("odd byte")));
}

#[test]
fn a_case_running_past_the_time_limit_is_reported_as_a_hang() {
    let report = harness::run(
        &target(|_| loop {
            std::thread::sleep(Duration::from_secs(1));
        }),
        10,
        1,
        limits(),
    );
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].what.starts_with("hang"),
        "{:?}",
        report.failures
    );
}

#[test]
fn a_case_holding_more_than_the_bound_is_reported_with_its_size() {
    let report = harness::run(
        &target(|_| {
            let held = vec![1u8; 16 << 20];
            std::hint::black_box(&held);
        }),
        3,
        1,
        limits(),
    );
    assert_eq!(report.failures.len(), 3, "{:?}", report.failures);
    assert!(report.failures[0].what.contains("allocation"));
    // Beyond the 1-byte input.
    assert!(report.peak_alloc >= (16 << 20) - 1, "{report:?}");
}

#[test]
fn a_case_within_the_bound_passes_and_its_peak_is_measured() {
    let report = harness::run(
        &target(|_| {
            let held = vec![1u8; 1 << 20];
            std::hint::black_box(&held);
        }),
        3,
        1,
        limits(),
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(
        report.peak_alloc >= (1 << 20) - 1 && report.peak_alloc < 2 << 20,
        "{report:?}"
    );
}

#[test]
fn the_same_seed_gives_the_same_cases() {
    for t in presage_fuzz::all() {
        assert_eq!(
            harness::input_of(&t, 7, 42),
            harness::input_of(&t, 7, 42),
            "{}",
            t.name
        );
    }
}
