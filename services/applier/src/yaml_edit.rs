//! Writing a changed YAML configuration as edits of the user's own text, so its comments, key
//! order, quoting and layout survive a directive.
//!
//! A directive changes a few scalars (`resources.replicas: 12` → `14`). When every difference
//! between the live document and the candidate is a scalar that the live text writes as a plain
//! scalar on one line, each is replaced where it stands and the rest of the text is kept byte
//! for byte. Anything else (a key added or removed, a list that changed length, a quoted or
//! multi-line scalar, anchors shared by several paths) returns `None`, and the caller writes the
//! whole document. The edited text is parsed again and must equal the candidate, so an edit can
//! only ever write what a whole rewrite would have meant.

use std::collections::HashMap;

use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A step into a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Step {
    Key(String),
    Index(usize),
}

type Path = Vec<Step>;

/// The candidate written over `old_text`, or `None` when it cannot be done as in-place edits.
pub fn edit_in_place(old_text: &str, candidate: &Value) -> Option<String> {
    let old: Value = yaml_serde::from_str(old_text).ok()?;
    let mut changes = Vec::new();
    diff(&old, candidate, &mut Vec::new(), &mut changes)?;
    if changes.is_empty() {
        return Some(old_text.to_string());
    }
    let spans = plain_scalar_spans(old_text)?;
    let mut edits: Vec<(usize, usize, String)> = changes
        .into_iter()
        .map(|(path, value)| {
            let (start, end) = *spans.get(&path)?;
            Some((start, end, scalar_text(value)?))
        })
        .collect::<Option<_>>()?;
    edits.sort_by_key(|(start, ..)| std::cmp::Reverse(*start));
    let mut text = old_text.to_string();
    for (start, end, replacement) in edits {
        text.replace_range(start..end, &replacement);
    }
    let reread: Value = yaml_serde::from_str(&text).ok()?;
    (reread == *candidate).then_some(text)
}

/// The scalars that differ between `old` and `new`, by path; `None` when the two differ in
/// shape (keys added or removed, sequences of another length, a scalar became a collection).
fn diff<'v>(
    old: &Value,
    new: &'v Value,
    at: &mut Path,
    changes: &mut Vec<(Path, &'v Value)>,
) -> Option<()> {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            if old.len() != new.len() {
                return None;
            }
            for (key, new_value) in new {
                at.push(Step::Key(key.clone()));
                diff(old.get(key)?, new_value, at, changes)?;
                at.pop();
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            if old.len() != new.len() {
                return None;
            }
            for (index, (old_value, new_value)) in old.iter().zip(new).enumerate() {
                at.push(Step::Index(index));
                diff(old_value, new_value, at, changes)?;
                at.pop();
            }
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => {
            return None
        }
        (old, new) if old == new => {}
        (_, new) => changes.push((at.clone(), new)),
    }
    Some(())
}

/// A scalar as it can stand in place of a plain one on a single line.
fn scalar_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => yaml_serde::to_string(value).ok()?.trim_end().to_string(),
        Value::Array(_) | Value::Object(_) => return None,
    };
    (!text.contains('\n')).then_some(text)
}

/// Byte spans of the value scalars written plain on one line, by path. `None` when the text
/// does not parse, uses anchors (one span would then stand for several paths) or has
/// collections as keys.
fn plain_scalar_spans(text: &str) -> Option<HashMap<Path, (usize, usize)>> {
    let mut walker = Walker::default();
    Parser::new_from_str(text).load(&mut walker, false).ok()?;
    if walker.unsupported {
        return None;
    }
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let mut spans = HashMap::new();
    for (path, (line, column), value) in walker.plain {
        let start = byte_at(text, &line_starts, line, column)?;
        let end = start + value.len();
        // Only where the source is the value itself: no escapes, no folding.
        if text.get(start..end) == Some(value.as_str()) {
            spans.insert(path, (start, end));
        }
    }
    Some(spans)
}

/// The byte offset of a marker's line (1-based) and column (chars, 0-based). Not its
/// `index`: yaml-rust2 advances that by bytes over block scalars, so after a `|` block holding
/// `é` every later index would be off.
fn byte_at(text: &str, line_starts: &[usize], line: usize, column: usize) -> Option<usize> {
    let start = *line_starts.get(line.checked_sub(1)?)?;
    let rest = text.get(start..)?;
    rest.char_indices()
        .map(|(byte, _)| byte)
        .chain(std::iter::once(rest.len()))
        .nth(column)
        .map(|byte| start + byte)
}

/// Where each collection is in its walk: a mapping waits for a key or a value, a sequence
/// counts its items.
#[derive(Debug)]
enum Frame {
    Mapping { key: Option<String> },
    Sequence { next: usize },
}

#[derive(Debug, Default)]
struct Walker {
    stack: Vec<Frame>,
    /// The path of each collection on the stack, and of the node being read.
    path: Path,
    plain: Vec<(Path, (usize, usize), String)>,
    /// Anchors, aliases or collections as mapping keys: spans would not map to one path.
    unsupported: bool,
}

