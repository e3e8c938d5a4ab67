//! Merging cursors: many sorted sources seen as one sorted stream.
//!
//! [`MergeIterator`] yields the entries of all its children in `compare_in(dir)` order. Sources
//! are given newest first (memtable, immutable memtables, L0 newest→oldest, L1, L2, ...); internal
//! keys are unique across sources because every version has its own seqno, so ties cannot occur
//! in a consistent database. A small binary heap of child indices keeps the current minimum on top;
//! comparing keys in place means the merge allocates nothing per entry.

use crate::error::Result;
use crate::lsm::iter::{compare_in, Direction, InternalIterator};
use std::cmp::Ordering;

/// A k-way merge of internal cursors. See the module docs.
pub struct MergeIterator {
    children: Vec<Box<dyn InternalIterator>>,
    /// Indices of valid children, as a binary min-heap ordered by `(key, index)`.
    heap: Vec<usize>,
    dir: Direction,
}

impl MergeIterator {
    /// Merges `children` (newest source first), all iterating in `dir`.
    pub fn new(children: Vec<Box<dyn InternalIterator>>, dir: Direction) -> Self {
        let heap: Vec<usize> = (0..children.len())
            .filter(|&i| children.get(i).is_some_and(|c| c.valid()))
            .collect();
        let mut m = MergeIterator {
            children,
            heap,
            dir,
        };
        for i in (0..m.heap.len() / 2).rev() {
            m.sift_down(i);
        }
        m
    }

    fn less(&self, a: usize, b: usize) -> bool {
        let (Some(ca), Some(cb)) = (self.children.get(a), self.children.get(b)) else {
            return false;
        };
        match compare_in(self.dir, ca.key(), cb.key()) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => a < b,
        }
    }

    fn heap_less(&self, i: usize, j: usize) -> bool {
        match (self.heap.get(i), self.heap.get(j)) {
            (Some(&a), Some(&b)) => self.less(a, b),
            _ => false,
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let l = 2 * i + 1;
            let r = l + 1;
            let mut smallest = i;
            if l < self.heap.len() && self.heap_less(l, smallest) {
                smallest = l;
            }
            if r < self.heap.len() && self.heap_less(r, smallest) {
                smallest = r;
            }
            if smallest == i {
                return;
            }
            self.heap.swap(i, smallest);
            i = smallest;
        }
    }

    fn top(&self) -> Option<&dyn InternalIterator> {
        let &i = self.heap.first()?;
        self.children.get(i).map(|c| c.as_ref())
    }
}

impl InternalIterator for MergeIterator {
    fn valid(&self) -> bool {
        !self.heap.is_empty()
    }

    fn key(&self) -> &[u8] {
        self.top().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.top().map_or(&[], |c| c.value())
    }

    fn advance(&mut self) -> Result<()> {
        let Some(&i) = self.heap.first() else {
            return Ok(());
        };
        let still_valid = match self.children.get_mut(i) {
            Some(child) => {
                child.advance()?;
                child.valid()
            }
            None => false,
        };
        if !still_valid {
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        }
        self.sift_down(0);
        Ok(())
    }
}

/// A cursor over a fixed, pre-sorted list of entries (tests and small in-memory sources).
#[cfg(test)]
pub struct VecIterator {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    pos: usize,
}

#[cfg(test)]
impl VecIterator {
    /// Iterates `entries`, which must already be in the desired order.
    pub fn new(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        VecIterator { entries, pos: 0 }
    }
}

#[cfg(test)]
impl InternalIterator for VecIterator {
    fn valid(&self) -> bool {
        self.pos < self.entries.len()
    }
    fn key(&self) -> &[u8] {
        self.entries.get(self.pos).map_or(&[], |e| e.0.as_slice())
    }
    fn value(&self) -> &[u8] {
        self.entries.get(self.pos).map_or(&[], |e| e.1.as_slice())
    }
    fn advance(&mut self) -> Result<()> {
        self.pos += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::{self, Kind};

    fn source(keys: &[(&str, u64)], dir: Direction) -> Box<dyn InternalIterator> {
        let mut v: Vec<_> = keys
            .iter()
            .map(|(k, s)| (ikey::encode(k.as_bytes(), *s, Kind::Put), Vec::new()))
            .collect();
        v.sort_by(|a, b| compare_in(dir, &a.0, &b.0));
        Box::new(VecIterator::new(v))
    }

    fn drain(mut m: MergeIterator) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        while m.valid() {
            let p = ikey::parse(m.key()).expect("valid");
            out.push((String::from_utf8_lossy(p.user_key).into_owned(), p.seq));
            m.advance().expect("advance");
        }
        out
    }

    #[test]
    fn merges_in_order_both_directions() {
        for dir in [Direction::Forward, Direction::Reverse] {
            let m = MergeIterator::new(
                vec![
                    source(&[("b", 9), ("d", 8)], dir),
                    source(&[], dir),
                    source(&[("a", 1), ("b", 2), ("e", 3)], dir),
                    source(&[("c", 4)], dir),
                ],
                dir,
            );
            let got = drain(m);
            let mut want = vec![
                ("a".to_string(), 1),
                ("b".to_string(), 9),
                ("b".to_string(), 2),
                ("c".to_string(), 4),
                ("d".to_string(), 8),
                ("e".to_string(), 3),
            ];
            if dir == Direction::Reverse {
                want.reverse();
            }
            assert_eq!(got, want);
        }
    }
}
