//! The catalog: persisted table schemas (typed collections and SQL tables are the same thing),
//! their indexes, and the counters that hand out ids.
//!
//! # Layout (under the `0x03` tag of the key space)
//! ```text
//! [0x03][0x01][table name]        -> [format 0x01] ++ msgpack(TableSchema)
//! [0x03][0x02][index name]        -> [format 0x01] ++ msgpack(TableIndex)   standalone index (seed API)
//! [0x03][0x10]                    -> next id, u64 BE, 8 bytes (tables and indexes share one id
//!                                    space; ids handed out fit in u32)
//! [0x03][0x11][table id u32 BE]   -> next row id, u64 BE (tables without a declared key;
//!                                    written by RustLite before 2026-11-26, now only read)
//! ```
//! Row ids are handed out from memory (`catalog/rowid.rs`): the first allocation for a table
//! after open starts after the largest row id on disk and after that legacy counter, if present.
//!
//! # Transactions
//! Every DDL function takes the caller's engine [`Transaction`]: reads go through it (so a
//! transaction sees the tables it created) and writes are buffered in it, so DDL commits or
//! rolls back with everything else. Two concurrent DDL statements both write the id counter, so
//! the second committer gets [`Error::Conflict`].
//!
//! # Cache
//! [`Engine::catalog`] returns an immutable [`Catalog`] snapshot of the committed catalog, cached
//! and reloaded after any commit that wrote a catalog key (a generation counter bumped by the
//! commit path). Code running inside a transaction that may itself have done DDL reads through
//! [`Catalog::table`] instead.
//!
//! # Checking a write's schema
//! Every row write calls [`Catalog::check_current`]: the schema the caller holds must be the
//! table's entry as the transaction sees it, and the entry is guarded (a concurrent DDL commit
//! on it fails the transaction with [`Error::Conflict`]). Reading and re-encoding the entry on
//! every write is the slow path; the fast path answers from the cache:
//!
//! ```text
//!  changed_at  = seqno of the newest commit that wrote any catalog key, raised by the commit
//!                leader BEFORE it publishes that seqno (at open: the recovered last seqno)
//!  cached      = Catalog loaded at snapshot seqno L
//!
//!  fast path when  changed_at <= L                 no published catalog change after L, so
//!                  and (snapshot S >= L or RC/RU)  the entry the transaction reads is L's
//!                  and the tx has not written the entry itself
//!                  and cached entry == the caller's schema
//!  else            read the entry through the transaction and compare its bytes
//! ```
//! Either way the entry is guarded and, under Serializable, recorded as read, so the conflict
//! semantics are those of the read it replaces.
//!
//! | module | owns |
//! |---|---|
//! | [`schema`] | [`Schema`], [`TableSchema`], [`FieldDef`], [`FieldType`], [`IndexDef`], [`IndexKind`], [`TableIndex`] |
//! | `rowid` (crate-private) | the in-memory allocator of hidden row ids |

pub(crate) mod rowid;
pub mod schema;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keyspace::{self, CATALOG};
use crate::lsm::ikey::SeqNo;
use crate::lsm::iter::Direction;
use crate::mvcc::transaction::Transaction;
use crate::mvcc::{ReadView, Reader};
use crate::table;

pub use schema::{
    FieldDef, FieldType, IndexDef, IndexKind, Schema, TableIndex, TableSchema, ROWID,
};

const KIND_TABLE: u8 = 0x01;
const KIND_INDEX: u8 = 0x02;
const KIND_NEXT_ID: u8 = 0x10;
const KIND_ROWID: u8 = 0x11;
const FORMAT: u8 = 0x01;

/// A key of the catalog; see the module docs for the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatalogKey<'a> {
    Table(&'a str),
    Index(&'a str),
    NextId,
    RowId(u32),
}

/// An encoded catalog key on the stack (table and index names up to 62 bytes).
type KeyBuf = smallvec::SmallVec<[u8; 64]>;

impl CatalogKey<'_> {
    fn encode(self) -> Vec<u8> {
        self.encoded().into_vec()
    }

    /// The key's bytes, without a heap allocation for names up to 62 bytes (the catalog-cache
    /// lookup of every SQL statement encodes one).
    fn encoded(self) -> KeyBuf {
        let mut out = KeyBuf::new();
        out.push(CATALOG);
        match self {
            CatalogKey::Table(name) => {
                out.push(KIND_TABLE);
                out.extend_from_slice(name.as_bytes());
            }
            CatalogKey::Index(name) => {
                out.push(KIND_INDEX);
                out.extend_from_slice(name.as_bytes());
            }
            CatalogKey::NextId => out.push(KIND_NEXT_ID),
            CatalogKey::RowId(id) => {
                out.push(KIND_ROWID);
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
        out
    }

    /// Bounds of every key of one kind (`[0x03][kind]..`).
    fn kind_bounds(kind: u8) -> (Vec<u8>, Vec<u8>) {
        (vec![CATALOG, kind], vec![CATALOG, kind + 1])
    }
}

fn encode_entry<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT];
    rmp_serde::encode::write_named(&mut out, value)
        .map_err(|e| Error::Serialization(format!("cannot encode catalog entry: {e}")))?;
    Ok(out)
}

