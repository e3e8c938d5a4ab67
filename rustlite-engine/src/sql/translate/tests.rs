//! Translation tests: supported shapes, named refusals, and the size/depth limits.

use super::*;
use crate::sql::ast::{ColumnType, Expr, Statement};

fn err(sql: &str) -> String {
    match parse(sql) {
        Err(Error::Sql(m)) => m,
        other => panic!("expected an SQL error for {sql:?}, got {other:?}"),
    }
}

#[test]
fn parameters_are_numbered() {
    let items = |sql: &str| -> Vec<String> {
        let Ok(Statement::Select(q)) = parse(sql) else {
            panic!("parse failed")
        };
        q.items
            .iter()
            .map(|i| match i {
                crate::sql::ast::SelectItem::Expr { expr, .. } => format!("{expr:?}"),
                other => format!("{other:?}"),
            })
            .collect()
    };
    let names = items("SELECT ? + ?, ?");
    assert!(names[0].contains("Param(0)") && names[0].contains("Param(1)"));
    assert!(names[1].contains("Param(2)"));
    let names = items("SELECT $2 + $3, $1");
    assert!(names[0].contains("Param(1)") && names[0].contains("Param(2)"));
    assert!(names[1].contains("Param(0)"));
    let count = |sql: &str| parse_counted(sql).map(|p| p.params).ok();
    assert_eq!(count("SELECT ? + ?, ?"), Some(3));
    assert_eq!(count("SELECT $3, $1"), Some(3));
    assert_eq!(count("SELECT '?', 1"), Some(0));
}

/// `?` and `$n` in one statement are refused: before, a `?` was numbered among the `?`s alone,
/// so `VALUES ($1, ?)` bound the first value twice (SQLite would bind the second).
#[test]
fn mixed_parameter_styles_are_refused() {
    assert!(err("SELECT $1, ?").contains("not both"));
}

/// `?`s are numbered in text order even where the translator meets them in another order: the
/// offset of `LIMIT ?, ?` comes first, and so does `OFFSET ? LIMIT ?`'s.
#[test]
fn parameters_follow_the_text_in_limit_clauses() {
    let params = |sql: &str| match parse(sql) {
        Ok(Statement::Select(q)) => (format!("{:?}", q.limit), format!("{:?}", q.offset)),
        other => panic!("{sql}: {other:?}"),
    };
    for sql in [
        "SELECT 1 FROM t LIMIT ?, ?",
        "SELECT 1 FROM t OFFSET ? LIMIT ?",
    ] {
        let (limit, offset) = params(sql);
        assert!(
            offset.contains("Param(0)") && limit.contains("Param(1)"),
            "{sql}"
        );
    }
    let (limit, offset) = params("SELECT 1 FROM t LIMIT ? OFFSET ?");
    assert!(limit.contains("Param(0)") && offset.contains("Param(1)"));
}

/// `.schema` prints a document column as `DOCUMENT`: that name (and `JSON`, `JSONB`) is accepted
/// back, so its output replays. Other unknown names are still refused.
#[test]
fn document_column_type_names() {
    for sql in [
        "CREATE TABLE t (d DOCUMENT, j JSON, b jsonb, l document NOT NULL)",
        "CREATE TABLE t (d \"DOCUMENT\", j Json, b JSONB, l Document NOT NULL)",
    ] {
        let Ok(Statement::CreateTable(t)) = parse(sql) else {
            panic!("{sql} did not parse")
        };
        let types: Vec<ColumnType> = t.columns.iter().map(|c| c.ty).collect();
        assert_eq!(types, [ColumnType::Document; 4], "{sql}");
    }
    assert!(err("CREATE TABLE t (d DOCUMENTS)").contains("type DOCUMENTS"));
    assert!(err("CREATE TABLE t (d DOCUMENT(3))").contains("type DOCUMENT(3)"));
}

#[test]
fn unsupported_syntax_is_named() {
    assert!(err("WITH x AS (SELECT 1) SELECT * FROM x").contains("WITH"));
    assert!(err("SELECT 1 UNION SELECT 2").contains("UNION"));
    assert!(err("SELECT ntile(4) FROM t").contains("ntile"));
    assert!(err("SELECT * FROM a JOIN b USING (id)").contains("USING"));
    assert!(err("CREATE TABLE t (a INTEGER DEFAULT 3)").contains("DEFAULT"));
    assert!(err("SELECT 1; SELECT 2").contains("one statement"));
    assert!(err("SELEC 1").contains("syntax error"));
}

#[test]
fn negative_literal_min() {
    let Ok(Statement::Select(q)) = parse("SELECT -9223372036854775808") else {
        panic!("parse failed")
    };
    assert!(matches!(
        &q.items[0],
        crate::sql::ast::SelectItem::Expr {
            expr: Expr::Literal(crate::Value::Int(i64::MIN)),
            ..
        }
    ));
}

#[test]
fn limit_parentheses() {
    let deep = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&deep).is_err());
}

#[test]
fn limit_operator_count() {
    let long_chain = format!("SELECT 1{}", "+1".repeat(100_000));
    assert!(err(&long_chain).contains("statement too long"));
}

#[test]
fn limit_statement_size() {
    let huge = format!("SELECT '{}'", "x".repeat(MAX_STATEMENT_BYTES));
    assert!(err(&huge).contains("limit"));
}

#[test]
fn limit_prefix_operators() {
    let nots = format!("SELECT {}true", "NOT ".repeat(10_000));
    assert!(parse(&nots).is_err());
}

