//! A node pool driven like any other counted resource: the shipped `templates/node-pool.yaml`,
//! its `aws` program pointed at a script standing for the cloud CLI (it keeps the group's desired
//! capacity in a file and records every call), and `nodes` through file and env hooks too.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use presage_applier::hooks::{apply, Granted};
use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::Template;

/// The cloud's Auto Scaling group: its desired capacity and a log of every CLI call.
struct Cloud {
    dir: tempfile::TempDir,
}

impl Cloud {
    fn new(desired: i64) -> Self {
        let cloud = Cloud {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(cloud.path("desired"), format!("{desired}\n")).unwrap();
        std::fs::create_dir(cloud.path("state")).unwrap();
        // Answers the two calls the template makes as the AWS CLI does: `describe-…` with the
        // template's --query prints {"nodes": N}; `set-desired-capacity` sets N.
        let script = format!(
            r#"#!/bin/sh
D={dir:?}
echo "$*" >> "$D/calls"
case "$2" in
  describe-auto-scaling-groups) printf '{{\n    "nodes": %s\n}}\n' "$(cat "$D/desired")";;
  set-desired-capacity)
    while [ $# -gt 0 ]; do [ "$1" = --desired-capacity ] && echo "$2" > "$D/desired"; shift; done;;
  *) echo "unknown command $2" >&2; exit 2;;
esac
"#,
            dir = cloud.dir.path()
        );
        std::fs::write(cloud.path("aws"), script).unwrap();
        std::fs::set_permissions(cloud.path("aws"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        cloud
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn desired(&self) -> String {
        std::fs::read_to_string(self.path("desired"))
            .unwrap()
            .trim()
            .to_string()
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The shipped template, its program and state directory moved into this cloud.
    fn template(&self) -> Template {
        let path = format!(
            "{}/../../templates/node-pool.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let shipped = std::fs::read_to_string(&path).unwrap();
        assert!(shipped.contains("[\"aws\", ") && shipped.contains("/var/lib/presage/"));
        let text = shipped
            .replace(
                "[\"aws\", ",
                &format!("[{:?}, ", self.path("aws").display()),
            )
            .replace(
                "/var/lib/presage/",
                &format!("{}/", self.path("state").display()),
            );
        presage_template::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn directive(id: &str, nodes: i64) -> ScalingDirective {
    ScalingDirective {
        event_id: id.into(),
        app: "ingest-pool".into(),
        template_version: "v1".into(),
        resource: "nodes".into(),
        target: nodes,
        ..Default::default()
    }
}

fn apply_first_hook(t: &Template, d: &ScalingDirective) -> ApplyOutcome {
    apply(
        t,
        &t.dynamic_metadata.configuration_hooks[0],
        d,
        &Granted::covering(t),
        1,
    )
}

#[test]
fn the_node_pool_template_sets_the_groups_desired_capacity_through_the_cloud_cli() {
    let cloud = Cloud::new(6);
    let t = cloud.template();
    let o = apply_first_hook(&t, &directive("d-1", 9));
    assert_eq!(o.status, "applied", "{o:?}");
    assert_eq!(cloud.desired(), "9");
    let calls = cloud.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("autoscaling describe-auto-scaling-groups"));
    assert_eq!(
        calls[1],
        "autoscaling set-desired-capacity --auto-scaling-group-name ingest-workers --desired-capacity 9"
    );
}

#[test]
fn the_node_pools_rules_refuse_more_than_the_quota_and_fewer_than_the_minimum_running_nothing() {
    let cloud = Cloud::new(6);
    let t = cloud.template();
    for (id, nodes, rule) in [
        ("d-over", 41, "resources.nodes <= config.quota_nodes"),
        ("d-under", 2, "resources.nodes >= config.min_nodes"),
    ] {
        let o = apply_first_hook(&t, &directive(id, nodes));
        assert_eq!(o.status, "rejected", "{o:?}");
        assert!(o.reason.as_deref().unwrap_or("").contains(rule), "{o:?}");
    }
    assert_eq!(cloud.desired(), "6");
    assert!(
        cloud
            .calls()
            .iter()
            .all(|c| !c.contains("set-desired-capacity")),
        "{:?}",
        cloud.calls()
    );
}

/// `nodes` lands where a file hook's `keys` put it and fills an env hook's `{nodes}`.
#[test]
fn nodes_drive_file_and_env_hooks_like_any_resource() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pool.yaml");
    let env = dir.path().join("pool.env");
    std::fs::write(&config, "pool:\n  size: 4 # workers\n").unwrap();
    std::fs::write(&env, "POOL_SIZE=4\nREGION=eu-west-1\n").unwrap();
    let yaml = format!(
        "app: ingest-pool\nbootstrap: {{ resources: {{ nodes: 4 }} }}\ndynamic_metadata:\n  configuration_hooks:\n\
         \x20   - {{ name: file, kind: file, path: {config:?}, keys: {{ nodes: pool.size }} }}\n\
         \x20   - {{ name: env, kind: env, path: {env:?}, vars: {{ POOL_SIZE: \"{{nodes}}\" }} }}\n",
        config = path(&config),
        env = path(&env),
    );
    let t = presage_template::parse(&yaml, "pool.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let d = directive("d-2", 11);
    for hook in &t.dynamic_metadata.configuration_hooks {
        let o = apply(&t, hook, &d, &Granted::covering(&t), 1);
        assert_eq!(o.status, "applied", "{}: {o:?}", hook.name);
    }
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "pool:\n  size: 11 # workers\n"
    );
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        "POOL_SIZE=11\nREGION=eu-west-1\n"
    );
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
