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

#![deny(missing_docs)]

mod database;
mod kv;
mod transaction;

pub use database::Database;
pub use kv::KvIter;
pub use rustlite_engine::{
    Direction, Durability, Error, IsolationLevel, Options, Result, SeqNo, Stats, WriteBatch,
};
pub use transaction::{Snapshot, Transaction};