#[test]
fn limit_tables_in_from() {
    // A long FROM list or join chain builds a left-deep tree: refused before it gets deep.
    let commas = format!("SELECT 1 FROM t{}", ", t".repeat(200_000));
    assert!(err(&commas).contains("at most 64 tables"));
    let joins = format!(
        "SELECT 1 FROM t{}",
        " CROSS JOIN t".repeat(MAX_RUN_TOKENS / 4)
    );
    assert!(err(&joins).contains("at most 64 tables"));
    let ok = format!("SELECT 1 FROM t{}", ", t".repeat(MAX_TABLES - 1));
    assert!(parse(&ok).is_ok());
}

/// A statement refused for another reason still drops its deep operator chain safely.
#[test]
fn deep_chains_in_refused_statements_drop_safely() {
    let chain = format!("1{}", "+1".repeat(MAX_RUN_TOKENS / 2 - 4));
    for sql in [
        format!("WITH x AS (SELECT 1) SELECT {chain}"),
        format!("SELECT {chain} UNION SELECT 2"),
        format!("SELECT {chain} FROM t JOIN u USING (id)"),
        format!("SELECT 1 FROM t WHERE {chain} = 2 GROUP BY ALL"),
        format!("INSERT INTO t VALUES ({chain})"),
        format!("UPDATE t SET a = {chain}"),
    ] {
        assert!(parse(&sql).is_err());
    }
}

#[test]
fn limit_expression_depth() {
    let chain = format!("SELECT 1{}", "+1".repeat(MAX_RUN_TOKENS / 2 - 1));
    assert!(err(&chain).contains("nested too deeply"));
}

/// Chains of every operator the parser builds in a loop are bounded before parsing, however
/// long the statement: before, `1&1&…` (uncounted operators) and postfix chains (`IS NULL`,
/// `::INT`, `IN (1)`, `LIKE 1`) of ~100k levels overflowed the stack when dropped, also when
/// the statement then failed to parse. Runs separated by commas are free.
#[test]
fn long_chains_of_any_operator_are_refused_before_parsing() {
    let long = MAX_RUN_TOKENS;
    for link in [
        "&1",
        "+(1)",
        " IS NULL",
        "::INT",
        " IN (1)",
        " LIKE 1",
        " IS NOT TRUE",
    ] {
        for tail in ["", " FROM"] {
            let sql = format!("SELECT 1{}{tail}", link.repeat(long));
            assert!(err(&sql).contains("statement too long"), "{link}{tail}");
            // Under the limit: parsed, then refused by the translator without overflowing.
            let runs = MAX_RUN_TOKENS / 4;
            let sql = format!("SELECT 1{}{tail}", link.repeat(runs));
            assert!(parse(&sql).is_err(), "{link}{tail}");
        }
    }
    // The reported crashes: 200k `&1` (with and without a syntax error after), 120k `::INT`.
    for sql in [
        format!("SELECT 1{}", "&1".repeat(200_000)),
        format!("SELECT 1{} FROM;", "&1".repeat(200_000)),
        format!("SELECT 1{}", "::INT".repeat(120_000)),
    ] {
        assert!(err(&sql).contains("statement too long"));
    }
    // Commas inside brackets or braces end no item of the chain around them, and a chain after
    // a group is as deep as both (each of these passed a per-run count).
    let bracketed = format!(
        "SELECT 1{} FROM",
        ("+1".repeat(2_000) + "+[1,1]").repeat(60)
    );
    assert!(err(&bracketed).contains("statement too long"));
    let mut nested = "1".to_string();
    for _ in 0..55 {
        nested = format!("({nested}){}", "+1".repeat(2_000));
    }
    for sql in [
        format!("SELECT {nested} FROM"),
        format!("WITH x AS (SELECT 1) SELECT {nested}"),
    ] {
        assert!(err(&sql).contains("statement too long"));
    }
    let values = format!("INSERT INTO t VALUES (-1){}", ", (-1)".repeat(20_000));
    assert!(parse(&values).is_ok());
    let list = format!("SELECT 1 IN (1{})", ", -1".repeat(20_000));
    assert!(parse(&list).is_ok());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    #[test]
    fn random_token_soup_never_panics(tokens in proptest::collection::vec(
        proptest::sample::select(vec![
            "SELECT", "FROM", "WHERE", "t", "a", "b.c", "(", ")", ",", "*", "+", "-", "/", "=",
            "<", "AND", "OR", "NOT", "NULL", "1", "2.5", "'x'", "?", "$1", "JOIN", "LEFT", "ON",
            "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "CASE", "WHEN", "THEN", "END",
            "IN", "BETWEEN", "LIKE", "IS", "count", "sum", "DISTINCT", "INSERT", "INTO",
            "VALUES", "UPDATE", "SET", "DELETE", "CREATE", "TABLE", "INDEX", "INTEGER", "TEXT",
            "PRIMARY", "KEY", "EXPLAIN", "AS", "CAST", "UNIQUE", "DROP",
        ]),
        0..40,
    )) {
        let sql = tokens.join(" ");
        let _ = parse(&sql);
        let engine = crate::Engine::open_in_memory(crate::Options::default())?;
        let mut tx = engine.begin(crate::IsolationLevel::default());
        crate::sql::execute(&mut tx, "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)", &[])?;
        crate::sql::execute(&mut tx, "INSERT INTO t VALUES (1, 'x'), (2, NULL)", &[])?;
        let _ = crate::sql::execute(&mut tx, &sql, &[crate::Value::Int(1)]);
    }
}