fn decode_entry<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let what = String::from_utf8_lossy(key.get(2..).unwrap_or_default()).into_owned();
    match bytes.split_first() {
        Some((&FORMAT, body)) => T::deserialize(&mut crate::value::msgpack_deserializer(body))
            .map_err(|e| Error::corruption("catalog", 0, format!("catalog entry {what}: {e}"))),
        Some((&v, _)) => Err(Error::UnsupportedVersion {
            file: format!("catalog entry {what}"),
            found: u32::from(v),
            supported: u32::from(FORMAT),
        }),
        None => Err(Error::corruption(
            "catalog",
            0,
            format!("empty entry {what}"),
        )),
    }
}

fn read_all<R: Reader, T: DeserializeOwned>(r: &mut R, kind: u8) -> Result<Vec<T>> {
    let (lo, hi) = CatalogKey::kind_bounds(kind);
    let scan = r.scan_range(
        Bound::Included(&lo),
        Bound::Excluded(&hi),
        Direction::Forward,
    )?;
    scan.map(|kv| kv.and_then(|(k, v)| decode_entry(&k, &v)))
        .collect()
}

/// The committed catalog at one moment: every table and standalone index, by name.
///
/// ```
/// use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
/// use rustlite_engine::{Engine, IsolationLevel, Options};
/// let engine = Engine::open_in_memory(Options::default())?;
/// let mut tx = engine.begin(IsolationLevel::default());
/// let schema = Schema { name: "users".into(), fields: vec![FieldDef::new("id", FieldType::Int, false)],
///                       key_fields: vec!["id".into()], indexes: vec![] };
/// let users = Catalog::create_table(&mut tx, &schema)?;
/// assert!(engine.catalog()?.get("users").is_none()); // not committed yet
/// tx.commit()?;
/// assert_eq!(engine.catalog()?.get("users").map(|t| t.id), Some(users.id));
/// assert_eq!(Catalog::load(&engine)?.list().count(), 1);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    tables: BTreeMap<String, Arc<TableSchema>>,
    indexes: BTreeMap<String, Arc<TableIndex>>,
    /// The snapshot seqno the catalog was read at.
    seq: SeqNo,
    /// The [`CatalogCache`] generation it was loaded under (0 outside the cache).
    generation: u64,
}

