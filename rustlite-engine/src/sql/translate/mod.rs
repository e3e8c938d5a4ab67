//! `sqlparser` AST → RustLite's [`ast`](super::ast): the one place that knows `sqlparser`.
//!
//! Like GlueSQL's `translate/`, every construct we support is mapped explicitly and everything
//! else becomes [`Error::Sql`] naming the construct ("unsupported: WITH", "unsupported
//! function: ntile"). No `sqlparser` type leaves this folder.
//!
//! Limits, so that hostile input fails with an error and never exhausts the stack:
//! - a statement longer than [`MAX_STATEMENT_BYTES`] is refused before parsing;
//! - the parser's recursion limit ([`MAX_PARSER_DEPTH`]) bounds nesting (parentheses,
//!   subqueries, unary chains);
//! - left-deep operator chains (`1+1+1+…`) are built by the parser without recursion, so the
//!   number of operator tokens is bounded too ([`MAX_OPERATORS`]), and the translator counts its
//!   own depth ([`MAX_EXPR_DEPTH`]);
//! - a statement names at most [`MAX_TABLES`] tables and subqueries in its FROM clauses (the
//!   join tree is left-deep too).

mod ddl;
mod expr;
mod query;

use super::ast::Statement;
use crate::error::{Error, Result};
use sqlparser::ast as sp;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// Longest statement accepted, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;
/// Recursion limit handed to the parser (nested parentheses, subqueries, prefix operators).
pub const MAX_PARSER_DEPTH: usize = 64;
/// Most binary-operator tokens in one statement.
pub const MAX_OPERATORS: usize = 5_000;
/// Deepest expression tree the translator builds.
pub const MAX_EXPR_DEPTH: usize = 512;
/// Most tables (and subqueries) the FROM clauses of one statement may name, as in SQLite: a
/// join tree is built left-deep, and walking or dropping a very deep one would overflow the
/// stack.
pub const MAX_TABLES: usize = 64;

/// Parses and translates exactly one statement.
pub fn parse(sql: &str) -> Result<Statement> {
    if sql.len() > MAX_STATEMENT_BYTES {
        return Err(Error::Sql(format!(
            "statement is {} bytes; the limit is {MAX_STATEMENT_BYTES}",
            sql.len()
        )));
    }
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::Sql(format!("syntax error: {e}")))?;
    check_operators(&tokens)?;
    // `?` parameters are numbered in the order they appear in the text, whatever order the
    // translator meets them in (`LIMIT ?, ?` names the offset first; a join's ON clause is
    // translated after the table to its right).
    let placeholders: Vec<Location> = tokens
        .iter()
        .filter(|t| matches!(&t.token, Token::Placeholder(p) if p == "?"))
        .map(|t| t.span.start)
        .collect();
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(MAX_PARSER_DEPTH)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| Error::Sql(format!("syntax error: {e}")))?;
    if statements.len() != 1 {
        return Err(Error::Sql(format!(
            "expected one statement, got {}",
            statements.len()
        )));
    }
    let statement = statements.pop().ok_or_else(|| Error::Sql("empty".into()))?;
    Translator {
        placeholders,
        ..Translator::default()
    }
    .statement(statement)
}

/// Refuses statements with so many operators that the parser's left-deep trees could be deep
/// enough to overflow the stack when walked or dropped.
fn check_operators(tokens: &[TokenWithSpan]) -> Result<()> {
    let operators = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| {
            matches!(
                t,
                Token::Plus
                    | Token::Minus
                    | Token::Mul
                    | Token::Div
                    | Token::Mod
                    | Token::StringConcat
                    | Token::Eq
                    | Token::Neq
                    | Token::Lt
                    | Token::Gt
                    | Token::LtEq
                    | Token::GtEq
            ) || matches!(t, Token::Word(w) if matches!(w.keyword,
                sqlparser::keywords::Keyword::AND | sqlparser::keywords::Keyword::OR))
        })
        .count();
    if operators > MAX_OPERATORS {
        return Err(Error::Sql(format!(
            "statement has {operators} operators; the limit is {MAX_OPERATORS}"
        )));
    }
    Ok(())
}

/// Translation state: the next `?` parameter number and the current expression depth.
#[derive(Default)]
pub(super) struct Translator {
    /// Where each `?` starts in the text, in text order: a `?`'s parameter number is its place
    /// here.
    placeholders: Vec<Location>,
    depth: usize,
    /// Tables and subqueries in FROM clauses so far ([`MAX_TABLES`]).
    tables: usize,
}

impl Translator {
    /// Translates one statement.
    fn statement(&mut self, statement: sp::Statement) -> Result<Statement> {
        match statement {
            sp::Statement::Query(q) => Ok(Statement::Select(Box::new(self.query(*q)?))),
            sp::Statement::Explain {
                statement,
                analyze,
                verbose,
                ..
            } => {
                if analyze || verbose {
                    return Err(unsupported("EXPLAIN ANALYZE/VERBOSE"));
                }
                let inner = self.statement(*statement)?;
                if matches!(inner, Statement::Explain(_)) {
                    return Err(unsupported("nested EXPLAIN"));
                }
                Ok(Statement::Explain(Box::new(inner)))
            }
            sp::Statement::CreateTable(c) => self.create_table(c),
            sp::Statement::CreateIndex(c) => self.create_index(c),
            sp::Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop(object_type, if_exists, names, cascade),
            sp::Statement::Insert(i) => self.insert(i),
            sp::Statement::Update(u) => self.update(u),
            sp::Statement::Delete(d) => self.delete(d),
            other => Err(unsupported(&format!(
                "statement {}",
                first_words(&other.to_string())
            ))),
        }
    }
}

/// `Error::Sql("unsupported: …")`.
pub(super) fn unsupported(what: &str) -> Error {
    Error::Sql(format!("unsupported: {what}"))
}

/// The first two words of a statement's text, to name it in an error.
fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A single identifier's name (`t`), or an error naming a qualified one.
pub(super) fn object_name(name: &sp::ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(|i| i.value.clone())
            .ok_or_else(|| unsupported(&format!("name {name}"))),
        _ => Err(unsupported(&format!("qualified name {name}"))),
    }
}

#[cfg(test)]
mod tests;
