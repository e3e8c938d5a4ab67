//! The registry of live snapshots, and the published ("visible") seqno.
//!
//! Registering a snapshot and reading the visible seqno happen under one mutex, and compaction
//! reads the oldest live snapshot under the same mutex, so no version a registered reader needs can
//! be dropped between "which seqno do I read at" and "compaction knows about me".

use crate::lsm::ikey::SeqNo;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Live snapshots plus the last published seqno.
#[derive(Debug, Default)]
pub struct SnapshotList {
    visible: AtomicU64,
    live: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    counts: BTreeMap<SeqNo, usize>,
    /// Registered snapshots that belong to read-write transactions.
    transactions: usize,
}

impl SnapshotList {
    /// A registry whose visible seqno starts at `seq` (after recovery).
    pub fn new(seq: SeqNo) -> Self {
        SnapshotList {
            visible: AtomicU64::new(seq),
            live: Mutex::new(Registry::default()),
        }
    }

    /// The last published seqno: everything at or below it is committed and readable.
    pub fn visible(&self) -> SeqNo {
        self.visible.load(Ordering::Acquire)
    }

    /// Publishes `seq` (called by the commit leader after the memtable insert) and returns whether
    /// any read-write transaction is live (so the oracle must remember this commit).
    pub fn publish(&self, seq: SeqNo) -> bool {
        let live = self.live.lock();
        self.visible.store(seq, Ordering::Release);
        live.transactions > 0
    }

    /// Registers a snapshot at the current visible seqno.
    pub fn acquire(self: &Arc<Self>, transaction: bool) -> SnapshotGuard {
        let mut live = self.live.lock();
        let seq = self.visible.load(Ordering::Acquire);
        *live.counts.entry(seq).or_insert(0) += 1;
        if transaction {
            live.transactions += 1;
        }
        SnapshotGuard {
            list: Arc::clone(self),
            seq,
            transaction,
        }
    }

    /// Registers a snapshot at `seq`, a seqno at or below the visible one that the caller can
    /// still read whole (a [`ReadView`](crate::mvcc::reader::ReadView) holding the state it
    /// read at `seq`): from now on compaction keeps what `seq` reads for the guard's lifetime.
    pub fn acquire_at(self: &Arc<Self>, seq: SeqNo) -> SnapshotGuard {
        let mut live = self.live.lock();
        let seq = seq.min(self.visible.load(Ordering::Acquire));
        *live.counts.entry(seq).or_insert(0) += 1;
        SnapshotGuard {
            list: Arc::clone(self),
            seq,
            transaction: false,
        }
    }

    /// The oldest seqno any live reader may use (the visible seqno when none is registered).
    pub fn oldest(&self) -> SeqNo {
        let live = self.live.lock();
        let visible = self.visible.load(Ordering::Acquire);
        live.counts
            .keys()
            .next()
            .map_or(visible, |&s| s.min(visible))
    }

    /// Number of registered snapshots (for stats and tests).
    pub fn live_count(&self) -> usize {
        self.live.lock().counts.values().sum()
    }

    fn release(&self, seq: SeqNo, transaction: bool) {
        let mut live = self.live.lock();
        if let Some(count) = live.counts.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                live.counts.remove(&seq);
            }
        }
        if transaction {
            live.transactions = live.transactions.saturating_sub(1);
        }
    }
}

/// A registered snapshot; dropping it lets compaction reclaim what only it could read.
#[derive(Debug)]
pub struct SnapshotGuard {
    list: Arc<SnapshotList>,
    seq: SeqNo,
    transaction: bool,
}

impl SnapshotGuard {
    /// The snapshot's seqno.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        self.list.release(self.seq, self.transaction);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_tracks_live_snapshots() {
        let list = Arc::new(SnapshotList::new(5));
        assert_eq!(list.oldest(), 5);
        let a = list.acquire(false);
        assert!(!list.publish(9));
        let b = list.acquire(true);
        assert!(list.publish(10));
        assert_eq!((a.seq(), b.seq()), (5, 9));
        assert_eq!(list.oldest(), 5);
        drop(a);
        assert_eq!(list.oldest(), 9);
        drop(b);
        assert_eq!(list.oldest(), 10);
        assert!(!list.publish(11));
        assert_eq!(list.live_count(), 0);
    }

    #[test]
    fn acquire_at_registers_an_older_seqno() {
        let list = Arc::new(SnapshotList::new(5));
        assert!(!list.publish(8));
        let a = list.acquire_at(6);
        assert_eq!((a.seq(), list.oldest()), (6, 6));
        // Never above the visible seqno, and never a transaction.
        let b = list.acquire_at(100);
        assert_eq!(b.seq(), 8);
        assert!(!list.publish(9));
        drop(a);
        assert_eq!(list.oldest(), 8);
        drop(b);
        assert_eq!((list.oldest(), list.live_count()), (9, 0));
    }
}
