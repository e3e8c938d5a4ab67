//! ORDER BY: a stable sort of the whole input, or, right under a `LIMIT`, a bounded top-k.
//!
//! Both order rows by [`compare_keys`] (NULL placement, DESC, then [`sort_cmp`]'s total order
//! of values) and break ties by arrival: the full sort is stable, and the top-k numbers each
//! row as it arrives and compares that number last. So the top-k outputs exactly the first
//! `offset + limit` rows of the full sort, ties included.
//!
//! ```text
//! Limit 10 offset 5
//! └─ Sort a           a max-heap of the best 15 (keys, arrival, row) so far:
//!    └─ Scan t        a row that is not better than the heap's worst is dropped (an equal
//!                     one arrived later, so it is worse); a better one replaces the worst
//! ```
//! The top-k holds `offset + limit` rows, not the input: `ORDER BY a LIMIT 10` over a million
//! rows keeps ten.

use crate::sql::eval::sort_cmp;
use crate::sql::planner::plan::SortKey;
use crate::sql::storage::Row;
use crate::value::Value;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// ORDER BY's order of two rows' key values (`a` and `b` hold one value per key).
pub fn compare_keys(keys: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if k.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if k.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if k.desc => sort_cmp(y, x),
            _ => sort_cmp(x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Collects rows with their key values and hands them back in ORDER BY order; with a bound,
/// keeps only the first `bound` of that order.
pub struct Sorter<'k> {
    keys: &'k [SortKey],
    buffer: Buffer<'k>,
}

enum Buffer<'k> {
    /// Every row, sorted (stably) at the end.
    All(Vec<(Vec<Value>, Row)>),
    /// The best `bound` rows so far.
    Top {
        bound: usize,
        heap: BinaryHeap<Entry<'k>>,
        arrived: u64,
    },
}

/// A row in the top-k heap, ordered by its keys, then by arrival.
struct Entry<'k> {
    keys: &'k [SortKey],
    values: Vec<Value>,
    arrival: u64,
    row: Row,
}

impl Ord for Entry<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_keys(self.keys, &self.values, &other.values).then(self.arrival.cmp(&other.arrival))
    }
}

impl PartialOrd for Entry<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry<'_> {}

impl<'k> Sorter<'k> {
    /// A sorter by `keys`; `bound` (`offset + limit`) keeps only the first rows of the order.
    pub fn new(keys: &'k [SortKey], bound: Option<usize>) -> Self {
        let buffer = match bound {
            None => Buffer::All(Vec::new()),
            Some(bound) => Buffer::Top {
                bound,
                heap: BinaryHeap::new(),
                arrived: 0,
            },
        };
        Sorter { keys, buffer }
    }

    /// Adds a row with its key values.
    pub fn push(&mut self, values: Vec<Value>, row: Row) {
        match &mut self.buffer {
            Buffer::All(rows) => rows.push((values, row)),
            Buffer::Top {
                bound,
                heap,
                arrived,
            } => {
                let entry = Entry {
                    keys: self.keys,
                    values,
                    arrival: *arrived,
                    row,
                };
                *arrived += 1;
                if heap.len() < *bound {
                    heap.push(entry);
                } else if let Some(mut worst) = heap.peek_mut() {
                    // Later than every row held, so a tie with the worst is worse than it.
                    if entry < *worst {
                        *worst = entry;
                    }
                }
            }
        }
    }

