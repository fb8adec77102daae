//! Env files as systemd's `EnvironmentFile=` and a POSIX shell's `set -a; . file` both read
//! them, and an env hook's variables written into one. Pure.
//!
//! Reading: each `KEY=value` line (an optional `export ` before it) sets a variable; blank
//! lines and lines starting with `#` are comments; any other line is kept but sets nothing. A
//! value in double quotes has `\"`, `\\`, `\$` and `` \` `` read as the character after the
//! backslash (other backslashes stay); in single quotes it is taken as written; unquoted it is
//! the text after `=`, trimmed.
//!
//! Writing: only the hook's variables change. Each line setting one is rewritten in place (its
//! `export ` kept, every occurrence, so the last one cannot win with an old value); variables
//! not yet in the file are appended in the hook's order; every other line, comments and blank
//! lines included, is kept byte for byte. A value made only of `A-Z a-z 0-9 _ . / : , @ % + = -`
//! is written bare; any other is written in double quotes with `"`, `\`, `$` and `` ` `` escaped,
//! which both readers undo. A line break or NUL cannot be written (refused earlier, where the
//! value is made: see [`crate::argv`]).

use presage_template::{placeholders, ConfigurationHook, Piece, Template};
use serde_json::Value;

use crate::argv::{substitute, value_of_text};
use crate::document::set_path;

/// The variables `text` sets, in file order (a later line for the same name wins, as in both
/// readers).
pub fn read_vars(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(parse_line)
        .map(|(_, k, v)| (k, v))
        .collect()
}

/// `(export prefix, key, value)` of a line that sets a variable.
fn parse_line(line: &str) -> Option<(bool, String, String)> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let (exported, rest) = match trimmed.strip_prefix("export ") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, trimmed),
    };
    let (key, value) = rest.split_once('=')?;
    let key = key.trim_end();
    if !is_name(key) {
        return None;
    }
    Some((exported, key.to_string(), unquote(value.trim())))
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'') {
        return inner.split('\'').next().unwrap_or_default().to_string();
    }
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// A value as it is written after `KEY=`: bare when both readers take it as it is, else
/// double-quoted and escaped.
pub fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:,@%+=-".contains(c));
    if bare {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `previous` (or an empty file) with `vars` set, every other line kept, its line ending too
/// (`\r\n` stays `\r\n`; a last line without one stays without, unless a variable is
/// appended after it).
pub fn write_vars(previous: Option<&str>, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut written = std::collections::HashSet::new();
    for raw in previous.unwrap_or_default().split_inclusive('\n') {
        let line = raw
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(raw);
        let ending = &raw[line.len()..];
        let replaced = parse_line(line).and_then(|(exported, key, _)| {
            let (_, value) = vars.iter().find(|(k, _)| *k == key)?;
            written.insert(key.clone());
            let export = if exported { "export " } else { "" };
            Some(format!("{export}{key}={}", quote(value)))
        });
        out.push_str(replaced.as_deref().unwrap_or(line));
        out.push_str(ending);
    }
    for (key, value) in vars {
        if !written.contains(key) {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{key}={}\n", quote(value)));
        }
    }
    out
}

/// The configuration document an env file stands for: the bootstrap, with each value a hook's
/// variable holds read back through the variable's text. Only a variable whose text has one
/// placeholder can be read back (`-Xmx{memory_mb}m` from `-Xmx2048m`); its value is a number
/// when it reads as one. A variable missing, or not matching its text, leaves the bootstrap's.
pub fn document_of(hook: &ConfigurationHook, template: &Template, text: &str) -> Value {
    let mut doc = template.bootstrap_doc();
    let live = read_vars(text);
    for (var, pattern) in &hook.vars {
        let Some((_, value)) = live.iter().rev().find(|(k, _)| k == var) else {
            continue;
        };
        let Ok(pieces) = placeholders(pattern) else {
            continue;
        };
        let holes: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Hole(h) => Some(h.name.as_str()),
                Piece::Text(_) => None,
            })
            .collect();
        let [name] = holes[..] else { continue };
        let prefix = match pieces.first() {
            Some(Piece::Text(t)) => t.as_str(),
            _ => "",
        };
        let suffix = match pieces.last() {
            Some(Piece::Text(t)) if pieces.len() > 1 => t.as_str(),
            _ => "",
        };
        let Some(inner) = value
            .strip_prefix(prefix)
            .and_then(|v| v.strip_suffix(suffix))
        else {
            continue;
        };
        set_path(&mut doc, &hook.placeholder_path(name), value_of_text(inner));
    }
    doc
}

