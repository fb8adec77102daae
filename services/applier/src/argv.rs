//! A command hook's argv and an env hook's variables, with the candidate's values in place of
//! their placeholders, and a `read` command's output as values. Pure.
//!
//! Each argv element is substituted on its own and handed to the program as one argument (no
//! shell ever sees it), so a value can never become two arguments. A value cannot become a flag
//! either: a value starting with `-` is refused where its placeholder opens the element (in
//! `--replicas={replicas}` it cannot be read as a flag, in `{replicas}` it could). NUL cannot
//! be passed in an argument or an environment, and a line break would add a line to an env
//! file: both are refused everywhere.

use presage_template::{placeholders, ConfigurationHook, Piece};
use serde_json::Value;

use crate::document::set_path;

/// `argv` with `doc`'s values in place of its placeholders. `argv[0]` is taken as written: it
/// is what the operator's allow-list grants, so no value may choose the program.
pub fn substitute_argv(
    hook: &ConfigurationHook,
    argv: &[String],
    doc: &Value,
) -> Result<Vec<String>, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    if program.contains('{') {
        return Err(format!(
            "`{program}`: the program cannot be a placeholder (the allow-list grants it as written)"
        ));
    }
    let mut out = vec![program.clone()];
    for arg in args {
        out.push(substitute(hook, arg, doc, true)?);
    }
    Ok(out)
}

/// Every command of one try of a command hook, substituted before any runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commands {
    pub test: Option<Vec<String>>,
    pub apply: Vec<String>,
    pub check: Option<Vec<String>>,
}

/// The hook's `test`, `apply` and `check` with the `candidate`'s values. The `rollback` is
/// substituted with the `previous` values too, only to refuse now a change whose rollback could
/// not run: a value that cannot be passed safely refuses the change before anything runs.
pub fn prepare_commands(
    hook: &ConfigurationHook,
    candidate: &Value,
    previous: &Value,
) -> Result<Commands, String> {
    let with = |argv: Option<&Vec<String>>, doc: &Value| {
        argv.map(|argv| substitute_argv(hook, argv, doc))
            .transpose()
    };
    let apply = with(hook.apply.as_ref(), candidate)?.ok_or("command hook has no apply")?;
    with(hook.rollback.as_ref(), previous)?;
    Ok(Commands {
        test: with(
            hook.test.as_ref().and_then(|t| t.command.as_ref()),
            candidate,
        )?,
        apply,
        check: with(hook.check.as_ref(), candidate)?,
    })
}

/// `text` with `doc`'s values in place of its placeholders. `as_argument`: the text is one
/// argument of a command, where a value opening it must not start with `-`.
pub fn substitute(
    hook: &ConfigurationHook,
    text: &str,
    doc: &Value,
    as_argument: bool,
) -> Result<String, String> {
    let pieces = placeholders(text).map_err(|(at, why)| format!("`{text}` at {at}: {why}"))?;
    let mut out = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Text(literal) => out.push_str(literal),
            Piece::Hole(hole) => {
                let path = hook.placeholder_path(&hole.name);
                let value = hook
                    .placeholder_value(doc, &hole.name)
                    .ok_or_else(|| format!("`{{{}}}`: {path} has no value", hole.name))?;
                let value = scalar(value)
                    .ok_or_else(|| format!("`{{{}}}`: {path} is not a single value", hole.name))?;
                if value.contains(['\0', '\n', '\r']) {
                    return Err(format!(
                        "`{{{}}}`: the value of {path} holds a NUL or a line break: refused",
                        hole.name
                    ));
                }
                if as_argument && i == 0 && value.starts_with('-') {
                    return Err(format!(
                        "`{{{}}}`: the value {value:?} of {path} would open the argument `{text}` \
                         with `-` and be read as a flag: refused (put text before the \
                         placeholder, as in --replicas={{replicas}})",
                        hole.name
                    ));
                }
                out.push_str(&value);
            }
        }
    }
    Ok(out)
}

/// A scalar as it is written into an argument or a variable: whole numbers without a fraction.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            _ => n.to_string(),
        }),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A value read back as text (a `read` line, an env variable): a number when it reads as one,
