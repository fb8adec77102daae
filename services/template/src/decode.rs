//! Structural decoding that keeps going after the first error.
//!
//! serde stops at the first mistake. To report them all, the offending node is removed from a
//! copy of the document and decoding is tried again, until it succeeds or only the root is left
//! to blame. Removing a list element shifts the indexes after it, so a `Translator` maps paths
//! in the shrunken document back to the original one. The template that finally decodes is
//! partial (it lacks the removed nodes) but still worth checking semantically; findings that
//! read a removed node are dropped by the caller as echoes.

use std::collections::{BTreeSet, HashMap};

use yaml_serde::Value;

use crate::finding::Finding;
use crate::locate::Pos;
use crate::model::Template;
use crate::path::{Seg, YamlPath};

/// Each round removes one node, so this only bounds pathological inputs.
const MAX_ROUNDS: usize = 500;

/// Each round after the first writes the document out and reads it again, so the rounds cost
/// their number times the template's size: a 1 MiB template with 500 mistakes took minutes
/// (199 s in a debug build), long enough to stall every service's template feed. Past this many
/// bytes read again, the mistakes found so far are reported and the rest are not looked for.
const MAX_REREAD_BYTES: usize = 4 << 20;

#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// The decoded template; partial when `findings` is not empty.
    pub template: Option<Template>,
    pub findings: Vec<Finding>,
    /// Removed nodes, as paths in the original document.
    pub removed: Vec<YamlPath>,
    pub translator: Translator,
}

/// Maps a path in the document with elements removed to the same node's original path.
#[derive(Debug, Default)]
pub(crate) struct Translator {
    /// Original path of a list → original indexes removed from it.
    dropped: HashMap<YamlPath, BTreeSet<usize>>,
}

impl Translator {
    pub(crate) fn to_original(&self, path: &YamlPath) -> YamlPath {
        let mut out: Vec<Seg> = Vec::with_capacity(path.segs().len());
        for seg in path.segs() {
            let seg = match seg {
                Seg::Index(i) => match self.dropped.get(&YamlPath::from_segs(out.clone())) {
                    Some(gone) => Seg::Index(nth_kept(gone, *i)),
                    None => Seg::Index(*i),
                },
                key => key.clone(),
            };
            out.push(seg);
        }
        YamlPath::from_segs(out)
    }
}

/// The original index of the `n`th element that was not removed.
fn nth_kept(gone: &BTreeSet<usize>, n: usize) -> usize {
    (0..).filter(|i| !gone.contains(i)).nth(n).unwrap_or(n)
}

impl Decoded {
    fn remove(&mut self, doc: &mut Value, target: &YamlPath) -> bool {
        let original = self.translator.to_original(target);
        if !target.remove(doc) {
            return false;
        }
        if let (Some(Seg::Index(i)), Some(list)) = (original.segs().last(), original.parent()) {
            self.translator.dropped.entry(list).or_default().insert(*i);
        }
        self.removed.push(original);
        true
    }

    /// The `field` (e.g. `id`) of each element of `dynamic_metadata.<list>` that was removed,
    /// so that references to it are not reported as unknown on top of its own error.
    pub(crate) fn dropped_names(&self, original: &Value, list: &str, field: &str) -> Vec<String> {
        let list_path = YamlPath::keys(&["dynamic_metadata", list]);
        self.removed
            .iter()
            .filter(|p| p.parent().as_ref() == Some(&list_path))
            .filter_map(|p| p.key(field).get(original)?.as_str().map(str::to_string))
            .collect()
    }
}

pub(crate) fn decode(text: &str, original: &Value) -> Decoded {
    let mut doc = original.clone();
    let mut out = Decoded::default();
    let mut reread = 0;
    for round in 0..MAX_ROUNDS {
        // The first round reads the text itself, so serde's own positions are exact.
        let attempt = if round == 0 {
            yaml_serde::from_str::<Template>(text)
        } else {
            match yaml_serde::to_string(&doc) {
                Ok(t) if reread + t.len() > MAX_REREAD_BYTES => {
                    out.findings.push(Finding::at(
                        YamlPath::root(),
                        format!(
                            "stopped after {round} mistakes: in a template of {} bytes no \
                             more are looked for; fix these and validate again",
                            text.len()
                        ),
                    ));
                    return out;
                }
                Ok(t) => {
                    reread += t.len();
                    yaml_serde::from_str::<Template>(&t)
                }
                Err(e) => Err(e),
            }
        };
        let err = match attempt {
            Ok(template) => {
                out.template = Some(template);
                return out;
            }
            Err(err) => err,
        };
        let fallback = (round == 0).then(|| err.location()).flatten().map(|l| Pos {
            line: l.line(),
            column: l.column(),
        });
        let (at, problem) = split_error(&err, &doc);
        let original_at = out.translator.to_original(&at);
        let message = if at.is_root() {
            friendlier(&problem)
        } else {
            format!("{original_at}: {}", friendlier(&problem))
        };

        // What to report, and which node to remove so the next round gets further.
        let (finding, culprit) = if let Some(field) = backticked(&problem, "unknown field `") {
            let key = at.key(field);
            let finding = Finding::at_key(out.translator.to_original(&key), message);
            (Some(finding), key)
        } else if let Some(field) = backticked(&problem, "missing field `") {
            // Missing because an earlier round removed it: already reported.
            let echo = out.removed.contains(&original_at.key(field));
            ((!echo).then(|| Finding::at(original_at, message)), at)
        } else {
            (Some(Finding::at(original_at, message)), at)
        };
        if let Some(mut finding) = finding {
            finding.fallback = fallback;
            out.findings.push(finding);
        }
        if culprit.is_root() || !out.remove(&mut doc, &culprit) {
            return out;
        }
    }
    out
}

/// Splits yaml_serde's `path: problem at line L column C` into the path's node in `doc` and the
/// problem. The path is only taken as one if it names a node, since problems contain `: ` too.
fn split_error(err: &yaml_serde::Error, doc: &Value) -> (YamlPath, String) {
    let mut text = err.to_string();
    if let Some(loc) = err.location() {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        text = text.replacen(&suffix, "", 1);
    }
    for (i, _) in text.match_indices(": ") {
        if let Some(path) = YamlPath::resolve(&text[..i], doc) {
            return (path, text[i + 2..].to_string());
        }
    }
    (YamlPath::root(), text)
}

/// The name between backticks after `prefix`, as in "unknown field `bogus`, expected ...".
fn backticked<'a>(problem: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = problem.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name)
}

/// Rust type names mean little to someone writing YAML.
fn friendlier(problem: &str) -> String {
    let mut out = problem
        .replace("expected f64", "expected a number")
        .replace("expected u16", "expected a whole number from 0 to 65535");
    if let Some(i) = out.find("expected struct ") {
        let name = out[i + "expected struct ".len()..].to_string();
        out = format!("{}expected a mapping ({name})", &out[..i]);
    }
    out
}
