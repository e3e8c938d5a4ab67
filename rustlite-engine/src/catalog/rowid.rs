//! Hidden row ids of tables declared without a primary key ([`ROWID`](super::ROWID)).
//!
//! Row ids are handed out from memory, one counter per table, not from a counter stored in the
//! database. A stored counter is a key that every insert into the table reads and writes, so
//! two concurrent inserts conflicted (the second committer got `Error::Conflict`, even for
//! single-statement SQL `INSERT`s), and, being a catalog key, every insert invalidated the
//! cached catalog.
//!
//! The first allocation for a table in an engine's life seeds its counter with the first id
//! after the largest row id on disk (the caller's `seed`); later ones are one step under a
//! mutex. As with SQLite's row ids without `AUTOINCREMENT`: the ids of inserts that rolled back
//! are skipped, and the largest ids of rows deleted before a reopen may be handed out again.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The next row id of each table that has allocated one since the engine opened.
#[derive(Debug, Default)]
pub(crate) struct RowIds {
    next: Mutex<HashMap<u32, u64>>,
}

impl RowIds {
    /// Hands out the next row id of table `table_id`; the table's first call takes its starting
    /// point from `seed` (which must not allocate row ids itself).
    pub(crate) fn allocate(
        &self,
        table_id: u32,
        seed: impl FnOnce() -> Result<u64>,
    ) -> Result<i64> {
        let mut next = self.next.lock();
        let counter = match next.entry(table_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(seed()?.max(1)),
        };
        let id = i64::try_from(*counter)
            .map_err(|_| Error::InvalidArgument("row ids exhausted".into()))?;
        *counter += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_counts_from_its_seed_which_is_taken_once() {
        let ids = RowIds::default();
        let calls = std::cell::Cell::new(0);
        let seed = |from: u64| {
            calls.set(calls.get() + 1);
            Ok(from)
        };
        assert_eq!(ids.allocate(1, || seed(7)).ok(), Some(7));
        assert_eq!(ids.allocate(1, || seed(100)).ok(), Some(8));
        assert_eq!(ids.allocate(2, || seed(0)).ok(), Some(1), "ids start at 1");
        assert_eq!(ids.allocate(2, || seed(0)).ok(), Some(2));
        assert_eq!(calls.get(), 2, "one seed per table");
        assert!(ids
            .allocate(3, || Err(Error::InvalidArgument("disk".into())))
            .is_err());
        assert_eq!(
            ids.allocate(3, || Ok(5)).ok(),
            Some(5),
            "a failed seed is retried"
        );
        assert!(ids.allocate(4, || Ok(i64::MAX as u64 + 1)).is_err());
    }
}