    /// Rows held now (the top-k never holds more than its bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        match &self.buffer {
            Buffer::All(rows) => rows.len(),
            Buffer::Top { heap, .. } => heap.len(),
        }
    }

    /// The rows in ORDER BY order.
    pub fn finish(self) -> Vec<Row> {
        match self.buffer {
            Buffer::All(mut rows) => {
                let keys = self.keys;
                rows.sort_by(|(a, _), (b, _)| compare_keys(keys, a, b));
                rows.into_iter().map(|(_, row)| row).collect()
            }
            Buffer::Top { heap, .. } => heap.into_sorted_vec().into_iter().map(|e| e.row).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ast::Expr;

    fn key(index: usize, desc: bool, nulls_first: bool) -> SortKey {
        SortKey {
            expr: Expr::Column {
                index,
                label: format!("#{}", index + 1),
            },
            desc,
            nulls_first,
        }
    }

    /// The top-k's output is the prefix of the stable full sort for every bound, over rows
    /// with many ties, NULLs, mixed numeric types and values of several types, for every
    /// direction and NULL placement; it never holds more rows than its bound.
    #[test]
    fn top_k_is_the_prefix_of_the_stable_sort() {
        let pool = [
            Value::Null,
            Value::Int(1),
            Value::Float(1.0),
            Value::Float(0.5),
            Value::Int(-3),
            Value::UInt(u64::MAX),
            Value::Text("a".into()),
            Value::Text("b".into()),
            Value::Bool(true),
            Value::Bytes(vec![1]),
            Value::Float(f64::INFINITY),
        ];
        // splitmix64, so the rows are the same every run.
        let mut state = 7u64;
        let mut next = move |n: usize| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            usize::try_from((z ^ (z >> 31)) % n as u64).unwrap_or(0)
        };
        let rows: Vec<Row> = (0..300)
            .map(|i| {
                vec![
                    pool[next(pool.len())].clone(),
                    pool[next(4)].clone(),
                    Value::Int(i),
                ]
            })
            .collect();
        for (desc_a, nf_a, desc_b, nf_b) in [
            (false, true, false, true),
            (true, false, false, true),
            (false, false, true, true),
            (true, true, true, false),
        ] {
            let keys = [key(0, desc_a, nf_a), key(1, desc_b, nf_b)];
            let values = |r: &Row| r.iter().take(2).cloned().collect::<Vec<_>>();
            let mut full = Sorter::new(&keys, None);
            rows.iter().for_each(|r| full.push(values(r), r.clone()));
            let full = full.finish();
            for bound in [0, 1, 2, 5, 17, 299, 300, 301, 1000] {
                let mut top = Sorter::new(&keys, Some(bound));
                for r in &rows {
                    top.push(values(r), r.clone());
                    assert!(top.len() <= bound);
                }
                let want: Vec<Row> = full.iter().take(bound).cloned().collect();
                assert_eq!(top.finish(), want, "bound {bound}, keys {keys:?}");
            }
        }
    }

    /// Through SQL: `ORDER BY … LIMIT` holds `offset + limit` rows, not the table.
    #[test]
    fn order_by_limit_buffers_offset_plus_limit_rows() -> crate::error::Result<()> {
        use crate::sql::query;
        use crate::{Engine, Options};
        let engine = Engine::open_in_memory(Options::default())?;
        query(
            &engine,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)",
            &[],
        )?;
        for chunk in 0..10 {
            let values: Vec<String> = (0..100)
                .map(|i| {
                    let id = chunk * 100 + i;
                    format!("({id}, {})", (id * 7919) % 13)
                })
                .collect();
            query(
                &engine,
                &format!("INSERT INTO t VALUES {}", values.join(", ")),
                &[],
            )?;
        }
        super::PEAK_SORT_ROWS.with(|p| p.set(0));
        let rows = query(
            &engine,
            "SELECT id FROM t ORDER BY a DESC, id LIMIT 4 OFFSET 3",
            &[],
        )?
        .rows;
        assert_eq!(super::PEAK_SORT_ROWS.with(std::cell::Cell::get), 7);
        let all = query(&engine, "SELECT id FROM t ORDER BY a DESC, id", &[])?.rows;
        assert_eq!(super::PEAK_SORT_ROWS.with(std::cell::Cell::get), 1000);
        assert_eq!(rows, all[3..7].to_vec());
        Ok(())
    }
}

#[cfg(test)]
thread_local! {
    /// Most rows a Sort on this thread held (a test hook: the top-k bound is observable).
    pub static PEAK_SORT_ROWS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}
