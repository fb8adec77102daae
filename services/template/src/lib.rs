//! The typed Presage template: parsing, validation with file/line/column errors, and the
//! expression language of `validation_rules`, recipe filters and fragments (`rules`).
//!
//! A template goes through three passes, each in its own module:
//! 1. `locate`: yaml-rust2 events → a node index (path → line and column);
//! 2. `decode`: yaml_serde → the typed `model`, retrying past each structural error so that all
//!    of them are reported;
//! 3. `validate`: cross-field checks on the model, located through the node index.
//!
//! `parse` returns the template only when no pass found anything. Before any of them, and
//! during the first, the text is held to the bounds of `bounds` (size, nesting, aliases).

pub mod absent;
pub mod authority;
pub mod calendar;
pub mod constraints;
pub mod cron;
pub mod duration;
pub mod errors;
pub mod http_hook;
pub mod kubernetes;
pub mod model;
pub mod placement;
pub mod plan;
pub mod quantiles;
pub mod rules;
pub mod selector;
pub mod slo;
pub mod zone;

mod bounds;
mod decode;
mod finding;
mod locate;
mod path;
mod scalar;
mod validate;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use absent::{is_unknown_window, Absent};
pub use bounds::{
    MAX_ALIAS_NODES, MAX_REGEX_BYTES, MAX_REGEX_CACHE_BYTES, MAX_RULE_DEPTH, MAX_TEMPLATE_BYTES,
    MAX_YAML_DEPTH,
};
pub use constraints::{Constraints, Learned, MAX_GROUPS};
pub use duration::{Duration, ParseDurationError};
pub use errors::{TemplateError, TemplateErrors};
pub use kubernetes::{KubernetesHook, Workload, WorkloadKind};
pub use model::*;
pub use placement::{CgroupSelector, NodeScope, Placement};
pub use plan::PlanAhead;
pub use rules::{Assignment, Rule, RuleEvalError, RuleSyntaxError};
pub use selector::{MatchOp, Matcher, Selector, SelectorError};
pub use slo::{ReactiveSide, SloTarget};
pub use zone::{Zone, ZoneError};

use locate::{NodeIndex, Pos};
use path::YamlPath;
use validate::Dropped;

/// Parses and validates a template. `file` is only used to label errors.
pub fn parse(text: &str, file: &str) -> Result<Template, TemplateErrors> {
    if let Err(message) = bounds::check_size(text) {
        return Err(single(file, Pos::START, message));
    }
    let index = NodeIndex::build(text);
    if let Some((pos, message)) = index.breach() {
        return Err(single(file, *pos, message.clone()));
    }
    let doc: yaml_serde::Value = match yaml_serde::from_str(text) {
        Ok(doc) => doc,
        Err(e) => return Err(syntax_errors(&e, &index, file)),
    };
    if doc.is_null() {
        return Err(single(
            file,
            Pos::START,
            "the template is empty: expected a mapping with app and dynamic_metadata",
        ));
    }

    let decoded = decode::decode(text, &doc);
    let mut findings = decoded.findings.clone();
    findings.extend(slo::use_with_target(&doc));
    if let Some(template) = &decoded.template {
        let dropped = Dropped {
            source_ids: decoded.dropped_names(&doc, "sources", "id"),
            recipe_names: decoded.dropped_names(&doc, "metric_recipes", "name"),
        };
        for mut finding in validate::validate(template, &dropped) {
            // The template may lack removed nodes: map its paths back to the text's.
            finding.path = decoded.translator.to_original(&finding.path);
            finding.reads = finding
                .reads
                .iter()
                .map(|p| decoded.translator.to_original(p))
                .collect();
            let echo = finding
                .reads
                .iter()
                .any(|r| decoded.removed.iter().any(|gone| gone.overlaps(r)));
            if !echo {
                findings.push(finding);
            }
        }
    }

    match decoded.template {
        Some(template) if findings.is_empty() => Ok(template),
        _ if findings.is_empty() => Err(single(
            file,
            Pos::START,
            "the template could not be decoded: expected a mapping with app and dynamic_metadata",
        )),
        _ => Err(TemplateErrors::new(
            findings
                .into_iter()
                .map(|f| f.into_error(file, &index))
                .collect(),
        )),
    }
}

