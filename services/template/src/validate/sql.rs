//! A recipe's `sql` is one query over the recipe's own tables and nothing else.
//!
//! DataFusion would also run DDL, DML, `COPY … TO`, `CREATE EXTERNAL TABLE`, `SET` and reads of
//! files named as tables: whoever can publish a template could read and write files on the
//! recipe-processor's host. So the text is parsed here with the parser and dialect DataFusion
//! uses (sqlparser, generic dialect, its recursion limit) and refused unless it is exactly one
//! `SELECT` (or `WITH … SELECT`, set operations included) whose every table is `samples`,
//! `signals` or a name its own `WITH` defines. The recipe-processor refuses the same again when
//! it plans (its `engine.rs`); this check is what names the offending token's line and column.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, Select, SetExpr, Spanned, Statement, TableFactor,
    Visit, Visitor,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

use crate::model::RECIPE_TABLES;

/// DataFusion's own parser limit: deeper nesting is refused there too.
const RECURSION_LIMIT: usize = 50;

/// Why a recipe's sql is refused, and where in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// 1-based line and column of the offending token inside the sql text.
    pub line: u64,
    pub column: u64,
    /// Characters before that token in the sql text.
    pub offset: usize,
    pub message: String,
}

/// Checks that `sql` is exactly one query reading only the recipe's tables.
pub(crate) fn check(sql: &str) -> Result<(), Refusal> {
    let refuse = |at: Location, message: String| Refusal {
        line: at.line.max(1),
        column: at.column.max(1),
        offset: offset_of(sql, at),
        message,
    };
    let parse_error = |e: ParserError| {
        let (message, at) = split_position(&e);
        // The parser gives no position for the end of the text.
        let at = at.unwrap_or_else(|| match message.ends_with("found: EOF") {
            true => location_of(sql, sql.trim_end().len()),
            false => Location::new(1, 1),
        });
        refuse(at, format!("does not parse: {message}"))
    };
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .map_err(parse_error)?;
    let mut query = None;
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        let first = parser.peek_token();
        let at = first.span.start;
        if first.token == Token::EOF {
            break;
        }
        if query.is_some() {
            return Err(refuse(
                at,
                format!(
                    "has a second statement (from {}): expected exactly one query",
                    first.token
                ),
            ));
        }
        // The first word says what kind of statement it is; say so before a parse error of
        // DataFusion-only syntax (CREATE EXTERNAL TABLE, COPY … TO) could hide it.
        let starts_a_query = match &first.token {
            Token::Word(w) => matches!(w.keyword, Keyword::SELECT | Keyword::WITH),
            Token::LParen => true,
            _ => false,
        };
        if !starts_a_query {
            return Err(refuse(at, not_a_query(&first.token.to_string())));
        }
        match parser.parse_statement().map_err(parse_error)? {
            Statement::Query(q) => query = Some(q),
            other => return Err(refuse(at, not_a_query(&statement_kind(&other)))),
        }
        // As DataFusion: statements are separated by `;`, not merely adjacent.
        let next = parser.peek_token();
        if !matches!(next.token, Token::SemiColon | Token::EOF) {
            return Err(refuse(
                next.span.start,
                format!(
                    "does not parse: expected the end of the query, found {}",
                    next.token
                ),
            ));
        }
    }
    let Some(query) = query else {
        return Err(refuse(
            Location::new(1, 1),
            "has no statement: expected a SELECT over the samples table".to_string(),
        ));
    };
    let mut tables = OwnTablesOnly {
        sql,
        scopes: Vec::new(),
    };
    match query.visit(&mut tables) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break((at, message)) => Err(refuse(at, message)),
    }
}

fn not_a_query(kind: &str) -> String {
    format!(
        "is a {} statement: expected one query, SELECT … or WITH … SELECT …, over the recipe's \
         tables ({})",
        kind.to_uppercase(),
        RECIPE_TABLES.join(", ")
    )
}

/// The statement's leading keywords, as written (INSERT, CREATE TABLE, …).
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    match words.as_slice() {
        [first, second] if first.eq_ignore_ascii_case("CREATE") => format!("{first} {second}"),
        [first, ..] => first.to_string(),
        [] => "empty".to_string(),
    }
}

/// Walks the query: every statement nested in it, every table it reads and every `INTO`.
struct OwnTablesOnly<'a> {
    sql: &'a str,
    /// The names each enclosing `WITH` defines, innermost last.
    scopes: Vec<Vec<String>>,
}

type Break = (Location, String);

