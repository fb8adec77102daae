//! A mistake found by one of the passes, named by the path of its node; the node index turns it
//! into a `TemplateError` with line and column.

use crate::errors::TemplateError;
use crate::locate::{NodeIndex, Pos};
use crate::path::YamlPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The node's value (for a mapping entry, the value rather than the key).
    Value,
    /// The key of a mapping entry, e.g. an unknown field.
    Key,
    /// A character offset inside a scalar, e.g. the column of a rule's syntax error.
    InScalar(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub path: YamlPath,
    pub anchor: Anchor,
    pub message: String,
    /// The nodes the check read. When one of them was dropped for a structural error, the
    /// finding is only an echo of that error and is not reported. Defaults to `path`.
    pub reads: Vec<YamlPath>,
    /// yaml_serde's own position, used when the node index has no entry for `path`.
    pub fallback: Option<Pos>,
}

impl Finding {
    pub(crate) fn at(path: YamlPath, message: impl Into<String>) -> Self {
        Finding {
            reads: vec![path.clone()],
            path,
            anchor: Anchor::Value,
            message: message.into(),
            fallback: None,
        }
    }

    pub(crate) fn at_key(path: YamlPath, message: impl Into<String>) -> Self {
        Finding {
            anchor: Anchor::Key,
            ..Finding::at(path, message)
        }
    }

    pub(crate) fn in_scalar(path: YamlPath, offset: usize, message: impl Into<String>) -> Self {
        Finding {
            anchor: Anchor::InScalar(offset),
            ..Finding::at(path, message)
        }
    }

    pub(crate) fn reading(mut self, reads: impl IntoIterator<Item = YamlPath>) -> Self {
        self.reads = reads.into_iter().collect();
        self
    }

    pub(crate) fn locate(&self, index: &NodeIndex) -> Pos {
        let exact = match self.anchor {
            Anchor::Value => index.value_pos(&self.path),
            Anchor::Key => index
                .key_pos(&self.path)
                .or_else(|| index.value_pos(&self.path)),
            Anchor::InScalar(offset) => index
                .inside_scalar(&self.path, offset)
                .or_else(|| index.value_pos(&self.path)),
        };
        exact
            .or(self.fallback)
            .unwrap_or_else(|| index.nearest(&self.path))
    }

    pub(crate) fn into_error(self, file: &str, index: &NodeIndex) -> TemplateError {
        let pos = self.locate(index);
        TemplateError {
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message: self.message,
        }
    }
}
