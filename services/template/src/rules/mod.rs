//! `validation_rules`: a tiny expression language that every generated configuration must
//! satisfy, e.g. `config.cache_mb <= resources.memory_mb / 2`.
//!
//! Numbers (f64), "strings", `true`/`false`, dotted paths into the configuration document,
//! `+ - * /`, unary `-` and `!`, comparisons `== != < <= > >=`, `&&`, `||` and parentheses.
//! Parsing and evaluation are pure; the applier evaluates the rules against the document it is
//! about to write, and the template validator only checks that they parse.

mod eval;
mod lexer;
mod parser;

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
}

/// A parsed validation rule.
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

    /// The distinct paths the rule reads, in the order they first appear.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_paths(&self.expr, &mut out);
        out
    }
}

fn collect_paths(expr: &parser::Expr, out: &mut Vec<String>) {
    match expr {
        parser::Expr::Path(p) => {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        parser::Expr::Unary(_, inner) => collect_paths(inner, out),
        parser::Expr::Binary(_, l, r) => {
            collect_paths(l, out);
            collect_paths(r, out);
        }
        parser::Expr::Num(_) | parser::Expr::Str(_) | parser::Expr::Bool(_) => {}
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
