//! Commit-time conflict detection for optimistic transactions.
//!
//! The oracle remembers, for every key written by a commit that a live transaction might conflict
//! with, the seqno of its latest commit. Validating a transaction is then a lookup per written key
//! ("was it committed after my floor?") and, for Serializable, per read key and a range query per
//! scanned range (phantoms). Only the commit leader touches the oracle, so validation never blocks
//! readers.
//!
//! Memory is bounded twice. [`Oracle::prune`] forgets every commit at or below the oldest live
//! transaction's snapshot, since no live transaction can conflict with those. And the history
//! has a byte budget ([`Options::max_conflict_history`](crate::Options::max_conflict_history)):
//! while one transaction stays open (even one that only reads), every commit after its snapshot
//! is remembered, so without a bound a transaction left open for an hour beside a steady writer
//! would hold gigabytes. Past the budget the oldest commits are forgotten anyway and the
//! *horizon* moves to the newest one forgotten; a validation that would need a forgotten commit
//! (a floor below the horizon) fails with a conflict that says the transaction is too old, and
//! is retried like any conflict. A transaction that only read never validates, so it never fails
//! this way, however long it stays open.
//!
//! Recording is cheap and indexing lazy: a commit's keys are copied into one flat buffer, and
//! only a validation moves the commits recorded since the last one into the ordered index. A
//! stream of writes that no transaction validates against (a bulk load) is recorded and pruned
//! without ever touching the index.

use crate::keyspace::KeyRange;
use crate::lsm::ikey::SeqNo;
use crate::mvcc::IsolationLevel;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

/// What a transaction hands to the commit pipeline to be validated.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The transaction's isolation level.
    pub isolation: IsolationLevel,
    /// The snapshot the transaction began at.
    pub start_seq: SeqNo,
    /// Per written key, the seqno after which a foreign commit of that key is a conflict
    /// (`start_seq` under snapshot isolation; the time of the write under ReadCommitted).
    pub write_floors: Vec<(Vec<u8>, SeqNo)>,
    /// Keys read (Serializable only).
    pub read_keys: Vec<Vec<u8>>,
    /// Ranges scanned (Serializable only).
    pub read_ranges: Vec<KeyRange>,
    /// Ranges in which a foreign commit after the given floor is a conflict at every isolation
    /// level ([`Transaction::guard_range`](crate::mvcc::transaction::Transaction::guard_range)).
    pub guard_ranges: Vec<(KeyRange, SeqNo)>,
}

/// What a remembered commit costs beside its key bytes (the log entry, the offsets' vector).
const LOG_ENTRY_COST: usize = 64;
/// What an indexed key costs beside its bytes (its share of a B-tree node, the key's `Vec`).
const INDEX_ENTRY_COST: usize = 48;

/// About how many bytes `key` holds in the index.
fn index_cost(key: &[u8]) -> usize {
    INDEX_ENTRY_COST + key.len()
}

/// The keys one commit wrote, in one allocation.
#[derive(Debug, Default)]
struct KeySet {
    bytes: Vec<u8>,
    /// End offset of each key in `bytes`.
    ends: Vec<usize>,
}

impl KeySet {
    /// About how many bytes the log holds for this commit.
    fn cost(&self) -> usize {
        LOG_ENTRY_COST + self.bytes.len() + self.ends.len() * std::mem::size_of::<usize>()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.bytes[a..b])
    }
}

/// Recent commits' written keys. See the module docs.
#[derive(Debug)]
pub struct Oracle {
    /// Per key, its latest commit among the indexed ones.
    last_commit: BTreeMap<Vec<u8>, SeqNo>,
    /// Every remembered commit, oldest first; those at or below `indexed` are in `last_commit`.
    log: VecDeque<(SeqNo, KeySet)>,
    indexed: SeqNo,
    /// About how many bytes `log` and `last_commit` hold.
    bytes: usize,
    /// Most bytes to hold (see the module docs).
    budget: usize,
    /// Every commit at or below this was forgotten for the budget while a live transaction's
    /// snapshot was older: a floor below it cannot be validated.
    horizon: SeqNo,
}