/// else the text.
pub fn value_of_text(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text)
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The values a `read` command printed, set over `base` (the bootstrap document): a JSON object
/// of placeholder names to values, or `name=value` lines (blank lines and `#` comments skipped;
/// a value that parses as a number is one). Each name goes where its placeholder reads it.
pub fn values_from_read(
    hook: &ConfigurationHook,
    stdout: &str,
    base: &Value,
) -> Result<Value, String> {
    let mut doc = base.clone();
    let trimmed = stdout.trim();
    let pairs: Vec<(String, Value)> = if trimmed.starts_with('{') {
        let object: serde_json::Map<String, Value> = serde_json::from_str(trimmed)
            .map_err(|e| format!("read printed JSON that is not an object of values: {e}"))?;
        object.into_iter().collect()
    } else {
        let mut pairs = Vec::new();
        for (n, line) in trimmed.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line
                .split_once('=')
                .ok_or_else(|| format!("read printed line {} without `=`: {line:?}", n + 1))?;
            pairs.push((name.trim().to_string(), value_of_text(value.trim())));
        }
        pairs
    };
    for (name, value) in pairs {
        if name.split('.').any(str::is_empty) {
            return Err(format!(
                "read printed the name {name:?}, which is not a placeholder's name"
            ));
        }
        if value.is_object() || value.is_array() || value.is_null() {
            return Err(format!(
                "read printed {name:?} as {value}, which is not a single value"
            ));
        }
        set_path(&mut doc, &hook.placeholder_path(&name), value);
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook() -> ConfigurationHook {
        let yaml = "app: shop\nbootstrap: { resources: { replicas: 3, nodes: 2 }, config: { tier: gold } }\n\
                    dynamic_metadata:\n  configuration_hooks:\n    - { name: c, kind: command, apply: [x], state_dir: /tmp/s/, keys: { nodes: pool.size } }\n";
        let t = presage_template::parse(yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        t.dynamic_metadata.configuration_hooks[0].clone()
    }

    fn argv(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_element_is_substituted_on_its_own() {
        let doc = json!({"resources": {"replicas": 7.0}, "pool": {"size": 4}, "config": {"tier": "a b; rm -rf /"}});
        let out = substitute_argv(
            &hook(),
            &argv(&[
                "kubectl",
                "--replicas={replicas}",
                "{nodes}",
                "--tier={config.tier}",
                "{{literal}}",
            ]),
            &doc,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "kubectl",
                "--replicas=7",
                "4",
                "--tier=a b; rm -rf /",
                "{literal}"
            ]
        );
    }

    #[test]
    fn a_value_cannot_become_a_flag_a_line_or_the_program() {
        let hook = hook();
        let doc = json!({"resources": {"replicas": -1}, "config": {"tier": "--kubeconfig=/x", "nl": "a\nB=c"}});
        let err = substitute_argv(&hook, &argv(&["k", "{replicas}"]), &doc).unwrap_err();
        assert!(err.contains("read as a flag"), "{err}");
        let err = substitute_argv(&hook, &argv(&["k", "{config.tier}"]), &doc).unwrap_err();
        assert!(err.contains("read as a flag"), "{err}");
        // behind text it is a value, not a flag
        let ok = substitute_argv(&hook, &argv(&["k", "--replicas={replicas}"]), &doc).unwrap();
        assert_eq!(ok[1], "--replicas=-1");
        // an env value may start with `-` (`-Xmx…`), but no value may hold a line break
        assert!(substitute(&hook, "{config.tier}", &doc, false).is_ok());
        let err = substitute(&hook, "x{config.nl}", &doc, false).unwrap_err();
        assert!(err.contains("line break"), "{err}");
        let err = substitute_argv(&hook, &argv(&["{config.tier}"]), &doc).unwrap_err();
        assert!(err.contains("program cannot be a placeholder"), "{err}");
        let err = substitute_argv(&hook, &argv(&["k", "{missing}"]), &doc).unwrap_err();
        assert!(err.contains("resources.missing has no value"), "{err}");
    }

    #[test]
    fn read_output_is_json_or_name_value_lines() {
        let base = json!({"resources": {"replicas": 3, "nodes": 2}, "config": {"tier": "gold"}});
        let from_json =
            values_from_read(&hook(), r#"{"replicas": 5, "config.tier": "iron"}"#, &base).unwrap();
        assert_eq!(from_json["resources"]["replicas"], json!(5));
        assert_eq!(from_json["config"]["tier"], json!("iron"));
        let from_lines =
            values_from_read(&hook(), "# now\nreplicas=6\n\nnodes = 9\n", &base).unwrap();
        assert_eq!(from_lines["resources"]["replicas"], json!(6));
        assert_eq!(
            from_lines["pool"]["size"],
            json!(9),
            "keys put nodes at pool.size"
        );
        assert!(values_from_read(&hook(), "replicas 6", &base).is_err());
        assert!(values_from_read(&hook(), r#"{"replicas": [1]}"#, &base).is_err());
        // Names that are no placeholder's (an empty step would set a key named ""), and no
        // value at all, are refused rather than set.
        for bad in ["=5", ".replicas=5", "config..tier=x", "config.=x"] {
            let err = values_from_read(&hook(), bad, &base).unwrap_err();
            assert!(err.contains("not a placeholder's name"), "{bad}: {err}");
        }
        let err = values_from_read(&hook(), r#"{"replicas": null}"#, &base).unwrap_err();
        assert!(err.contains("not a single value"), "{err}");
    }

    #[test]
    fn every_command_of_a_try_is_substituted_and_a_rollback_that_could_not_run_refuses_it() {
        let yaml = "app: shop\nbootstrap: { resources: { replicas: 3 }, config: { tier: gold } }\n\
                    dynamic_metadata:\n  configuration_hooks:\n    - { name: c, kind: command, state_dir: /tmp/s/, \
                    test: { command: [t, \"--n={replicas}\"] }, apply: [a, \"{replicas}\"], \
                    check: [c, \"{replicas}\"], rollback: [r, \"{config.tier}\"] }\n";
        let t = presage_template::parse(yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        let hook = &t.dynamic_metadata.configuration_hooks[0];
        let candidate = json!({"resources": {"replicas": 7}, "config": {"tier": "gold"}});
        let previous = json!({"resources": {"replicas": 3}, "config": {"tier": "gold"}});
        assert_eq!(
            prepare_commands(hook, &candidate, &previous).unwrap(),
            Commands {
                test: Some(argv(&["t", "--n=7"])),
                apply: argv(&["a", "7"]),
                check: Some(argv(&["c", "7"])),
            }
        );
        // The previous values would make the rollback's argument a flag: refused up front.
        let previous = json!({"resources": {"replicas": 3}, "config": {"tier": "-rf"}});
        let err = prepare_commands(hook, &candidate, &previous).unwrap_err();
        assert!(err.contains("read as a flag"), "{err}");
    }
}
