//! A Pratt parser: each binary operator has a binding power, and an operand keeps the operators
//! on either side that bind tighter. Precedence, loosest first: `||`, `&&`, `== !=`,
//! `< <= > >=`, `+ -`, `* /`, then the prefix operators `!` and `-`. A function call such as
//! `clamp(x, 2, 32)` is an operand; its arguments are whole expressions.
//!
//! Parsing, evaluating, rendering and dropping an expression all recurse over its tree, so a
//! rule from a template must not be able to nest without end (`((((...x))))`, `!!!!...x`, or a
//! chain `1 + 1 + ...` whose tree leans left): every level is counted on the way down and every
//! node's height on the way up, and a rule deeper than [`MAX_RULE_DEPTH`] is a syntax error at
//! the token that went past it.

use super::func::{self, Func};
use super::lexer::{Op, Tok, Token};
use super::RuleSyntaxError;
use crate::bounds::MAX_RULE_DEPTH;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Num(f64),
    Str(String),
    Bool(bool),
    Path(String),
    Unary(Op, Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    /// Always with as many arguments as the function takes.
    Call(Func, Vec<Expr>),
}

const PREFIX_POWER: u8 = 13;

/// (left, right) binding powers; left < right makes the operator left-associative.
fn infix_power(op: Op) -> Option<(u8, u8)> {
    Some(match op {
        Op::Or => (1, 2),
        Op::And => (3, 4),
        Op::Eq | Op::Ne => (5, 6),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => (7, 8),
        Op::Add | Op::Sub => (9, 10),
        Op::Mul | Op::Div => (11, 12),
        Op::Not => return None,
    })
}

pub(crate) fn parse(tokens: &[Token], src_len: usize) -> Result<Expr, RuleSyntaxError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        end_column: src_len + 1,
        level: 0,
    };
    if tokens.is_empty() {
        return Err(RuleSyntaxError {
            column: 1,
            message: "empty rule: expected an expression like resources.replicas >= 1".to_string(),
        });
    }
    let (expr, _) = parser.expr(0)?;
    match parser.peek() {
        None => Ok(expr),
        Some(t) => Err(RuleSyntaxError {
            column: t.column,
            message: format!(
                "expected an operator (like &&, ||, ==, <, +) or the end of the rule, found {}",
                t.tok.describe()
            ),
        }),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    end_column: usize,
    /// How many levels enclose the expression being parsed.
    level: usize,
}

/// An expression and the height of its tree (a leaf is 1).
type Parsed = Result<(Expr, usize), RuleSyntaxError>;

