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

/// Eight days of one sample a minute: 11,520 points, more than Prometheus answers in one range
/// request (11,000), so the backtest reads them in two.
#[test]
fn a_history_longer_than_one_request_is_read_in_chunks_without_a_gap_or_a_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let from = presage_template::calendar::parse_timestamp(FROM).unwrap();
    let minutes: i64 = 8 * 24 * 60;
    // The minute of the day, plus 10,000: every window of the replay knows what it must average.
    let value = |minute: i64| 10_000 + minute % (24 * 60);
    let mut openmetrics = String::from("# TYPE orders gauge\n");
    for minute in 0..minutes {
        let at = from / 1000 + minute * 60;
        openmetrics.push_str(&format!(
            "orders{{shop=\"north\"}} {} {at}\n",
            value(minute)
        ));
    }
    openmetrics.push_str("# EOF\n");
    let prometheus = Prometheus::with_history(&openmetrics, dir.path());
    prometheus.wait_for("the backfilled blocks to be loaded", |p| {
        p.series(&format!("orders @ {}", from / 1000 + (minutes - 1) * 60)) == 1
    });
    let template = dir.path().join("orders.yaml");
    std::fs::write(
        &template,
        "app: shop\nbootstrap: { resources: { replicas: 2 } }\ndynamic_metadata:\n  sources:\n    \
         - { id: orders, kind: promql, url: \"http://prometheus.invalid:9090\", query: 'orders', every: 1m }\n  \
         windowing: { allowed_lateness: 0s, idle_timeout: 1h }\n  metric_recipes:\n    \
         - { name: orders, from: orders.orders, aggregate: avg, window: { tumble: 30m } }\n  \
         prediction_algorithms:\n    - { target: orders, horizon: 2h, models: [seasonal_naive], seasonality: [1d], interval: 0.9 }\n  \
         scaling_policies:\n    - { resource: replicas, metric: orders, per_unit: 1000, use: upper, lead_time: 30m, min: 1, max: 20 }\n",
    )
    .unwrap();
    let end = presage_template::calendar::rfc3339(from + minutes * 60_000);
    let output = presage(
        &[
            "backtest",
            "--template",
            template.to_str().unwrap(),
            "--prometheus",
            &prometheus.base,
            "--from",
            FROM,
            "--to",
            &end,
            "--warmup",
            "2d",
        ],
        dir.path(),
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "read {minutes} samples of 1 promql source(s) from {} in 2 request(s)",
            prometheus.base
        )),
        "{stderr}"
    );
    let replayed = report(dir.path(), "var/backtest/backtest.json");
    assert_eq!(replayed["samples"], minutes);
    // Every 30-minute window averages its own thirty minutes: none missing, none read twice.
    let demand = replayed["series"][0]["demand"].as_array().unwrap();
    assert!(demand.len() > 100, "{}", demand.len());
    for step in demand {
        let start = step["start_ms"].as_i64().unwrap();
        let first = (start - from) / 60_000;
        let mean = (first..first + 30).map(value).sum::<i64>() as f64 / 30.0;
        assert_eq!(
            step["value"].as_f64().unwrap(),
            mean,
            "the window at {start}"
        );
    }
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

    // A compared template reading the same source another way cannot share the samples.
    let first = promql_template(dir.path(), "demand_mw");
    let second = dir.path().join("grid-ew-other.yaml");
    std::fs::write(
        &second,
        std::fs::read_to_string(&first)
            .unwrap()
            .replace("query: 'demand_mw'", "query: 'demand_mw * 2'"),
    )
    .unwrap();
    let output = presage(
        &[
            "backtest",
            "--template",
            &first,
            "--compare",
            second.to_str().unwrap(),
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
    assert!(
        stderr.contains("promql source `trace` of app grid-ew is read two ways"),
        "{stderr}"
    );
}
