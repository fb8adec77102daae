//! `presage backtest` as a team uses it in CI: the scorecard, the files it writes, and the exit
//! code that gates a template change.

use std::path::Path;
use std::process::{Command, Output};

fn presage(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presage"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run presage")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Two weeks of taylor demand (the first is warm-up), as a trace file.
fn short_trace(dir: &Path) -> String {
    let all = std::fs::read_to_string(repo("../shared/data/taylor-demand.csv")).unwrap();
    let rows: Vec<&str> = all.lines().take(1 + 14 * 48).collect();
    let path = dir.join("taylor-2w.csv");
    std::fs::write(&path, rows.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// The shipped taylor template over two weeks, the first of them warm-up.
fn backtest(dir: &Path, extra: &[&str]) -> Output {
    backtest_of(dir, &repo("templates/backtest/grid-ew.yaml"), "7d", extra)
}

fn backtest_of(dir: &Path, template: &str, warmup: &str, extra: &[&str]) -> Output {
    let trace = short_trace(dir);
    let args = [
        "backtest",
        "--template",
        template,
        "--trace",
        &trace,
        "--warmup",
        warmup,
    ];
    presage(&[&args[..], extra].concat(), dir)
}

#[test]
fn a_backtest_prints_the_scorecard_and_writes_json_and_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let output = backtest(dir.path(), &[]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for row in [
        "grid-ew · replicas on demand_mw",
        "reactive (HPA)",
        "oracle",
        "samples/s",
    ] {
        assert!(stdout.contains(row), "no {row:?} in\n{stdout}");
    }
    let json = dir.path().join("var/backtest/backtest.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json written")).unwrap();
    assert_eq!(report["samples"], 14 * 48);
    assert_eq!(
        report["series"][0]["contenders"].as_array().unwrap().len(),
        3
    );
    let html = std::fs::read_to_string(dir.path().join("var/backtest/backtest.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("src=\"http"));
}

#[test]
fn limits_a_policy_misses_fail_the_run_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    // No policy leaves less than 0.1% of its capacity unused on real demand.
    let output = backtest(dir.path(), &["--max-slack", "0.1%"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("FAIL ") && stderr.contains("grid-ew.yaml · grid-ew · replicas: slack"),
        "{stderr}"
    );
    // Limits it meets pass.
    let output = backtest(
        dir.path(),
        &["--max-slack", "100%", "--max-under-provisioned", "100%"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_broken_trace_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("broken.csv");
    std::fs::write(
        &trace,
        "timestamp,app,metric,value\n2000-06-05T00:00:00Z,grid-ew,demand_mw,22262\n2000-06-05T00:30:00Z,grid-ew,demand_mw,n/a\n",
    )
    .unwrap();
    let template = repo("templates/backtest/grid-ew.yaml");
    let output = presage(
        &[
            "backtest",
            "--template",
            &template,
            "--trace",
            trace.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("broken.csv:3: value `n/a` is not a number"),
        "{stderr}"
    );
}

#[test]
fn compare_scores_another_template_beside_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let eager = dir.path().join("grid-ew-mean.yaml");
    let text = std::fs::read_to_string(repo("templates/backtest/grid-ew.yaml")).unwrap();
    assert!(text.contains("use: upper"));
    std::fs::write(&eager, text.replace("use: upper", "use: mean")).unwrap();
    let output = backtest(dir.path(), &["--compare", eager.to_str().unwrap()]);
    let stdout = text_of(&output);
    assert!(output.status.success(), "{stdout}");
    let json = dir.path().join("var/backtest/backtest.json");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let names: Vec<&str> = report["series"][0]["contenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0].ends_with("grid-ew.yaml") && names[1].ends_with("grid-ew-mean.yaml"));
    assert_eq!(&names[2..], ["reactive (HPA)", "oracle"]);
    // Provisioning for the mean costs less and is short more often than for the upper bound.
    let score = |i: usize| &report["series"][0]["contenders"][i]["score"];
    assert!(score(1)["unit_hours"].as_f64() < score(0)["unit_hours"].as_f64());
    assert!(
        score(1)["under_provisioned_pct"].as_f64() > score(0)["under_provisioned_pct"].as_f64()
    );
}

fn text_of(output: &Output) -> String {
    format!("{}\n{}", text(&output.stdout), text(&output.stderr))
}

#[test]
fn only_the_template_under_test_is_held_to_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    // A reference template that wastes most of its capacity: comparing with it must not fail CI.
    let wasteful = dir.path().join("grid-ew-wasteful.yaml");
    let text = std::fs::read_to_string(repo("templates/backtest/grid-ew.yaml")).unwrap();
    assert!(text.contains("min: 2, max: 24"));
    std::fs::write(
        &wasteful,
        text.replace("min: 2, max: 24", "min: 24, max: 24"),
    )
    .unwrap();
    let output = backtest(
        dir.path(),
        &[
            "--compare",
            wasteful.to_str().unwrap(),
            "--max-slack",
            "30%",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text_of(&output));
    // Under test, the same template fails.
    let output = backtest_of(
        dir.path(),
        wasteful.to_str().unwrap(),
        "7d",
        &["--max-slack", "30%"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text_of(&output));
}

#[test]
fn a_backtest_that_scores_nothing_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    // Two weeks of samples, all of them warm-up.
    let template = repo("templates/backtest/grid-ew.yaml");
    let output = backtest_of(dir.path(), &template, "30d", &["--max-slack", "30%"]);
    assert_eq!(output.status.code(), Some(2), "{}", text_of(&output));
    assert!(
        text(&output.stderr).contains("no demand was scored"),
        "{}",
        text_of(&output)
    );
}

#[test]
fn a_broken_template_is_refused_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let template = std::fs::read_to_string(repo("templates/backtest/grid-ew.yaml")).unwrap();
    std::fs::write(
        &broken,
        template.replace("from: trace.demand_mw", "from: trcae.demand_mw"),
    )
    .unwrap();
    let output = backtest_of(dir.path(), broken.to_str().unwrap(), "7d", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text_of(&output));
    let stderr = text(&output.stderr);
    let line = template
        .lines()
        .position(|l| l.contains("from: trace.demand_mw"))
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!("broken.yaml:{line}:")) && stderr.contains("trcae"),
        "{stderr}"
    );
}

#[test]
fn slo_finds_each_contenders_cheapest_setting_and_writes_the_frontier() {
    let dir = tempfile::tempdir().unwrap();
    let output = backtest(dir.path(), &["--slo", "2%"]);
    let stdout = text_of(&output);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("at the SLO: under-provisioned at most 2% of the time"),
        "{stdout}"
    );
    let json = dir.path().join("var/backtest/backtest.json");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let frontier = &report["series"][0]["frontier"];
    assert_eq!(frontier["slo_pct"], 2.0);
    let kinds: Vec<&str> = frontier["curves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["forecast", "reactive", "combined", "oracle"]);
    for curve in frontier["curves"].as_array().unwrap() {
        let chosen = curve["chosen"].as_u64().expect("a choice") as usize;
        let point = &curve["points"][chosen];
        if curve["meets"] == true {
            assert!(point["under_provisioned_pct"].as_f64().unwrap() <= 2.0);
        }
        assert!(point["setting"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let html = std::fs::read_to_string(dir.path().join("var/backtest/backtest.html")).unwrap();
    assert!(html.contains("class=\"frontier\"") && html.contains("class=\"slo\""));
}

#[test]
fn a_malformed_slo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = backtest(dir.path(), &["--slo", "half"]);
    assert!(!output.status.success());
    assert!(text_of(&output).contains("`half` is not a percentage"));
}