impl Catalog {
    /// Reads the committed catalog (use [`Engine::catalog`] for the cached copy).
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// tx.commit()?;
    /// assert!(Catalog::load(&engine)?.get("users").is_some());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn load(engine: &Engine) -> Result<Catalog> {
        let mut snap = engine.snapshot();
        let tables: Vec<TableSchema> = read_all(&mut snap, KIND_TABLE)?;
        let indexes: Vec<TableIndex> = read_all(&mut snap, KIND_INDEX)?;
        Ok(Catalog {
            seq: snap.seq(),
            generation: 0,
            tables: tables
                .into_iter()
                .map(|t| (t.schema.name.clone(), Arc::new(t)))
                .collect(),
            indexes: indexes
                .into_iter()
                .map(|i| (i.def.name.clone(), Arc::new(i)))
                .collect(),
        })
    }

    /// The table called `name`.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// tx.commit()?;
    /// let catalog = engine.catalog()?;
    /// assert_eq!(catalog.get("users").map(|t| t.key_columns().len()), Some(1));
    /// assert!(catalog.get("orders").is_none());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<Arc<TableSchema>> {
        self.tables.get(name).cloned()
    }

    /// Every table, by name.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// Catalog::create_table(&mut tx, &Schema { name: "admins".into(), ..users.clone() })?;
    /// tx.commit()?;
    /// let names: Vec<String> = engine.catalog()?.list().map(|t| t.name().to_owned()).collect();
    /// assert_eq!(names, ["admins", "users"]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn list(&self) -> impl Iterator<Item = &Arc<TableSchema>> {
        self.tables.values()
    }

    /// The standalone index (seed API) called `name`.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_standalone_index(&mut tx, "emails", IndexKind::Hash)?;
    /// tx.commit()?;
    /// assert!(engine.catalog()?.standalone_index("emails").is_some());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn standalone_index(&self, name: &str) -> Option<Arc<TableIndex>> {
        self.indexes.get(name).cloned()
    }

    /// The table called `name` as transaction `tx` sees it (including its own DDL).
    ///
    /// ```
    /// # use rustlite_engine::{catalog::Catalog, Engine, IsolationLevel, Options};
    /// let engine = Engine::open_in_memory(Options::default())?;
    /// let mut tx = engine.begin(IsolationLevel::default());
    /// assert!(Catalog::table(&mut tx, "nope")?.is_none());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn table<R: Reader>(r: &mut R, name: &str) -> Result<Option<Arc<TableSchema>>> {
        let key = CatalogKey::Table(name).encode();
        match r.read(&key)? {
            Some(bytes) => Ok(Some(Arc::new(decode_entry(&key, &bytes)?))),
            None => Ok(None),
        }
    }

    /// The stored catalog entry of table `name` as `r` sees it, undecoded: callers that cache
    /// decoded schemas key them by these bytes (equal bytes, equal schema); decode it with
    /// [`Catalog::decode_table`].
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{Engine, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false)] };
    /// let mut tx = engine.begin(IsolationLevel::default());
    /// Catalog::create_table(&mut tx, &users)?;
    /// let entry = Catalog::table_entry(&mut tx, "users")?.expect("just created");
    /// assert_eq!(Catalog::decode_table("users", &entry)?.name(), "users");
    /// assert_eq!(Catalog::table_entry(&mut tx, "nope")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn table_entry<R: Reader>(r: &mut R, name: &str) -> Result<Option<Vec<u8>>> {
        r.read(&CatalogKey::Table(name).encode())
    }

    /// Table `name` from the engine's cached catalog, without reading its entry, when the cache
    /// provably is what `tx` sees (the fast path in the module docs); the read is still noted
    /// for Serializable validation. `None` means "read it" ([`Catalog::table_entry`]): the cache
    /// could be stale for `tx`, `tx` changed the table itself, or there is no such table.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{Engine, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false)] };
    /// let mut ddl = engine.begin(IsolationLevel::default());
    /// Catalog::create_table(&mut ddl, &users)?;
    /// assert!(Catalog::cached_table(&mut ddl, "users").is_none()); // its own DDL: read it
    /// ddl.commit()?;
    /// engine.catalog()?; // loads the cache
    /// let mut tx = engine.begin(IsolationLevel::default());
    /// assert_eq!(Catalog::cached_table(&mut tx, "users").map(|t| t.name().to_owned()), Some("users".into()));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn cached_table(tx: &mut Transaction, name: &str) -> Option<Arc<TableSchema>> {
        let key = CatalogKey::Table(name).encoded();
        let table = with_cached_view(tx, &key, |catalog| catalog.tables.get(name).cloned())?;
        tx.note_read(&key);
        Some(table)
    }

    /// [`Catalog::cached_table`] for a [`ReadView`]: the cached table when the cache provably
    /// is what the view sees (no catalog change published after the cache was loaded, and the
    /// view not older than the cache). `None` means "read it" through the view.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{Engine, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false)] };
    /// let old = engine.read_view();
    /// let mut ddl = engine.begin(IsolationLevel::default());
    /// Catalog::create_table(&mut ddl, &users)?;
    /// ddl.commit()?;
    /// engine.catalog()?; // loads the cache
    /// assert!(Catalog::cached_table_in(&old, "users").is_none()); // older than the cache
    /// assert!(Catalog::cached_table_in(&engine.read_view(), "users").is_some());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn cached_table_in(view: &ReadView<'_>, name: &str) -> Option<Arc<TableSchema>> {
        let cache = &view.engine().inner.catalog;
        cache.with_current(|catalog| {
            // Acquire: as in `with_cached_view`; the view read its seqno before this load.
            if cache.changed_at.load(Ordering::Acquire) > catalog.seq || view.seq() < catalog.seq {
                return None;
            }
            catalog.tables.get(name).cloned()
        })
    }

    /// Table `name` exactly as `view` sees it: from the engine's catalog cache (loaded when
    /// stale) when that provably is the view's state ([`Catalog::cached_table_in`]), else read
    /// through the view. Readers that pair a schema with rows take the view first and the
    /// schema from it, so a migration committing in between cannot give them an old schema
    /// over newer rows (an index it dropped, a table it recreated).
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{Engine, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false)] };
    /// let mut before = engine.read_view();
    /// let mut ddl = engine.begin(IsolationLevel::default());
    /// Catalog::create_table(&mut ddl, &users)?;
    /// ddl.commit()?;
    /// assert!(Catalog::table_in_view(&mut before, "users")?.is_none());
    /// assert!(Catalog::table_in_view(&mut engine.read_view(), "users")?.is_some());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn table_in_view(view: &mut ReadView<'_>, name: &str) -> Result<Option<Arc<TableSchema>>> {
        if let Some(table) = Catalog::cached_table_in(view, name) {
            return Ok(Some(table));
        }
        if view.engine().catalog().is_ok() {
            if let Some(table) = Catalog::cached_table_in(view, name) {
                return Ok(Some(table));
            }
        }
        Catalog::table(view, name)
    }

    /// Decodes the entry of table `name` returned by [`Catalog::table_entry`]: an entry of an
    /// unknown format version is [`Error::UnsupportedVersion`], damaged bytes
    /// [`Error::Corruption`].
    ///
    /// ```
    /// use rustlite_engine::{catalog::Catalog, Error};
    /// assert!(matches!(Catalog::decode_table("users", b""), Err(Error::Corruption { .. })));
    /// assert!(matches!(Catalog::decode_table("users", b"junk"), Err(Error::UnsupportedVersion { .. })));
    /// ```
    pub fn decode_table(name: &str, entry: &[u8]) -> Result<TableSchema> {
        decode_entry(&CatalogKey::Table(name).encode(), entry)
    }

    /// Every table as `r` sees it, by name.
    ///
    /// ```
    /// # use rustlite_engine::{catalog::Catalog, Engine, Options};
    /// let engine = Engine::open_in_memory(Options::default())?;
    /// assert!(Catalog::tables(&mut engine.snapshot())?.is_empty());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn tables<R: Reader>(r: &mut R) -> Result<Vec<Arc<TableSchema>>> {
        Ok(read_all::<R, TableSchema>(r, KIND_TABLE)?
            .into_iter()
            .map(Arc::new)
            .collect())
    }

    /// The stored name of the table whose name equals `name` ignoring ASCII case, if any
    /// (the first in key order). Reads the catalog's table keys only, decoding no entry: SQL
    /// resolves a name this way when no table has it exactly.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, Schema};
    /// # use rustlite_engine::{Engine, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "Users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// assert_eq!(Catalog::table_name_ignoring_case(&mut tx, "USERS")?.as_deref(), Some("Users"));
    /// assert_eq!(Catalog::table_name_ignoring_case(&mut tx, "orders")?, None);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn table_name_ignoring_case<R: Reader>(r: &mut R, name: &str) -> Result<Option<String>> {
        let (lo, hi) = CatalogKey::kind_bounds(KIND_TABLE);
        let scan = r.scan_range(
            Bound::Included(&lo),
            Bound::Excluded(&hi),
            Direction::Forward,
        )?;
        for kv in scan {
            let (key, _) = kv?;
            let stored = key.get(lo.len()..).unwrap_or_default();
            if stored.eq_ignore_ascii_case(name.as_bytes()) {
                return Ok(Some(String::from_utf8_lossy(stored).into_owned()));
            }
        }
        Ok(None)
    }

    /// Creates table `schema.name` with ids from the persisted counter. [`Error::AlreadyExists`]
    /// when the name is taken, [`Error::Schema`] when the declaration is invalid.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// let table = Catalog::create_table(&mut tx, &users)?;
    /// assert_eq!(table.name(), "users");
    /// assert!(matches!(Catalog::create_table(&mut tx, &users), Err(Error::AlreadyExists { .. })));
    /// let keyless = Schema { key_fields: vec!["nope".into()], ..users.clone() };
    /// assert!(matches!(Catalog::create_table(&mut tx, &keyless), Err(Error::Schema(_))));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn create_table(tx: &mut Transaction, schema: &Schema) -> Result<Arc<TableSchema>> {
        schema.validate()?;
        let key = CatalogKey::Table(&schema.name).encode();
        if tx.get_for_update(&key)?.is_some() {
            return Err(Error::AlreadyExists {
                collection: schema.name.clone(),
                key: "(table)".into(),
            });
        }
        let id = next_id(tx)?;
        let mut indexes = Vec::with_capacity(schema.indexes.len());
        for def in &schema.indexes {
            indexes.push(TableIndex::new(next_id(tx)?, def.clone()));
        }
        let table = TableSchema {
            id,
            schema: schema.clone(),
            indexes,
        };
        tx.put(&key, &encode_entry(&table)?)?;
        Ok(Arc::new(table))
    }

    /// Drops table `name` with every row and index entry. [`Error::NotFound`] when absent.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// Catalog::drop_table(&mut tx, "users")?;
    /// assert!(Catalog::table(&mut tx, "users")?.is_none());
    /// assert!(matches!(Catalog::drop_table(&mut tx, "users"), Err(Error::NotFound(_))));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn drop_table(tx: &mut Transaction, name: &str) -> Result<()> {
        let table = Self::require(tx, name)?;
        for ix in &table.indexes {
            table::index::drop_entries(tx, ix)?;
        }
        table::row::drop_rows(tx, &table)?;
        tx.delete(&CatalogKey::RowId(table.id).encode())?;
        tx.delete(&CatalogKey::Table(name).encode())
    }

    /// Adds index `def` to table `table`, backfilling it from the existing rows. Fails with
    /// [`Error::UniqueViolation`] when a unique index meets a duplicate (nothing is applied to
    /// the transaction's view beyond what it already holds: the caller should roll back),
    /// [`Error::AlreadyExists`] when the table has an index of that name.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// let def = IndexDef::new("users", "age", IndexKind::BTree, false);
    /// let table = Catalog::create_index(&mut tx, "users", &def)?;
    /// assert_eq!(table.index_on("age").map(|i| i.name()), Some("users.age"));
    /// assert!(Catalog::create_index(&mut tx, "users", &def).is_err()); // name taken
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn create_index(
        tx: &mut Transaction,
        table: &str,
        def: &IndexDef,
    ) -> Result<Arc<TableSchema>> {
        let mut t = (*Self::require(tx, table)?).clone();
        if t.schema.field(&def.field).is_none() {
            return Err(Error::Schema(format!(
                "index {}: table {table} has no field {}",
                def.name, def.field
            )));
        }
        if t.index(&def.name).is_some() {
            return Err(Error::AlreadyExists {
                collection: table.to_owned(),
                key: format!("index {}", def.name),
            });
        }
        let ix = TableIndex::new(next_id(tx)?, def.clone());
        table::index::backfill(tx, &t, &ix)?;
        t.schema.indexes.push(def.clone());
        t.indexes.push(ix);
        tx.put(&CatalogKey::Table(table).encode(), &encode_entry(&t)?)?;
        Ok(Arc::new(t))
    }

    /// Removes index `index` from table `table` with all its entries. [`Error::NotFound`] when
    /// either is absent.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// Catalog::create_index(&mut tx, "users", &IndexDef::new("users", "age", IndexKind::BTree, false))?;
    /// let table = Catalog::drop_index(&mut tx, "users", "users.age")?;
    /// assert!(table.indexes.is_empty());
    /// assert!(matches!(Catalog::drop_index(&mut tx, "users", "users.age"), Err(Error::NotFound(_))));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn drop_index(tx: &mut Transaction, table: &str, index: &str) -> Result<Arc<TableSchema>> {
        let mut t = (*Self::require(tx, table)?).clone();
        let pos = t
            .indexes
            .iter()
            .position(|i| i.def.name == index)
            .ok_or_else(|| Error::NotFound(format!("index {index} of table {table}")))?;
        let ix = t.indexes.remove(pos);
        table::index::drop_entries(tx, &ix)?;
        t.schema.indexes.retain(|d| d.name != index);
        tx.put(&CatalogKey::Table(table).encode(), &encode_entry(&t)?)?;
        Ok(Arc::new(t))
    }

    /// Replaces the field list of table `table` (a field added or removed; the key fields must
    /// stay). Existing documents are not rewritten: a document lacking a new field reads it as
    /// null. [`Error::Schema`] when a key field would be lost. The table's rows are guarded
    /// ([`Transaction::guard_range`]): a caller that rewrites them for the new fields (a
    /// collection's migration) must not miss a row committed after it read them, so such a
    /// commit makes this transaction's commit fail with [`Error::Conflict`].
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// Catalog::create_table(&mut tx, &users)?;
    /// let mut fields = users.fields.clone();
    /// fields.push(FieldDef::new("email", FieldType::Text, true));
    /// let table = Catalog::set_fields(&mut tx, "users", fields)?;
    /// assert!(table.field("email").is_some());
    /// let without_key = vec![FieldDef::new("age", FieldType::Int, true)];
    /// assert!(Catalog::set_fields(&mut tx, "users", without_key).is_err());
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn set_fields(
        tx: &mut Transaction,
        table: &str,
        fields: Vec<FieldDef>,
    ) -> Result<Arc<TableSchema>> {
        let mut t = (*Self::require(tx, table)?).clone();
        t.schema.fields = fields;
        t.schema.validate()?;
        for ix in &t.indexes {
            if t.schema.field(&ix.def.field).is_none() {
                return Err(Error::Schema(format!(
                    "table {table}: field {} is still indexed by {}",
                    ix.def.field, ix.def.name
                )));
            }
        }
        table::guard_prefix(tx, &table::row_prefix(t.id))?;
        tx.put(&CatalogKey::Table(table).encode(), &encode_entry(&t)?)?;
        Ok(Arc::new(t))
    }

    /// Creates a standalone index (not attached to a table; the seed's `create_index`).
    /// [`Error::AlreadyExists`] when the name is taken.
    ///
    /// ```
    /// # use rustlite_engine::{catalog::{Catalog, IndexKind}, Engine, IsolationLevel, Options};
    /// let engine = Engine::open_in_memory(Options::default())?;
    /// let mut tx = engine.begin(IsolationLevel::default());
    /// let ix = Catalog::create_standalone_index(&mut tx, "names", IndexKind::Hash)?;
    /// assert_eq!(Catalog::standalone_index_in(&mut tx, "names")?, Some(ix));
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn create_standalone_index(
        tx: &mut Transaction,
        name: &str,
        kind: IndexKind,
    ) -> Result<Arc<TableIndex>> {
        let key = CatalogKey::Index(name).encode();
        if tx.get_for_update(&key)?.is_some() {
            return Err(Error::AlreadyExists {
                collection: name.to_owned(),
                key: "(index)".into(),
            });
        }
        let ix = TableIndex::new(next_id(tx)?, IndexDef::named(name, "", kind, false));
        tx.put(&key, &encode_entry(&ix)?)?;
        Ok(Arc::new(ix))
    }

    /// The standalone index called `name` as `r` sees it.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// assert!(Catalog::standalone_index_in(&mut tx, "emails")?.is_none());
    /// Catalog::create_standalone_index(&mut tx, "emails", IndexKind::Hash)?;
    /// assert!(Catalog::standalone_index_in(&mut tx, "emails")?.is_some()); // its own DDL
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn standalone_index_in<R: Reader>(
        r: &mut R,
        name: &str,
    ) -> Result<Option<Arc<TableIndex>>> {
        let key = CatalogKey::Index(name).encode();
        match r.read(&key)? {
            Some(bytes) => Ok(Some(Arc::new(decode_entry(&key, &bytes)?))),
            None => Ok(None),
        }
    }

    /// Every standalone index (seed API) as `r` sees it, by name.
    ///
    /// ```
    /// # use rustlite_engine::{catalog::{Catalog, IndexKind}, Engine, IsolationLevel, Options};
    /// let engine = Engine::open_in_memory(Options::default())?;
    /// let mut tx = engine.begin(IsolationLevel::default());
    /// Catalog::create_standalone_index(&mut tx, "b", IndexKind::Hash)?;
    /// Catalog::create_standalone_index(&mut tx, "a", IndexKind::BTree)?;
    /// let names: Vec<String> = Catalog::standalone_indexes(&mut tx)?
    ///     .iter()
    ///     .map(|ix| ix.name().to_owned())
    ///     .collect();
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn standalone_indexes<R: Reader>(r: &mut R) -> Result<Vec<Arc<TableIndex>>> {
        Ok(read_all::<R, TableIndex>(r, KIND_INDEX)?
            .into_iter()
            .map(Arc::new)
            .collect())
    }

    /// Allocates the next hidden row id of table `table_id` (starting at 1). Ids come from
    /// memory, not from a stored counter, so concurrent inserts never conflict over them (see
    /// `catalog/rowid.rs`); `tx` itself is not written.
    ///
    /// ```
    /// # use rustlite_engine::{catalog::Catalog, Engine, IsolationLevel, Options};
    /// let engine = Engine::open_in_memory(Options::default())?;
    /// let mut tx = engine.begin(IsolationLevel::default());
    /// assert_eq!(Catalog::next_rowid(&mut tx, 5)?, 1);
    /// assert_eq!(Catalog::next_rowid(&mut tx, 5)?, 2);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn next_rowid(tx: &mut Transaction, table_id: u32) -> Result<i64> {
        let engine = tx.engine();
        engine
            .inner
            .rowids
            .allocate(table_id, || first_free_rowid(engine, table_id))
    }

    /// Checks, inside `tx`, that `table` is the table's current schema as `tx` sees it, and
    /// guards its catalog entry so that a concurrent DDL commit on it makes `tx` fail with
    /// [`Error::Conflict`] (retry, and the retry reads the new schema). The table layer calls
    /// this before every write; a stale `table` is [`Error::Conflict`] too.
    /// The module docs describe its fast path.
    ///
    /// ```
    /// # use rustlite_engine::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema};
    /// # use rustlite_engine::{Engine, Error, IsolationLevel, Options};
    /// # let engine = Engine::open_in_memory(Options::default())?;
    /// # let mut tx = engine.begin(IsolationLevel::default());
    /// # let users = Schema { name: "users".into(), key_fields: vec!["id".into()], indexes: vec![],
    /// #     fields: vec![FieldDef::new("id", FieldType::Int, false), FieldDef::new("age", FieldType::Int, true)] };
    /// let table = Catalog::create_table(&mut tx, &users)?;
    /// tx.commit()?;
    /// let mut writer = engine.begin(IsolationLevel::default());
    /// Catalog::check_current(&mut writer, &table)?; // current, and now guarded
    /// writer.put(b"\x00some-key", b"v")?;
    /// let mut ddl = engine.begin(IsolationLevel::default());
    /// Catalog::drop_table(&mut ddl, "users")?;
    /// ddl.commit()?;
    /// assert!(writer.commit().unwrap_err().is_retryable()); // the schema changed under it
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn check_current(tx: &mut Transaction, table: &TableSchema) -> Result<()> {
        let key = CatalogKey::Table(table.name()).encode();
        tx.guard(&key);
        if cache_confirms(tx, &key, table) {
            tx.note_read(&key);
            return Ok(());
        }
        match tx.get(&key)? {
            Some(stored) if stored == encode_entry(table)? => Ok(()),
            Some(_) => Err(Error::Conflict(format!(
                "table {} changed since its schema was read",
                table.name()
            ))),
            None => Err(Error::NotFound(format!("table {}", table.name()))),
        }
    }

    /// Table `name`, read for update: every caller rewrites its entry, and at ReadCommitted a
    /// change committed between this read and that write must be a conflict, not overwritten
    /// (a concurrent `DROP INDEX` would come back).
    fn require(tx: &mut Transaction, name: &str) -> Result<Arc<TableSchema>> {
        let key = CatalogKey::Table(name).encode();
        match tx.get_for_update(&key)? {
            Some(bytes) => Ok(Arc::new(decode_entry(&key, &bytes)?)),
            None => Err(Error::NotFound(format!("table {name}"))),
        }
    }
}

