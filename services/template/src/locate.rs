//! The node index: where each node of the template text starts, by path.
//!
//! serde gives a typed model but forgets positions, and the semantic checks run on that model.
//! So the text is read a second time with yaml-rust2's event parser, whose events carry markers,
//! and every node is recorded under the same path the model and yaml_serde use. A semantic error
//! then names its node by path and gets its line and column from here.
//!
//! The same walk watches the bounds of `bounds::Watch` (nesting, alias expansion), since it is
//! the first to read the text as YAML: it drives the event parser itself rather than through
//! yaml-rust2's loader, which recurses once per level of nesting.

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::bounds::{self, Watch};
use crate::path::YamlPath;

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };

    fn from_marker(m: Marker) -> Pos {
        // yaml-rust2 lines are 1-based but columns 0-based.
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

#[derive(Debug)]
struct Node {
    /// Where the value starts; for a mapping entry this is the value, not the key.
    value: Pos,
    /// Character index of `value`, to recognise block mappings (see `on_event`).
    value_index: usize,
    /// Where the key starts, for nodes that are mapping values.
    key: Option<Pos>,
    scalar: Option<(TScalarStyle, String)>,
}

#[derive(Debug, Default)]
pub(crate) struct NodeIndex {
    nodes: HashMap<YamlPath, Node>,
    /// Keys that repeat within one mapping, at their second (and later) occurrence.
    duplicates: Vec<(YamlPath, Pos)>,
    lines: Vec<String>,
    /// The first bound the text breaks, where it breaks it; the index ends there.
    breach: Option<(Pos, String)>,
}

impl NodeIndex {
    /// Indexes as much of the first document as parses. A syntax error is reported by
    /// yaml_serde, which reads the same text; here it only ends the index early. A broken
    /// bound ends it too, and is kept for `breach`.
    pub(crate) fn build(text: &str) -> NodeIndex {
        let mut builder = Builder::default();
        let mut watch = Watch::default();
        let mut breach = None;
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, marker) = match parser.next_token() {
                Ok(next) => next,
                Err(e) if bounds::is_scanner_depth_limit(&e) => {
                    breach = Some((Pos::from_marker(*e.marker()), bounds::too_deep()));
                    break;
                }
                Err(_) => break,
            };
            if matches!(event, Event::StreamEnd | Event::DocumentEnd) {
                break;
            }
            if let Err(message) = watch.observe(&event) {
                breach = Some((Pos::from_marker(marker), message));
                break;
            }
            builder.on_event(event, marker);
        }
        NodeIndex {
            nodes: builder.nodes,
            duplicates: builder.duplicates,
            lines: text.lines().map(str::to_string).collect(),
            breach,
        }
    }

    /// Where the text first goes past a bound of `bounds`, and which; nothing else about the
    /// text can be trusted to be cheap to read then.
    pub(crate) fn breach(&self) -> Option<&(Pos, String)> {
        self.breach.as_ref()
    }

    /// Where the node's value starts (a mapping starts at its first key or its `{`).
    pub(crate) fn value_pos(&self, path: &YamlPath) -> Option<Pos> {
        self.nodes.get(path).map(|n| n.value)
    }

    /// Where the key of a mapping entry starts.
    pub(crate) fn key_pos(&self, path: &YamlPath) -> Option<Pos> {
        self.nodes.get(path).and_then(|n| n.key)
    }

    /// The value position of the node, or of its closest indexed ancestor.
    pub(crate) fn nearest(&self, path: &YamlPath) -> Pos {
        let mut path = path.clone();
        loop {
            if let Some(pos) = self.value_pos(&path) {
                return pos;
            }
            match path.parent() {
                Some(parent) => path = parent,
                None => return Pos::START,
            }
        }
    }

    /// The position of the character `offset` (0-based, in characters) inside a scalar's text,
    /// when the scalar is written on one line without escapes so that text and source agree.
    pub(crate) fn inside_scalar(&self, path: &YamlPath, offset: usize) -> Option<Pos> {
        let node = self.nodes.get(path)?;
        let (style, text) = node.scalar.as_ref()?;
        let quote = match style {
            TScalarStyle::Plain => None,
            TScalarStyle::DoubleQuoted => Some('"'),
            TScalarStyle::SingleQuoted => Some('\''),
            TScalarStyle::Literal | TScalarStyle::Folded => {
                let folded = *style == TScalarStyle::Folded;
                return inside_block(&self.lines, node.value, folded, text, offset);
            }
        };
        let line: Vec<char> = self
            .lines
            .get(node.value.line.checked_sub(1)?)?
            .chars()
            .collect();
        let mut start = node.value.column - 1;
        if let Some(q) = quote {
            if line.get(start) != Some(&q) {
                return None;
            }
            start += 1;
        }
        let len = text.chars().count();
        let raw: String = line.get(start..start + len)?.iter().collect();
        (raw == *text && offset <= len).then_some(Pos {
            line: node.value.line,
            column: start + offset + 1,
        })
    }

    pub(crate) fn duplicates(&self) -> &[(YamlPath, Pos)] {
        &self.duplicates
    }
}

