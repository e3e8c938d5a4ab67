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
//! - left-deep operator chains (`1+1+1+…`, `x IS NULL IS NULL …`) are built by the parser
//!   without recursion, so the tokens of one comma-separated item, with those of the groups
//!   inside it, are bounded too ([`MAX_RUN_TOKENS`]), and the translator counts its own depth
//!   ([`MAX_EXPR_DEPTH`]);
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
/// Most tokens in one comma-separated item of a statement, a bracketed group counting as one
/// plus its own longest item (an operator chain's depth is at most that count; the translator
/// refuses expressions deeper than [`MAX_EXPR_DEPTH`] anyway, so this bounds only what is
/// parsed and dropped).
pub const MAX_RUN_TOKENS: usize = 5_000;
/// Deepest expression tree the translator builds.
pub const MAX_EXPR_DEPTH: usize = 512;
/// Most tables (and subqueries) the FROM clauses of one statement may name, as in SQLite: a
/// join tree is built left-deep, and walking or dropping a very deep one would overflow the
/// stack.
pub const MAX_TABLES: usize = 64;

/// A translated statement and the number of parameters it takes.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The statement.
    pub statement: Statement,
    /// How many parameter values it takes: its `?`s, or the highest `n` of its `$n`s.
    pub params: usize,
}

/// Parses and translates exactly one statement.
#[cfg(test)]
pub fn parse(sql: &str) -> Result<Statement> {
    parse_counted(sql).map(|p| p.statement)
}

/// As [`parse`], with the number of parameters the statement takes. A statement takes `?`
/// parameters or `$n` ones, not both: mixed, the numbering is a guess (SQLite's `?` follows the
/// highest number so far, others count `?`s alone), so it is refused.
pub fn parse_counted(sql: &str) -> Result<Parsed> {
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
    check_chains(&tokens)?;
    // `?` parameters are numbered in the order they appear in the text, whatever order the
    // translator meets them in (`LIMIT ?, ?` names the offset first; a join's ON clause is
    // translated after the table to its right).
    let placeholders: Vec<Location> = tokens
        .iter()
        .filter(|t| matches!(&t.token, Token::Placeholder(p) if p == "?"))
        .map(|t| t.span.start)
        .collect();
    let numbered = tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        })
        .max();
    let params = match (placeholders.len(), numbered) {
        (0, n) => n.unwrap_or(0),
        (questions, None) => questions,
        (_, Some(_)) => {
            return Err(Error::Sql(
                "a statement takes ? parameters or $n parameters, not both".into(),
            ))
        }
    };
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
    let statement = Translator {
        placeholders,
        ..Translator::default()
    }
    .statement(statement)?;
    Ok(Parsed { statement, params })
}

/// Refuses statements whose expression trees could be deep enough to overflow the stack when
/// walked or dropped. The parser builds left-deep chains of infix and postfix operators
/// (`1+1+…`, `1&1&…`, `x IS NULL IS NULL …`, `x::INT::INT …`) in a loop, however long, so
/// their depth is bounded here, before parsing, from the tokens alone (no list of operators to
/// keep up to date): every token of a comma-separated item counts one, and a bracketed group
/// (`(…)`, `[…]`, `{…}`) counts one plus the longest item inside it, since a chain continuing
/// after a group is as deep as both. No item may count more than [`MAX_RUN_TOKENS`].
/// Separated lists of any length (`VALUES (…), (…)`, `IN (…)`, select lists) are free.
fn check_chains(tokens: &[TokenWithSpan]) -> Result<()> {
    // Per open group, innermost last: (the current item's count, the group's longest item).
    let mut groups: Vec<(usize, usize)> = vec![(0, 0)];
    for t in tokens {
        match &t.token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::LParen | Token::LBracket | Token::LBrace => groups.push((0, 0)),
            Token::RParen | Token::RBracket | Token::RBrace if groups.len() > 1 => {
                let (_, longest) = groups.pop().unwrap_or_default();
                if let Some(outer) = groups.last_mut() {
                    outer.0 += longest + 1;
                    outer.1 = outer.1.max(outer.0);
                    check_item(outer.0)?;
                }
            }
            Token::Comma | Token::SemiColon => {
                if let Some(group) = groups.last_mut() {
                    group.0 = 0;
                }
            }
            _ => {
                if let Some(group) = groups.last_mut() {
                    group.0 += 1;
                    group.1 = group.1.max(group.0);
                    check_item(group.0)?;
                }
            }
        }
    }
    Ok(())
}

/// The error of [`check_chains`] for an item of `count`.
fn check_item(count: usize) -> Result<()> {
    if count > MAX_RUN_TOKENS {
        return Err(Error::Sql(format!(
            "statement too long: an expression of more than {MAX_RUN_TOKENS} tokens without a \
             comma, counting those of the groups it contains (the limit on operator chains)"
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