/// The first row id of table `table_id` that no committed row holds, and at least the counter
/// that RustLite stored before row ids were handed out from memory.
fn first_free_rowid(engine: &Engine, table_id: u32) -> Result<u64> {
    let prefix = table::row_prefix(table_id);
    let end = keyspace::prefix_end(&prefix);
    let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut rows = engine.scan(Bound::Included(&prefix), upper, Direction::Reverse)?;
    let after_last = match rows.next().transpose()? {
        None => 1,
        Some((key, _)) => match table::decode_pk(&key[prefix.len()..])?.as_slice() {
            [crate::Value::Int(id)] => u64::try_from(*id).map_or(1, |id| id.saturating_add(1)),
            _ => {
                return Err(Error::corruption(
                    "catalog",
                    0,
                    format!("table {table_id} has a row whose key is not a row id"),
                ))
            }
        },
    };
    let stored = decode_counter(engine.get(&CatalogKey::RowId(table_id).encode())?)?;
    Ok(after_last.max(stored))
}

/// A stored counter's value (0 when the key is absent).
fn decode_counter(stored: Option<Vec<u8>>) -> Result<u64> {
    match stored {
        None => Ok(0),
        Some(bytes) => {
            let arr: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| Error::corruption("catalog", 0, "counter is not 8 bytes"))?;
            Ok(u64::from_be_bytes(arr))
        }
    }
}

