//! The one error type of the engine (re-exported by the `rustlite` facade).
//!
//! Each variant tells the caller what to do about it:
//! - [`Error::Conflict`]: another transaction won a race; retry the transaction.
//! - [`Error::Corruption`]: a checksum or structural check failed on disk; restore from a backup.
//! - [`Error::Locked`]: another handle (this process or another) has the directory open; close it first.
//! - [`Error::Io`]: the operating system refused an operation; after a failed write or fsync the
//!   database refuses further writes ([`Error::Poisoned`]) until it is reopened.

use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in RustLite.
///
/// ```
/// use rustlite_engine::{Engine, Error, Options};
/// let dir = tempfile::tempdir()?;
/// let db = Engine::open(dir.path(), Options::default())?;
/// // A second handle on the same directory is refused while the first is open.
/// match Engine::open(dir.path(), Options::default()) {
///     Err(Error::Locked(path)) => assert!(path.ends_with(dir.path().file_name().unwrap())),
///     other => panic!("expected Locked, got {other:?}"),
/// }
/// drop(db);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system reported an I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Data on disk failed a checksum or a structural check. Restore from a backup.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        /// File (relative to the database directory) holding the damaged bytes.
        file: String,
        /// Byte offset of the damaged record or block.
        offset: u64,
        /// What check failed.
        reason: String,
    },

    /// Another handle holds the database directory's `LOCK` file.
    #[error("database directory {0} is locked by another handle or process")]
    Locked(PathBuf),

    /// A transaction lost a race against a concurrent commit; retry it.
    #[error("transaction conflict: {0}; retry the transaction")]
    Conflict(String),

    /// An earlier write or fsync failed, so the database no longer accepts writes. Reopen it.
    #[error("database refuses writes after an earlier I/O failure ({0}); reopen it")]
    Poisoned(String),

    /// The database has been closed.
    #[error("database is closed")]
    Closed,

    /// The transaction was already committed or rolled back.
    #[error("transaction is no longer active")]
    TransactionClosed,

    /// A write was attempted through a read-only handle (snapshot).
    #[error("read-only: {0}")]
    ReadOnly(String),

    /// A caller passed an argument the engine cannot accept (e.g. an oversized key).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A row with this primary key already exists (`insert`); use `upsert` or `update`.
    #[error("{collection}: a row with key {key} already exists")]
    AlreadyExists {
        /// Collection (table) name.
        collection: String,
        /// The key, rendered for humans.
        key: String,
    },

    /// The row, table, index or other named object does not exist.
    #[error("not found: {0}")]
    NotFound(String),

    /// A unique index already maps this value to another row; nothing of the write was applied.
    #[error("unique index {index} already holds value {value}")]
    UniqueViolation {
        /// Index name.
        index: String,
        /// The duplicated value, rendered for humans.
        value: String,
    },

    /// A schema problem: a collection opened with a different key type, a type mismatch on a
    /// column, a constraint (`NOT NULL`) violated.
    #[error("schema error: {0}")]
    Schema(String),

    /// A SQL statement could not be parsed, planned or executed; the message names the token,
    /// column or constraint at fault. A failed statement leaves no partial write.
    #[error("SQL error: {0}")]
    Sql(String),

    /// A value could not be encoded or decoded (a document that does not match its type).
    #[error("serialization error: {0}")]
    Serialization(String),

    /// A file was written by an unknown version of the on-disk format.
    #[error("unsupported format version {found} in {file} (this build reads {supported})")]
    UnsupportedVersion {
        /// File holding the version tag.
        file: String,
        /// Version found.
        found: u32,
        /// Version this build understands.
        supported: u32,
    },
}

impl Error {
    /// Builds a [`Error::Corruption`].
    ///
    /// ```
    /// let e = rustlite_engine::Error::corruption("000007.sst", 4096, "bad block checksum");
    /// assert_eq!(e.to_string(), "corruption in 000007.sst at offset 4096: bad block checksum");
    /// ```
    pub fn corruption(file: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Whether retrying the same transaction may succeed.
    ///
    /// ```
    /// use rustlite_engine::Error;
    /// assert!(Error::Conflict("k was written concurrently".into()).is_retryable());
    /// assert!(!Error::corruption("CURRENT", 0, "empty").is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }
}
