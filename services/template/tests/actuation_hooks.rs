//! Mistakes in `command` and `env` hooks, each at its line and column (snippets one line per
//! element, so an element's index + 1 is its line), and the hooks' fields read back.

mod common;

use common::{check, doc, errors};
use presage_template::{parse, HookKind};

const HEAD: [&str; 4] = [
    "app: shop",
    "bootstrap: { resources: { replicas: 3, memory_mb: 1024 }, config: { tier: gold } }",
    "dynamic_metadata:",
    "  configuration_hooks:",
];

fn with(hooks: &[&str]) -> Vec<String> {
    HEAD.iter().chain(hooks).map(|s| s.to_string()).collect()
}

fn lines(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_command_hook_is_read_with_its_commands_and_timeout() {
    let text = doc(&lines(&with(&[
        "    - name: scale",
        "      kind: command",
        "      apply: [kubectl, scale, deployment/api, \"--replicas={replicas}\"]",
        "      test: { command: [kubectl, scale, --dry-run=server, \"--replicas={replicas}\"] }",
        "      check: [kubectl, rollout, status, deployment/api]",
        "      rollback: [kubectl, scale, deployment/api, \"--replicas={replicas}\"]",
        "      read: [cat, /run/api.values]",
        "      state_dir: /var/lib/presage/",
        "      timeout: 5s",
    ])));
    let t = parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let hook = &t.dynamic_metadata.configuration_hooks[0];
    assert_eq!(hook.kind, HookKind::Command);
    assert_eq!(hook.apply.as_ref().map(Vec::len), Some(4));
    assert_eq!(hook.command_timeout(), std::time::Duration::from_secs(5));
    assert_eq!(
        hook.state_base("shop").unwrap(),
        std::path::Path::new("/var/lib/presage/shop.scale")
    );
    // Names are written one to one: no two apps' hooks meet in one journal, and none climbs
    // out of the directory.
    let named = |app: &str, name: &str| {
        let mut h = hook.clone();
        h.name = name.to_string();
        h.state_base(app).unwrap().display().to_string()
    };
    assert_ne!(named("shop.eu", "scale"), named("shop", "eu.scale"));
    assert_ne!(named("shop/eu", "scale"), named("shop_eu", "scale"));
    assert_ne!(named("", "scale"), named("%", "scale"));
    assert_eq!(named("..", "../x"), "/var/lib/presage/%2E%2E.%2E%2E%2Fx");
    assert_eq!(
        named("checkout-api", "db_pool"),
        "/var/lib/presage/checkout-api.db_pool"
    );
    assert_eq!(
        hook.commands().iter().map(|(f, _)| *f).collect::<Vec<_>>(),
        ["apply", "check", "rollback", "read"]
    );
    // What each placeholder fills in: a bare name is a resource, a dotted one a path.
    let doc = t.bootstrap_doc();
    assert_eq!(
        hook.placeholder_value(&doc, "replicas"),
        Some(&serde_json::json!(3))
    );
    assert_eq!(
        hook.placeholder_value(&doc, "config.tier"),
        Some(&serde_json::json!("gold"))
    );
    assert_eq!(hook.placeholder_value(&doc, "cpu"), None);
    assert_eq!(hook.placeholder_value(&doc, "config.tier.x"), None);
}

#[test]
fn command_hook_mistakes_are_found_where_they_are() {
    let all = errors(&lines(&with(&[
        "    - name: scale",
        "      kind: command",
        "      apply: [kubectl, \"--replicas={replica}\", \"{config.tier\", \"--x={resources}\"]",
        "      check: []",
        "      read: [\"{replicas}\"]",
        "      timeout: 0s",
        "    - { name: bare, kind: command, vars: { A: b } }",
    ])));
    let found: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 10, "{found:#?}");
    check(&all[0], 5, 7, &["command hook \"scale\" has no state_dir"]);
    check(
        &all[1],
        7,
        36,
        &["unknown placeholder `{replica}`: resources.replica is not in the bootstrap"],
    );
    check(&all[2], 7, 49, &["unclosed `{`"]);
    check(&all[3], 7, 69, &["unknown placeholder `{resources}`"]);
    check(&all[4], 8, 14, &["check of hook \"scale\" is empty"]);
    check(
        &all[5],
        9,
        14,
        &["the program \"{replicas}\" cannot hold a placeholder"],
    );
    check(&all[6], 10, 16, &["timeout of hook \"scale\" is 0s"]);
    check(&all[7], 11, 7, &["command hook \"bare\" has no apply"]);
    check(&all[8], 11, 7, &["command hook \"bare\" has no state_dir"]);
    check(&all[9], 11, 36, &["vars does not apply to a command hook"]);
}

#[test]
fn file_and_http_fields_on_a_command_or_env_hook_are_reported_not_ignored() {
    let all = errors(&lines(&with(&[
        "    - name: scale",
        "      kind: command",
        "      apply: [scale, \"{replicas}\"]",
        "      state_dir: /var/lib/presage/",
        "      path: /etc/shop/config.yaml",
        "      reload: { command: [systemctl, reload, shop] }",
        "    - name: env",
        "      kind: env",
        "      path: /etc/shop/app.env",
        "      vars: { REPLICAS: \"{replicas}\" }",
        "      format: yaml",
        "      url: http://127.0.0.1:9000/",
    ])));
    let found: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 4, "{found:#?}");
    check(
        &all[0],
        9,
        7,
        &["path does not apply to a command hook (\"scale\"): its commands apply the values"],
    );
    check(&all[1], 10, 7, &["reload does not apply to a command hook"]);
    check(&all[2], 15, 7, &["format does not apply to an env hook"]);
    check(
        &all[3],
        16,
        7,
        &["url does not apply to an env hook (\"env\"): it writes KEY=value lines"],
    );
}

#[test]
fn env_hook_mistakes_are_found_where_they_are() {
    let all = errors(&lines(&with(&[
        "    - name: env",
        "      kind: env",
        "      path: /etc/shop/app.env",
        "      vars:",
        "        REPLICAS: \"{replicas}\"",
        "        JAVA_OPTS: \"-Xmx{memory_mb}m -Dtier={config.tier}\"",
        "        9LIVES: \"{cpu}\"",
        "        BAD-NAME: x",
        "      apply: [true]",
        "    - { name: nopath, kind: env }",
    ])));
    let found: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 6, "{found:#?}");
    check(
        &all[0],
        11,
        9,
        &["\"9LIVES\" of hook \"env\" is not an environment variable name"],
    );
    check(&all[1], 11, 18, &["unknown placeholder `{cpu}`"]);
    check(
        &all[2],
        12,
        9,
        &["\"BAD-NAME\" of hook \"env\" is not an environment variable name"],
    );
    check(&all[3], 13, 7, &["apply does not apply to an env hook"]);
    check(&all[4], 14, 7, &["env hook \"nopath\" has no path"]);
    check(&all[5], 14, 7, &["env hook \"nopath\" has no vars"]);
}
