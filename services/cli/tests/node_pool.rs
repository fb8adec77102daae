//! `nodes` is a counted resource like `replicas`: the shipped node-pool template backtests through
//! the same capacity model, its directives target `nodes`, and its rules bound them.

use std::path::Path;
use std::process::{Command, Output};

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Four weeks of the real taylor demand trace as the ingest rate of the template's app and
/// metric: the template's source is `ingest`, its metric `ingest_megabytes_per_second`.
fn ingest_trace(dir: &Path) -> String {
    let all = std::fs::read_to_string(repo("../shared/data/taylor-demand.csv")).unwrap();
    let mut rows = vec!["timestamp,app,metric,value".to_string()];
    for line in all.lines().skip(1).take(28 * 48) {
        let fields: Vec<&str> = line.split(',').collect();
        rows.push(format!(
            "{},ingest-pool,ingest.ingest_megabytes_per_second,{}",
            fields[0], fields[3]
        ));
    }
    let path = dir.join("ingest.csv");
    std::fs::write(&path, rows.join("\n") + "\n").unwrap();
    path.display().to_string()
}

fn backtest(dir: &Path) -> Output {
    let trace = ingest_trace(dir);
    let template = repo("templates/node-pool.yaml");
    Command::new(env!("CARGO_BIN_EXE_presage"))
        .args([
            "backtest",
            "--template",
            &template,
            "--trace",
            &trace,
            "--warmup",
            "14d",
        ])
        .current_dir(dir)
        .output()
        .expect("run presage")
}

#[test]
fn the_node_pool_template_backtests_on_nodes_and_stays_within_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let output = backtest(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("ingest-pool · nodes on ingest_mb_s"),
        "{stdout}"
    );

    let json = dir.path().join("var/backtest/backtest.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("json written")).unwrap();
    let series = &report["series"][0];
    assert_eq!(series["resource"], "nodes");
    let contenders = series["contenders"].as_array().unwrap();
    let kinds: Vec<&str> = contenders
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["policy", "reactive", "oracle"]);

    // Every directive targets nodes, inside the template's min and max (3..=40).
    let directives = report["directives"].as_array().unwrap();
    assert!(!directives.is_empty());
    for d in directives {
        for t in d["targets"].as_array().unwrap() {
            assert_eq!(t["resource"], "nodes", "{d}");
            let n = t["target"].as_i64().unwrap();
            assert!((3..=40).contains(&n), "{d}");
        }
    }
    // The capacity model ran on the policy's nodes: units in service change over the weeks.
    let units: Vec<i64> = contenders[0]["capacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["units"].as_i64().unwrap())
        .collect();
    assert!(units.iter().min() < units.iter().max(), "{units:?}");

    // Acting 40 minutes ahead of a daily ramp, the policy is short of nodes for less of the time
    // than the reactive autoscaler scored on the same trace.
    let under = |c: &serde_json::Value| c["score"]["under_provisioned_pct"].as_f64().unwrap();
    assert!(
        under(&contenders[0]) < under(&contenders[1]),
        "policy {} vs reactive {}",
        under(&contenders[0]),
        under(&contenders[1])
    );
}
