//! # RustLite
//!
//! An embedded database for Rust applications: data lives in one local directory (or in
//! memory), written through a crash-safe log-structured merge tree with MVCC transactions.
//!
//! ```
//! use rustlite::Database;
//! let db = Database::in_memory()?;
//! db.put(b"user:1", b"ada")?;
//! assert_eq!(db.get(b"user:1")?, Some(b"ada".to_vec()));
//! for entry in db.scan_prefix(b"user:")? {
//!     let (key, value) = entry?;
//!     println!("{} = {}", String::from_utf8_lossy(&key), String::from_utf8_lossy(&value));
//! }
//! # Ok::<(), rustlite::Error>(())
//! ```
//!
//! | module | what it gives you |
//! |---|---|
//! | [`Database`] | open/close, raw key-value access, transactions, snapshots |
//! | [`Transaction`] | optimistic transactions at four isolation levels |
//! | [`collection`] | `#[derive(Collection)]`: typed documents, keys and indexes; [`CollectionHandle`] |
//! | `index` | the seed's manual indexes: [`Database::create_index`], `index_insert`, `index_find`, `index_range` |
//! | `logging` | `LogConfig`: tracing output to stdout and rotated files (cargo feature `logging`, on by default) |
//!
//! The `rustlite` shell binary (cargo feature `cli`, on by default) opens a database directory
//! for SQL, raw keys and operations (`rustlite DB_DIR`, `rustlite backup DB DIR`, ...).

#![deny(missing_docs)]

pub mod collection;
mod database;
mod index;
mod kv;
#[cfg(feature = "logging")]
pub mod logging;
mod query;
mod transaction;

pub use database::Database;
pub use kv::KvIter;
pub use query::{QueryResult, QuerySummary};
pub use rustlite_engine::engine::BackupInfo;
pub use rustlite_engine::{
    Direction, Durability, Error, IsolationLevel, Options, Result, SeqNo, Stats, WriteBatch,
};
pub use transaction::{Snapshot, Transaction};

pub use collection::{
    encode_key, Collection, CollectionHandle, Field, FieldDef, FieldType, IndexDef, IndexKind,
    Iter, Schema, TxCollection,
};
pub use index::IndexType;
pub use rustlite_derive::Collection;
pub use rustlite_engine::Value;

#[doc(hidden)]
pub mod __private;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