impl Oracle {
    /// An oracle that remembers nothing yet and holds about `budget` bytes at most.
    pub fn new(budget: usize) -> Self {
        Oracle {
            last_commit: BTreeMap::new(),
            log: VecDeque::new(),
            indexed: 0,
            bytes: 0,
            budget,
            horizon: 0,
        }
    }

    fn committed_after(&self, key: &[u8], floor: SeqNo) -> bool {
        self.last_commit.get(key).is_some_and(|&seq| seq > floor)
    }

    /// A key in `lo..hi` committed after `floor`, if any.
    fn committed_in(
        &self,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
        floor: SeqNo,
    ) -> Option<&[u8]> {
        let range = (as_ref(lo), as_ref(hi));
        if range_is_empty(&range) {
            return None;
        }
        self.last_commit
            .range::<[u8], _>(range)
            .find(|(_, &seq)| seq > floor)
            .map(|(key, _)| key.as_slice())
    }

    /// Checks `v` against the remembered commits; `Err` describes the conflict.
    pub fn check(&mut self, v: &Validation) -> Result<(), String> {
        if let Some(floor) = self.lowest_floor(v).filter(|&f| f < self.horizon) {
            return Err(format!(
                "transaction too old: it depends on the commits after seqno {floor}, and the \
                 conflict history (max_conflict_history) kept only those after {}",
                self.horizon
            ));
        }
        self.index();
        for (key, floor) in &v.write_floors {
            if self.committed_after(key, *floor) {
                return Err(format!(
                    "write-write conflict on key {}",
                    crate::codec::display_key(key)
                ));
            }
        }
        for ((lo, hi), floor) in &v.guard_ranges {
            if let Some(key) = self.committed_in(lo, hi, *floor) {
                return Err(format!(
                    "key {} in a range this transaction depends on was changed by a concurrent \
                     commit",
                    crate::codec::display_key(key)
                ));
            }
        }
        if v.isolation == IsolationLevel::Serializable {
            for key in &v.read_keys {
                if self.committed_after(key, v.start_seq) {
                    return Err(format!(
                        "read key {} was changed by a concurrent commit",
                        crate::codec::display_key(key)
                    ));
                }
            }
            for (lo, hi) in &v.read_ranges {
                if let Some(key) = self.committed_in(lo, hi, v.start_seq) {
                    return Err(format!(
                        "scanned range gained or lost key {} in a concurrent commit (phantom)",
                        crate::codec::display_key(key)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The lowest seqno after which a commit would fail `v`, if `v` checks anything.
    fn lowest_floor(&self, v: &Validation) -> Option<SeqNo> {
        let reads = v.isolation == IsolationLevel::Serializable
            && !(v.read_keys.is_empty() && v.read_ranges.is_empty());
        let writes = v.write_floors.iter().map(|(_, floor)| *floor);
        let guards = v.guard_ranges.iter().map(|(_, floor)| *floor);
        writes
            .chain(guards)
            .chain(reads.then_some(v.start_seq))
            .min()
    }

    /// Remembers that the commit `seq` (above every seqno recorded before) wrote `keys`.
    pub fn record<'k>(&mut self, seq: SeqNo, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut set = KeySet::default();
        for key in keys {
            set.bytes.extend_from_slice(key);
            set.ends.push(set.bytes.len());
        }
        self.bytes += set.cost();
        self.log.push_back((seq, set));
    }

    /// Moves the commits recorded since the last validation into `last_commit`.
    fn index(&mut self) {
        let newer = self.log.partition_point(|(seq, _)| *seq <= self.indexed);
        for (seq, keys) in self.log.range(newer..) {
            for key in keys.iter() {
                match self.last_commit.get_mut(key) {
                    Some(latest) => *latest = (*latest).max(*seq),
                    None => {
                        self.last_commit.insert(key.to_vec(), *seq);
                        self.bytes += index_cost(key);
                    }
                }
            }
            self.indexed = *seq;
        }
    }

    /// Forgets every commit at or below `oldest` (no live transaction began before it), then,
    /// while more than the budget is held, the oldest commits down to three quarters of it
    /// (moving the horizon; see the module docs).
    pub fn prune(&mut self, oldest: SeqNo) {
        self.forget_through(oldest);
        if self.bytes <= self.budget {
            return;
        }
        let target = self.budget / 4 * 3;
        let mut freed = 0;
        let mut through = None;
        for (seq, keys) in &self.log {
            if self.bytes - freed <= target {
                break;
            }
            // Its indexed keys (if it was indexed) go with it unless a later commit wrote them.
            let index_share = if *seq <= self.indexed {
                keys.iter().map(index_cost).sum()
            } else {
                0
            };
            freed += keys.cost() + index_share;
            through = Some(*seq);
        }
        if let Some(through) = through {
            self.forget_through(through);
            self.horizon = self.horizon.max(through);
            tracing::debug!(
                horizon = through,
                "conflict history over budget: transactions older than the horizon cannot commit \
                 writes"
            );
        }
    }

    /// Forgets every commit at or below `through`.
    fn forget_through(&mut self, through: SeqNo) {
        while self.log.front().is_some_and(|(seq, _)| *seq <= through) {
            let Some((seq, keys)) = self.log.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(keys.cost());
            if seq > self.indexed {
                continue;
            }
            for key in keys.iter() {
                if self.last_commit.get(key) == Some(&seq) {
                    self.last_commit.remove(key);
                    self.bytes = self.bytes.saturating_sub(index_cost(key));
                }
            }
        }
    }

    /// About how many bytes the remembered commits hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of commits remembered (for tests and stats).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether a key range holds no key at all (inverted, or empty between exclusive bounds).
/// `BTreeMap::range` panics on such a range: check this first.
pub(crate) fn range_is_empty(r: &(Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match r {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(isolation: IsolationLevel, start: SeqNo) -> Validation {
        Validation {
            isolation,
            start_seq: start,
            write_floors: Vec::new(),
            read_keys: Vec::new(),
            read_ranges: Vec::new(),
            guard_ranges: Vec::new(),
        }
    }

    #[test]
    fn write_write_conflicts_after_floor_only() {
        let mut o = Oracle::new(usize::MAX);
        o.record(5, [&b"a"[..]]);
        let mut v = txn(IsolationLevel::RepeatableRead, 4);
        v.write_floors.push((b"a".to_vec(), 4));
        assert!(o.check(&v).is_err());
        v.write_floors[0].1 = 5;
        assert!(o.check(&v).is_ok());
    }

    #[test]
    fn serializable_checks_reads_and_ranges() {
        let mut o = Oracle::new(usize::MAX);
        o.record(7, [&b"m"[..]]);
        let mut v = txn(IsolationLevel::Serializable, 6);
        v.read_ranges.push((
            Bound::Included(b"a".to_vec()),
            Bound::Excluded(b"z".to_vec()),
        ));
        assert!(o.check(&v).is_err_and(|e| e.contains("phantom")));
        v.read_ranges[0] = (Bound::Included(b"n".to_vec()), Bound::Unbounded);
        assert!(o.check(&v).is_ok());
        v.read_ranges[0] = (
            Bound::Included(b"z".to_vec()),
            Bound::Excluded(b"a".to_vec()),
        );
        assert!(o.check(&v).is_ok());
        v.read_keys.push(b"m".to_vec());
        assert!(o.check(&v).is_err());
        // The same reads at RepeatableRead are not validated.
        v.isolation = IsolationLevel::RepeatableRead;
        assert!(o.check(&v).is_ok());
    }

    #[test]
    fn prune_forgets_old_commits() {
        let mut o = Oracle::new(usize::MAX);
        o.record(1, [&b"a"[..]]);
        o.record(2, [&b"a"[..], &b"b"[..]]);
        o.prune(1);
        assert_eq!(o.len(), 1);
        let mut v = txn(IsolationLevel::RepeatableRead, 1);
        v.write_floors.push((b"a".to_vec(), 1));
        assert!(o.check(&v).is_err());
        o.prune(2);
        assert!(o.is_empty());
        assert!(o.check(&v).is_ok());
    }

    /// Past its budget the oracle forgets the oldest commits even though a transaction's
    /// snapshot still needs them, and refuses exactly the validations that would have needed
    /// them.
    #[test]
    fn the_budget_bounds_memory_and_refuses_only_validations_below_the_horizon() {
        let mut o = Oracle::new(4096);
        let mut peak = 0;
        for seq in 1..=500u64 {
            let key = format!("key{seq:04}");
            o.record(seq, [key.as_bytes()]);
            if seq % 7 == 0 {
                // Validations index what was recorded, so the index counts too.
                let mut v = txn(IsolationLevel::RepeatableRead, seq);
                v.write_floors.push((b"other".to_vec(), seq));
                assert!(o.check(&v).is_ok());
            }
            o.prune(0); // a transaction that began at seqno 0 stays open throughout
            peak = peak.max(o.bytes());
        }
        assert!(peak <= 4096, "held {peak} bytes with a 4096-byte budget");
        let horizon = o.horizon;
        assert!(horizon > 0 && horizon < 500, "horizon {horizon}");

        // The old transaction's write cannot be validated: a conflict that says why.
        let mut old = txn(IsolationLevel::RepeatableRead, 0);
        old.write_floors.push((b"anything".to_vec(), 0));
        assert!(o.check(&old).is_err_and(|e| e.contains("too old")));
        // So is a guard, or a Serializable read, below the horizon.
        let mut guard = txn(IsolationLevel::ReadCommitted, horizon);
        guard
            .guard_ranges
            .push(((Bound::Unbounded, Bound::Unbounded), horizon - 1));
        assert!(o.check(&guard).is_err_and(|e| e.contains("too old")));
        let mut reader = txn(IsolationLevel::Serializable, horizon - 1);
        reader.read_keys.push(b"nothing".to_vec());
        assert!(o.check(&reader).is_err_and(|e| e.contains("too old")));
        // Reads are not validated below Serializable: nothing to refuse.
        reader.isolation = IsolationLevel::RepeatableRead;
        assert!(o.check(&reader).is_ok());

        // At the horizon, the remembered commits still conflict, and the rest passes.
        let mut recent = txn(IsolationLevel::RepeatableRead, horizon);
        recent.write_floors.push((b"key0500".to_vec(), horizon));
        assert!(o.check(&recent).is_err_and(|e| e.contains("write-write")));
        recent.write_floors[0].0 = b"fresh".to_vec();
        assert!(o.check(&recent).is_ok());

        // Once no transaction is that old, everything is forgotten and the bytes go with it.
        o.prune(500);
        assert!(o.is_empty() && o.last_commit.is_empty());
        assert_eq!(o.bytes(), 0);
    }

    #[test]
    fn commits_pruned_before_any_validation_never_reach_the_index() {
        let mut o = Oracle::new(usize::MAX);
        o.record(1, [&b"a"[..]]);
        o.record(2, [&b"b"[..], &b"c"[..]]);
        o.prune(1);
        assert!(o.last_commit.is_empty(), "recording alone indexes nothing");
        let mut v = txn(IsolationLevel::RepeatableRead, 1);
        v.write_floors.push((b"a".to_vec(), 1));
        assert!(o.check(&v).is_ok(), "commit 1 was forgotten");
        v.write_floors[0].0 = b"c".to_vec();
        assert!(o.check(&v).is_err(), "commit 2 is indexed on demand");
        // A later commit of an indexed key is indexed by the next validation, and pruning the
        // older one keeps the newer.
        o.record(3, [&b"c"[..]]);
        o.prune(2);
        v.write_floors[0].1 = 2;
        assert!(o.check(&v).is_err(), "commit 3 wrote c after floor 2");
        v.write_floors[0].1 = 3;
        assert!(o.check(&v).is_ok());
        o.prune(3);
        assert!(o.is_empty() && o.last_commit.is_empty());
    }
}
