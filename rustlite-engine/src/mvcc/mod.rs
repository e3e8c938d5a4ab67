//! Multi-version concurrency control: snapshots, transactions and conflict detection.
//!
//! ## Versions
//! Every committed batch gets the next seqno and every version in the LSM carries it. A snapshot
//! is a seqno `s`: it reads, for each key, the newest version with seqno `<= s`.
//!
//! ```text
//! key   seq 1   seq 2   seq 3   seq 4          snapshot 2 reads: a=x1, b=y2
//! a     x1              x3                     snapshot 4 reads: a=x3, b deleted
//! b             y2              (del)
//! ```
//!
//! ## Isolation
//! Transactions are optimistic: writes are buffered privately (so dirty reads never happen) and
//! validated at commit by the oracle, which remembers the keys every recent commit wrote.
//!
//! | level | reads see | commit fails with `Error::Conflict` when |
//! |---|---|---|
//! | ReadUncommitted | the latest committed data at each read (as ReadCommitted; writes are private, so no dirty reads) | a key this txn writes was committed by another txn after this txn wrote it |
//! | ReadCommitted | the latest committed data at each read | same |
//! | RepeatableRead (default) | one snapshot taken at begin: snapshot isolation | a key in the write set was committed by another txn after begin (first committer wins) |
//! | Serializable | one snapshot | as RepeatableRead, plus any key read or range scanned was changed by a txn that committed after begin |
//!
//! ## Garbage collection
//! Live snapshots and transactions register their seqno in the engine's snapshot list;
//! compaction keeps every version the oldest of them may read, and the oracle forgets commits
//! older than the oldest. A [`ReadView`] (one read-only SQL statement) registers nothing: it
//! pins the engine state it reads, whose memtables and tables compaction never changes (see
//! [`ReadView`]).

pub(crate) mod oracle;
pub(crate) mod reader;
pub(crate) mod snapshot;
pub(crate) mod transaction;
pub(crate) mod txn_scan;

pub use reader::{ReadView, Reader};

/// How much a transaction is shielded from concurrent ones. See the module docs for the table.
///
/// ```
/// use rustlite_engine::{Engine, IsolationLevel, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"k", b"1")?;
/// let mut rc = db.begin(IsolationLevel::ReadCommitted);
/// let mut rr = db.begin(IsolationLevel::RepeatableRead);
/// db.put(b"k", b"2")?;
/// assert_eq!(rc.get(b"k")?, Some(b"2".to_vec())); // the latest committed value
/// assert_eq!(rr.get(b"k")?, Some(b"1".to_vec())); // its snapshot from begin
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Behaves as [`IsolationLevel::ReadCommitted`]: uncommitted writes are never visible to
    /// others (as in PostgreSQL).
    ReadUncommitted,
    /// Each read sees the latest committed data; lost updates on written keys are refused.
    ReadCommitted,
    /// Snapshot isolation: all reads see the snapshot taken at begin; write-write conflicts are
    /// refused (first committer wins). Write skew (G2-item) is possible.
    #[default]
    RepeatableRead,
    /// Snapshot isolation plus validation of every key read and range scanned: the committed
    /// history is serializable.
    Serializable,
}

impl IsolationLevel {
    /// Whether reads use one snapshot for the whole transaction.
    ///
    /// ```
    /// use rustlite_engine::IsolationLevel;
    /// assert!(IsolationLevel::Serializable.uses_snapshot());
    /// assert!(!IsolationLevel::ReadCommitted.uses_snapshot());
    /// ```
    pub fn uses_snapshot(self) -> bool {
        matches!(
            self,
            IsolationLevel::RepeatableRead | IsolationLevel::Serializable
        )
    }
}
