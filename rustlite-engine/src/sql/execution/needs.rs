//! Projection pushdown: which columns of a node's output the nodes above it read.
//!
//! The executor passes a [`Needs`] down as it starts each node; a scan turns it into the mask
//! of table columns to decode. Each node derives its input's needs from its own expressions
//! (positions are always into the node's input row):
//!
//! | node | its input must produce |
//! |---|---|
//! | Project | the columns its expressions read (whatever is asked of it) |
//! | Aggregate | the columns of its group keys and aggregate arguments |
//! | Filter, Sort | what is asked of it, plus the columns of its predicate / keys |
//! | Limit | what is asked of it |
//! | Distinct | everything (whole rows are compared) |
//! | join | what is asked of it plus its keys and condition, split at the left width |
//! | Scan | decodes what is asked of it plus its filter's columns |
//!
//! The root of a query is asked for everything, so every output column is computed; a column
//! no one reads comes out of the scan as NULL.

use crate::sql::ast::Expr;
use std::collections::BTreeSet;

/// The columns of a row that must be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Every column.
    All,
    /// Only these positions.
    Some(BTreeSet<usize>),
}

impl Needs {
    /// The columns `exprs` read.
    pub fn of<'a>(exprs: impl Iterator<Item = &'a Expr>) -> Needs {
        let mut set = BTreeSet::new();
        for e in exprs {
            set.extend(e.columns());
        }
        Needs::Some(set)
    }

    /// These needs plus the columns `exprs` read.
    pub fn with<'a>(&self, exprs: impl Iterator<Item = &'a Expr>) -> Needs {
        match (self, Needs::of(exprs)) {
            (Needs::Some(mine), Needs::Some(more)) => {
                Needs::Some(mine.union(&more).copied().collect())
            }
            _ => Needs::All,
        }
    }

    /// Whether column `i` is needed.
    pub fn contains(&self, i: usize) -> bool {
        match self {
            Needs::All => true,
            Needs::Some(set) => set.contains(&i),
        }
    }

    /// The needs of a join's inputs, given the needs of its output (left row ++ right row),
    /// its key expressions (over each input) and its condition (over the joined row).
    pub fn split_join(
        &self,
        left_width: usize,
        left_keys: &[Expr],
        right_keys: &[Expr],
        condition: Option<&Expr>,
    ) -> (Needs, Needs) {
        let joined = self.with(condition.into_iter());
        match joined {
            Needs::All => (Needs::All, Needs::All),
            Needs::Some(set) => {
                let mut left: BTreeSet<usize> = set.range(..left_width).copied().collect();
                let mut right: BTreeSet<usize> =
                    set.range(left_width..).map(|c| c - left_width).collect();
                left.extend(left_keys.iter().flat_map(Expr::columns));
                right.extend(right_keys.iter().flat_map(Expr::columns));
                (Needs::Some(left), Needs::Some(right))
            }
        }
    }

    /// The mask of a table's `width` columns a scan decodes: these needs plus its filter's.
    pub fn scan_mask(&self, width: usize, filter: Option<&Expr>) -> Vec<bool> {
        let all = self.with(filter.into_iter());
        (0..width).map(|i| all.contains(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(index: usize) -> Expr {
        Expr::Column {
            index,
            label: format!("c{index}"),
        }
    }

    #[test]
    fn joins_split_needs_at_the_left_width() {
        let asked = Needs::of([col(1), col(4)].iter());
        let cond = Expr::binary(crate::sql::ast::BinaryOp::Gt, col(0), col(3));
        let (l, r) = asked.split_join(3, &[col(2)], &[col(0)], Some(&cond));
        assert_eq!(l, Needs::Some([0, 1, 2].into()));
        assert_eq!(r, Needs::Some([0, 1].into()));
        assert_eq!(
            Needs::All.split_join(3, &[], &[], None),
            (Needs::All, Needs::All)
        );
    }

    #[test]
    fn scan_masks_add_the_filter() {
        let asked = Needs::of([col(2)].iter());
        assert_eq!(
            asked.scan_mask(4, Some(&col(0))),
            [true, false, true, false]
        );
        assert_eq!(Needs::All.scan_mask(2, None), [true, true]);
    }
}
