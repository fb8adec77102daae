//! Splits a rule into tokens, each with the 1-based character column it starts at, so that
//! syntax errors can point into the rule (and, through the node index, into the template).

use super::RuleSyntaxError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Not,
}

impl Op {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Or => "||",
            Op::And => "&&",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Not => "!",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Str(String),
    Bool(bool),
    /// A dotted path such as `resources.replicas`.
    Path(String),
    LParen,
    RParen,
    /// Separates a function's arguments.
    Comma,
    Op(Op),
}

impl Tok {
    /// How the token is named in "found ..." messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("the number {n}"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Bool(b) => format!("{b}"),
            Tok::Path(p) => format!("the path {p}"),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Op(op) => format!("'{}'", op.symbol()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub column: usize,
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, RuleSyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let next = chars.get(i + 1).copied();
        let err = |message: String| RuleSyntaxError { column, message };
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Op(Op::Add), 1),
            '-' => (Tok::Op(Op::Sub), 1),
            '*' => (Tok::Op(Op::Mul), 1),
            '/' => (Tok::Op(Op::Div), 1),
            '&' if next == Some('&') => (Tok::Op(Op::And), 2),
            '|' if next == Some('|') => (Tok::Op(Op::Or), 2),
            '=' if next == Some('=') => (Tok::Op(Op::Eq), 2),
            '!' if next == Some('=') => (Tok::Op(Op::Ne), 2),
            '!' => (Tok::Op(Op::Not), 1),
            '<' if next == Some('=') => (Tok::Op(Op::Le), 2),
            '<' => (Tok::Op(Op::Lt), 1),
            '>' if next == Some('=') => (Tok::Op(Op::Ge), 2),
            '>' => (Tok::Op(Op::Gt), 1),
            '&' => return Err(err("single '&': expected && (and)".to_string())),
            '|' => return Err(err("single '|': expected || (or)".to_string())),
            '=' => return Err(err("single '=': expected == to compare".to_string())),
            '"' => lex_string(&chars, i)?,
            c if c.is_ascii_digit() => lex_number(&chars, i)?,
            c if c.is_ascii_alphabetic() || c == '_' => lex_word(&chars, i)?,
            other => {
                return Err(err(format!(
                    "unexpected character {other:?}: expected a number, a \"string\", a path, \
                     an operator, parentheses or a comma"
                )))
            }
        };
        tokens.push(Token { tok, column });
        i += len;
    }
    Ok(tokens)
}

fn lex_string(chars: &[char], start: usize) -> Result<(Tok, usize), RuleSyntaxError> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(RuleSyntaxError {
                    column: start + 1,
                    message: "unterminated string: expected a closing \"".to_string(),
                })
            }
            Some('"') => return Ok((Tok::Str(out), i + 1 - start)),
            Some('\\') => {
                let escaped = match chars.get(i + 1) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    _ => {
                        return Err(RuleSyntaxError {
                            column: i + 1,
                            message: "unknown escape: expected \\\", \\\\, \\n or \\t".to_string(),
                        })
                    }
                };
                out.push(escaped);
                i += 2;
            }
            Some(c) => {
                out.push(*c);
                i += 1;
            }
        }
    }
}

fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize), RuleSyntaxError> {
    let digits = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut end = start + digits(start);
    if chars.get(end) == Some(&'.') {
        let fraction = digits(end + 1);
        if fraction == 0 {
            return Err(RuleSyntaxError {
                column: end + 1,
                message: "expected digits after the decimal point, like 0.5".to_string(),
            });
        }
        end += 1 + fraction;
    }
    if matches!(chars.get(end), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(end + 1), Some('+' | '-')));
        let exponent = digits(end + 1 + sign);
        if exponent > 0 {
            end += 1 + sign + exponent;
        }
    }
    let text: String = chars[start..end].iter().collect();
    let n = text.parse::<f64>().map_err(|_| RuleSyntaxError {
        column: start + 1,
        message: format!("invalid number {text}: expected digits like 42 or 0.5"),
    })?;
    if !n.is_finite() {
        return Err(RuleSyntaxError {
            column: start + 1,
            message: format!("the number {text} is too large: expected at most 1.7e308"),
        });
    }
    Ok((Tok::Num(n), end - start))
}

/// A keyword (`true`, `false`) or a dotted path. Segments after a dot may also be array
/// indexes (`hooks.0.name`). A path followed by `(` is a function name; the parser tells.
fn lex_word(chars: &[char], start: usize) -> Result<(Tok, usize), RuleSyntaxError> {
    let is_word = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    let mut end = start;
    loop {
        end += chars[end..].iter().take_while(|c| is_word(c)).count();
        if chars.get(end) != Some(&'.') {
            break;
        }
        if !chars.get(end + 1).is_some_and(is_word) {
            return Err(RuleSyntaxError {
                column: end + 2,
                message: "expected a name after '.', like resources.replicas".to_string(),
            });
        }
        end += 1;
    }
    let word: String = chars[start..end].iter().collect();
    let tok = match word.as_str() {
        "true" => Tok::Bool(true),
        "false" => Tok::Bool(false),
        _ => Tok::Path(word),
    };
    Ok((tok, end - start))
}