/// Allocates the next table or index id (ids start at 1).
fn next_id(tx: &mut Transaction) -> Result<u32> {
    let key = CatalogKey::NextId.encode();
    // Read for update: two transactions handed the same id would share row keys.
    let next = decode_counter(tx.get_for_update(&key)?)?.max(1);
    let id =
        u32::try_from(next).map_err(|_| Error::InvalidArgument("table ids exhausted".into()))?;
    tx.put(&key, &(next + 1).to_be_bytes())?;
    Ok(id)
}

/// Whether the engine's cached catalog proves that `table` is the entry at `key` as `tx` sees
/// it, without reading it (the fast path of [`Catalog::check_current`], see the module docs).
fn cache_confirms(tx: &Transaction, key: &[u8], table: &TableSchema) -> bool {
    with_cached_view(tx, key, |catalog| {
        catalog
            .tables
            .get(table.name())
            .map(|cached| std::ptr::eq(cached.as_ref(), table) || **cached == *table)
    })
    .unwrap_or(false)
}

/// `f` of the engine's cached catalog when that provably holds the entry at `key` exactly as
/// `tx` sees it: no catalog change was published after the cache was loaded, `tx`'s snapshot
/// is not older than the cache, and `tx` has not written the entry itself (see the module
/// docs). `None` when it does not.
fn with_cached_view<T>(
    tx: &Transaction,
    key: &[u8],
    f: impl FnOnce(&Catalog) -> Option<T>,
) -> Option<T> {
    if tx.has_written(key) {
        return None;
    }
    let cache = &tx.engine().inner.catalog;
    cache.with_current(|catalog| {
        // Acquire: pairs with the leader's release of `changed_at`, which precedes its publish
        // of the seqno (and so every snapshot that includes the change).
        if cache.changed_at.load(Ordering::Acquire) > catalog.seq {
            return None;
        }
        // A transaction (or, at ReadCommitted, a statement) reading a fixed state older than
        // the cache must read the entry as of that state.
        if tx.read_seq().is_some_and(|seq| seq < catalog.seq) {
            return None;
        }
        f(catalog)
    })
}

