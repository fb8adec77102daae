//! A tiny expression language. `validation_rules` are boolean expressions every generated
//! configuration must satisfy, e.g. `config.cache_mb <= resources.memory_mb / 2`; a recipe's
//! `filter` keeps samples (`value >= 0 && labels.method != "OPTIONS"`), and its `fragments.set`
//! are assignments (`config.worker_threads = clamp(ceil(rps / 50), 2, 32)`).
//!
//! Numbers (f64), "strings", `true`/`false`, dotted paths into a document, `+ - * /`, unary `-`
//! and `!`, comparisons `== != < <= > >=`, `&&`, `||`, parentheses and the numeric functions
//! `ceil`, `floor`, `round`, `abs`, `sqrt` (one argument), `min`, `max` (two) and
//! `clamp(x, lo, hi)`. Parsing, evaluation and the rendering to SQL are pure.

mod assign;
mod eval;
mod func;
mod lexer;
mod parser;
mod sql;

pub use assign::Assignment;

use std::fmt;

/// A rule that does not parse. `column` is 1-based, in characters of the rule text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct RuleSyntaxError {
    pub column: usize,
    pub message: String,
}

/// A rule that parsed but cannot be evaluated against a particular document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleEvalError {
    #[error("path `{path}` not found: {detail}")]
    MissingPath { path: String, detail: String },
    #[error("path `{path}` is {found}: expected a number, a string or a boolean")]
    NotAValue { path: String, found: &'static str },
    #[error("`{op}` expects {expected}, found {found}")]
    TypeMismatch {
        op: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("division by zero: the right side of `/` is 0")]
    DivisionByZero,
    #[error("the rule evaluates to {found}: expected true or false")]
    NotBoolean { found: String },
    #[error("the expression evaluates to {found}: expected a finite number")]
    NotFinite { found: String },
}

/// A parsed expression: a validation rule, a filter or the right side of an assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    source: String,
    expr: parser::Expr,
}

impl Rule {
    pub fn parse(src: &str) -> Result<Rule, RuleSyntaxError> {
        let tokens = lexer::lex(src)?;
        let expr = parser::parse(&tokens, src.chars().count())?;
        Ok(Rule {
            source: src.to_string(),
            expr,
        })
    }

    /// The rule as written in the template.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the rule; paths resolve into `doc` (`resources.replicas` is
    /// `doc["resources"]["replicas"]`).
    pub fn check(&self, doc: &serde_json::Value) -> Result<bool, RuleEvalError> {
        eval::expect_bool(eval::eval(&self.expr, doc)?)
    }

    /// Evaluates the expression to a JSON number, string or boolean; whole numbers come out as
    /// integers (`12`, not `12.0`). A result that is not a finite number is an error.
    pub fn eval_value(&self, doc: &serde_json::Value) -> Result<serde_json::Value, RuleEvalError> {
        eval::to_json(eval::eval(&self.expr, doc)?)
    }

    /// The expression as DataFusion SQL, fully parenthesised. Each path becomes what `column`
    /// maps it to; a path it maps to None is an error naming the path.
    pub fn to_sql(&self, column: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        sql::render(&self.expr, column)
    }

    /// The distinct paths the rule reads, in the order they first appear.
    pub fn paths(&self) -> Vec<String> {
        self.path_columns().into_iter().map(|(p, _)| p).collect()
    }

    /// The distinct paths the rule reads, each with the 1-based column (in characters of the
    /// source) where it first appears, in that order.
    pub fn path_columns(&self) -> Vec<(String, usize)> {
        let tokens = lexer::lex(&self.source).unwrap_or_default();
        let mut out: Vec<(String, usize)> = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let lexer::Tok::Path(p) = &token.tok else {
                continue;
            };
            let is_function = tokens
                .get(i + 1)
                .is_some_and(|t| t.tok == lexer::Tok::LParen);
            if !is_function && !out.iter().any(|(seen, _)| seen == p) {
                out.push((p.clone(), token.column));
            }
        }
        out
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
