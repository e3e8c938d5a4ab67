//! Sort elision: the order in which a scan's access path yields rows, and the `ORDER BY`s it
//! answers without a [`Node::Sort`].
//!
//! # The rule
//! A `Sort` is dropped when its input already arrives in its order, so that the stable sort
//! would hand the rows back unchanged (ties included, in the same order). That holds when:
//!
//! 1. **The path to a scan keeps row order.** From the sort down: `Filter`, `Project` (each
//!    sort key a plain column of its input, followed to the column it copies) and the left
//!    (probe) side of an INNER, LEFT or CROSS join, every key a column of that side. A join
//!    emits the rows of each left row together, in left order; RIGHT and FULL joins append
//!    unmatched right rows at the end, so they stop the walk, as do `Aggregate`, `Distinct`,
//!    `Limit`, `Sort` and `Values`.
//! 2. **The scan's access path yields that order.** By access ([`AccessOrder::of`]):
//!
//!    | access                                    | rows come in the order of           |
//!    |-------------------------------------------|-------------------------------------|
//!    | `Scan`, `KeyRange`                        | the primary key                     |
//!    | `KeyLookup` of several keys (`pk IN …`)   | the primary key (keys sorted)       |
//!    | `KeyLookup` of one key, unique `IndexScan =` | (one row at most: any order)     |
//!    | `IndexScan col = c`                       | the primary key (`col` fixed)       |
//!    | B-Tree `IndexScan col` range              | `col`, then the primary key         |
//!
//!    The ORDER BY columns must be a prefix of that list, skipping the columns the access
//!    fixes to one value (a key prefix both bounds of a `KeyRange` share, an index
//!    equality's column); once a prefix that identifies a row is matched, further terms
//!    cannot reorder anything (unless a join repeated that row).
//! 3. **Key order is SQL order for every compared column.** Storage orders rows by the key
//!    encoding of `Value` (`value/mod.rs`), SQL by [`compare_keys`] and [`sort_cmp`]. They
//!    agree within a declared type: `INTEGER` (`Int` then `UInt`, the integers above
//!    `i64::MAX`, numerically), `REAL` (integers are stored as reals; `-0.0` is keyed as
//!    `0.0`, which SQL holds equal; NaN, stored by typed code only, is one key above `+inf`,
//!    as in SQL), `TEXT` and `BLOB` (bytewise; SQL has no collations), `BOOLEAN`. A
//!    `DOCUMENT` column holds values of any type, whose keys order integers apart from reals
//!    and `UInt`s after text: never elided. NULL has the lowest key, so a nullable column
//!    also needs the NULL placement that gives (`NULLS FIRST` ascending, `NULLS LAST`
//!    descending: the defaults); an index holds no NULLs, but the rule is not loosened for it.
//!
//! # Descending
//! All-`DESC` terms are answered by the same path read backwards (`Node::Scan::reverse`), if
//! the storage can read it so (not a hash index) and the matched columns identify a row: a
//! reversed scan reverses ties too, which the stable sort would have kept in scan order, so
//! it is used only where there are none. Mixed directions keep their sort.
//!
//! # Reading an index for the order
//! With a `LIMIT` above the sort, a `Scan` that reads the whole table (`Full`, its filter kept)
//! may read a B-Tree index instead when that index's order answers the ORDER BY by the rules
//! above ([`index_order`]): the first rows it yields are the answer, where the full scan reads
//! and sorts every row (`ORDER BY created LIMIT 20`). The indexed column must be `NOT NULL`,
//! since an index holds no NULLs. Without a LIMIT the full scan is kept (every row is read
//! either way, and in key order rather than one lookup per index entry), as is any narrower
//! access path the WHERE chose.
//!
//! # Reused plans
//! A scan whose filter reads a parameter gets its access path when the plan is bound
//! ([`prepared`](super::prepared)): its order is unknown here, so the sort stays and binding
//! decides again with [`sorted`], over the bound scan (knowing whether a `LIMIT` follows).

use super::plan::{Access, Node, SortKey};
use crate::sql::ast::{ColumnType, Expr, JoinKind};
use crate::sql::storage::{IndexLookup, TableInfo};
#[cfg(doc)]
use crate::sql::{eval::sort_cmp, execution::sort::compare_keys};
use crate::value::Value;
use std::ops::Bound;

