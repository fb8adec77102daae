//! Evaluates a parsed rule against a JSON document. Every failure is an error that says what
//! was expected: a rule that cannot be evaluated must not quietly count as passed or failed.

use serde_json::Value as Json;

use super::func::Func;
use super::lexer::Op;
use super::parser::Expr;
use super::RuleEvalError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Val {
    fn describe(&self) -> String {
        match self {
            Val::Num(n) => format!("the number {n}"),
            Val::Str(s) => format!("the string {s:?}"),
            Val::Bool(b) => format!("the boolean {b}"),
        }
    }
}

pub(crate) fn eval(expr: &Expr, doc: &Json) -> Result<Val, RuleEvalError> {
    match expr {
        Expr::Num(n) => Ok(Val::Num(*n)),
        Expr::Str(s) => Ok(Val::Str(s.clone())),
        Expr::Bool(b) => Ok(Val::Bool(*b)),
        Expr::Path(p) => lookup(p, doc),
        Expr::Unary(Op::Not, inner) => Ok(Val::Bool(!boolean("!", eval(inner, doc)?)?)),
        Expr::Unary(op, inner) => Ok(Val::Num(-number(op.symbol(), eval(inner, doc)?)?)),
        // && and || short-circuit, so `!(a == 0) || b / a > 1` is safe.
        Expr::Binary(Op::And, l, r) => Ok(Val::Bool(
            boolean("&&", eval(l, doc)?)? && boolean("&&", eval(r, doc)?)?,
        )),
        Expr::Binary(Op::Or, l, r) => Ok(Val::Bool(
            boolean("||", eval(l, doc)?)? || boolean("||", eval(r, doc)?)?,
        )),
        Expr::Binary(op, l, r) => binary(*op, eval(l, doc)?, eval(r, doc)?),
        Expr::Call(f, args) => call(*f, args, doc),
    }
}

fn call(f: Func, args: &[Expr], doc: &Json) -> Result<Val, RuleEvalError> {
    let args = args
        .iter()
        .map(|a| number(f.name(), eval(a, doc)?))
        .collect::<Result<Vec<f64>, _>>()?;
    if f == Func::Sqrt && args.first().is_some_and(|x| *x < 0.0) {
        return Err(RuleEvalError::TypeMismatch {
            op: f.name(),
            expected: "a number that is 0 or more",
            found: Val::Num(args[0]).describe(),
        });
    }
    Ok(Val::Num(f.apply(&args)))
}

fn binary(op: Op, l: Val, r: Val) -> Result<Val, RuleEvalError> {
    let sym = op.symbol();
    match op {
        Op::Eq | Op::Ne => {
            let equal = match (&l, &r) {
                (Val::Num(a), Val::Num(b)) => a == b,
                (Val::Str(a), Val::Str(b)) => a == b,
                (Val::Bool(a), Val::Bool(b)) => a == b,
                _ => {
                    return Err(RuleEvalError::TypeMismatch {
                        op: sym,
                        expected: "two values of the same type",
                        found: format!("{} and {}", l.describe(), r.describe()),
                    })
                }
            };
            Ok(Val::Bool(equal == (op == Op::Eq)))
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (&l, &r) {
                (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
                (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
                _ => {
                    return Err(RuleEvalError::TypeMismatch {
                        op: sym,
                        expected: "two numbers or two strings",
                        found: format!("{} and {}", l.describe(), r.describe()),
                    })
                }
            };
            // NaN compares false, like IEEE.
            Ok(Val::Bool(ordering.is_some_and(|o| match op {
                Op::Lt => o.is_lt(),
                Op::Le => o.is_le(),
                Op::Gt => o.is_gt(),
                _ => o.is_ge(),
            })))
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let (a, b) = (number(sym, l)?, number(sym, r)?);
            Ok(Val::Num(match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                _ if b == 0.0 => return Err(RuleEvalError::DivisionByZero),
                _ => a / b,
            }))
        }
        // Parsed as prefix or short-circuited in `eval`; never reach here.
        Op::Not | Op::And | Op::Or => Err(RuleEvalError::TypeMismatch {
            op: sym,
            expected: "an operator between two values",
            found: format!("{} and {}", l.describe(), r.describe()),
        }),
    }
}

fn number(op: &'static str, v: Val) -> Result<f64, RuleEvalError> {
    match v {
        Val::Num(n) => Ok(n),
        other => Err(RuleEvalError::TypeMismatch {
            op,
            expected: "numbers",
            found: other.describe(),
        }),
    }
}

fn boolean(op: &'static str, v: Val) -> Result<bool, RuleEvalError> {
    match v {
        Val::Bool(b) => Ok(b),
        other => Err(RuleEvalError::TypeMismatch {
            op,
            expected: "true or false",
            found: other.describe(),
        }),
    }
}

/// `resources.replicas` is `doc["resources"]["replicas"]`; a numeric segment also indexes an
/// array.
fn lookup(path: &str, doc: &Json) -> Result<Val, RuleEvalError> {
    let mut node = doc;
    let mut walked: Vec<&str> = Vec::new();
    for seg in path.split('.') {
        let child = match node {
            Json::Object(map) => map.get(seg),
            Json::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        let Some(child) = child else {
            let detail = if walked.is_empty() {
                format!("the document has no `{seg}`")
            } else {
                let parent = walked.join(".");
                match node {
                    Json::Object(_) => format!("`{parent}` has no key `{seg}`"),
                    Json::Array(items) => format!(
                        "`{parent}` is a list of {} items, `{seg}` is not an index in it",
                        items.len()
                    ),
                    other => format!("`{parent}` is {}, not an object", json_type(other)),
                }
            };
            return Err(RuleEvalError::MissingPath {
                path: path.to_string(),
                detail,
            });
        };
        walked.push(seg);
        node = child;
    }
    match node {
        Json::Number(n) => n
            .as_f64()
            .map(Val::Num)
            .ok_or_else(|| RuleEvalError::NotAValue {
                path: path.to_string(),
                found: "a number out of range",
            }),
        Json::String(s) => Ok(Val::Str(s.clone())),
        Json::Bool(b) => Ok(Val::Bool(*b)),
        other => Err(RuleEvalError::NotAValue {
            path: path.to_string(),
            found: json_type(other),
        }),
    }
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// The value as JSON. Whole numbers stay integers (`12`, not `12.0`), so that generated
/// configurations read like hand-written ones.
pub(crate) fn to_json(v: Val) -> Result<Json, RuleEvalError> {
    Ok(match v {
        Val::Num(n) if !n.is_finite() => {
            return Err(RuleEvalError::NotFinite {
                found: Val::Num(n).describe(),
            })
        }
        Val::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Json::from(n as i64),
        Val::Num(n) => Json::from(n),
        Val::Str(s) => Json::String(s),
        Val::Bool(b) => Json::Bool(b),
    })
}

pub(crate) fn expect_bool(v: Val) -> Result<bool, RuleEvalError> {
    match v {
        Val::Bool(b) => Ok(b),
        other => Err(RuleEvalError::NotBoolean {
            found: other.describe(),
        }),
    }
}
