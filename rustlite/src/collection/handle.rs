//! [`CollectionHandle`]: a typed collection of a [`Database`], each call one auto-committed
//! transaction (writes) or one consistent snapshot (reads).
//!
//! ```
//! # use rustlite::{Collection, Database, Error};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
//! # struct User { #[key] id: u32, #[index] age: u32 }
//! let db = Database::in_memory()?;
//! let users: rustlite::collection::handle::CollectionHandle<User> = db.collection()?;
//! users.insert(&User { id: 1, age: 36 })?; // committed on return
//! assert_eq!(db.collection::<User>()?.get(&1)?.map(|u| u.age), Some(36));
//! # Ok::<(), rustlite::Error>(())
//! ```

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::Arc;

use rustlite_engine::catalog::{Catalog, TableSchema};
use rustlite_engine::mvcc::{ReadView, Reader};
use rustlite_engine::table::{self, WriteMode};
use rustlite_engine::{Error, Result};
use serde::Serialize;

use super::{open, ops, Collection, Field, Iter};
use crate::Database;

/// The documents of type `T` in a database: `db.collection::<T>()`.
///
/// Writes run in their own transaction (retried on [`Error::Conflict`]); reads see one
/// consistent snapshot. For several operations in one transaction use
/// [`Transaction::collection`](crate::Transaction::collection).
///
/// ```
/// use rustlite::{Collection, Database};
/// #[derive(serde::Serialize, serde::Deserialize, Collection, Debug, PartialEq)]
/// #[collection(name = "users")]
/// struct User {
///     #[key] id: u64,
///     #[index(unique)] email: String,
///     #[index] age: u32,
/// }
/// let db = Database::in_memory()?;
/// let users = db.collection::<User>()?;
/// users.insert(&User { id: 1, email: "ada@x.org".into(), age: 36 })?;
/// users.insert(&User { id: 2, email: "bob@x.org".into(), age: 17 })?;
/// assert_eq!(users.get(&1)?.map(|u| u.age), Some(36));
/// assert_eq!(users.find(User::EMAIL, "bob@x.org")?[0].id, 2);
/// let adults: Vec<User> = users.range(User::AGE, 18..65)?.collect::<Result<_, _>>()?;
/// assert_eq!(adults.len(), 1);
/// assert!(matches!(users.insert(&User { id: 3, email: "ada@x.org".into(), age: 1 }),
///                  Err(rustlite::Error::UniqueViolation { .. })));
/// # Ok::<(), rustlite::Error>(())
/// ```
pub struct CollectionHandle<T> {
    db: Database,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Clone for CollectionHandle<T> {
    fn clone(&self) -> Self {
        CollectionHandle {
            db: self.db.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for CollectionHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionHandle")
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T: Collection> CollectionHandle<T> {
    /// Registers or migrates the collection (see the `open` module) and returns its handle.
    pub(crate) fn open(db: &Database) -> Result<Self> {
        let current = db.engine().catalog()?.get(T::NAME);
        if !current.is_some_and(|t| open::up_to_date(&t, &T::schema())) {
            db.transaction(|tx| open::ensure_table::<T>(tx.engine_tx()))?;
        }
        Ok(CollectionHandle {
            db: db.clone(),
            _marker: PhantomData,
        })
    }

    /// The table as committed now.
    fn table(&self) -> Result<Arc<TableSchema>> {
        self.db
            .engine()
            .catalog()?
            .get(T::NAME)
            .ok_or_else(dropped::<T>)
    }

    /// A view of the latest committed state, and the table as that view sees it: reads take
    /// the view first, so a migration committing meanwhile cannot pair an older schema with
    /// newer rows (say, an index it dropped, whose entries are gone).
    fn view(&self) -> Result<(ReadView<'_>, Arc<TableSchema>)> {
        let mut view = self.db.engine().read_view();
        let table = Catalog::table_in_view(&mut view, T::NAME)?.ok_or_else(dropped::<T>)?;
        Ok((view, table))
    }

    /// Runs `f` in an auto-committed transaction with the table's current schema (fetched
    /// inside the transaction, so a retry after a concurrent migration sees the new schema).
    fn in_tx<R>(
        &self,
        mut f: impl FnMut(&mut rustlite_engine::Transaction, &TableSchema) -> Result<R>,
    ) -> Result<R> {
        self.db.transaction(|tx| {
            let table = self.table()?;
            f(tx.engine_tx(), &table)
        })
    }

    fn write(&self, doc: &T, mode: WriteMode) -> Result<()> {
        self.in_tx(|tx, table| ops::write(tx, table, doc, mode))
    }

    /// Inserts `doc`: [`Error::AlreadyExists`] when its key is taken,
    /// [`Error::UniqueViolation`] when a unique index already holds one of its values (then
    /// nothing is written).
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
    /// users.insert(&User { id: 1, age: 36 })?;
    /// assert_eq!(users.get(&1)?, Some(User { id: 1, age: 36 }));
    /// assert!(matches!(users.insert(&User { id: 1, age: 40 }), Err(Error::AlreadyExists { .. })));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn insert(&self, doc: &T) -> Result<()> {
        self.write(doc, WriteMode::Insert)
    }

    /// Inserts `doc` or replaces the document with its key.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
    /// users.upsert(&User { id: 1, age: 36 })?; // inserts
    /// users.upsert(&User { id: 1, age: 37 })?; // replaces
    /// assert_eq!(users.get(&1)?.map(|u| u.age), Some(37));
    /// assert_eq!(users.count()?, 1);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn upsert(&self, doc: &T) -> Result<()> {
        self.write(doc, WriteMode::Upsert)
    }

    /// Replaces the document with `doc`'s key ([`Error::NotFound`] when absent); index entries
    /// of changed fields move.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
    /// users.insert(&User { id: 1, age: 36 })?;
    /// users.update(&User { id: 1, age: 37 })?;
    /// assert_eq!(users.find(User::AGE, &37)?.len(), 1); // the index entry moved
    /// assert!(matches!(users.update(&User { id: 2, age: 1 }), Err(Error::NotFound(_))));
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn update(&self, doc: &T) -> Result<()> {
        self.write(doc, WriteMode::Update)
    }

    /// Deletes the document with key `key`; returns whether it existed.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
    /// users.insert(&User { id: 1, age: 36 })?;
    /// assert!(users.delete(&1)?);
    /// assert!(!users.delete(&1)?); // already gone
    /// assert_eq!(users.get(&1)?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn delete(&self, key: &T::Key) -> Result<bool> {
        self.in_tx(|tx, table| ops::delete::<T>(tx, table, key))
    }

    /// The document with key `key`.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
    /// users.insert(&User { id: 7, age: 36 })?;
    /// assert_eq!(users.get(&7)?, Some(User { id: 7, age: 36 }));
    /// assert_eq!(users.get(&8)?, None);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn get(&self, key: &T::Key) -> Result<Option<T>> {
        let (mut view, table) = self.view()?;
        let row_key = table::row_key(table.id, &ops::pk_values::<T>(&table, key)?)?;
        match view.read(&row_key)? {
            Some(bytes) => Ok(Some(table::decode_document(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Documents whose `field` equals `value`, in key order (through the field's index; a scan
    /// when the field has none). `None` finds nothing: `None` is not indexed.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
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
        let (mut view, table) = self.view()?;
        ops::find(&mut view, &table, field, value)
    }

    /// Documents whose `field` is within `range`, in field order; the field needs a B-Tree
    /// index (`#[index]`), else [`Error::InvalidArgument`].
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
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
        let (mut view, table) = self.view()?;
        ops::range(&mut view, &table, field, range)
    }

    /// Every document, in key order.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
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
    /// let users = db.collection::<User>()?;
    /// for id in 1..=5 { users.insert(&User { id, age: 20 })?; }
    /// let ids: Vec<u32> = users.range_keys(2..4)?.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
    /// assert_eq!(ids, [2, 3]);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn range_keys(&self, range: impl RangeBounds<T::Key>) -> Result<Iter<T>> {
        let (mut view, table) = self.view()?;
        Ok(Iter::from_scan(ops::range_keys::<T, _>(
            &mut view, &table, &range,
        )?))
    }

    /// Number of documents.
    ///
    /// ```
    /// # use rustlite::{Collection, Database, Error};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Collection, Debug, PartialEq)]
    /// # struct User { #[key] id: u32, #[index] age: u32 }
    /// let db = Database::in_memory()?;
    /// let users = db.collection::<User>()?;
    /// assert_eq!(users.count()?, 0);
    /// users.insert(&User { id: 1, age: 36 })?;
    /// users.insert(&User { id: 2, age: 17 })?;
    /// assert_eq!(users.count()?, 2);
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn count(&self) -> Result<u64> {
        let (mut view, table) = self.view()?;
        table::count(&mut view, &table)
    }
}

/// The error of a handle whose collection was dropped after it was opened.
fn dropped<T: Collection>() -> Error {
    Error::NotFound(format!("collection {} was dropped; open it again", T::NAME))
}