/// `source` in the order of `keys`: `source` itself when its rows already arrive in that
/// order (its scan read backwards when the order is the access path's reversed), or, when a
/// `LIMIT` follows (`limited`), when a full scan can read an index in that order instead
/// ([`index_order`]); else a [`Node::Sort`] over it.
pub fn sorted(mut source: Node, keys: Vec<SortKey>, limited: bool) -> Node {
    if answered(&mut source, &keys, limited) {
        return source;
    }
    Node::Sort {
        source: Box::new(source),
        keys,
    }
}

/// Whether `keys` need no sort over `source`: its scan's access path gives their order (the
/// scan then read backwards if the order is the path's reversed) or, when `limited` and the
/// scan reads the whole table, an index does (the scan then switched to it).
fn answered(source: &mut Node, keys: &[SortKey], limited: bool) -> bool {
    #[cfg(test)]
    if KEEP_SORTS.with(std::cell::Cell::get) {
        return false;
    }
    let Some((scan, terms, joined)) = trace(source, keys) else {
        return false;
    };
    let Node::Scan {
        table,
        access,
        filter,
        reverse,
        ..
    } = scan
    else {
        return false;
    };
    // An access path binding chooses (see the module docs) has no order yet.
    if *access == Access::Full && filter.as_ref().is_some_and(Expr::has_param) {
        return false;
    }
    let backwards = match AccessOrder::of(table, access)
        .and_then(|o| o.answers(table, &terms, joined))
    {
        Some(backwards) => backwards,
        None if limited && *access == Access::Full => match index_order(table, &terms, joined) {
            Some((by_index, backwards)) => {
                *access = by_index;
                backwards
            }
            None => return false,
        },
        None => return false,
    };
    *reverse = backwards;
    true
}

/// A B-Tree index of `table` whose order answers `terms` (rows of a join's probe side when
/// `joined`), as an access path reading all of it, and whether backwards. Only asked for a
/// full scan with a `LIMIT` above: the first rows the index yields are then the answer, where
/// the full scan reads and sorts every row. The index must hold every row, so its column must
/// be NOT NULL (an index holds no NULLs); its order is then the one [`AccessOrder`] gives any
/// index range (ties in primary-key order, descending only where no two rows tie).
fn index_order(table: &TableInfo, terms: &[Term], joined: bool) -> Option<(Access, bool)> {
    let first = terms.first()?;
    if table.columns.get(first.column).is_none_or(|c| c.nullable) {
        return None;
    }
    table
        .indexes
        .iter()
        .filter(|i| !i.hash && i.column == first.column)
        .find_map(|index| {
            let by_index = Access::Index {
                index: index.clone(),
                lookup: IndexLookup::Range(Bound::Unbounded, Bound::Unbounded),
            };
            let backwards = AccessOrder::of(table, &by_index)?.answers(table, terms, joined)?;
            Some((by_index, backwards))
        })
}

/// One ORDER BY term as a column of the scan it is traced to.
#[derive(Clone, Copy, Debug)]
struct Term {
    column: usize,
    desc: bool,
    nulls_first: bool,
}

