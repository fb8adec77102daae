//! The chaos suite, shortened to fit the test suite: two minutes of load on 20 apps with two
//! instances of each consuming stage, every service SIGKILLed three times, extra instances
//! started and stopped, the broker away for a minute and a hook test that fails on every fourth
//! call; then the topics and files are reconciled from the outside (`presage-chaos` reads them
//! with its own reader). Nothing may be lost, duplicated, conflicting or wrong.

use std::process::Command;

use presage_integration::services::binary;

#[test]
fn two_minutes_of_faults_lose_duplicate_and_misapply_nothing() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(binary("presage-chaos"))
        .args([
            "--minutes",
            "2",
            "--seed",
            "12",
            "--apps",
            "20",
            "--outage",
            "60",
        ])
        .arg("--out")
        .arg(out.path().join("chaos"))
        .output()
        .expect("running presage-chaos");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the chaos run found problems ({}):\n{stdout}\n{stderr}",
        run.status
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("chaos/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["ok"], true);
    for (kind, at_least) in [
        ("sigkill", 15),
        ("broker_outage", 1),
        ("instance_started", 4),
        ("instance_stopped", 4),
        ("hook_test_failure", 1),
    ] {
        let n = report["faults"][kind].as_u64().unwrap_or(0);
        assert!(
            n >= at_least,
            "{kind}: {n} injected, at least {at_least} expected\n{stdout}"
        );
    }
    for service in [
        "collector",
        "recipe-processor",
        "forecaster",
        "planner",
        "applier",
    ] {
        let n = report["sigkills_by_service"][service].as_u64().unwrap_or(0);
        assert!(n >= 3, "{service} SIGKILLed {n} times\n{stdout}");
    }
    let problems = report["reconciliation"]["problems"].as_object().unwrap();
    assert!(
        problems.len() >= 10,
        "every check is reported: {problems:?}"
    );
    for (kind, found) in problems {
        assert_eq!(found["count"], 0, "{kind}: {found}");
    }
    let records = &report["reconciliation"]["records"];
    for topic in [
        "presage.metrics.raw",
        "presage.metrics.derived",
        "presage.forecasts",
        "presage.directives",
        "presage.applied",
    ] {
        assert!(
            records[topic].as_u64().unwrap_or(0) > 0,
            "nothing checked on {topic}: {records}"
        );
    }
}
