//! The example templates in `templates/` (and `templates/backtest/`) parse and validate; they are what the demo and the
//! other services' tests use.

use std::path::PathBuf;

use presage_template::{load, parse, report, version_of, Aggregate, SourceKind, Transform};

fn templates_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

/// `templates/*.yaml` (published by `presage up`) and `templates/backtest/*.yaml` (for
/// `presage backtest` on the shared traces).
fn all_templates() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in [templates_dir(), templates_dir().join("backtest")] {
        paths.extend(
            std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.expect("dir entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml")),
        );
    }
    paths.sort();
    paths
}

#[test]
fn every_template_validates() {
    let paths = all_templates();
    assert!(!paths.is_empty(), "no templates found");
    for path in &paths {
        if let Err(errors) = load(path) {
            panic!("{} is refused:\n{errors}", path.display());
        }
    }
    let (ok, lines) = report(&paths);
    assert_eq!((ok, lines), (paths.len(), Vec::<String>::new()));
}

#[test]
fn checkout_api_has_what_the_design_sketches() {
    let path = templates_dir().join("checkout-api.yaml");
    let t = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.app, "checkout-api");
    let kinds: Vec<SourceKind> = t.dynamic_metadata.sources.iter().map(|s| s.kind).collect();
    for kind in [
        SourceKind::Host,
        SourceKind::Prometheus,
        SourceKind::HttpProbe,
        SourceKind::Calendar,
    ] {
        assert!(kinds.contains(&kind), "no {kind:?} source");
    }
    let rps = t.recipe("rps").expect("rps recipe");
    assert_eq!(rps.transform, Some(Transform::Rate));
    assert_eq!(
        rps.source_and_metric(),
        Some(("api", "http_requests_total"))
    );
    assert_eq!(rps.window.size_and_slide_ms(), (60_000, 60_000));
    let p95 = t.recipe("probe_p95_ms").expect("p95 recipe");
    assert_eq!(p95.aggregate, Some(Aggregate::Percentile(95.0)));
    assert_eq!(p95.window.size_and_slide_ms(), (300_000, 60_000));
    let latency = t.recipe("p95_latency_s").expect("histogram recipe");
    assert_eq!(latency.transform, Some(Transform::HistogramQuantile));
    assert_eq!(latency.quantile, Some(0.95));
    assert!(t.source("api").is_some_and(|s| s.url.is_some()));
    assert!(t.source("nope").is_none());
    assert_eq!(t.dynamic_metadata.prediction_algorithms[0].target, "rps");
    assert_eq!(t.dynamic_metadata.scaling_policies[0].resource, "replicas");
    let config = t.hook("config").expect("file hook");
    assert!(config
        .test
        .as_ref()
        .is_some_and(|test| test.command.is_some()));
    assert!(t.hook("scale").is_some());
    let deployment = t.hook("deployment").expect("command hook");
    assert_eq!(deployment.kind, presage_template::HookKind::Command);
    assert!(deployment.rollback.is_some() && deployment.check.is_some());
    let environment = t.hook("environment").expect("env hook");
    assert_eq!(environment.kind, presage_template::HookKind::Env);
    assert!(environment.vars.contains_key("JAVA_OPTS"));
}

#[test]
fn checkout_api_rules_hold_for_its_bootstrap() {
    let t = load(&templates_dir().join("checkout-api.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let rules = t.rules();
    assert_eq!(rules.len(), t.dynamic_metadata.validation_rules.len());
    let doc = t.bootstrap_doc();
    for rule in &rules {
        assert_eq!(rule.check(&doc), Ok(true), "{rule}");
    }
}

#[test]
fn a_template_survives_a_serialization_round_trip() {
    let t = load(&templates_dir().join("checkout-api.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let text = yaml_serde::to_string(&t).expect("serialize");
    let again = parse(&text, "round-trip.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again, t);
}

#[test]
fn the_version_is_a_content_hash() {
    let text = std::fs::read_to_string(templates_dir().join("checkout-api.yaml")).expect("read");
    let v = version_of(&text);
    assert_eq!(v.len(), 16);
    assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(v, version_of(&text));
    assert_ne!(v, version_of(&format!("{text}\n# edited")));
    // sha256("") starts with e3b0c44298fc1c14.
    assert_eq!(version_of(""), "e3b0c44298fc1c14");
}

#[test]
fn report_counts_valid_files_and_lists_mistakes() {
    let good = templates_dir().join("checkout-api.yaml");
    let missing = templates_dir().join("does-not-exist.yaml");
    let (ok, lines) = report(&[good, missing.clone()]);
    assert_eq!(ok, 1);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(&missing.display().to_string()),
        "{lines:?}"
    );
}

#[test]
fn backtest_templates_say_how_long_capacity_takes_to_arrive() {
    let path = templates_dir().join("backtest/airport.yaml");
    let t = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let policy = &t.dynamic_metadata.scaling_policies[0];
    assert_eq!(
        policy.provisioning_delay.map(|d| d.as_millis()),
        Some(10 * 60_000)
    );
    let broken = std::fs::read_to_string(&path)
        .unwrap()
        .replace("provisioning_delay: 10m", "provisioning_delay: soon");
    let errors = parse(&broken, "airport.yaml").unwrap_err().to_string();
    assert!(
        errors.contains("airport.yaml:") && errors.contains("soon"),
        "{errors}"
    );
}