fn too_deep(column: usize) -> RuleSyntaxError {
    RuleSyntaxError {
        column,
        message: format!(
            "the rule nests more than {MAX_RULE_DEPTH} levels deep (each parenthesis, `!`, `-`, \
             call and chained operator is a level): expected a shallower rule, split in several"
        ),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos);
        self.pos += 1;
        t
    }

    /// Parses `inside` one level deeper; `column` is the token that opened the level.
    fn nested(&mut self, column: usize, inside: impl FnOnce(&mut Self) -> Parsed) -> Parsed {
        if self.level >= MAX_RULE_DEPTH {
            return Err(too_deep(column));
        }
        self.level += 1;
        let parsed = inside(self);
        self.level -= 1;
        parsed
    }

    fn expr(&mut self, min_power: u8) -> Parsed {
        let (mut lhs, mut height) = self.operand()?;
        while let Some(&Token {
            tok: Tok::Op(op),
            column,
        }) = self.peek()
        {
            let Some((left, right)) = infix_power(op) else {
                break;
            };
            if left < min_power {
                break;
            }
            // `a < b < c` reads as maths but would compare a boolean with c: refuse it.
            if let Expr::Binary(prev, ..) = &lhs {
                if is_comparison(*prev) && infix_power(*prev) == Some((left, right)) {
                    return Err(RuleSyntaxError {
                        column,
                        message: format!(
                            "comparisons cannot be chained: expected && between them, like \
                             a {} b && b {} c",
                            prev.symbol(),
                            op.symbol()
                        ),
                    });
                }
            }
            self.pos += 1;
            let (rhs, rhs_height) = self.nested(column, |p| p.expr(right))?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
            height = height.max(rhs_height) + 1;
            // A left-leaning chain grows here, in a loop, not on the way down.
            if self.level + height > MAX_RULE_DEPTH {
                return Err(too_deep(column));
            }
        }
        Ok((lhs, height))
    }

    fn operand(&mut self) -> Parsed {
        let end_column = self.end_column;
        let Some(token) = self.next().cloned() else {
            return Err(RuleSyntaxError {
                column: end_column,
                message: "the rule ends too early: expected a value (a number, a \"string\", \
                          true, false or a path like resources.replicas)"
                    .to_string(),
            });
        };
        match token.tok {
            Tok::Num(n) => Ok((Expr::Num(n), 1)),
            Tok::Str(s) => Ok((Expr::Str(s), 1)),
            Tok::Bool(b) => Ok((Expr::Bool(b), 1)),
            Tok::Path(p) if self.peek().is_some_and(|t| t.tok == Tok::LParen) => {
                self.nested(token.column, |me| me.call(&p, token.column))
            }
            Tok::Path(p) => Ok((Expr::Path(p), 1)),
            Tok::Op(op @ (Op::Not | Op::Sub)) => {
                let (inner, height) = self.nested(token.column, |p| p.expr(PREFIX_POWER))?;
                Ok((Expr::Unary(op, Box::new(inner)), height + 1))
            }
            Tok::LParen => {
                let inner = self.nested(token.column, |p| p.expr(0))?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => Ok(inner),
                    other => Err(RuleSyntaxError {
                        column: other.map_or(end_column, |t| t.column),
                        message: format!(
                            "expected ')' to close the '(' at column {}, found {}",
                            token.column,
                            other.map_or("the end of the rule".to_string(), |t| t.tok.describe())
                        ),
                    }),
                }
            }
            other => Err(RuleSyntaxError {
                column: token.column,
                message: format!(
                    "expected a value (a number, a \"string\", true, false, a path like \
                     resources.replicas or a call like ceil(x)) or '(', found {}",
                    other.describe()
                ),
            }),
        }
    }

    /// A call of `name`, whose `(` is the next token. Unknown functions and wrong numbers of
    /// arguments are syntax errors: the expression cannot mean anything.
    fn call(&mut self, name: &str, column: usize) -> Parsed {
        let Some(f) = Func::by_name(name) else {
            return Err(RuleSyntaxError {
                column,
                message: format!(
                    "unknown function `{name}`: expected one of {}",
                    func::names()
                ),
            });
        };
        let end_column = self.end_column;
        let open = self.next().map_or(column, |t| t.column);
        let mut args = Vec::new();
        let mut arg_columns = Vec::new();
        let mut height = 0;
        if self.peek().is_some_and(|t| t.tok == Tok::RParen) {
            self.pos += 1;
        } else {
            loop {
                arg_columns.push(self.peek().map_or(end_column, |t| t.column));
                let (arg, arg_height) = self.expr(0)?;
                args.push(arg);
                height = height.max(arg_height);
                match self.next() {
                    Some(Token {
                        tok: Tok::Comma, ..
                    }) => {}
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => break,
                    other => {
                        return Err(RuleSyntaxError {
                            column: other.map_or(end_column, |t| t.column),
                            message: format!(
                                "expected ',' or ')' in the call of {} opened at column \
                                 {open}, found {}",
                                f.name(),
                                other.map_or("the end of the rule".to_string(), |t| t
                                    .tok
                                    .describe())
                            ),
                        })
                    }
                }
            }
        }
        let want = f.params().len();
        if args.len() != want {
            let close = self
                .tokens
                .get(self.pos - 1)
                .map_or(end_column, |t| t.column);
            // Too many: point at the first extra argument; too few: at the closing ')'.
            let at = arg_columns.get(want).copied().unwrap_or(close);
            return Err(RuleSyntaxError {
                column: at,
                message: format!(
                    "{} takes {want} argument{}, found {}: expected {}",
                    f.name(),
                    if want == 1 { "" } else { "s" },
                    args.len(),
                    f.signature()
                ),
            });
        }
        Ok((Expr::Call(f, args), height + 1))
    }
}

pub(crate) fn is_comparison(op: Op) -> bool {
    matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
}
