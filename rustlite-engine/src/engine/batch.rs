//! [`WriteBatch`]: puts and deletes applied atomically as one commit (one WAL record).

use crate::error::{Error, Result};
use crate::lsm::ikey::Kind;

/// The longest engine key, in bytes (64 KiB). A write of a longer key (a raw key, a primary
/// key, an index entry of a long indexed value) is refused with [`Error::InvalidArgument`] and
/// changes nothing: a table's first and last keys go into the manifest record that names it,
/// which is bounded ([`MAX_RECORD_LEN`](crate::codec::record::MAX_RECORD_LEN)), so an unbounded
/// key could make every later flush, and every reopen, fail.
///
/// ```
/// use rustlite_engine::{engine::MAX_KEY_LEN, Engine, Error, Options};
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(&vec![b'k'; MAX_KEY_LEN], b"v")?;
/// assert!(matches!(db.put(&vec![b'k'; MAX_KEY_LEN + 1], b"v"), Err(Error::InvalidArgument(_))));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub const MAX_KEY_LEN: usize = 64 << 10;

/// [`Error::InvalidArgument`] for a key longer than [`MAX_KEY_LEN`].
pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidArgument(format!(
            "a key of {} bytes exceeds the {MAX_KEY_LEN}-byte limit",
            key.len()
        )));
    }
    Ok(())
}

/// One write in a batch.
///
/// ```
/// use rustlite_engine::{engine::Kind, Op, WriteBatch};
/// let mut batch = WriteBatch::new();
/// batch.push(Op { kind: Kind::Put, key: b"k".to_vec(), value: b"v".to_vec() });
/// batch.delete(b"gone");
/// assert_eq!(batch.ops()[1], Op { kind: Kind::Delete, key: b"gone".to_vec(), value: vec![] });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Put or delete.
    pub kind: Kind,
    /// The engine key.
    pub key: Vec<u8>,
    /// The value (empty for deletes).
    pub value: Vec<u8>,
}

/// An ordered list of writes committed atomically: after a crash either all are there or none.
///
/// ```
/// use rustlite_engine::{Engine, Options, WriteBatch};
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"b", b"old")?;
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1").delete(b"b");
/// assert_eq!(batch.len(), 2);
/// db.write(batch)?; // one commit, one seqno
/// assert_eq!(db.get(b"a")?, Some(b"1".to_vec()));
/// assert_eq!(db.get(b"b")?, None);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub(crate) ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch.
    ///
    /// ```
    /// assert!(rustlite_engine::WriteBatch::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put of `key` → `value`.
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// batch.put("a", "1").put(b"b", [2u8]);
    /// assert_eq!(batch.ops()[1].value, vec![2]);
    /// ```
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(Op {
            kind: Kind::Put,
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        });
        self
    }

    /// Adds a delete of `key`.
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// batch.delete(b"gone");
    /// assert_eq!((batch.len(), batch.ops()[0].value.len()), (1, 0));
    /// ```
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(Op {
            kind: Kind::Delete,
            key: key.as_ref().to_vec(),
            value: Vec::new(),
        });
        self
    }

    /// Number of writes.
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// batch.put(b"a", b"1").put(b"a", b"2");
    /// assert_eq!(batch.len(), 2); // both writes are kept; the last one wins
    /// ```
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no writes.
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// assert!(batch.is_empty());
    /// batch.delete(b"a");
    /// assert!(!batch.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values in the batch.
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// batch.put(b"key", b"value").delete(b"k2");
    /// assert_eq!(batch.size(), 3 + 5 + 2);
    /// ```
    pub fn size(&self) -> usize {
        self.ops.iter().map(|o| o.key.len() + o.value.len()).sum()
    }

    /// The writes, in order.
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// batch.put(b"a", b"1").delete(b"b");
    /// let keys: Vec<&[u8]> = batch.ops().iter().map(|op| op.key.as_slice()).collect();
    /// assert_eq!(keys, [b"a", b"b"]);
    /// ```
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The writes, in order, by value (no copy of keys and values).
    ///
    /// ```
    /// let mut batch = rustlite_engine::WriteBatch::new();
    /// batch.put(b"a", b"1");
    /// let ops = batch.into_ops();
    /// assert_eq!(ops[0].key, b"a");
    /// ```
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Adds a ready-made op.
    ///
    /// ```
    /// use rustlite_engine::WriteBatch;
    /// let mut source = WriteBatch::new();
    /// source.put(b"a", b"1");
    /// let mut prefixed = WriteBatch::new();
    /// for mut op in source.into_ops() {
    ///     op.key.insert(0, b'/');
    ///     prefixed.push(op);
    /// }
    /// assert_eq!(prefixed.ops()[0].key, b"/a");
    /// ```
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }
}
