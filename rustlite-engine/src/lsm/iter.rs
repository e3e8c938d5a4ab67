//! Internal iterators: cursors over (internal key, value) entries, and the merge of many.
//!
//! Every source of entries (a memtable, an SSTable, a level of SSTables) is an
//! [`InternalIterator`]: a cursor that is either positioned on an entry or exhausted. A forward
//! cursor yields entries in ascending [`ikey::compare`] order; a reverse cursor in descending order.
//! The cursor API (rather than `Iterator<Item = (Vec<u8>, Vec<u8>)>`) lets the merge compare keys
//! in place without allocating per entry.

use crate::error::Result;
use crate::lsm::ikey;

/// Iteration direction.
///
/// ```
/// use rustlite_engine::{Direction, Engine, Options};
/// use std::ops::Bound::Unbounded;
/// let db = Engine::open_in_memory(Options::default())?;
/// for k in [b"a", b"b"] { db.put(k, b"")?; }
/// let first = |dir| -> rustlite_engine::Result<Option<Vec<u8>>> {
///     Ok(db.scan(Unbounded, Unbounded, dir)?.next().transpose()?.map(|(k, _)| k))
/// };
/// assert_eq!(first(Direction::Forward)?, Some(b"a".to_vec()));
/// assert_eq!(first(Direction::Reverse)?, Some(b"b".to_vec()));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Ascending internal-key order.
    Forward,
    /// Descending internal-key order.
    Reverse,
}

/// A cursor over internal entries. See the module docs.
pub trait InternalIterator: Send {
    /// Whether the cursor is positioned on an entry.
    fn valid(&self) -> bool;
    /// The current internal key. Only meaningful when [`valid`](Self::valid).
    fn key(&self) -> &[u8];
    /// The current value (empty for tombstones). Only meaningful when valid.
    fn value(&self) -> &[u8];
    /// Moves to the next entry in the cursor's direction.
    fn advance(&mut self) -> Result<()>;
}

/// Compares two internal keys as seen in `dir` (reverse flips the order).
pub fn compare_in(dir: Direction, a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match dir {
        Direction::Forward => ikey::compare(a, b),
        Direction::Reverse => ikey::compare(b, a),
    }
}