/// The engine's cached [`Catalog`], reloaded after commits that wrote a catalog key.
///
/// The catalog is published through an [`ArcSwapOption`], tagged with the generation it was
/// loaded under: a lookup is two atomic loads and a borrow of the published catalog (no lock,
/// no reference count taken), which every SQL statement pays once per table it names.
#[derive(Default)]
pub(crate) struct CatalogCache {
    generation: AtomicU64,
    /// The last loaded catalog; current while its `generation` is `self.generation`.
    cached: ArcSwapOption<Catalog>,
    /// The seqno of the newest commit that wrote a catalog key (a lower bound at open: the
    /// recovered last seqno). Raised before that seqno is published.
    changed_at: AtomicU64,
}

impl CatalogCache {
    /// A cache for an engine whose recovered state ends at `last_seq`.
    pub(crate) fn new(last_seq: SeqNo) -> Self {
        CatalogCache {
            changed_at: AtomicU64::new(last_seq),
            ..CatalogCache::default()
        }
    }

    /// Marks the cache stale (called after a commit that wrote a `0x03` key).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Records that commit `seq` writes a catalog key; the commit leader calls it before it
    /// publishes `seq`.
    pub(crate) fn note_change(&self, seq: SeqNo) {
        self.changed_at.fetch_max(seq, Ordering::AcqRel);
    }

