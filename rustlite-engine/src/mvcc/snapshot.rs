//! The registry of live snapshots, and the published ("visible") seqno.
//!
//! Registering a snapshot and reading the visible seqno happen under one mutex, and compaction
//! reads the oldest live snapshot under the same mutex, so no version a registered reader needs can
//! be dropped between "which seqno do I read at" and "compaction knows about me".
//!
//! The registry keeps two sorted `VecDeque`s of `(seqno, count)`, every snapshot and those of
//! read-write transactions (compaction keeps what the oldest of all reads; the oracle
//! remembers commits after the oldest transaction's), rather than maps: every scan registers
//! and releases a snapshot, and with no other reader live a `BTreeMap` allocated a node for
//! the one entry and freed it again per scan; the deque keeps its capacity. Registrations come
//! at the newest seqno, so an insert is nearly always a push at the back; releases come at
//! either end (the oldest reader finishes first, or the newest scan ends), which a deque
//! removes in O(1) (a `Vec` shifted every later entry to remove the oldest: closing many
//! snapshots oldest-first was quadratic). A release in the middle moves the entries on its
//! shorter side.
//!
//! ```text
//!             front (oldest)                      back (newest)
//! all:          (5, 1)   (7, 2)   (9, 1)   (12, 3)      <- acquire pushes here
//!                  ^ oldest(): what compaction keeps readable
//! ```

use crate::lsm::ikey::SeqNo;
use parking_lot::Mutex;
use std::collections::VecDeque;
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
    /// Every registered snapshot.
    all: Counts,
    /// The registered snapshots of read-write transactions (also in `all`): the only readers
    /// that validate against the commits after their snapshot.
    transactions: Counts,
}

/// `(seqno, live registrations at it)`, ascending by seqno, counts above zero.
#[derive(Debug, Default)]
struct Counts {
    entries: VecDeque<(SeqNo, usize)>,
    /// Entries moved by removals in the middle, which shift the shorter side: what a test
    /// checks to know that releases at either end move none.
    #[cfg(test)]
    moved: usize,
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
        live.transactions.oldest().is_some()
    }

    /// Registers a snapshot at the current visible seqno.
    pub fn acquire(self: &Arc<Self>, transaction: bool) -> SnapshotGuard {
        let mut live = self.live.lock();
        let seq = self.visible.load(Ordering::Acquire);
        live.all.add(seq);
        if transaction {
            live.transactions.add(seq);
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
        live.all.add(seq);
        SnapshotGuard {
            list: Arc::clone(self),
            seq,
            transaction: false,
        }
    }

    /// The oldest seqno any live reader may use (the visible seqno when none is registered):
    /// what compaction must keep readable.
    pub fn oldest(&self) -> SeqNo {
        let live = self.live.lock();
        let visible = self.visible.load(Ordering::Acquire);
        live.all.oldest().map_or(visible, |s| s.min(visible))
    }

    /// The oldest snapshot of a live read-write transaction (the visible seqno when none is
    /// live): no commit at or below it can conflict with anything still to validate, so the
    /// oracle forgets those. Plain snapshots and iterators never validate and do not hold it
    /// back.
    pub fn oldest_transaction(&self) -> SeqNo {
        let live = self.live.lock();
        let visible = self.visible.load(Ordering::Acquire);
        live.transactions
            .oldest()
            .map_or(visible, |s| s.min(visible))
    }

    /// Number of registered snapshots (for stats and tests).
    pub fn live_count(&self) -> usize {
        self.live.lock().all.entries.iter().map(|&(_, n)| n).sum()
    }

    fn release(&self, seq: SeqNo, transaction: bool) {
        let mut live = self.live.lock();
        live.all.remove(seq);
        if transaction {
            live.transactions.remove(seq);
        }
    }
}

impl Counts {
    /// One more registration at `seq`.
    fn add(&mut self, seq: SeqNo) {
        // The newest seqno lands at the back: an insert there is a push.
        match self.entries.back_mut() {
            Some((newest, count)) if *newest == seq => *count += 1,
            Some(&mut (newest, _)) if newest > seq => {
                match self.entries.binary_search_by_key(&seq, |&(s, _)| s) {
                    Ok(i) => {
                        if let Some((_, count)) = self.entries.get_mut(i) {
                            *count += 1;
                        }
                    }
                    Err(i) => self.entries.insert(i, (seq, 1)),
                }
            }
            _ => self.entries.push_back((seq, 1)),
        }
    }

    /// One registration at `seq` fewer (none if `seq` has none).
    fn remove(&mut self, seq: SeqNo) {
        let Ok(i) = self.entries.binary_search_by_key(&seq, |&(s, _)| s) else {
            return;
        };
        let Some((_, count)) = self.entries.get_mut(i) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        #[cfg(test)]
        {
            self.moved += i.min(self.entries.len() - 1 - i);
        }
        // O(1) at either end; else the shorter side moves.
        self.entries.remove(i);
    }

