//! Renders an expression as DataFusion SQL, so that a recipe's `filter` runs inside the query
//! rather than beside it.
//!
//! Every operation is parenthesised, so the SQL's precedence never matters. Numbers are written
//! with a decimal point or an exponent (`50.0`, `1e300`), which DataFusion reads as DOUBLE: the
//! expression language has only one kind of number, and an integer literal would make `n / 2`
//! an integer division. Strings are single-quoted with `'` doubled; DataFusion's default
//! dialect reads backslashes literally, so nothing else needs escaping.

use super::func::Func;
use super::lexer::Op;
use super::parser::Expr;

pub(crate) fn render(
    expr: &Expr,
    column: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    Ok(match expr {
        Expr::Num(n) if !n.is_finite() => return Err(format!("the number {n} is not finite")),
        Expr::Num(n) => format!("{n:?}"),
        Expr::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Expr::Bool(true) => "TRUE".to_string(),
        Expr::Bool(false) => "FALSE".to_string(),
        Expr::Path(p) => column(p).ok_or_else(|| format!("unknown name `{p}`"))?,
        Expr::Unary(Op::Not, inner) => format!("(NOT {})", render(inner, column)?),
        // The space keeps `- -x` from becoming `--x`, a SQL comment.
        Expr::Unary(_, inner) => format!("(- {})", render(inner, column)?),
        Expr::Binary(op, l, r) => format!(
            "({} {} {})",
            render(l, column)?,
            sql_operator(*op),
            render(r, column)?
        ),
        Expr::Call(f, args) => {
            let args = args
                .iter()
                .map(|a| render(a, column))
                .collect::<Result<Vec<_>, _>>()?;
            match (f, args.as_slice()) {
                (Func::Clamp, [x, lo, hi]) => format!("least(greatest({x}, {lo}), {hi})"),
                (Func::Min, _) => format!("least({})", args.join(", ")),
                (Func::Max, _) => format!("greatest({})", args.join(", ")),
                _ => format!("{}({})", f.name(), args.join(", ")),
            }
        }
    })
}

fn sql_operator(op: Op) -> &'static str {
    match op {
        Op::Or => "OR",
        Op::And => "AND",
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Not => "NOT",
        other => other.symbol(),
    }
}
