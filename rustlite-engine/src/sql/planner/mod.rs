//! The planner: [`ast::Statement`](crate::sql::ast::Statement) → [`Plan`].
//!
//! | module | owns |
//! |---|---|
//! | [`scope`] | name resolution and parameter binding |
//! | [`select`] | SELECT planning: push-down, joins, aggregation, ordering |
//! | [`access`] | the access path per table (key lookup/range, index, full scan) |
//! | [`order`] | the order an access path yields, and the sorts it makes unnecessary |
//! | [`plan`] | the physical plan nodes |
//! | [`explain`] | plans and expressions as text |
//! | [`prepared`] | reusable plans of SELECTs, with parameters bound at execution |
//!
//! Tables are looked up through the [`Storage`] once per statement; parameters are bound as
//! values while resolving names, so the access-path choice sees them as constants. A plan
//! built for reuse ([`Planner::deferred`]) keeps them as placeholders instead, and leaves the
//! access path of every scan whose filter reads one to the binding ([`prepared`]).

pub mod access;
pub mod explain;
pub mod order;
pub mod plan;
pub mod prepared;
pub mod scope;
pub mod select;

use crate::error::{Error, Result};
use crate::sql::ast::{CreateIndex, CreateTable, Expr, InsertSource, Statement};
use crate::sql::storage::{Storage, TableInfo};
use crate::value::Value;
use plan::Node;
use scope::{Params, Scope, ScopeColumn};
use std::sync::Arc;

/// Deepest nesting of subqueries and joins the planner follows.
const MAX_PLAN_DEPTH: usize = 128;