/// Holds any YAML text read from outside (a fragment body, a template read without `parse`)
/// to the template's bounds before yaml_serde reads it: at most `MAX_TEMPLATE_BYTES`, nested at
/// most `MAX_YAML_DEPTH` deep, aliases repeating at most `MAX_ALIAS_NODES` nodes. yaml_serde's
/// own limit lets 30 KB of aliases of one anchor expand to 80 MB. A text that is not YAML
/// passes: the parser that reads it next reports that.
pub fn check_yaml_bounds(text: &str, file: &str) -> Result<(), TemplateErrors> {
    match bounds::first_breach(text) {
        None => Ok(()),
        Some(((line, column), message)) => Err(single(file, Pos { line, column }, message)),
    }
}

/// Reads and parses a template file; an unreadable file is reported like any other mistake.
pub fn load(path: &Path) -> Result<Template, TemplateErrors> {
    let (text, file) = read_text(path, "the template")?;
    parse(&text, &file)
}

/// A file's text and its name for error messages; a file that cannot be read is reported like
/// any other mistake in it (`what` names it: "the template").
pub(crate) fn read_text(path: &Path, what: &str) -> Result<(String, String), TemplateErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, file)),
        Err(e) => Err(TemplateErrors::new(vec![TemplateError {
            file,
            line: 0,
            column: 0,
            message: format!("cannot read {what}: {e}"),
        }])),
    }
}

/// The template version every event carries: the first 16 hex digits of the SHA-256 of the
/// text. The text, not the model, is hashed, so the version is stable across crate versions.
pub fn version_of(text: &str) -> String {
    let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
    hex.truncate(16);
    hex
}

/// For `presage validate FILE...`: how many files are valid, and one `file:line:column: message`
/// line per mistake in the others.
pub fn report(paths: &[PathBuf]) -> (usize, Vec<String>) {
    let mut ok = 0;
    let mut lines = Vec::new();
    for path in paths {
        match load(path) {
            Ok(_) => ok += 1,
            Err(errors) => lines.extend(errors.iter().map(ToString::to_string)),
        }
    }
    (ok, lines)
}

/// Where the value of the node at `path` starts in `text`, as a 1-based (line, column); `path` is
/// written as errors write it, e.g. `dynamic_metadata.metric_recipes[2].sql`. For mistakes found
/// after parsing, such as a recipe's `sql` that DataFusion cannot plan. None when the text is not
/// YAML or has no such node.
pub fn position_of(text: &str, path: &str) -> Option<(usize, usize)> {
    bounds::check_size(text).ok()?;
    let index = NodeIndex::build(text);
    if index.breach().is_some() {
        return None;
    }
    let doc: yaml_serde::Value = yaml_serde::from_str(text).ok()?;
    let path = YamlPath::resolve(path, &doc)?;
    let pos = index.value_pos(&path)?;
    Some((pos.line, pos.column))
}

/// A text that is not YAML at all, or repeats a key, stops before decoding: there is no
/// document to recover with.
fn syntax_errors(err: &yaml_serde::Error, index: &NodeIndex, file: &str) -> TemplateErrors {
    let message = err.to_string();
    if message.contains("duplicate entry with key") && !index.duplicates().is_empty() {
        return TemplateErrors::new(
            index
                .duplicates()
                .iter()
                .map(|(path, pos)| duplicate_key(path, *pos, file))
                .collect(),
        );
    }
    let (message, pos) = match err.location() {
        Some(loc) => (
            message.replacen(
                &format!(" at line {} column {}", loc.line(), loc.column()),
                "",
                1,
            ),
            Pos {
                line: loc.line(),
                column: loc.column(),
            },
        ),
        None => (message, Pos::START),
    };
    single(file, pos, format!("invalid YAML: {message}"))
}

fn duplicate_key(path: &YamlPath, pos: Pos, file: &str) -> TemplateError {
    let key = match path.segs().last() {
        Some(path::Seg::Key(k)) => k.clone(),
        _ => path.to_string(),
    };
    let within = match path.parent() {
        Some(parent) if !parent.is_root() => format!(" in {parent}"),
        _ => String::new(),
    };
    TemplateError {
        file: file.to_string(),
        line: pos.line,
        column: pos.column,
        message: format!("duplicate key `{key}`{within}: expected each key at most once"),
    }
}

fn single(file: &str, pos: Pos, message: impl Into<String>) -> TemplateErrors {
    TemplateErrors::new(vec![TemplateError {
        file: file.to_string(),
        line: pos.line,
        column: pos.column,
        message: message.into(),
    }])
}
