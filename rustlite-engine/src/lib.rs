//! # rustlite-engine
//!
//! The storage engine under [RustLite](https://docs.rs/rustlite): an LSM tree with MVCC
//! transactions. Applications normally use the `rustlite` facade crate; this crate holds the
//! layers it stands on:
//!
//! | module | owns |
//! |---|---|
//! | [`codec`] | varints, crc32 record framing, order-preserving key encoding |
//! | `storage` | the file-system seam: real directory, in-memory, fault injection (internal) |
//! | `lsm` | WAL, memtable, SSTables, manifest, compaction, block cache (internal) |
//! | [`mvcc`] | snapshots, transactions, isolation levels, the commit pipeline |
//! | [`engine`] | [`Engine`]: open/recover, read/write paths, background work |
//! | [`catalog`] | persisted table schemas, index definitions, id counters |
//! | [`table`] | rows and secondary-index maintenance (shared by typed collections and SQL) |
//! | [`value`] | [`Value`]: dynamic documents and the one order-preserving key encoding |
//! | [`sql`] | SQL: parser translation, planner, executor |

#![deny(missing_docs)]
#![deny(clippy::unwrap_used)]

pub mod catalog;
pub mod codec;
pub mod engine;
pub mod error;
pub mod keyspace;
// Internal LSM machinery (WAL, SSTable codecs, manifest, internal keys): public only so that
// fuzz targets, corruption tests and benchmarks can drive the file formats; not a stable API.
#[doc(hidden)]
pub mod lsm;
pub mod mvcc;
pub mod options;
pub mod sql;
// The file-system seam (in-memory, real directory, fault injection): public only for the
// power-loss tests and fuzz targets (`Engine::open_with_storage`); not a stable API.
#[doc(hidden)]
pub mod storage;
pub mod table;
pub mod value;

pub use engine::{CommitStats, Engine, Op, ScanIter, Stats, WriteBatch};
pub use error::{Error, Result};
pub use lsm::ikey::SeqNo;
pub use lsm::iter::Direction;
pub use mvcc::transaction::{Savepoint, Snapshot, Transaction, TxnScan};
pub use mvcc::IsolationLevel;
pub use options::{Durability, Options};
pub use value::Value;
