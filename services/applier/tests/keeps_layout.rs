//! A configuration file is the user's: a directive changes the values it names and keeps the
//! rest of the file as the user wrote it (comments, key order, layout) where the format allows.

use std::path::Path;

use presage_applier::hooks::{apply, Granted};
use presage_events::ScalingDirective;
use presage_template::Template;

fn template(hook_path: &Path) -> Template {
    let yaml = format!(
        "app: shop\nbootstrap: {{ resources: {{ replicas: 3, memory_mb: 1024 }} }}\n\
         dynamic_metadata:\n  configuration_hooks:\n    - {{ name: cfg, kind: file, path: {hook_path:?} }}\n  validation_rules:\n    - \"resources.replicas >= 1 && resources.replicas <= 50\"\n"
    );
    presage_template::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn scale_to(path: &Path, replicas: i64) -> String {
    let t = template(path);
    let directive = ScalingDirective {
        event_id: format!("d-{replicas}"),
        app: "shop".into(),
        resource: "replicas".into(),
        target: replicas,
        ..Default::default()
    };
    let hook = &t.dynamic_metadata.configuration_hooks[0];
    let outcome = apply(&t, hook, &directive, &Granted::covering(&t), 1);
    assert_eq!(outcome.status, "applied", "{outcome:?}");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_yaml_config_keeps_its_comments_order_and_layout_and_only_the_target_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let mine = "\
# Written by hand; Presage scales it.
server:
  port: 8080        # behind the load balancer
  workers: 4
resources:
  replicas: 3       # kept in step with demand
  memory_mb: 1024
";
    std::fs::write(&path, mine).unwrap();
    assert_eq!(
        scale_to(&path, 7),
        mine.replace("replicas: 3 ", "replicas: 7 ")
    );
}

#[test]
fn a_yaml_config_that_gains_a_key_is_rewritten_with_its_keys_in_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    // No `resources.replicas` yet: the directive adds it, so the file is written whole.
    std::fs::write(&path, "zeta: 1\nalpha: 2\nresources:\n  memory_mb: 1024\n").unwrap();
    assert_eq!(
        scale_to(&path, 5),
        "zeta: 1\nalpha: 2\nresources:\n  memory_mb: 1024\n  replicas: 5\n"
    );
}

#[test]
fn a_json_config_keeps_its_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"zeta": 1, "resources": {"replicas": 3, "memory_mb": 1024}, "alpha": true}"#,
    )
    .unwrap();
    let written = scale_to(&path, 9);
    let keys: Vec<&str> = ["zeta", "resources", "replicas", "memory_mb", "alpha"]
        .into_iter()
        .filter(|key| written.contains(&format!("\"{key}\"")))
        .collect();
    assert_eq!(keys.len(), 5, "{written}");
    let position = |key: &str| written.find(&format!("\"{key}\"")).unwrap();
    assert!(position("zeta") < position("resources"), "{written}");
    assert!(position("replicas") < position("memory_mb"), "{written}");
    assert!(position("memory_mb") < position("alpha"), "{written}");
    assert!(written.contains("\"replicas\": 9"), "{written}");
}
