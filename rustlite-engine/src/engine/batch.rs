//! [`WriteBatch`]: puts and deletes applied atomically as one commit (one WAL record).

use crate::lsm::ikey::Kind;

/// One write in a batch.
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
/// use rustlite_engine::WriteBatch;
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1").delete(b"b");
/// assert_eq!(batch.len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub(crate) ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put of `key` → `value`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(Op {
            kind: Kind::Put,
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        });
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(Op {
            kind: Kind::Delete,
            key: key.as_ref().to_vec(),
            value: Vec::new(),
        });
        self
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values in the batch.
    pub fn size(&self) -> usize {
        self.ops.iter().map(|o| o.key.len() + o.value.len()).sum()
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The writes, in order, by value (no copy of keys and values).
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Adds a ready-made op.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }
}