    /// `f` of the cached catalog, if it is still current (`None` when it is not).
    fn with_current<T>(&self, f: impl FnOnce(&Catalog) -> Option<T>) -> Option<T> {
        let generation = self.generation.load(Ordering::Acquire);
        let cached = self.cached.load();
        match cached.as_deref() {
            Some(c) if c.generation == generation => f(c),
            _ => None,
        }
    }

    /// The cached catalog, if it is still current.
    fn current(&self) -> Option<Arc<Catalog>> {
        let generation = self.generation.load(Ordering::Acquire);
        self.cached
            .load_full()
            .filter(|c| c.generation == generation)
    }
}

/// Whether a batch of engine keys touches the catalog.
pub(crate) fn touches_catalog<'a>(mut keys: impl Iterator<Item = &'a [u8]>) -> bool {
    keys.any(|k| k.first() == Some(&CATALOG))
}

impl Engine {
    /// The committed catalog (cached; reloaded after a commit that changed it).
    ///
    /// ```
    /// let engine = rustlite_engine::Engine::open_in_memory(Default::default())?;
    /// assert_eq!(engine.catalog()?.list().count(), 0);
    /// # Ok::<(), rustlite_engine::Error>(())
    /// ```
    pub fn catalog(&self) -> Result<Arc<Catalog>> {
        let cache = &self.inner.catalog;
        let generation = cache.generation.load(Ordering::Acquire);
        if let Some(c) = cache.current() {
            return Ok(c);
        }
        let fresh = Arc::new(Catalog {
            generation,
            ..Catalog::load(self)?
        });
        cache.cached.store(Some(Arc::clone(&fresh)));
        Ok(fresh)
    }
}