#[derive(Debug)]
enum Frame {
    Map {
        path: YamlPath,
        /// The key whose value comes next, with its position; None while a key is expected.
        key: Option<(String, Pos)>,
        seen: HashSet<String>,
        first_key: bool,
    },
    Seq {
        path: YamlPath,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    nodes: HashMap<YamlPath, Node>,
    duplicates: Vec<(YamlPath, Pos)>,
    stack: Vec<Frame>,
    /// Depth inside a complex (non-scalar) mapping key, which we do not index.
    skip_depth: usize,
}

impl Builder {
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// Records a mapping key. yaml-rust2 marks a block mapping's start after its first key, so
    /// the first key's position (when earlier) becomes the mapping's position.
    fn on_key(&mut self, key: String, pos: Pos, index: usize) {
        let Some(Frame::Map {
            path,
            key: slot,
            seen,
            first_key,
        }) = self.stack.last_mut()
        else {
            return;
        };
        if !seen.insert(key.clone()) {
            self.duplicates.push((path.key(&key), pos));
        }
        if std::mem::take(first_key) {
            if let Some(node) = self.nodes.get_mut(path) {
                if index < node.value_index {
                    node.value = pos;
                    node.value_index = index;
                }
            }
        }
        *slot = Some((key, pos));
    }

    /// The path of the node that starts now, and its key position if it is a mapping value.
    fn next_path(&mut self) -> (YamlPath, Option<Pos>) {
        match self.stack.last_mut() {
            None => (YamlPath::root(), None),
            Some(Frame::Map { path, key, .. }) => match key.take() {
                Some((k, pos)) => (path.key(&k), Some(pos)),
                None => (path.key("?"), None),
            },
            Some(Frame::Seq { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                (p, None)
            }
        }
    }

    fn record(&mut self, marker: Marker, scalar: Option<(TScalarStyle, String)>) -> YamlPath {
        let (path, key) = self.next_path();
        self.nodes.insert(
            path.clone(),
            Node {
                value: Pos::from_marker(marker),
                value_index: marker.index(),
                key,
                scalar,
            },
        );
        path
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        if self.skip_depth > 0 {
            match ev {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.skip_depth += 1,
                Event::MappingEnd | Event::SequenceEnd => {
                    self.skip_depth -= 1;
                    if self.skip_depth == 0 {
                        self.on_key("?".to_string(), Pos::from_marker(marker), usize::MAX);
                    }
                }
                _ => {}
            }
            return;
        }
        match ev {
            Event::Scalar(text, style, _, _) => {
                if self.expecting_key() {
                    self.on_key(text, Pos::from_marker(marker), marker.index());
                } else {
                    self.record(marker, Some((style, text)));
                }
            }
            Event::Alias(_) => {
                if self.expecting_key() {
                    self.on_key("?".to_string(), Pos::from_marker(marker), marker.index());
                } else {
                    self.record(marker, None);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) if self.expecting_key() => {
                self.skip_depth = 1;
            }
            Event::MappingStart(..) => {
                let path = self.record(marker, None);
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    seen: HashSet::new(),
                    first_key: true,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.record(marker, None);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Where character `offset` of a block scalar's text (`|` literal or `>` folded) is in the
/// source; `first` is its first content character (the node's value position). Source lines map
/// back by the block's indentation; the text rebuilt from them must agree with the scalar's, or
/// there is no position (more-indented folded lines, tabs, …).
fn inside_block(
    lines: &[String],
    first: Pos,
    folded: bool,
    text: &str,
    offset: usize,
) -> Option<Pos> {
    let indent = first.column.checked_sub(1)?;
    let text: Vec<char> = text.chars().collect();
    // Characters of the text accounted for by the source lines before this one.
    let mut cursor = 0;
    let mut previous_content = false;
    for (i, source) in lines.iter().enumerate().skip(first.line.checked_sub(1)?) {
        let chars: Vec<char> = source.chars().collect();
        let blank = chars.iter().all(|c| *c == ' ');
        if !blank && chars.iter().take(indent).any(|c| *c != ' ') {
            return None; // the block ended before the offset
        }
        if blank {
            // An empty line is a line break of its own; in a literal block so is the end of
            // the content line before it (folding drops that one).
            cursor += if !folded && previous_content { 2 } else { 1 };
            previous_content = false;
            continue;
        }
        if previous_content {
            // Between two content lines: a space when folded, a newline when literal.
            let expected = if folded { ' ' } else { '\n' };
            if text.get(cursor) != Some(&expected) {
                return None;
            }
            cursor += 1;
        }
        let content = &chars[indent..];
        if folded && content.first() == Some(&' ') {
            return None; // more-indented lines keep their breaks: not mapped
        }
        if text.get(cursor..cursor + content.len())? != content {
            return None;
        }
        if (cursor..cursor + content.len()).contains(&offset) {
            return Some(Pos {
                line: i + 1,
                column: indent + (offset - cursor) + 1,
            });
        }
        cursor += content.len();
        previous_content = true;
    }
    None
}