impl Walker {
    /// A node begins: the step it is at (its key, or its index), or `None` for a mapping key.
    fn enter_node(&mut self) -> Option<Step> {
        match self.stack.last_mut() {
            None => Some(Step::Index(usize::MAX)), // the document root
            Some(Frame::Sequence { next }) => {
                let step = Step::Index(*next);
                *next += 1;
                Some(step)
            }
            Some(Frame::Mapping { key }) => key.take().map(Step::Key),
        }
    }

    fn scalar(&mut self, value: String, style: TScalarStyle, mark: Marker) {
        let is_key = matches!(self.stack.last(), Some(Frame::Mapping { key: None }));
        if is_key {
            if let Some(Frame::Mapping { key }) = self.stack.last_mut() {
                *key = Some(value);
            }
            return;
        }
        let Some(step) = self.enter_node() else {
            return;
        };
        if step == Step::Index(usize::MAX) {
            return;
        }
        if style == TScalarStyle::Plain {
            let mut path = self.path.clone();
            path.push(step);
            self.plain.push((path, (mark.line(), mark.col()), value));
        }
    }

    fn open(&mut self, frame: Frame) {
        match self.enter_node() {
            Some(Step::Index(usize::MAX)) => {}
            Some(step) => self.path.push(step),
            None => {
                // A collection as a mapping key: no path to give it.
                self.unsupported = true;
                self.path.push(Step::Index(usize::MAX));
            }
        }
        self.stack.push(frame);
    }

    fn close(&mut self) {
        self.stack.pop();
        if !self.stack.is_empty() {
            self.path.pop();
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, style, anchor, _) => {
                self.unsupported |= anchor != 0;
                self.scalar(value, style, mark);
            }
            Event::MappingStart(anchor, _) => {
                self.unsupported |= anchor != 0;
                self.open(Frame::Mapping { key: None });
            }
            Event::SequenceStart(anchor, _) => {
                self.unsupported |= anchor != 0;
                self.open(Frame::Sequence { next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => self.close(),
            Event::Alias(_) => {
                self.unsupported = true;
                let _ = self.enter_node();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "\
# The shop's settings: edited by hand, scaled by Presage.
resources:
  replicas: 12   # Presage keeps this in step with demand
  memory_mb: 2048
config:
  cache_mb: 512
  name: 'shop'    # quoted on purpose
  zones: [a, b]
";

    fn candidate(edit: impl FnOnce(&mut Value)) -> Value {
        let mut doc: Value = yaml_serde::from_str(LIVE).unwrap();
        edit(&mut doc);
        doc
    }

    #[test]
    fn a_changed_number_is_replaced_where_it_stands_and_every_comment_and_key_stays() {
        let new = candidate(|doc| {
            doc["resources"]["replicas"] = 14.into();
            doc["config"]["cache_mb"] = 1024.into();
        });
        let text = edit_in_place(LIVE, &new).unwrap();
        assert_eq!(
            text,
            LIVE.replace("replicas: 12 ", "replicas: 14 ")
                .replace("cache_mb: 512", "cache_mb: 1024")
        );
    }

    #[test]
    fn text_outside_ascii_before_a_scalar_does_not_move_its_span() {
        // A block scalar with accents, then a line with several multi-byte characters before
        // the value.
        let live = "note: |\n  café crème — à emporter\nname: Zoë # née\nreplicas: 12 # ✓\n";
        let mut new: Value = yaml_serde::from_str(live).unwrap();
        new["replicas"] = 13.into();
        assert_eq!(
            edit_in_place(live, &new).unwrap(),
            live.replace("replicas: 12", "replicas: 13")
        );
    }

    #[test]
    fn nothing_changed_keeps_the_text_byte_for_byte() {
        assert_eq!(edit_in_place(LIVE, &candidate(|_| {})).unwrap(), LIVE);
    }

    #[test]
    fn items_of_a_flow_sequence_are_edited_too() {
        let new = candidate(|doc| doc["config"]["zones"][1] = "c".into());
        assert_eq!(
            edit_in_place(LIVE, &new).unwrap(),
            LIVE.replace("[a, b]", "[a, c]")
        );
    }

    #[test]
    fn a_string_that_needs_quotes_is_written_quoted() {
        let new = candidate(|doc| doc["resources"]["memory_mb"] = "2048 MB: big".into());
        let text = edit_in_place(LIVE, &new).unwrap();
        let reread: Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(reread, new);
        assert!(text.contains("# Presage keeps this in step with demand"));
    }

    #[test]
    fn shapes_that_cannot_be_edited_in_place_are_left_to_a_whole_rewrite() {
        let added = candidate(|doc| doc["resources"]["cpu"] = 2.into());
        assert_eq!(edit_in_place(LIVE, &added), None, "a key added");
        let removed = candidate(|doc| {
            doc["config"].as_object_mut().unwrap().remove("cache_mb");
        });
        assert_eq!(edit_in_place(LIVE, &removed), None, "a key removed");
        let quoted = candidate(|doc| doc["config"]["name"] = "store".into());
        assert_eq!(edit_in_place(LIVE, &quoted), None, "a quoted scalar");
        let anchored = "base: &b 1\ncopy: *b\n";
        let new: Value = serde_json::json!({"base": 2, "copy": 1});
        assert_eq!(edit_in_place(anchored, &new), None, "an anchored scalar");
    }
}