/// A planned statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// A query: its plan and output column names.
    Query {
        /// Root node.
        node: Node,
        /// Output column names (shared with every result of a reused plan).
        columns: std::sync::Arc<[String]>,
    },
    /// EXPLAIN of a plan.
    Explain(Box<Plan>),
    /// `INSERT`.
    Insert {
        /// Target table.
        table: Arc<TableInfo>,
        /// Target column positions, one per source value.
        columns: Vec<usize>,
        /// Source rows.
        source: InsertPlan,
    },
    /// `UPDATE`: rows found by `scan` get `set` applied (expressions over the old row).
    Update {
        /// Target table.
        table: Arc<TableInfo>,
        /// Scan of the rows to update (a [`Node::Scan`]).
        scan: Node,
        /// `(column position, new value)`.
        set: Vec<(usize, Expr)>,
    },
    /// `DELETE`: rows found by `scan` are deleted.
    Delete {
        /// Target table.
        table: Arc<TableInfo>,
        /// Scan of the rows to delete (a [`Node::Scan`]).
        scan: Node,
    },
    /// `CREATE TABLE`.
    CreateTable(CreateTable),
    /// `CREATE INDEX`.
    CreateIndex(CreateIndex),
    /// `DROP TABLE`.
    DropTable {
        /// Table name.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `DROP INDEX`.
    DropIndex {
        /// Index name.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
}

/// Where the rows of an INSERT come from.
#[derive(Clone, Debug, PartialEq)]
pub enum InsertPlan {
    /// Constant rows (expressions without column references).
    Values(Vec<Vec<Expr>>),
    /// A query.
    Query(Box<Node>),
}

impl Plan {
    /// The plan as text (EXPLAIN).
    pub fn explain(&self) -> String {
        match self {
            Plan::Query { node, .. } => node.explain(),
            Plan::Explain(p) => p.explain(),
            Plan::Insert { table, source, .. } => match source {
                InsertPlan::Values(rows) => {
                    format!("Insert {} ({} row(s))\n", table.name, rows.len())
                }
                InsertPlan::Query(node) => {
                    format!("Insert {}\n{}", table.name, indent(&node.explain()))
                }
            },
            Plan::Update { table, scan, set } => {
                let cols: Vec<String> = set
                    .iter()
                    .map(|(c, e)| {
                        let name = table.columns.get(*c).map_or("?", |c| c.name.as_str());
                        format!("{name} = {e}")
                    })
                    .collect();
                format!(
                    "Update {} set {}\n{}",
                    table.name,
                    cols.join(", "),
                    indent(&scan.explain())
                )
            }
            Plan::Delete { table, scan } => {
                format!("Delete {}\n{}", table.name, indent(&scan.explain()))
            }
            Plan::CreateTable(c) => format!("CreateTable {}\n", c.name),
            Plan::CreateIndex(c) => format!("CreateIndex {} on {}\n", c.name, c.table),
            Plan::DropTable { name, .. } => format!("DropTable {name}\n"),
            Plan::DropIndex { name, .. } => format!("DropIndex {name}\n"),
        }
    }
}

/// Puts a tree under a parent line.
fn indent(tree: &str) -> String {
    let mut out = String::new();
    for (i, line) in tree.lines().enumerate() {
        out.push_str(if i == 0 { "└─ " } else { "   " });
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Plans statements against a storage's tables, with bound parameters.
pub struct Planner<'a> {
    storage: &'a mut dyn Storage,
    params: Params<'a>,
    depth: usize,
    /// Every table looked up, by the name it was looked up with (deferred planning only: the
    /// tables a reusable plan depends on).
    tables: Vec<(String, Arc<TableInfo>)>,
}

impl<'a> Planner<'a> {
    /// A planner reading table definitions from `storage`, binding `params` by value.
    pub fn new(storage: &'a mut dyn Storage, params: &'a [Value]) -> Self {
        Planner {
            storage,
            params: Params::Values(params),
            depth: 0,
            tables: Vec::new(),
        }
    }

    /// A planner for a reusable plan: parameters stay placeholders, and the tables looked up
    /// are recorded (see [`prepared`]).
    pub fn deferred(storage: &'a mut dyn Storage) -> Self {
        Planner {
            storage,
            params: Params::Deferred,
            depth: 0,
            tables: Vec::new(),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_PLAN_DEPTH {
            return Err(Error::Sql(format!(
                "query nested too deeply (limit {MAX_PLAN_DEPTH})"
            )));
        }
        Ok(())
    }

    /// The table called `name`, or an error naming it.
    fn table(&mut self, name: &str) -> Result<Arc<TableInfo>> {
        let table = self
            .storage
            .table(name)?
            .ok_or_else(|| Error::Sql(format!("unknown table {name}")))?;
        if matches!(self.params, Params::Deferred) {
            self.tables.push((name.to_string(), Arc::clone(&table)));
        }
        Ok(table)
    }

    /// Plans one statement.
    pub fn plan(&mut self, statement: Statement) -> Result<Plan> {
        Ok(match statement {
            Statement::Select(q) => {
                let (node, columns) = self.plan_query(*q)?;
                Plan::Query {
                    node,
                    columns: columns.into(),
                }
            }
            Statement::Explain(inner) => Plan::Explain(Box::new(self.plan(*inner)?)),
            Statement::CreateTable(c) => Plan::CreateTable(c),
            Statement::CreateIndex(c) => Plan::CreateIndex(c),
            Statement::DropTable { name, if_exists } => Plan::DropTable { name, if_exists },
            Statement::DropIndex { name, if_exists } => Plan::DropIndex { name, if_exists },
            Statement::Insert {
                table,
                columns,
                source,
            } => self.plan_insert(&table, columns, source)?,
            Statement::Update { table, set, filter } => {
                let table = self.table(&table)?;
                let scope = table_scope(&table);
                let mut assignments: Vec<(usize, Expr)> = Vec::new();
                for (name, e) in set {
                    let col = table.column(&name).ok_or_else(|| {
                        Error::Sql(format!("unknown column {name} in table {}", table.name))
                    })?;
                    if assignments.iter().any(|(c, _)| *c == col) {
                        return Err(Error::Sql(format!("column {name} is assigned twice")));
                    }
                    if e.has_aggregate() {
                        return Err(Error::Sql(
                            "aggregate functions are not allowed in UPDATE".into(),
                        ));
                    }
                    assignments.push((col, scope.resolve(e, self.params)?));
                }
                let scan = self.dml_scan(&table, &scope, filter)?;
                Plan::Update {
                    table,
                    scan,
                    set: assignments,
                }
            }
            Statement::Delete { table, filter } => {
                let table = self.table(&table)?;
                let scope = table_scope(&table);
                let scan = self.dml_scan(&table, &scope, filter)?;
                Plan::Delete { table, scan }
            }
        })
    }

    fn plan_insert(
        &mut self,
        table: &str,
        columns: Option<Vec<String>>,
        source: InsertSource,
    ) -> Result<Plan> {
        let table = self.table(table)?;
        let positions = match columns {
            None => (0..table.columns.len()).collect::<Vec<_>>(),
            Some(names) => {
                let mut out = Vec::new();
                for n in names {
                    let c = table.column(&n).ok_or_else(|| {
                        Error::Sql(format!("unknown column {n} in table {}", table.name))
                    })?;
                    if out.contains(&c) {
                        return Err(Error::Sql(format!("column {n} is listed twice")));
                    }
                    out.push(c);
                }
                out
            }
        };
        let source = match source {
            InsertSource::Values(rows) => {
                let empty = Scope::default();
                let mut out = Vec::new();
                for row in rows {
                    if row.len() != positions.len() {
                        return Err(Error::Sql(format!(
                            "INSERT into {} has {} value(s) for {} column(s)",
                            table.name,
                            row.len(),
                            positions.len()
                        )));
                    }
                    let row = row
                        .into_iter()
                        .map(|e| {
                            if e.has_aggregate() {
                                return Err(Error::Sql(
                                    "aggregate functions are not allowed in VALUES".into(),
                                ));
                            }
                            empty.resolve(e, self.params)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    out.push(row);
                }
                InsertPlan::Values(out)
            }
            InsertSource::Query(q) => {
                let (node, names) = self.plan_query(*q)?;
                if names.len() != positions.len() {
                    return Err(Error::Sql(format!(
                        "INSERT into {} selects {} column(s) for {} column(s)",
                        table.name,
                        names.len(),
                        positions.len()
                    )));
                }
                InsertPlan::Query(Box::new(node))
            }
        };
        Ok(Plan::Insert {
            table,
            columns: positions,
            source,
        })
    }

    /// The scan of an UPDATE/DELETE target with its WHERE pushed into the access path.
    fn dml_scan(
        &mut self,
        table: &Arc<TableInfo>,
        scope: &Scope,
        filter: Option<Expr>,
    ) -> Result<Node> {
        let conjuncts = match filter {
            Some(f) => {
                if f.has_aggregate() {
                    return Err(Error::Sql(
                        "aggregate functions are not allowed in WHERE".into(),
                    ));
                }
                scope.resolve(f, self.params)?.into_conjuncts()
            }
            None => vec![],
        };
        let (access, rest) = access::choose_access(table, conjuncts);
        Ok(Node::Scan {
            table: table.clone(),
            alias: table.name.clone(),
            access,
            filter: Expr::conjoin(rest),
            reverse: false,
        })
    }
}

/// The scope of a single table's columns.
fn table_scope(table: &TableInfo) -> Scope {
    Scope {
        columns: table
            .columns
            .iter()
            .map(|c| ScopeColumn {
                table: Some(table.name.clone()),
                name: c.name.clone(),
            })
            .collect(),
    }
}