/// Follows the order-preserving nodes from `node` down to the scan whose order reaches the
/// top (rule 1 of the module docs), each key mapped to that scan's column; also whether a
/// join was passed (rows of the scan may repeat). `None` when the order is lost on the way.
fn trace<'n>(node: &'n mut Node, keys: &[SortKey]) -> Option<(&'n mut Node, Vec<Term>, bool)> {
    let mut terms = keys
        .iter()
        .map(|k| match k.expr {
            Expr::Column { index, .. } => Some(Term {
                column: index,
                desc: k.desc,
                nulls_first: k.nulls_first,
            }),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let mut joined = false;
    let mut node = node;
    loop {
        if matches!(node, Node::Scan { .. }) {
            return Some((node, terms, joined));
        }
        node = match node {
            Node::Filter { source, .. } => source,
            Node::Project { source, exprs } => {
                for t in &mut terms {
                    match exprs.get(t.column)? {
                        Expr::Column { index, .. } => t.column = *index,
                        _ => return None,
                    }
                }
                source
            }
            Node::HashJoin {
                left,
                kind,
                left_width,
                ..
            }
            | Node::NestedLoopJoin {
                left,
                kind,
                left_width,
                ..
            } if matches!(kind, JoinKind::Inner | JoinKind::Left | JoinKind::Cross)
                && terms.iter().all(|t| t.column < *left_width) =>
            {
                joined = true;
                left
            }
            _ => return None,
        };
    }
}

/// The order of an access path's rows (the table in the module docs): ascending by
/// `columns` in key order, where `fixed` columns hold one value in every row.
#[derive(Debug)]
struct AccessOrder {
    columns: Vec<usize>,
    fixed: Vec<usize>,
    /// How many leading `columns` identify a row (`None`: not even all of them, a table
    /// keyed by its hidden row id).
    unique: Option<usize>,
    /// The storage can read the path backwards.
    reversible: bool,
    /// At most one row.
    single: bool,
}

impl AccessOrder {
    fn of(table: &TableInfo, access: &Access) -> Option<AccessOrder> {
        let pk = &table.primary_key;
        let key_order = |fixed: Vec<usize>, reversible: bool| AccessOrder {
            columns: pk.clone(),
            fixed,
            unique: (!pk.is_empty()).then_some(pk.len()),
            reversible,
            single: false,
        };
        let single = AccessOrder {
            columns: vec![],
            fixed: vec![],
            unique: None,
            reversible: false,
            single: true,
        };
        Some(match access {
            Access::Full => key_order(vec![], true),
            Access::KeyRange(lo, hi) => {
                let fixed = pk.get(..fixed_prefix(lo, hi)).unwrap_or_default();
                key_order(fixed.to_vec(), true)
            }
            Access::KeyLookup(keys) if keys.len() <= 1 => single,
            // `choose_access` sorts and deduplicates the keys of an IN list.
            Access::KeyLookup(_) => key_order(vec![], true),
            Access::Index {
                index,
                lookup: IndexLookup::Eq(_),
            } if index.unique => single,
            Access::Index {
                index,
                lookup: IndexLookup::Eq(_),
            } => key_order(vec![index.column], !index.hash),
            Access::Index {
                index,
                lookup: IndexLookup::Range(..),
            } if !index.hash => {
                let mut columns = vec![index.column];
                columns.extend(pk);
                AccessOrder {
                    unique: if index.unique {
                        Some(1)
                    } else {
                        (!pk.is_empty()).then_some(columns.len())
                    },
                    columns,
                    fixed: vec![],
                    reversible: true,
                    single: false,
                }
            }
            Access::Index { .. } => return None,
        })
    }

    /// Whether rows in this order are in the order of `terms` read forwards (`Some(false)`)
    /// or backwards (`Some(true)`); `None` when they need a sort.
    fn answers(&self, table: &TableInfo, terms: &[Term], joined: bool) -> Option<bool> {
        if self.single {
            return Some(false);
        }
        let identified = |pos: usize| self.unique.is_some_and(|u| pos >= u);
        let mut pos = 0;
        let mut desc = None;
        for t in terms {
            if self.fixed.contains(&t.column) {
                continue;
            }
            pos = self.skip_fixed(pos);
            if identified(pos) && !joined {
                // No two rows tie on what came before: the rest cannot reorder them.
                break;
            }
            if self.columns.get(pos) != Some(&t.column) || !key_ordered(table, t) {
                return None;
            }
            if *desc.get_or_insert(t.desc) != t.desc {
                return None;
            }
            pos += 1;
        }
        match desc {
            Some(true) => (self.reversible && identified(self.skip_fixed(pos))).then_some(true),
            _ => Some(false),
        }
    }

    /// The first position from `pos` on whose column is not fixed.
    fn skip_fixed(&self, mut pos: usize) -> usize {
        while self
            .columns
            .get(pos)
            .is_some_and(|c| self.fixed.contains(c))
        {
            pos += 1;
        }
        pos
    }
}

/// How many leading key columns the bounds of a key range share: every key between them has
/// those values (a key differing in one of them would sort below the lower bound or above
/// the upper one).
fn fixed_prefix(lo: &Bound<Vec<Value>>, hi: &Bound<Vec<Value>>) -> usize {
    match (lo, hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a.iter().zip(b).take_while(|(x, y)| x == y).count()
        }
        _ => 0,
    }
}

/// Whether the key order of column `t.column` is its SQL order under `t` (rule 3 of the
/// module docs).
fn key_ordered(table: &TableInfo, t: &Term) -> bool {
    let Some(c) = table.columns.get(t.column) else {
        return false;
    };
    let typed = match c.ty {
        ColumnType::Int
        | ColumnType::Float
        | ColumnType::Text
        | ColumnType::Bytes
        | ColumnType::Bool => true,
        ColumnType::Document => false,
    };
    // NULL's key is the lowest: first ascending, last descending.
    typed && (!c.nullable || t.nulls_first != t.desc)
}

#[cfg(test)]
thread_local! {
    /// Keeps every sort on this thread (a test hook: the sorted output to compare with).
    pub static KEEP_SORTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests;
