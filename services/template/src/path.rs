//! Paths to nodes of a template, like `dynamic_metadata.metric_recipes[1].from`.
//!
//! They are the common language of the three passes: yaml_serde names the node of an error by
//! such a path, the validator names the node of a semantic mistake by one, and the node index
//! turns either into a line and column. Paths are kept as segments rather than strings because
//! keys may contain dots (label names in a recipe's `filter`, for instance).

use std::fmt;

use yaml_serde::Value;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct YamlPath(Vec<Seg>);

impl YamlPath {
    pub(crate) fn root() -> Self {
        YamlPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_string()));
        YamlPath(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        YamlPath(segs)
    }

    /// Builds a path from dotted keys only, e.g. `keys(&["dynamic_metadata", "sources"])`.
    pub(crate) fn keys(keys: &[&str]) -> Self {
        YamlPath(keys.iter().map(|k| Seg::Key((*k).to_string())).collect())
    }

    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }

    pub(crate) fn from_segs(segs: Vec<Seg>) -> Self {
        YamlPath(segs)
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn parent(&self) -> Option<YamlPath> {
        let (_, init) = self.0.split_last()?;
        Some(YamlPath(init.to_vec()))
    }

    pub(crate) fn starts_with(&self, prefix: &YamlPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// True when one path contains the other (or they are equal).
    pub(crate) fn overlaps(&self, other: &YamlPath) -> bool {
        self.starts_with(other) || other.starts_with(self)
    }

    /// Reads yaml_serde's rendering of a path back into segments, using the document to decide
    /// where keys end (a key may itself contain `.` or `[`). None if it names no node.
    pub(crate) fn resolve(text: &str, doc: &Value) -> Option<YamlPath> {
        if text == "." {
            return Some(YamlPath::root());
        }
        let mut segs = Vec::new();
        resolve_in(text, doc, true, &mut segs).then_some(YamlPath(segs))
    }

    pub(crate) fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(doc, |node, seg| match seg {
            Seg::Key(k) => node.as_mapping()?.get(k.as_str()),
            Seg::Index(i) => node.as_sequence()?.get(*i),
        })
    }

    /// Removes the node from the document; false if there was none (or it is the root).
    pub(crate) fn remove(&self, doc: &mut Value) -> bool {
        let Some((last, init)) = self.0.split_last() else {
            return false;
        };
        let mut node = doc;
        for seg in init {
            let next = match seg {
                Seg::Key(k) => node.as_mapping_mut().and_then(|m| m.get_mut(k.as_str())),
                Seg::Index(i) => node.as_sequence_mut().and_then(|s| s.get_mut(*i)),
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
        match last {
            Seg::Key(k) => node
                .as_mapping_mut()
                .and_then(|m| m.remove(k.as_str()))
                .is_some(),
            Seg::Index(i) => match node.as_sequence_mut() {
                Some(seq) if *i < seq.len() => {
                    seq.remove(*i);
                    true
                }
                _ => false,
            },
        }
    }
}

fn resolve_in(rest: &str, node: &Value, first: bool, segs: &mut Vec<Seg>) -> bool {
    if rest.is_empty() {
        return true;
    }
    if let Some(after) = rest.strip_prefix('[') {
        let Some((digits, after)) = after.split_once(']') else {
            return false;
        };
        let Ok(i) = digits.parse::<usize>() else {
            return false;
        };
        let Some(child) = node.as_sequence().and_then(|s| s.get(i)) else {
            return false;
        };
        segs.push(Seg::Index(i));
        if resolve_in(after, child, false, segs) {
            return true;
        }
        segs.pop();
        return false;
    }
    let rest = if first {
        rest
    } else {
        match rest.strip_prefix('.') {
            Some(r) => r,
            None => return false,
        }
    };
    let Some(map) = node.as_mapping() else {
        return false;
    };
    for (key, child) in map {
        let Some(key) = key.as_str() else { continue };
        let Some(after) = rest.strip_prefix(key) else {
            continue;
        };
        if !(after.is_empty() || after.starts_with('.') || after.starts_with('[')) {
            continue;
        }
        segs.push(Seg::Key(key.to_string()));
        if resolve_in(after, child, false, segs) {
            return true;
        }
        segs.pop();
    }
    false
}

/// The same rendering yaml_serde uses, so messages read alike whichever pass found them.
impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