    /// The oldest registered seqno.
    fn oldest(&self) -> Option<SeqNo> {
        self.entries.front().map(|&(s, _)| s)
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
    fn oldest_transaction_ignores_plain_snapshots() {
        let list = Arc::new(SnapshotList::new(5));
        let plain = list.acquire(false);
        assert!(!list.publish(7));
        let view = list.acquire_at(6);
        assert_eq!(
            list.oldest_transaction(),
            7,
            "no transaction: the visible seqno"
        );
        let tx = list.acquire(true);
        assert!(list.publish(9));
        let later = list.acquire(true);
        assert_eq!((list.oldest(), list.oldest_transaction()), (5, 7));
        drop(tx);
        assert_eq!((list.oldest(), list.oldest_transaction()), (5, 9));
        drop(later);
        assert!(!list.publish(10), "no read-write transaction left");
        assert_eq!((list.oldest(), list.oldest_transaction()), (5, 10));
        drop((plain, view));
        assert_eq!(list.oldest(), 10);
    }

    /// Registrations at any seqno, in any order, released in any order: `oldest` and
    /// `live_count` match a `BTreeMap` of counts.
    #[test]
    fn registry_matches_a_map_model() {
        use std::collections::BTreeMap;
        let list = Arc::new(SnapshotList::new(0));
        let mut guards: Vec<SnapshotGuard> = Vec::new();
        let mut model: BTreeMap<SeqNo, usize> = BTreeMap::new();
        let mut x = 12345u64;
        for step in 0..2000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if step % 3 == 0 {
                assert!(!list.publish(step / 3 + 1));
            }
            if x >> 62 != 0 || guards.is_empty() {
                // At the visible seqno, or at an older one.
                let g = if x & 1 == 0 {
                    list.acquire(false)
                } else {
                    list.acquire_at((x >> 8) % (step / 3 + 2))
                };
                *model.entry(g.seq()).or_insert(0) += 1;
                guards.push(g);
            } else {
                let g = guards.swap_remove((x >> 8) as usize % guards.len());
                let n = model.get_mut(&g.seq()).expect("registered");
                *n -= 1;
                if *n == 0 {
                    model.remove(&g.seq());
                }
            }
            let visible = list.visible();
            let want = model.keys().next().map_or(visible, |&s| s.min(visible));
            assert_eq!(list.oldest(), want, "step {step}");
            assert_eq!(list.live_count(), model.values().sum::<usize>());
        }
        guards.clear();
        assert_eq!((list.live_count(), list.oldest()), (0, list.visible()));
    }

    /// Adds and removes at random seqnos (duplicates, older than the newest, and removals of
    /// seqnos with no registration, which do nothing): the entries and `oldest` always equal a
    /// `BTreeMap` of counts.
    #[test]
    fn counts_match_a_map_model() {
        use std::collections::BTreeMap;
        let mut counts = Counts::default();
        let mut model: BTreeMap<SeqNo, usize> = BTreeMap::new();
        let mut x = 99u64;
        for step in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Seqnos drift upwards, as registrations do, with some far behind.
            let seq = (step / 50 + (x >> 40) % 30).saturating_sub((x >> 20) % 4 * 10);
            if (x >> 60) < 9 {
                counts.add(seq);
                *model.entry(seq).or_insert(0) += 1;
            } else {
                counts.remove(seq);
                if let Some(n) = model.get_mut(&seq) {
                    *n -= 1;
                    if *n == 0 {
                        model.remove(&seq);
                    }
                }
            }
            let want: Vec<(SeqNo, usize)> = model.iter().map(|(&s, &n)| (s, n)).collect();
            assert!(counts.entries.iter().eq(want.iter()), "step {step}");
            assert_eq!(counts.oldest(), model.keys().next().copied(), "step {step}");
        }
    }

    /// Releasing oldest-first, newest-first or as a sliding window moves no entry (a `Vec`
    /// shifted every later entry to remove the oldest: closing n snapshots oldest-first was
    /// quadratic); a release in the middle moves the shorter side.
    #[test]
    fn releases_at_either_end_move_no_entry() {
        let n: SeqNo = 10_000;
        let mut counts = Counts::default();
        for seq in 0..n {
            counts.add(seq);
            if seq % 3 == 0 {
                counts.add(seq); // two snapshots at one seqno
            }
        }
        for seq in 0..n {
            counts.remove(seq);
            counts.remove(seq);
        }
        assert_eq!((counts.entries.len(), counts.moved), (0, 0), "oldest first");
        for seq in 0..n {
            counts.add(seq);
        }
        for seq in (0..n).rev() {
            counts.remove(seq);
        }
        assert_eq!((counts.entries.len(), counts.moved), (0, 0), "newest first");
        for seq in 0..n {
            counts.add(seq);
            if seq >= 100 {
                counts.remove(seq - 100);
            }
        }
        assert_eq!(
            (counts.entries.len(), counts.moved),
            (100, 0),
            "sliding window"
        );
        counts.remove(n - 98); // the third newest: the two after it move
        assert_eq!((counts.moved, counts.oldest()), (2, Some(n - 100)));
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
