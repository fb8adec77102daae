//! What a refused template reports: every mistake found, each with file, line and column.

use std::fmt;

/// One mistake in a template. `line` and `column` are 1-based; a line of 0 means the mistake
/// concerns the whole file (it could not be read), and then Display leaves the position out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// All mistakes found in one template, in the order they appear in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateErrors {
    pub errors: Vec<TemplateError>,
}

impl TemplateErrors {
    /// Sorts by position and drops exact repeats, so the report reads top to bottom.
    pub(crate) fn new(mut errors: Vec<TemplateError>) -> Self {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        TemplateErrors { errors }
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, TemplateError> {
        self.errors.iter()
    }
}

impl fmt::Display for TemplateErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl IntoIterator for TemplateErrors {
    type Item = TemplateError;
    type IntoIter = std::vec::IntoIter<TemplateError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a> IntoIterator for &'a TemplateErrors {
    type Item = &'a TemplateError;
    type IntoIter = std::slice::Iter<'a, TemplateError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}
