//! [`CollectionHandle`]: a typed collection of a [`Database`], each call one auto-committed
//! transaction (writes) or one consistent snapshot (reads).

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::Arc;

use rustlite_engine::catalog::TableSchema;
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
        self.db.engine().catalog()?.get(T::NAME).ok_or_else(|| {
            Error::NotFound(format!("collection {} was dropped; open it again", T::NAME))
        })
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
    pub fn insert(&self, doc: &T) -> Result<()> {
        self.write(doc, WriteMode::Insert)
    }

    /// Inserts `doc` or replaces the document with its key.
    pub fn upsert(&self, doc: &T) -> Result<()> {
        self.write(doc, WriteMode::Upsert)
    }

    /// Replaces the document with `doc`'s key ([`Error::NotFound`] when absent); index entries
    /// of changed fields move.
    pub fn update(&self, doc: &T) -> Result<()> {
        self.write(doc, WriteMode::Update)
    }

    /// Deletes the document with key `key`; returns whether it existed.
    pub fn delete(&self, key: &T::Key) -> Result<bool> {
        self.in_tx(|tx, table| ops::delete::<T>(tx, table, key))
    }

    /// The document with key `key`.
    pub fn get(&self, key: &T::Key) -> Result<Option<T>> {
        let table = self.table()?;
        let row_key = table::row_key(table.id, &ops::pk_values::<T>(&table, key)?)?;
        match self.db.engine().get(&row_key)? {
            Some(bytes) => Ok(Some(table::decode_document(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Documents whose `field` equals `value`, in key order (through the field's index; a scan
    /// when the field has none). `None` finds nothing: `None` is not indexed.
    pub fn find<V, Q>(&self, field: Field<T, V>, value: &Q) -> Result<Vec<T>>
    where
        V: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        let table = self.table()?;
        ops::find(&mut self.db.engine().snapshot(), &table, field, value)
    }

    /// Documents whose `field` is within `range`, in field order; the field needs a B-Tree
    /// index (`#[index]`), else [`Error::InvalidArgument`].
    pub fn range<V, Q>(&self, field: Field<T, V>, range: impl RangeBounds<Q>) -> Result<Iter<T>>
    where
        V: Borrow<Q>,
        Q: Serialize,
    {
        let table = self.table()?;
        ops::range(&mut self.db.engine().snapshot(), &table, field, range)
    }

    /// Every document, in key order.
    pub fn iter(&self) -> Result<Iter<T>> {
        self.range_keys(..)
    }

    /// Documents whose key is within `range`, in key order.
    pub fn range_keys(&self, range: impl RangeBounds<T::Key>) -> Result<Iter<T>> {
        let table = self.table()?;
        let mut snap = self.db.engine().snapshot();
        Ok(Iter::from_scan(ops::range_keys::<T, _>(
            &mut snap, &table, &range,
        )?))
    }

    /// Number of documents.
    pub fn count(&self) -> Result<u64> {
        let table = self.table()?;
        table::count(&mut self.db.engine().snapshot(), &table)
    }
}
