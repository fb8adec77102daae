//! Assignments `path = expression`, as a recipe's `fragments.set` writes them:
//! `config.worker_threads = clamp(ceil(rps / 50), 2, 32)`.

use std::fmt;

use super::{Rule, RuleSyntaxError};

/// A parsed assignment: the dotted path it writes and the expression that gives the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub path: String,
    pub expr: Rule,
}

impl Assignment {
    /// Parses `path = expression`. The path is identifiers joined by dots; the first single `=`
    /// after it separates the two sides. Error columns are 1-based, in characters of `text`.
    pub fn parse(text: &str) -> Result<Assignment, RuleSyntaxError> {
        let chars: Vec<char> = text.chars().collect();
        let mut at = skip_spaces(&chars, 0);
        let path_start = at;
        let err = |at: usize, message: String| RuleSyntaxError {
            column: at + 1,
            message,
        };
        loop {
            let seg_start = at;
            if !chars
                .get(at)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
            {
                let what = if seg_start == path_start {
                    "a path to assign"
                } else {
                    "a name after '.'"
                };
                return Err(err(
                    at,
                    format!(
                        "expected {what} (letters, digits and _, not starting with a digit), \
                         like config.worker_threads = ceil(value / 50), found {}",
                        found(&chars, at)
                    ),
                ));
            }
            while chars
                .get(at)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                at += 1;
            }
            if chars.get(at) != Some(&'.') {
                break;
            }
            at += 1;
        }
        let path: String = chars[path_start..at].iter().collect();
        at = skip_spaces(&chars, at);
        let single_equals = chars.get(at) == Some(&'=') && chars.get(at + 1) != Some(&'=');
        if !single_equals {
            return Err(err(
                at,
                format!(
                    "expected '=' after {path}, like {path} = ceil(value / 50), found {}",
                    found(&chars, at)
                ),
            ));
        }
        let expr_start = skip_spaces(&chars, at + 1);
        let expr_text: String = chars[expr_start..].iter().collect();
        let expr_text = expr_text.trim_end();
        if expr_text.is_empty() {
            return Err(err(
                expr_start,
                format!(
                    "nothing after '=': expected an expression, like {path} = ceil(value / 50)"
                ),
            ));
        }
        let expr = Rule::parse(expr_text).map_err(|e| RuleSyntaxError {
            column: e.column + expr_start,
            message: e.message,
        })?;
        Ok(Assignment { path, expr })
    }

    /// The 0-based character offset of the expression in `text`, the text this assignment was
    /// parsed from; add it to a column of `expr` to get a column of `text`.
    pub fn expr_offset(&self, text: &str) -> usize {
        let trimmed = text.trim_end().chars().count();
        trimmed.saturating_sub(self.expr.source().chars().count())
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.path, self.expr)
    }
}

fn skip_spaces(chars: &[char], mut at: usize) -> usize {
    while chars.get(at).is_some_and(|c| c.is_whitespace()) {
        at += 1;
    }
    at
}

fn found(chars: &[char], at: usize) -> String {
    match chars.get(at) {
        None => "the end of the text".to_string(),
        Some('=') if chars.get(at + 1) == Some(&'=') => "'==' (a comparison)".to_string(),
        Some(c) => format!("{c:?}"),
    }
}
