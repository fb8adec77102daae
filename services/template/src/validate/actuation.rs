//! The fields of `command` and `env` hooks: argv templates and env variables, their
//! placeholders (each must name a value the configuration document has), and the fields each
//! kind needs. Fields that belong to another kind are reported, not silently ignored.

use serde_json::Value;

use crate::finding::Finding;
use crate::model::{placeholders, ConfigurationHook, HookKind, Piece, Template};
use crate::path::YamlPath;

use super::recipes::is_identifier;

pub(super) fn check(t: &Template, h: &ConfigurationHook, p: &YamlPath, out: &mut Vec<Finding>) {
    let name = &h.name;
    let doc = t.bootstrap_doc();
    foreign_fields(h, p, out);
    match h.kind {
        HookKind::Command => {
            if h.apply.is_none() {
                out.push(
                    Finding::at(
                        p.clone(),
                        format!(
                            "command hook {name:?} has no apply: expected apply: [program, \
                             \"--replicas={{replicas}}\"]"
                        ),
                    )
                    .reading([p.key("apply")]),
                );
            }
            for (field, argv) in h.commands() {
                let at = p.key(field);
                if argv.is_empty() {
                    out.push(Finding::at(
                        at.clone(),
                        format!("{field} of hook {name:?} is empty: expected [program, args...]"),
                    ));
                }
                // `read` prints the values and is run as written (braces and all, as in a
                // kubectl jsonpath): only the others take placeholders.
                if field != "read" {
                    argv_placeholders(h, &doc, argv, &at, out);
                } else {
                    fixed_program(argv, &at, out);
                }
            }
            if let Some(argv) = h.test.as_ref().and_then(|t| t.command.as_ref()) {
                argv_placeholders(h, &doc, argv, &p.key("test").key("command"), out);
            }
            if h.test.as_ref().is_some_and(|t| t.http.is_some()) {
                out.push(Finding::at(
                    p.key("test").key("http"),
                    format!(
                        "command hook {name:?} tests with test.command only: expected a \
                         command (its check after the apply is `check`)"
                    ),
                ));
            }
            if h.state_dir.as_deref().is_none_or(|s| s.trim().is_empty()) {
                out.push(
                    Finding::at(
                        p.clone(),
                        format!(
                            "command hook {name:?} has no state_dir: expected state_dir: \
                             /var/lib/presage/ (its journal and lock, granted by the operator)"
                        ),
                    )
                    .reading([p.key("state_dir")]),
                );
            }
            if h.timeout.is_some_and(|d| d.is_zero()) {
                out.push(Finding::at(
                    p.key("timeout"),
                    format!(
                        "timeout of hook {name:?} is 0s: expected a positive duration like 30s"
                    ),
                ));
            }
        }
        HookKind::Env => {
            if h.vars.is_empty() {
                out.push(
                    Finding::at(
                        p.clone(),
                        format!(
                            "env hook {name:?} has no vars: expected vars: {{ REPLICAS: \
                             \"{{replicas}}\" }}"
                        ),
                    )
                    .reading([p.key("vars")]),
                );
            }
            for (var, value) in &h.vars {
                let at = p.key("vars").key(var);
                // What systemd's `EnvironmentFile` and a POSIX shell both take as a name: an
                // identifier, as a recipe's column is.
                if !is_identifier(var) {
                    out.push(Finding::at_key(
                        at.clone(),
                        format!(
                            "{var:?} of hook {name:?} is not an environment variable name: \
                             expected letters, digits and _, not starting with a digit"
                        ),
                    ));
                }
                if let Some(offset) = value.find(['\n', '\r', '\0']) {
                    out.push(Finding::in_scalar(
                        at.clone(),
                        value[..offset].chars().count(),
                        format!("value of {var:?} holds a line break or NUL: expected one line"),
                    ));
                }
                text_placeholders(h, &doc, value, &at, out);
            }
        }
        // Optional: without it the hook keeps no state and a SIGKILL mid-change can leave a
        // change whose check failed in force (the README says so); with it, it must name a
        // directory.
        HookKind::Http | HookKind::Kubernetes => {
            if h.state_dir.as_deref().is_some_and(|s| s.trim().is_empty()) {
                out.push(Finding::at(
                    p.key("state_dir"),
                    format!(
                        "state_dir of hook {name:?} is empty: expected a directory like \
                         /var/lib/presage/ (its journal and lock, granted by the operator)"
                    ),
                ));
            }
        }
        HookKind::File => {}
    }
}

