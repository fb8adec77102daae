//! The `presage` binary as a user runs it.

mod common;

use common::{presage, templates_dir, text};

#[test]
fn validate_accepts_the_example_templates() {
    let dir = templates_dir();
    let output = presage(&[
        "validate",
        &format!("{dir}/grid-demand.yaml"),
        &format!("{dir}/checkout-api.yaml"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("ok (app grid-demand)") && stdout.contains("ok (app checkout-api)"),
        "{stdout}"
    );
}

#[test]
fn validate_prints_file_line_column_and_what_was_expected_for_every_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "app: shop\ndynamic_metadata:\n  sources:\n    - { id: api, kind: prometheus, url: \"http://x\", every: 5 minutes }\n  metric_recipes:\n    - { name: rps, from: apx.requests, window: { tumble: 1m } }\n  scaling_policies:\n    - { resource: replicas, metric: nope, per_unit: 10, min: 1, max: 3, colour: red }\n",
    )
    .unwrap();
    let good = format!("{}/grid-demand.yaml", templates_dir());
    let output = presage(&["validate", &good, broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let file = broken.display().to_string();
    for (line, needle) in [(4, "5 minutes"), (6, "apx"), (8, "nope"), (8, "colour")] {
        let located = stderr
            .lines()
            .any(|l| l.starts_with(&format!("{file}:{line}:")) && l.contains(needle));
        assert!(
            located,
            "no {file}:{line}:<column> error mentioning {needle:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("expected"), "{stderr}");
    assert!(
        text(&output.stdout).contains("ok (app grid-demand)"),
        "valid files are still checked"
    );
}

#[test]
fn validate_names_a_missing_file() {
    let output = presage(&["validate", "/nonexistent/app.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("/nonexistent/app.yaml"));
}

#[test]
fn run_refuses_an_unknown_service_and_lists_the_real_ones() {
    let output = presage(&["run", "scheduler"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    for service in presage_cli::SERVICES {
        assert!(stderr.contains(service), "{stderr}");
    }
}

#[test]
fn validate_plans_a_recipe_s_sql_and_refuses_one_that_does_not_plan_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("sql.yaml");
    std::fs::write(
        &broken,
        "app: shop\ndynamic_metadata:\n  sources:\n    - { id: api, kind: prometheus, url: \"http://x\" }\n  metric_recipes:\n    - name: spread\n      from: api.latency\n      window: { tumble: 1m }\n      sql: SELECT app, window_start, max(valu) AS value FROM samples GROUP BY app, window_start\n    - name: shapeless\n      from: api.latency\n      window: { tumble: 1m }\n      sql: SELECT count(*) AS total FROM samples\n",
    )
    .unwrap();
    let output = presage(&["validate", broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let file = broken.display().to_string();
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!("{file}:9:"))
            && l.contains("spread")
            && l.contains("valu")),
        "DataFusion's message about the unknown column, at the sql line:\n{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!("{file}:13:"))
            && l.contains("shapeless")
            && l.contains("window_start")),
        "a query without app/window_start/value is refused, saying what it lacks:\n{stderr}"
    );
}

#[test]
fn compile_prints_each_recipe_s_sql_and_datafusion_s_plans() {
    let template = format!("{}/checkout-api.yaml", templates_dir());
    let output = presage(&["compile", &template]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for recipe in ["rps", "error_ratio", "p95_latency_s", "cpu_spread"] {
        assert!(
            stdout.contains(&format!("== recipe {recipe} ==")),
            "{recipe} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("-- optimized logical plan"), "{stdout}");
    assert!(
        stdout.contains("AggregateExec"),
        "a physical plan:\n{stdout}"
    );
    // The filter of the selector's route is matched before the query; the recipe's filter and
    // group_by are in it.
    assert!(stdout.contains("\"method\""), "{stdout}");

    let one = presage(&["compile", &template, "--recipe", "cpu"]);
    let stdout = text(&one.stdout);
    assert!(one.status.success());
    assert!(stdout.contains("== recipe cpu ==") && !stdout.contains("== recipe rps =="));
    assert!(stdout.contains("avg(value)"), "{stdout}");
}

#[test]
fn up_refuses_a_template_whose_sql_does_not_plan_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("shop.yaml"),
        "app: shop\ndynamic_metadata:\n  sources:\n    - { id: api, kind: prometheus, url: \"http://x\" }\n  metric_recipes:\n    - name: spread\n      from: api.latency\n      window: { tumble: 1m }\n      sql: SELECT app, window_start, max(valu) AS value FROM samples GROUP BY app, window_start\n",
    )
    .unwrap();
    // A broker address nothing listens on: the check must fail before any connection.
    let output = presage(&[
        "up",
        "--brokers",
        "127.0.0.1:9",
        "--templates",
        templates.to_str().unwrap(),
        "--data-dir",
        dir.path().join("var").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("invalid templates")
            && stderr.contains("shop.yaml:9:")
            && stderr.contains("valu"),
        "{stderr}"
    );
}
