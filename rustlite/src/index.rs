//! The seed's manual index API: named indexes mapping byte keys to `u64` row ids, on the same
//! index machinery as collections (`rustlite_engine::table::index`; the index is a catalog
//! entry not attached to a table).
//!
//! ```text
//! [0x02][index id u32 BE] ([xxh3_64(value) BE] if Hash) [key encoding of Bytes(key)][key encoding of Int(id)] -> (empty)
//! ```

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use rustlite_engine::catalog::{Catalog, TableIndex};
use rustlite_engine::table::index;
use rustlite_engine::{Error, Result};

use crate::Database;

/// The kind of a manual index: `IndexType::BTree` (equality and ranges) or `IndexType::Hash`
/// (equality). The same type as [`IndexKind`](crate::IndexKind).
///
/// ```
/// use rustlite::{Database, IndexType};
/// let db = Database::in_memory()?;
/// db.create_index("by_email", IndexType::Hash)?;
/// db.index_insert("by_email", b"ada@x.org", 1)?;
/// assert_eq!(db.index_find("by_email", b"ada@x.org")?, [1]);
/// assert!(matches!(db.index_range("by_email", ..), Err(rustlite::Error::InvalidArgument(_))));
/// # Ok::<(), rustlite::Error>(())
/// ```
pub type IndexType = rustlite_engine::catalog::IndexKind;

impl Database {
    fn manual_index(&self, name: &str) -> Result<Arc<TableIndex>> {
        self.engine()
            .catalog()?
            .standalone_index(name)
            .ok_or_else(|| Error::NotFound(format!("index {name}")))
    }

    /// Creates the manual index `name` ([`Error::AlreadyExists`] when it exists).
    ///
    /// ```
    /// use rustlite::{Database, IndexType};
    /// let db = Database::in_memory()?;
    /// db.create_index("by_name", IndexType::BTree)?;
    /// db.index_insert("by_name", b"ada", 1)?;
    /// db.index_insert("by_name", b"bob", 2)?;
    /// db.index_insert("by_name", b"ada", 7)?;
    /// assert_eq!(db.index_find("by_name", b"ada")?, [1, 7]);
    /// assert_eq!(db.index_range("by_name", &b"b"[..]..)?, [(b"bob".to_vec(), 2)]);
    /// db.index_remove("by_name", b"ada", 1)?;
    /// assert_eq!(db.index_find("by_name", b"ada")?, [7]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn create_index(&self, name: &str, kind: IndexType) -> Result<()> {
        self.transaction(|tx| {
            Catalog::create_standalone_index(tx.engine_tx(), name, kind).map(|_| ())
        })
    }

    /// Maps `key` to row id `id` in index `name` (ids up to `i64::MAX`).
    ///
    /// ```
    /// # use rustlite::{Database, IndexType};
    /// let db = Database::in_memory()?;
    /// db.create_index("by_tag", IndexType::BTree)?;
    /// db.index_insert("by_tag", b"red", 3)?;
    /// db.index_insert("by_tag", b"red", 1)?;
    /// assert_eq!(db.index_find("by_tag", b"red")?, [1, 3]);
    /// assert!(matches!(db.index_insert("missing", b"red", 1), Err(rustlite::Error::NotFound(_))));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn index_insert(&self, name: &str, key: &[u8], id: u64) -> Result<()> {
        let ix = self.manual_index(name)?;
        self.transaction(|tx| index::standalone_insert(tx.engine_tx(), &ix, key, id))
    }

    /// Removes the mapping of `key` to `id` from index `name`.
    ///
    /// ```
    /// # use rustlite::{Database, IndexType};
    /// let db = Database::in_memory()?;
    /// db.create_index("by_tag", IndexType::BTree)?;
    /// db.index_insert("by_tag", b"red", 1)?;
    /// db.index_insert("by_tag", b"red", 2)?;
    /// db.index_remove("by_tag", b"red", 1)?;
    /// assert_eq!(db.index_find("by_tag", b"red")?, [2]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn index_remove(&self, name: &str, key: &[u8], id: u64) -> Result<()> {
        let ix = self.manual_index(name)?;
        self.transaction(|tx| index::standalone_remove(tx.engine_tx(), &ix, key, id))
    }

    /// The row ids mapped to `key` in index `name`, ascending.
    ///
    /// ```
    /// # use rustlite::{Database, IndexType};
    /// let db = Database::in_memory()?;
    /// db.create_index("by_city", IndexType::Hash)?;
    /// db.index_insert("by_city", b"paris", 9)?;
    /// db.index_insert("by_city", b"paris", 4)?;
    /// assert_eq!(db.index_find("by_city", b"paris")?, [4, 9]);
    /// assert!(db.index_find("by_city", b"rome")?.is_empty());
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn index_find(&self, name: &str, key: &[u8]) -> Result<Vec<u64>> {
        let ix = self.manual_index(name)?;
        index::standalone_find(&mut self.engine().snapshot(), &ix, key)
    }

    /// `(key, id)` of every entry of B-Tree index `name` with a key in `range`, in key order
    /// ([`Error::InvalidArgument`] for a hash index).
    ///
    /// ```
    /// # use rustlite::{Database, IndexType};
    /// let db = Database::in_memory()?;
    /// db.create_index("by_name", IndexType::BTree)?;
    /// for (name, id) in [("ada", 1), ("bob", 2), ("cy", 3)] {
    ///     db.index_insert("by_name", name.as_bytes(), id)?;
    /// }
    /// let hits = db.index_range("by_name", &b"b"[..]..&b"c"[..])?;
    /// assert_eq!(hits, [(b"bob".to_vec(), 2)]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn index_range<'k>(
        &self,
        name: &str,
        range: impl RangeBounds<&'k [u8]>,
    ) -> Result<Vec<(Vec<u8>, u64)>> {
        let ix = self.manual_index(name)?;
        let lo: Bound<&[u8]> = range.start_bound().map(|k| *k);
        let hi: Bound<&[u8]> = range.end_bound().map(|k| *k);
        index::standalone_range(&mut self.engine().snapshot(), &ix, lo, hi)
    }
}