/// `command`-hook fields on another kind, `vars` off an env hook, and the file and http fields a
/// command or env hook never reads: the template means something the hook would not do (a
/// command hook's `reload` would even need a grant for a command that never runs).
fn foreign_fields(h: &ConfigurationHook, p: &YamlPath, out: &mut Vec<Finding>) {
    let kind = match h.kind {
        HookKind::File => "a file",
        HookKind::Http => "an http",
        HookKind::Command => "a command",
        HookKind::Env => "an env",
        HookKind::Kubernetes => "a kubernetes",
    };
    let mut foreign: Vec<&str> = Vec::new();
    if h.kind != HookKind::Command {
        foreign.extend(h.commands().into_iter().map(|(field, _)| field));
        // An http or kubernetes hook journals its intent there (crash semantics), as a command
        // hook does; a file or env hook's journal is beside its live file.
        if h.state_dir.is_some() && !matches!(h.kind, HookKind::Http | HookKind::Kubernetes) {
            foreign.push("state_dir");
        }
        if h.timeout.is_some() {
            foreign.push("timeout");
        }
    }
    if h.kind != HookKind::Env && !h.vars.is_empty() {
        foreign.push("vars");
    }
    for field in foreign {
        out.push(Finding::at_key(
            p.key(field),
            format!(
                "{field} does not apply to {kind} hook ({:?}): apply, check, rollback, read, \
                 state_dir and timeout are a command hook's (state_dir also an http or \
                 kubernetes hook's), vars an env hook's",
                h.name
            ),
        ));
    }
    let (unread, instead): (&[(&str, bool)], &str) = match h.kind {
        HookKind::Command => (
            &[
                ("path", h.path.is_some()),
                ("format", h.format.is_some()),
                ("url", h.url.is_some()),
                ("reload", h.reload.is_some()),
            ],
            "its commands apply the values, with no file, url or reload",
        ),
        HookKind::Env => (
            &[("url", h.url.is_some()), ("format", h.format.is_some())],
            "it writes KEY=value lines to the env file at path",
        ),
        HookKind::Kubernetes => (
            &[
                ("path", h.path.is_some()),
                ("format", h.format.is_some()),
                ("url", h.url.is_some()),
                ("reload", h.reload.is_some()),
            ],
            "it changes the workload through the Kubernetes API, with no file, url or reload",
        ),
        HookKind::File | HookKind::Http => (&[], ""),
    };
    for (field, _) in unread.iter().filter(|(_, set)| *set) {
        out.push(Finding::at_key(
            p.key(field),
            format!(
                "{field} does not apply to {kind} hook ({:?}): {instead}",
                h.name
            ),
        ));
    }
}

fn argv_placeholders(
    h: &ConfigurationHook,
    doc: &Value,
    argv: &[String],
    at: &YamlPath,
    out: &mut Vec<Finding>,
) {
    fixed_program(argv, at, out);
    for (i, arg) in argv.iter().enumerate().skip(1) {
        text_placeholders(h, doc, arg, &at.index(i), out);
    }
}

/// The allow-list grants the program as written: no value may choose it.
fn fixed_program(argv: &[String], at: &YamlPath, out: &mut Vec<Finding>) {
    if let Some(program) = argv.first().filter(|p| p.contains('{')) {
        out.push(Finding::at(
            at.index(0),
            format!("the program {program:?} cannot hold a placeholder: expected a fixed program"),
        ));
    }
}

/// Every placeholder of `text` must parse and name a scalar of the bootstrap document (where
/// the candidate's values come from).
pub(super) fn text_placeholders(
    h: &ConfigurationHook,
    doc: &Value,
    text: &str,
    at: &YamlPath,
    out: &mut Vec<Finding>,
) {
    let column = |byte: usize| text[..byte].chars().count();
    let pieces = match placeholders(text) {
        Ok(pieces) => pieces,
        Err((offset, why)) => {
            out.push(Finding::in_scalar(at.clone(), column(offset), why));
            return;
        }
    };
    for piece in pieces {
        let Piece::Hole(hole) = piece else { continue };
        let why = if hole.name == "shadow" {
            // An env hook's test reads the shadow file; a value or argv of the candidate has
            // no shadow file to name.
            Some("`{shadow}` is only for an env or file hook's test.command".to_string())
        } else {
            let path = h.placeholder_path(&hole.name);
            match h.placeholder_value(doc, &hole.name) {
                Some(v) if !v.is_object() && !v.is_array() => None,
                Some(_) => Some(format!(
                    "`{{{}}}` names {path}, which is not a single value",
                    hole.name
                )),
                None => Some(format!(
                    "unknown placeholder `{{{}}}`: {path} is not in the bootstrap (expected a \
                     resource such as {{replicas}} or a path such as {{config.worker_threads}})",
                    hole.name
                )),
            }
        };
        if let Some(why) = why {
            out.push(Finding::in_scalar(at.clone(), column(hole.offset), why));
        }
    }
}
