//! A Pratt parser: each binary operator has a binding power, and an operand keeps the operators
//! on either side that bind tighter. Precedence, loosest first: `||`, `&&`, `== !=`,
//! `< <= > >=`, `+ -`, `* /`, then the prefix operators `!` and `-`. A function call such as
//! `clamp(x, 2, 32)` is an operand; its arguments are whole expressions.

use super::func::{self, Func};
use super::lexer::{Op, Tok, Token};
use super::RuleSyntaxError;

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
    };
    if tokens.is_empty() {
        return Err(RuleSyntaxError {
            column: 1,
            message: "empty rule: expected an expression like resources.replicas >= 1".to_string(),
        });
    }
    let expr = parser.expr(0)?;
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

    fn expr(&mut self, min_power: u8) -> Result<Expr, RuleSyntaxError> {
        let mut lhs = self.operand()?;
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
            let rhs = self.expr(right)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn operand(&mut self) -> Result<Expr, RuleSyntaxError> {
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
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Bool(b) => Ok(Expr::Bool(b)),
            Tok::Path(p) if self.peek().is_some_and(|t| t.tok == Tok::LParen) => {
                self.call(&p, token.column)
            }
            Tok::Path(p) => Ok(Expr::Path(p)),
            Tok::Op(op @ (Op::Not | Op::Sub)) => {
                let inner = self.expr(PREFIX_POWER)?;
                Ok(Expr::Unary(op, Box::new(inner)))
            }
            Tok::LParen => {
                let inner = self.expr(0)?;
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
    fn call(&mut self, name: &str, column: usize) -> Result<Expr, RuleSyntaxError> {
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
        if self.peek().is_some_and(|t| t.tok == Tok::RParen) {
            self.pos += 1;
        } else {
            loop {
                arg_columns.push(self.peek().map_or(end_column, |t| t.column));
                args.push(self.expr(0)?);
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
        Ok(Expr::Call(f, args))
    }
}

pub(crate) fn is_comparison(op: Op) -> bool {
    matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
}
