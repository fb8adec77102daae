//! `presage backtest --prometheus URL --from --to`: a template's `promql` sources read over a
//! time range from a real Prometheus server (Debian's, its history backfilled by promtool from
//! two weeks of ../shared/data/taylor-demand.csv) replay exactly as the same samples from the CSV
//! trace: the same samples, windows, forecasts and directives.

#[path = "../../collector/tests/promql_server/mod.rs"]
mod promql_server;

use std::path::Path;
use std::process::{Command, Output};

use promql_server::Prometheus;
use serde_json::Value;

/// Two weeks of half-hourly demand.
const ROWS: usize = 14 * 48;
const FROM: &str = "2000-06-05T00:00:00Z";
const TO: &str = "2000-06-19T00:00:00Z";

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

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

/// The first two weeks of the taylor trace: as a CSV trace, and as OpenMetrics for promtool.
fn two_weeks(dir: &Path) -> (String, String) {
    let all = std::fs::read_to_string(repo("../shared/data/taylor-demand.csv")).unwrap();
    let rows: Vec<&str> = all.lines().take(1 + ROWS).collect();
    let csv = dir.join("taylor-2w.csv");
    std::fs::write(&csv, rows.join("\n") + "\n").unwrap();
    let mut openmetrics = String::from("# TYPE demand_mw gauge\n");
    for row in &rows[1..] {
        let fields: Vec<&str> = row.split(',').collect();
        let at = presage_template::calendar::parse_timestamp(fields[0]).unwrap();
        openmetrics.push_str(&format!("demand_mw {} {}\n", fields[3], at / 1000));
    }
    openmetrics.push_str("# EOF\n");
    (csv.display().to_string(), openmetrics)
}

/// The shipped grid-ew template with its `trace` source read by a PromQL query instead.
fn promql_template(dir: &Path, query: &str) -> String {
    let shipped = std::fs::read_to_string(repo("templates/backtest/grid-ew.yaml")).unwrap();
    let page = r#"- { id: trace, kind: prometheus, url: "http://127.0.0.1:9464/metrics", every: 30m, timeout: 5s }"#;
    assert!(shipped.contains(page), "the shipped template's source");
    let promql = format!(
        "- {{ id: trace, kind: promql, url: \"http://prometheus.invalid:9090\", query: '{query}', metric: demand_mw, every: 30m }}"
    );
    let path = dir.join("grid-ew-promql.yaml");
    std::fs::write(&path, shipped.replace(page, &promql)).unwrap();
    path.display().to_string()
}

fn report(dir: &Path, json: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(json)).expect("the JSON report")).unwrap()
}

/// What a replay decided, without what names its inputs (file names, template versions).
fn decisions(report: &Value) -> Value {
    let directives: Vec<Value> = report["directives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            serde_json::json!([
                d["app"],
                d["mode"],
                d["issued_at_ms"],
                d["fallback"],
                d["targets"]
            ])
        })
        .collect();
    let series: Vec<Value> = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::json!([s["app"], s["resource"], s["demand"], s["band"]]))
        .collect();
    serde_json::json!({
        "samples": report["samples"],
        "derived": report["derived"],
        "forecasts": report["forecasts"],
        "directives": directives,
        "series": series,
    })
}

#[test]
fn a_backtest_from_prometheus_replays_as_the_same_samples_from_a_csv_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, openmetrics) = two_weeks(dir.path());
    let prometheus = Prometheus::with_history(&openmetrics, dir.path());
    prometheus.wait_for("the backfilled blocks to be loaded", |p| {
        p.query(&format!(
            "count_over_time(demand_mw[15d] @ {})",
            961_372_800
        ))
        .and_then(|a| {
            a["data"]["result"][0]["value"][1]
                .as_str()
                .map(str::to_owned)
        })
        .is_some_and(|count| count == ROWS.to_string())
    });
    let template = promql_template(dir.path(), "demand_mw");

    let from_prometheus = presage(
        &[
            "backtest",
            "--template",
            &template,
            "--prometheus",
            &prometheus.base,
            "--from",
            FROM,
            "--to",
            TO,
            "--warmup",
            "7d",
            "--json",
            "prometheus.json",
            "--html",
            "prometheus.html",
        ],
        dir.path(),
    );
    let (stdout, stderr) = (text(&from_prometheus.stdout), text(&from_prometheus.stderr));
    assert!(from_prometheus.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "read {ROWS} samples of 1 promql source(s) from {} in 1 request(s)",
            prometheus.base
        )),
        "{stderr}"
    );
    let replayed = report(dir.path(), "prometheus.json");
    assert_eq!(replayed["samples"], ROWS);
    assert!(
        replayed["source"]
            .as_str()
            .unwrap()
            .starts_with("prometheus:"),
        "{}",
        replayed["source"]
    );
    assert!(
        replayed["directives"].as_array().unwrap().len() > 10,
        "two weeks of demand move the replicas: {stdout}"
    );

    let from_csv = presage(
        &[
            "backtest",
            "--template",
            &repo("templates/backtest/grid-ew.yaml"),
            "--trace",
            &csv,
            "--warmup",
            "7d",
            "--json",
            "csv.json",
            "--html",
            "csv.html",
        ],
        dir.path(),
    );
    assert!(from_csv.status.success(), "{}", text(&from_csv.stderr));
    assert_eq!(
        decisions(&replayed),
        decisions(&report(dir.path(), "csv.json")),
        "the same samples, windows, forecasts and directives"
    );
}

#[test]
fn a_query_prometheus_refuses_fails_the_backtest_naming_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let (_, openmetrics) = two_weeks(dir.path());
    let prometheus = Prometheus::with_history(&openmetrics, dir.path());
    let template = promql_template(dir.path(), "sum(demand_mw");
    let output = presage(
        &[
            "backtest",
            "--template",
            &template,
            "--prometheus",
            &prometheus.base,
            "--from",
            FROM,
            "--to",
            TO,
        ],
        dir.path(),
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("promql source `trace` of app grid-ew")
            && stderr.contains("Prometheus refused the query (bad_data)"),
        "{stderr}"
    );
}

#[test]
fn prometheus_needs_a_time_range_and_a_promql_source() {
    let dir = tempfile::tempdir().unwrap();
    let output = presage(
        &[
            "backtest",
            "--template",
            &repo("templates/backtest/grid-ew.yaml"),
            "--prometheus",
            "http://127.0.0.1:1",
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--from"),
        "{}",
        text(&output.stderr)
    );
    let output = presage(
        &[
            "backtest",
            "--template",
            &repo("templates/backtest/grid-ew.yaml"),
            "--prometheus",
            "http://127.0.0.1:1",
            "--from",
            FROM,
            "--to",
            TO,
        ],
        dir.path(),
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("none has one"), "{stderr}");
}
