//! [`TxCollection`]: the typed operations inside a caller's [`Transaction`](crate::Transaction).
//! Rows and index entries are buffered in the transaction: commit applies all of them, rollback
//! (or drop) none.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::Arc;

use rustlite_engine::catalog::TableSchema;
use rustlite_engine::table::{self, RawRow, WriteMode};
use rustlite_engine::{Result, Transaction};
use serde::Serialize;

use super::{open, ops, Collection, Field, Iter};

/// The documents of type `T` as one transaction sees them: `tx.collection::<T>()`. It borrows
/// the transaction; drop it (or let it go out of scope) before `commit`.
///
/// ```
/// use rustlite::{Collection, Database};
/// #[derive(serde::Serialize, serde::Deserialize, Collection)]
/// struct Account { #[key] id: u32, balance: i64 }
/// let db = Database::in_memory()?;
/// db.collection::<Account>()?.insert(&Account { id: 1, balance: 10 })?;
/// let mut tx = db.begin()?;
/// {
///     let accounts = tx.collection::<Account>()?;
///     accounts.insert(&Account { id: 2, balance: 5 })?;
///     accounts.delete(&1)?;
///     assert_eq!(accounts.count()?, 1); // reads its own writes
/// }
/// tx.rollback();
/// assert_eq!(db.collection::<Account>()?.count()?, 1);
/// # Ok::<(), rustlite::Error>(())
/// ```
pub struct TxCollection<'a, T> {
    tx: RefCell<&'a mut Transaction>,
    table: Arc<TableSchema>,
    _marker: PhantomData<fn() -> T>,
}

impl<'a, T: Collection> TxCollection<'a, T> {
    /// Registers or migrates the collection inside `tx` and returns its handle.
    pub(crate) fn open(tx: &'a mut Transaction) -> Result<Self> {
        let table = open::ensure_table::<T>(tx)?;
        Ok(TxCollection {
            tx: RefCell::new(tx),
            table,
            _marker: PhantomData,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Transaction, &TableSchema) -> Result<R>) -> Result<R> {
        let mut tx = self.tx.borrow_mut();
        f(&mut tx, &self.table)
    }

    /// Inserts `doc` ([`Error::AlreadyExists`](crate::Error::AlreadyExists),
    /// [`Error::UniqueViolation`](crate::Error::UniqueViolation) with nothing applied).
    pub fn insert(&self, doc: &T) -> Result<()> {
        self.with(|tx, t| ops::write(tx, t, doc, WriteMode::Insert))
    }

    /// Inserts or replaces `doc`.
    pub fn upsert(&self, doc: &T) -> Result<()> {
        self.with(|tx, t| ops::write(tx, t, doc, WriteMode::Upsert))
    }

    /// Replaces the document with `doc`'s key ([`Error::NotFound`](crate::Error::NotFound)
    /// when absent).
    pub fn update(&self, doc: &T) -> Result<()> {
        self.with(|tx, t| ops::write(tx, t, doc, WriteMode::Update))
    }

    /// Deletes the document with key `key`; whether it existed.
    pub fn delete(&self, key: &T::Key) -> Result<bool> {
        self.with(|tx, t| ops::delete::<T>(tx, t, key))
    }

    /// The document with key `key`.
    pub fn get(&self, key: &T::Key) -> Result<Option<T>> {
        self.with(|tx, t| ops::get::<T, _>(tx, t, key))
    }

    /// Documents whose `field` equals `value`, in key order.
    pub fn find<V, Q>(&self, field: Field<T, V>, value: &Q) -> Result<Vec<T>>
    where
        V: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.with(|tx, t| ops::find(tx, t, field, value))
    }

    /// Documents whose `field` is within `range`, in field order (B-Tree index needed).
    pub fn range<V, Q>(&self, field: Field<T, V>, range: impl RangeBounds<Q>) -> Result<Iter<T>>
    where
        V: Borrow<Q>,
        Q: Serialize,
    {
        self.with(|tx, t| ops::range(tx, t, field, range))
    }

    /// Every document, in key order (collected: the scan borrows the transaction).
    pub fn iter(&self) -> Result<Iter<T>> {
        self.range_keys(..)
    }

    /// Documents whose key is within `range`, in key order.
    pub fn range_keys(&self, range: impl RangeBounds<T::Key>) -> Result<Iter<T>> {
        self.with(|tx, t| {
            let rows: Vec<RawRow> =
                ops::range_keys::<T, _>(tx, t, &range)?.collect::<Result<_>>()?;
            Ok(Iter::from_rows(rows))
        })
    }

    /// Number of documents.
    pub fn count(&self) -> Result<u64> {
        self.with(table::count)
    }
}