/// The env file's text for `candidate`: the hook's variables, each its text with the
/// candidate's values, written over `previous`. Err: a value that cannot be written.
pub fn text_of(
    hook: &ConfigurationHook,
    previous: Option<&str>,
    candidate: &Value,
) -> Result<String, String> {
    let vars = hook
        .vars
        .iter()
        .map(|(var, pattern)| Ok((var.clone(), substitute(hook, pattern, candidate, false)?)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|why| format!("refused before anything was written: {why}"))?;
    Ok(write_vars(previous, &vars))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "# checkout's environment\n\nexport REPLICAS=3\nJAVA_OPTS=\"-Xmx1024m -Dx=1\"\nOTHER='kept $as is'\nnot a variable line\nREPLICAS=4\n";

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_are_read_with_both_quotings() {
        assert_eq!(
            read_vars(LIVE),
            vars(&[
                ("REPLICAS", "3"),
                ("JAVA_OPTS", "-Xmx1024m -Dx=1"),
                ("OTHER", "kept $as is"),
                ("REPLICAS", "4"),
            ])
        );
        assert_eq!(
            read_vars(r#"A="say \"hi\" \$HOME \\ \n""#),
            vars(&[("A", r#"say "hi" $HOME \ \n"#)])
        );
    }

    #[test]
    fn only_the_hook_s_variables_change_and_comments_stay() {
        let out = write_vars(
            Some(LIVE),
            &vars(&[
                ("REPLICAS", "7"),
                ("JAVA_OPTS", "-Xmx2048m -Dx=1"),
                ("NEW", "a\"b$c`d\\e"),
            ]),
        );
        assert_eq!(
            out,
            "# checkout's environment\n\nexport REPLICAS=7\nJAVA_OPTS=\"-Xmx2048m -Dx=1\"\nOTHER='kept $as is'\nnot a variable line\nREPLICAS=7\nNEW=\"a\\\"b\\$c\\`d\\\\e\"\n"
        );
        // What is written reads back as the values given.
        let back = read_vars(&out);
        assert_eq!(
            back.last().unwrap(),
            &("NEW".to_string(), "a\"b$c`d\\e".to_string())
        );
        assert_eq!(write_vars(None, &vars(&[("A", "")])), "A=\"\"\n");
    }

    #[test]
    fn line_endings_are_kept_as_the_file_has_them() {
        // CRLF lines stay CRLF, the one rewritten too; a last line without a newline keeps
        // none, unless a variable is appended after it.
        let crlf = "# windows\r\nREPLICAS=3\r\nOTHER=x";
        assert_eq!(
            write_vars(Some(crlf), &vars(&[("REPLICAS", "5")])),
            "# windows\r\nREPLICAS=5\r\nOTHER=x"
        );
        assert_eq!(
            write_vars(Some(crlf), &vars(&[("NEW", "1")])),
            "# windows\r\nREPLICAS=3\r\nOTHER=x\nNEW=1\n"
        );
        assert_eq!(read_vars(crlf), vars(&[("REPLICAS", "3"), ("OTHER", "x")]));
    }

    #[test]
    fn values_are_read_back_through_their_variable_s_text() {
        let t = presage_template::parse(
            "app: shop\nbootstrap: { resources: { replicas: 3, memory_mb: 1024 } }\n\
             dynamic_metadata:\n  configuration_hooks:\n    - { name: env, kind: env, path: /tmp/a.env, vars: { REPLICAS: \"{replicas}\", JAVA_OPTS: \"-Xmx{memory_mb}m -Dx=1\" } }\n",
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let hook = &t.dynamic_metadata.configuration_hooks[0];
        let doc = document_of(hook, &t, LIVE);
        assert_eq!(doc["resources"]["replicas"], 4, "the last line wins");
        assert_eq!(doc["resources"]["memory_mb"], 1024);
        let doc = document_of(hook, &t, "JAVA_OPTS=\"-Xmx4096m -Dx=1\"\n");
        assert_eq!(doc["resources"]["memory_mb"], 4096);
        assert_eq!(doc["resources"]["replicas"], 3, "missing: the bootstrap's");
        let text = text_of(hook, Some("# mine\n"), &doc).unwrap();
        assert_eq!(text, "# mine\nJAVA_OPTS=\"-Xmx4096m -Dx=1\"\nREPLICAS=3\n");
    }
}