/// Engine-key bounds of every catalog entry (for tools).
///
/// ```
/// use rustlite_engine::{catalog::catalog_bounds, keyspace::CATALOG};
/// use std::ops::Bound::{Excluded, Included};
/// assert_eq!(catalog_bounds(), (Included(vec![CATALOG]), Excluded(vec![CATALOG + 1])));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn catalog_bounds() -> keyspace::KeyRange {
    keyspace::tagged_bounds(CATALOG, Bound::Unbounded, Bound::Unbounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IsolationLevel, Options};

    fn users() -> Schema {
        Schema {
            name: "users".into(),
            fields: vec![
                FieldDef::new("id", FieldType::Int, false),
                FieldDef::new("email", FieldType::Text, false),
            ],
            key_fields: vec!["id".into()],
            indexes: vec![IndexDef::new("users", "email", IndexKind::BTree, true)],
        }
    }

    #[test]
    fn row_ids_start_past_the_stored_rows_and_the_legacy_counter() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        // Table 7: rows up to id 41 on disk. Table 8: a counter an older RustLite stored.
        engine.put(&table::row_key(7, &[crate::Value::Int(41)])?, b"row")?;
        engine.put(&table::row_key(7, &[crate::Value::Int(3)])?, b"row")?;
        engine.put(&table::row_key(8, &[crate::Value::Int(2)])?, b"row")?;
        engine.put(&CatalogKey::RowId(8).encode(), &50u64.to_be_bytes())?;
        let mut tx = engine.begin(IsolationLevel::default());
        assert_eq!(Catalog::next_rowid(&mut tx, 7)?, 42);
        assert_eq!(Catalog::next_rowid(&mut tx, 7)?, 43);
        assert_eq!(Catalog::next_rowid(&mut tx, 8)?, 50);
        assert_eq!(Catalog::next_rowid(&mut tx, 9)?, 1, "a table with no rows");
        // Nothing is written: two transactions allocating ids never conflict.
        let mut other = engine.begin(IsolationLevel::Serializable);
        assert_eq!(Catalog::next_rowid(&mut other, 7)?, 44);
        other.put(b"x", b"1")?;
        tx.put(b"y", b"1")?;
        tx.commit()?;
        other.commit()?;
        // A row key that is not a row id is corruption, not a panic.
        engine.put(
            &table::row_key(10, &[crate::Value::Text("k".into())])?,
            b"row",
        )?;
        let mut tx = engine.begin(IsolationLevel::default());
        assert!(matches!(
            Catalog::next_rowid(&mut tx, 10),
            Err(Error::Corruption { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_view_sees_the_schema_of_its_own_state_after_a_later_migration() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        let created = Catalog::create_table(&mut tx, &users())?;
        tx.commit()?;
        engine.catalog()?; // a current cache, which the view below may use
        let mut before = engine.read_view();
        let mut ddl = engine.begin(IsolationLevel::default());
        let dropped = Catalog::drop_index(&mut ddl, "users", created.indexes[0].name())?;
        ddl.commit()?;
        assert!(dropped.indexes.is_empty());
        // Stale cache, then a cache loaded after the drop: the old view keeps its index.
        for _ in 0..2 {
            let seen = Catalog::table_in_view(&mut before, "users")?;
            assert_eq!(seen.map(|t| t.indexes.len()), Some(1));
            engine.catalog()?;
        }
        let now = Catalog::table_in_view(&mut engine.read_view(), "users")?;
        assert_eq!(now.map(|t| t.indexes.len()), Some(0));
        Ok(())
    }

    #[test]
    fn catalog_keys_stay_under_their_kind_prefix() {
        for kind in [KIND_TABLE, KIND_INDEX] {
            let (lo, hi) = CatalogKey::kind_bounds(kind);
            let key = match kind {
                KIND_TABLE => CatalogKey::Table("\u{ff}zz").encode(),
                _ => CatalogKey::Index("").encode(),
            };
            assert!(lo <= key && key < hi);
        }
        assert_eq!(CatalogKey::RowId(1).encode(), [0x03, 0x11, 0, 0, 0, 1]);
        assert_eq!(CatalogKey::Table("t").encode(), [0x03, 0x01, b't']);
    }

    #[test]
    fn ddl_is_transactional_and_ids_are_distinct() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        let t = Catalog::create_table(&mut tx, &users())?;
        assert_ne!(t.id, t.indexes[0].id);
        tx.rollback();
        assert!(engine.catalog()?.get("users").is_none());

        let mut tx = engine.begin(IsolationLevel::default());
        let t = Catalog::create_table(&mut tx, &users())?;
        assert!(matches!(
            Catalog::create_table(&mut tx, &users()),
            Err(Error::AlreadyExists { .. })
        ));
        tx.commit()?;
        assert_eq!(engine.catalog()?.get("users"), Some(t.clone()));

        let mut tx = engine.begin(IsolationLevel::default());
        let t2 = Catalog::drop_index(&mut tx, "users", "users.email")?;
        assert!(t2.indexes.is_empty() && t2.schema.indexes.is_empty());
        let def = IndexDef::named("by_mail", "email", IndexKind::Hash, false);
        let t3 = Catalog::create_index(&mut tx, "users", &def)?;
        assert!(t3.indexes[0].id > t.indexes[0].id);
        tx.commit()?;
        assert_eq!(Catalog::load(&engine)?.get("users"), Some(t3));

        let mut tx = engine.begin(IsolationLevel::default());
        Catalog::drop_table(&mut tx, "users")?;
        assert!(matches!(
            Catalog::drop_table(&mut tx, "users"),
            Err(Error::NotFound(_))
        ));
        tx.commit()?;
        assert_eq!(engine.catalog()?.list().count(), 0);
        Ok(())
    }

    #[test]
    fn invalid_declarations_are_refused() -> Result<()> {
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        let mut bad = users();
        bad.key_fields = vec!["nope".into()];
        assert!(matches!(
            Catalog::create_table(&mut tx, &bad),
            Err(Error::Schema(_))
        ));
        let mut tx2 = engine.begin(IsolationLevel::default());
        Catalog::create_table(&mut tx2, &users())?;
        let def = IndexDef::named("x", "missing", IndexKind::BTree, false);
        assert!(matches!(
            Catalog::create_index(&mut tx2, "users", &def),
            Err(Error::Schema(_))
        ));
        Ok(())
    }
}
