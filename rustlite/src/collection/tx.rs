//! [`TxCollection`]: the typed operations inside a caller's [`Transaction`](crate::Transaction).
//! Rows and index entries are buffered in the transaction: commit applies all of them, rollback
//! (or drop) none.
//!
//! ```
//! # use rustlite::{Collection, Database, Error};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
//! # struct User { #[key] id: u32, #[index] age: u32 }
//! let db = Database::in_memory()?;
//! let users = db.collection::<User>()?;
//! let mut tx = db.begin()?;
//! tx.collection::<User>()?.insert(&User { id: 1, age: 36 })?;
//! assert_eq!(users.count()?, 0); // not yet committed
//! tx.commit()?;
//! assert_eq!(users.count()?, 1);
//! # Ok::<(), rustlite::Error>(())
//! ```

use std::borrow::Borrow;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::Arc;

use rustlite_engine::catalog::{Catalog, TableSchema};
use rustlite_engine::mvcc::Reader;
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
    /// Registers or migrates the collection inside `tx` and returns its handle. A migration
    /// that fails (a new unique index meeting a duplicate) leaves nothing of itself in `tx`.
    pub(crate) fn open(tx: &'a mut Transaction) -> Result<Self> {
        let savepoint = tx.savepoint();
        let table = match open::ensure_table::<T>(tx) {
            Ok(table) => {
                tx.release(savepoint);
                table
            }
            Err(e) => {
                tx.rollback_to(savepoint);
                return Err(e);
            }
        };
        Ok(TxCollection {
            tx: RefCell::new(tx),
            table,
            _marker: PhantomData,
        })
    }

    /// Runs `f` with the transaction and the table's schema as the operation's reads see it:
    /// the one `open` read, at the snapshot of RepeatableRead and Serializable; the latest at
    /// ReadCommitted and ReadUncommitted, where each operation reads the latest commit (an index
    /// dropped since `open` has no entries left to find). Writes check the schema they use is
    /// still current ([`Catalog::check_current`]).
    fn with<R>(&self, f: impl FnOnce(&mut Transaction, &TableSchema) -> Result<R>) -> Result<R> {
        let mut tx = self.tx.borrow_mut();
        if tx.isolation().uses_snapshot() {
            return f(&mut tx, &self.table);
        }
        Reader::at_one_snapshot(&mut **tx, |tx| {
            let table = match Catalog::cached_table(tx, T::NAME) {
                Some(table) => table,
                None => Catalog::table(tx, T::NAME)?.ok_or_else(|| {
                    rustlite_engine::Error::NotFound(format!("collection {}", T::NAME))
                })?,
            };
            f(tx, &table)
        })
    }

    /// Inserts `doc` ([`Error::AlreadyExists`](crate::Error::AlreadyExists),
    /// [`Error::UniqueViolation`](crate::Error::UniqueViolation) with nothing applied).
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// users.insert(&User { id: 1, age: 36 })?;
    /// assert_eq!(users.get(&1)?, Some(User { id: 1, age: 36 })); // visible inside tx
    /// drop(users);
    /// tx.commit()?;
    /// assert_eq!(db.collection::<User>()?.count()?, 1);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn insert(&self, doc: &T) -> Result<()> {
        self.with(|tx, t| ops::write(tx, t, doc, WriteMode::Insert))
    }

    /// Inserts or replaces `doc`.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// users.upsert(&User { id: 1, age: 36 })?; // inserts
    /// users.upsert(&User { id: 1, age: 37 })?; // replaces
    /// assert_eq!(users.get(&1)?.map(|u| u.age), Some(37));
    /// assert_eq!(users.count()?, 1);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn upsert(&self, doc: &T) -> Result<()> {
        self.with(|tx, t| ops::write(tx, t, doc, WriteMode::Upsert))
    }

    /// Replaces the document with `doc`'s key ([`Error::NotFound`](crate::Error::NotFound)
    /// when absent).
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// users.insert(&User { id: 1, age: 36 })?;
    /// users.update(&User { id: 1, age: 37 })?;
    /// assert_eq!(users.find(User::AGE, &37)?.len(), 1); // the index entry moved
    /// assert!(matches!(users.update(&User { id: 2, age: 1 }), Err(Error::NotFound(_))));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn update(&self, doc: &T) -> Result<()> {
        self.with(|tx, t| ops::write(tx, t, doc, WriteMode::Update))
    }

    /// Deletes the document with key `key`; whether it existed.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// users.insert(&User { id: 1, age: 36 })?;
    /// assert!(users.delete(&1)?);
    /// assert!(!users.delete(&1)?); // already gone
    /// assert_eq!(users.get(&1)?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn delete(&self, key: &T::Key) -> Result<bool> {
        self.with(|tx, t| ops::delete::<T>(tx, t, key))
    }

    /// The document with key `key`.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// users.insert(&User { id: 7, age: 36 })?;
    /// assert_eq!(users.get(&7)?, Some(User { id: 7, age: 36 }));
    /// assert_eq!(users.get(&8)?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn get(&self, key: &T::Key) -> Result<Option<T>> {
        self.with(|tx, t| ops::get::<T, _>(tx, t, key))
    }

    /// Documents whose `field` equals `value`, in key order.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// for (id, age) in [(3, 30), (1, 30), (2, 40)] { users.insert(&User { id, age })?; }
    /// let thirty: Vec<u32> = users.find(User::AGE, &30)?.iter().map(|u| u.id).collect();
    /// assert_eq!(thirty, [1, 3]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn find<V, Q>(&self, field: Field<T, V>, value: &Q) -> Result<Vec<T>>
    where
        V: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.with(|tx, t| ops::find(tx, t, field, value))
    }

    /// Documents whose `field` is within `range`, in field order (B-Tree index needed).
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// for (id, age) in [(1, 70), (2, 17), (3, 36)] { users.insert(&User { id, age })?; }
    /// let ids: Vec<u32> = users.range(User::AGE, 18..65)?.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
    /// assert_eq!(ids, [3]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn range<V, Q>(&self, field: Field<T, V>, range: impl RangeBounds<Q>) -> Result<Iter<T>>
    where
        V: Borrow<Q>,
        Q: Serialize,
    {
        self.with(|tx, t| ops::range(tx, t, field, range))
    }

    /// Every document, in key order (collected: the scan borrows the transaction).
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// for id in [2, 3, 1] { users.insert(&User { id, age: 20 })?; }
    /// let ids: Vec<u32> = users.iter()?.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
    /// assert_eq!(ids, [1, 2, 3]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn iter(&self) -> Result<Iter<T>> {
        self.range_keys(..)
    }

    /// Documents whose key is within `range`, in key order.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// for id in 1..=5 { users.insert(&User { id, age: 20 })?; }
    /// let ids: Vec<u32> = users.range_keys(2..4)?.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
    /// assert_eq!(ids, [2, 3]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn range_keys(&self, range: impl RangeBounds<T::Key>) -> Result<Iter<T>> {
        self.with(|tx, t| {
            let rows: Vec<RawRow> =
                ops::range_keys::<T, _>(tx, t, &range)?.collect::<Result<_>>()?;
            Ok(Iter::from_rows(rows))
        })
    }

    /// Number of documents.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let mut tx = db.begin()?;
    /// let users = tx.collection::<User>()?;
    /// assert_eq!(users.count()?, 0);
    /// users.insert(&User { id: 1, age: 36 })?;
    /// users.insert(&User { id: 2, age: 17 })?;
    /// assert_eq!(users.count()?, 2);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn count(&self) -> Result<u64> {
        self.with(table::count)
    }
}