impl OwnTablesOnly<'_> {
    /// Where a table factor starts. sqlparser leaves a quoted-string table name (a file path)
    /// without a span (the factor's span is then its alias's), so that one is found in the text.
    fn start_of(&self, factor: &TableFactor) -> Location {
        let quoted = match factor {
            TableFactor::Table { name, .. } => single_name(name)
                .filter(|i| i.quote_style == Some('\''))
                .map(|i| format!("'{}'", i.value.replace('\'', "''"))),
            _ => None,
        };
        match quoted.and_then(|q| self.sql.find(&q)) {
            Some(byte) => location_of(self.sql, byte),
            None => factor.span().start,
        }
    }

    fn defined(&self, name: &str) -> bool {
        RECIPE_TABLES.contains(&name) || self.scopes.iter().flatten().any(|n| n == name)
    }
}

impl Visitor for OwnTablesOnly<'_> {
    type Break = Break;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Break> {
        // Only reached for statements inside the query, like INSERT as a set operand.
        ControlFlow::Break((
            statement.span().start,
            format!(
                "has a {} statement inside its query: expected only SELECT",
                statement_kind(statement).to_uppercase()
            ),
        ))
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Break> {
        let names = query
            .with
            .iter()
            .flat_map(|w| &w.cte_tables)
            .map(|cte| normalized(&cte.alias.name))
            .collect();
        self.scopes.push(names);
        table_operands(&query.body)
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<Break> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Break> {
        match &select.into {
            Some(into) => ControlFlow::Break((
                select.select_token.0.span.start,
                format!(
                    "selects INTO {}, which creates a table: expected a query that only \
                     returns rows",
                    into.name
                ),
            )),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Break> {
        let at = self.start_of(factor);
        let problem = match factor {
            TableFactor::Table { name, args, .. } => match (args, single_name(name)) {
                (Some(_), _) => format!(
                    "calls table function {name}(…): expected only the recipe's tables ({})",
                    RECIPE_TABLES.join(", ")
                ),
                (None, Some(ident)) if ident.quote_style == Some('\'') => format!(
                    "reads {name} as a table, a file or URL: expected only the recipe's tables \
                     ({})",
                    RECIPE_TABLES.join(", ")
                ),
                (None, Some(ident)) if self.defined(&normalized(ident)) => {
                    return ControlFlow::Continue(())
                }
                _ => format!(
                    "reads table {name}: expected only the recipe's tables ({}) or a name its \
                     WITH defines",
                    RECIPE_TABLES.join(", ")
                ),
            },
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => {
                return ControlFlow::Continue(())
            }
            other => format!(
                "reads from {}: expected the recipe's tables ({}), subqueries and joins of them",
                first_words(&other.to_string()),
                RECIPE_TABLES.join(", ")
            ),
        };
        ControlFlow::Break((at, problem))
    }
}

/// `TABLE name` reads a table without a FROM, so it is not a table factor the visitor sees.
fn table_operands(body: &SetExpr) -> ControlFlow<Break> {
    match body {
        SetExpr::Table(t) => ControlFlow::Break((
            body.span().start,
            format!(
                "reads TABLE {}: expected SELECT … FROM one of the recipe's tables",
                t.table_name.as_deref().unwrap_or("")
            ),
        )),
        SetExpr::SetOperation { left, right, .. } => {
            table_operands(left)?;
            table_operands(right)
        }
        _ => ControlFlow::Continue(()),
    }
}

/// The name when it has one part: a qualified name (`catalog.schema.table`) never names a
/// recipe's table.
fn single_name(name: &ObjectName) -> Option<&Ident> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(ident),
        _ => None,
    }
}

/// How DataFusion resolves an identifier: unquoted ones are lower-cased.
fn normalized(ident: &Ident) -> String {
    match ident.quote_style {
        None => ident.value.to_lowercase(),
        Some(_) => ident.value.clone(),
    }
}

fn first_words(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// The parser's message without its position, and the position (sqlparser writes it at the end
/// as " at Line: L, Column: C").
fn split_position(e: &ParserError) -> (String, Option<Location>) {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => {
            return (
                format!("it nests deeper than {RECURSION_LIMIT} levels"),
                Some(Location::new(1, 1)),
            )
        }
    };
    let parsed = text.rsplit_once(" at Line: ").and_then(|(message, at)| {
        let (line, column) = at.split_once(", Column: ")?;
        let at = Location::new(line.trim().parse().ok()?, column.trim().parse().ok()?);
        Some((message.to_string(), Some(at)))
    });
    parsed.unwrap_or((text, None))
}

/// The 1-based line and column of a byte index of `sql`.
fn location_of(sql: &str, byte: usize) -> Location {
    let before = &sql[..byte];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Location::new(line as u64, column as u64)
}

/// Characters before a 1-based (line, column) of `sql`; positions past the end clamp to it.
fn offset_of(sql: &str, at: Location) -> usize {
    let (line, column) = (at.line.max(1) as usize, at.column.max(1) as usize);
    let mut offset = 0;
    for (i, text) in sql.split('\n').enumerate() {
        let length = text.chars().count();
        if i + 1 == line {
            return offset + (column - 1).min(length);
        }
        offset += length + 1;
    }
    sql.chars().count()
}
