//! The commit pipeline: group commit, with the WAL append of one group overlapping the fsync of
//! the groups before it.
//!
//! ```text
//!  committers ─► queue [A, B, C] ─► leader (one at a time, holds `write`):
//!                                     1. switch memtable / stall if needed
//!                                     2. per request: validate (oracle), assign seqno, record keys
//!                                     3. one WAL append of all records, memtable insert
//!                                     4. `appended` = last seqno; hand leadership on
//!                                   then, outside `write`, waits until `durable` covers its group:
//!                                     5. if no fsync is running, become the syncer: fsync the WAL
//!                                        (covers everything appended before it began), then
//!                                        `durable` = `published` = what it covered
//!                                     6. hand each request its result
//!
//!   time ─────────────────────────────────────────────────────────►
//!   group N   │append│──────── fsync ────────│publish N, ack N
//!   group N+1          │append│ (waits)       │──── fsync ────│publish N+1, ack N+1
//!   group N+2                    │append│ (waits)              │── fsync (N+2, N+3 ...) ──│
//! ```
//!
//! Every committer sleeps on its own slot: a leader wakes exactly the committer it hands the
//! leadership to (the oldest queued one) and, after the fsync, each member of its group with its
//! result. No wake-up is broadcast to every waiting committer.
//!
//! Invariants:
//! - Seqnos, WAL order and validation order agree: steps 1–4 run for one group at a time, in
//!   queue order. A later request (in this group or a later one) is validated against every
//!   earlier one, durable or not: the oracle records keys at step 2, before the fsync.
//! - `appended` ≥ `durable` = the visible (published) seqno under [`Durability::Immediate`]. One
//!   watermark is published, only by the syncer and only after its fsync succeeded, so readers
//!   see commits in seqno order and never one that is not durable. A commit is acknowledged only
//!   once `durable` reaches its seqno.
//! - Memtable entries above the visible seqno are invisible to readers. A memtable is frozen
//!   ([`sync_appended`] from the switch) only after everything appended to its WAL is durable and
//!   published, so flushes never write an unacknowledged commit.
//! - A failed WAL write or fsync poisons the engine. Every commit whose seqno the last successful
//!   fsync does not cover gets [`Error::Poisoned`] and is never published.
//!
//! Under [`Durability::Buffered`] there is no fsync: step 4 also publishes.

use crate::engine::{jobs, Inner, WriteBatch};
use crate::error::{Error, Result};
use crate::lsm::ikey::{Kind, SeqNo};
use crate::lsm::wal::{encode_batch, WalSyncer};
use crate::mvcc::oracle::Validation;
use crate::options::Durability;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Groups larger than this many bytes are split, bounding the latency of the first committer.
const MAX_GROUP_BYTES: usize = 4 << 20;

struct Request {
    batch: WriteBatch,
    validation: Option<Validation>,
}

/// One committer's place in the pipeline. Its thread sleeps on `wake` until the slot is given
/// a result or the leadership; nobody else is woken for it.
struct Slot {
    state: Mutex<SlotState>,
    wake: Condvar,
}

struct SlotState {
    /// Taken by the leader that puts the slot in its group.
    request: Option<Request>,
    result: Option<Result<SeqNo>>,
    /// The previous leader handed leadership to this (queued, ungrouped) slot.
    lead: bool,
}

impl Slot {
    fn finish(&self, result: Result<SeqNo>) {
        self.state.lock().result = Some(result);
        self.wake.notify_one();
    }
}

/// How many recent committers the queue remembers to estimate how many threads commit
/// concurrently.
const RECENT_COMMITTERS: usize = 16;

/// The longest a syncer waits for more commits to join its fsync.
const MAX_GATHER: Duration = Duration::from_millis(1);

#[derive(Default)]
struct Queue {
    /// Slots not yet taken into a group, in arrival order.
    pending: VecDeque<Arc<Slot>>,
    /// A leader is appending a group, or leadership was handed to `pending`'s front.
    leader_active: bool,
    /// Threads of the last few committers.
    recent: VecDeque<ThreadId>,
}

impl Queue {
    fn distinct_recent_committers(&self) -> u64 {
        let mut seen: Vec<ThreadId> = Vec::with_capacity(self.recent.len());
        for t in &self.recent {
            if !seen.contains(t) {
                seen.push(*t);
            }
        }
        seen.len() as u64
    }
}

/// How far the WAL is written and how far it is durable.
#[derive(Default)]
struct Progress {
    /// Last seqno appended to the WAL and inserted into the memtable.
    appended: SeqNo,
    /// The WAL holding `appended`.
    wal: Option<WalSyncer>,
    /// Every seqno at or below this is covered by a completed fsync (or was recovered).
    durable: SeqNo,
    /// A syncer owns the next fsync: it is gathering appends or its fsync is running (at most
    /// one at a time).
    syncing: bool,
    /// The gathering syncer wants a wake-up once `appended` reaches this.
    gather_until: Option<SeqNo>,
    /// Why an fsync failed; nothing above `durable` will ever become durable.
    failed: Option<String>,
}

/// The queue of commits waiting for a leader, and the WAL's durability watermark.
#[derive(Default)]
pub(crate) struct CommitQueue {
    queue: Mutex<Queue>,
    progress: Mutex<Progress>,
    /// Wakes committers waiting for `durable` to cover them (after each fsync).
    durable_cv: Condvar,
    /// Wakes a syncer gathering appends, once enough are in (see `wait_durable`).
    gather_cv: Condvar,
    /// Moving average of the WAL fsync latency in nanoseconds.
    fsync_nanos: AtomicU64,
}

impl CommitQueue {
    /// A pipeline whose log is durable up to `last_seq` (everything recovered).
    pub(crate) fn new(last_seq: SeqNo) -> CommitQueue {
        CommitQueue {
            progress: Mutex::new(Progress {
                appended: last_seq,
                durable: last_seq,
                ..Progress::default()
            }),
            ..CommitQueue::default()
        }
    }
}

/// Commits `batch` (validated by `validation` when it comes from a transaction) and returns its
/// seqno once it is durable per the engine's [`Durability`].
pub(crate) fn commit(
    inner: &Inner,
    batch: WriteBatch,
    validation: Option<Validation>,
) -> Result<SeqNo> {
    inner.check_writable()?;
    if batch.is_empty() && validation.is_none() {
        return Ok(inner.snapshots.visible());
    }
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            request: Some(Request { batch, validation }),
            result: None,
            lead: false,
        }),
        wake: Condvar::new(),
    });
    let cq = &inner.commit_queue;
    let mut q = cq.queue.lock();
    q.pending.push_back(Arc::clone(&slot));
    q.recent.push_back(std::thread::current().id());
    if q.recent.len() > RECENT_COMMITTERS {
        q.recent.pop_front();
    }
    if q.leader_active {
        drop(q);
        // Follower: a leader will either take the request into its group (and later hand over
        // the result) or, once its own group is appended, hand the leadership to this slot.
        let mut st = slot.state.lock();
        loop {
            if let Some(result) = st.result.take() {
                return result;
            }
            if st.lead {
                break;
            }
            slot.wake.wait(&mut st);
        }
        drop(st);
        q = cq.queue.lock();
    } else {
        q.leader_active = true;
    }
    // Leader: take a group off the queue. It starts with our own slot: a slot is only led when it
    // is the front of the queue, and only the leader removes slots.
    let mut group: Vec<(Arc<Slot>, Request)> = Vec::new();
    let mut bytes = 0usize;
    while let Some(front) = q.pending.front() {
        let request = {
            let mut st = front.state.lock();
            let size = st.request.as_ref().map_or(0, |r| r.batch.size());
            if !group.is_empty() && bytes + size > MAX_GROUP_BYTES {
                break;
            }
            bytes += size;
            st.request.take()
        };
        if let (Some(s), Some(r)) = (q.pending.pop_front(), request) {
            group.push((s, r));
        }
    }
    let expected = q.distinct_recent_committers();
    drop(q);

    let requests: Vec<&Request> = group.iter().map(|(_, r)| r).collect();
    let appended = append_group(inner, &requests);

    // The next group may be appended while this one waits for its fsync: hand the leadership to
    // the oldest queued committer, or give it up.
    let mut q = cq.queue.lock();
    match q.pending.front() {
        Some(next) => {
            next.state.lock().lead = true;
            next.wake.notify_one();
        }
        None => q.leader_active = false,
    }
    drop(q);

    let results = match appended {
        Ok((results, last)) => match inner.opts.durability {
            Durability::Immediate => match wait_durable(inner, last, expected) {
                Ok(()) => results,
                Err(e) => fail_all(&e, results.len()),
            },
            Durability::Buffered => results,
        },
        Err(e) => fail_all(&e, group.len()),
    };
    let mut own = None;
    for ((s, _), result) in group.iter().zip(results) {
        if Arc::ptr_eq(s, &slot) {
            own = Some(result);
        } else {
            s.finish(result);
        }
    }
    own.unwrap_or_else(|| Err(Error::Poisoned("commit slot lost its result".into())))
}

/// The error every request of a group gets when the WAL failed.
fn fail_all(e: &Error, n: usize) -> Vec<Result<SeqNo>> {
    let msg = match e {
        Error::Poisoned(why) => why.clone(),
        other => other.to_string(),
    };
    (0..n).map(|_| Err(Error::Poisoned(msg.clone()))).collect()
}

/// Validates, logs and inserts a group (steps 1–4). Returns each request's result, valid once the
/// returned seqno is durable, or `Err` when the WAL failed (the engine is then poisoned).
fn append_group(inner: &Inner, requests: &[&Request]) -> Result<(Vec<Result<SeqNo>>, SeqNo)> {
    let mut write = inner.write.lock();
    inner.check_writable()?;
    if let Err(e) = jobs::make_room_for_write(inner, &mut write) {
        // A failed WAL switch is a write-path I/O failure like a failed fsync: refuse writes.
        if !matches!(e, Error::Closed | Error::Poisoned(_)) {
            inner.poison(&e);
        }
        return Err(e);
    }
    let immediate = inner.opts.durability == Durability::Immediate;

    let mut results = Vec::with_capacity(requests.len());
    let mut accepted: Vec<(SeqNo, &WriteBatch)> = Vec::with_capacity(requests.len());
    // `synced` goes into every record: the recovery of a torn write needs it (see `lsm::wal`).
    let (mut next_seq, synced) = {
        let p = inner.commit_queue.progress.lock();
        (p.appended, p.durable)
    };
    // Under Immediate, commits stay unpublished while their fsync runs, and a transaction may be
    // validated (or begin) meanwhile: record every commit's keys now, before anyone validates.
    // Under Buffered, publication follows at once, so recording after it suffices unless this
    // group itself validates.
    let record_now = immediate || requests.iter().any(|r| r.validation.is_some());
    let mut buf = Vec::with_capacity(requests.iter().map(|r| r.batch.size() + 32).sum());
    {
        let mut oracle = inner.oracle.lock();
        if !oracle.is_empty() {
            // Forget what no live transaction can conflict with before validating, so the
            // validation does not index it first. Never prunes an unpublished commit: the oldest
            // snapshot is at most the visible seqno.
            oracle.prune(inner.snapshots.oldest());
        }
        for req in requests {
            if let Some(v) = &req.validation {
                if let Err(why) = oracle.check(v) {
                    tracing::debug!(reason = %why, "commit conflict");
                    results.push(Err(Error::Conflict(why)));
                    continue;
                }
            }
            if req.batch.is_empty() {
                results.push(Ok(next_seq));
                continue;
            }
            let ops = req
                .batch
                .ops
                .iter()
                .map(|o| (o.kind, o.key.as_slice(), o.value.as_slice()));
            if let Err(e) = encode_batch(&mut buf, next_seq + 1, synced, ops) {
                results.push(Err(e));
                continue;
            }
            next_seq += 1;
            if record_now {
                oracle.record(next_seq, req.batch.ops.iter().map(|o| o.key.as_slice()));
            }
            accepted.push((next_seq, &req.batch));
            results.push(Ok(next_seq));
        }
    }
    if accepted.is_empty() {
        // Nothing to log; results naming `next_seq` are acknowledged once it is durable.
        return Ok((results, next_seq));
    }

    if let Err(e) = write.wal.append(&buf) {
        inner.poison(&e);
        return Err(e);
    }
    let mem = Arc::clone(&inner.state.load().mem);
    for (seq, batch) in &accepted {
        // Before the publish below: see `catalog` (checking a write's schema).
        if crate::catalog::touches_catalog(batch.ops.iter().map(|o| o.key.as_slice())) {
            inner.catalog.note_change(*seq);
        }
        for op in &batch.ops {
            match op.kind {
                Kind::Put => mem.insert(*seq, Kind::Put, &op.key, &op.value),
                Kind::Delete => mem.insert(*seq, Kind::Delete, &op.key, &[]),
            }
        }
    }
    let gathered = {
        let mut p = inner.commit_queue.progress.lock();
        p.appended = next_seq;
        p.wal = Some(write.wal.syncer());
        p.gather_until.is_some_and(|until| next_seq >= until)
    };
    if gathered {
        // The syncer gathering appends has what it waited for (see `wait_durable`).
        inner.commit_queue.gather_cv.notify_one();
    }
    if !immediate {
        let txns_live = inner.snapshots.publish(next_seq);
        if txns_live && !record_now {
            let mut oracle = inner.oracle.lock();
            for (seq, batch) in &accepted {
                oracle.record(*seq, batch.ops.iter().map(|o| o.key.as_slice()));
            }
        }
    }
    Ok((results, next_seq))
}

/// Waits until every seqno up to `want` (which must have been appended) is durable, running the
/// fsync itself when none is in flight, and publishes what each fsync covered (under
/// [`Durability::Immediate`]). Fails with the fsync's own error when it ran the failed fsync, or
/// [`Error::Poisoned`] if an earlier fsync failed before covering `want`.
///
/// `expected` is how many threads have been committing lately. Before it starts an fsync that
/// would cover fewer commits than that, the syncer waits (at most one fsync's time, and never
/// more than [`MAX_GATHER`]) for the others to append: the threads the previous fsync released
/// are about to commit again, and without the wait every other fsync would carry one commit.
/// A lone writer (`expected` 1) never waits. The gathering syncer already owns the next fsync
/// (`syncing`), so the committers appending meanwhile wait for its result, and it is woken
/// once, when the last expected append is in, not by every append.
fn wait_durable(inner: &Inner, want: SeqNo, expected: u64) -> Result<()> {
    let cq = &inner.commit_queue;
    let mut p = cq.progress.lock();
    loop {
        if p.durable >= want {
            return Ok(());
        }
        if let Some(why) = &p.failed {
            return Err(Error::Poisoned(why.clone()));
        }
        if p.syncing {
            cq.durable_cv.wait(&mut p);
            continue;
        }
        p.syncing = true;
        let enough = p.durable.saturating_add(expected);
        if expected > 1 && p.appended < enough {
            let linger =
                Duration::from_nanos(cq.fsync_nanos.load(Ordering::Relaxed)).min(MAX_GATHER);
            let deadline = Instant::now() + linger;
            p.gather_until = Some(enough);
            while p.appended < enough {
                if cq.gather_cv.wait_until(&mut p, deadline).timed_out() {
                    break;
                }
            }
            p.gather_until = None;
        }
        let target = p.appended;
        let wal = match (&p.wal, target >= want) {
            (Some(wal), true) => wal.clone(),
            _ => {
                p.syncing = false;
                cq.durable_cv.notify_all();
                return Err(Error::Poisoned(format!(
                    "commit pipeline: seqno {want} waited for but not appended"
                )));
            }
        };
        drop(p);
        let started = Instant::now();
        let result = wal.sync();
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let avg = &cq.fsync_nanos;
        let old = avg.load(Ordering::Relaxed);
        avg.store(
            if old == 0 { took } else { (old * 7 + took) / 8 },
            Ordering::Relaxed,
        );
        p = cq.progress.lock();
        p.syncing = false;
        match result {
            Ok(()) => {
                p.durable = p.durable.max(target);
                if inner.opts.durability == Durability::Immediate {
                    inner.snapshots.publish(p.durable);
                }
            }
            Err(e) => {
                inner.poison(&e);
                p.failed = Some(e.to_string());
                cq.durable_cv.notify_all();
                return Err(e);
            }
        }
        cq.durable_cv.notify_all();
    }
}

/// Makes everything appended to the WAL so far durable (and, under [`Durability::Immediate`],
/// published): `Engine::sync`, the memtable switch and a clean close call this. Waits for an
/// fsync in flight rather than running a second one beside it.
pub(crate) fn sync_appended(inner: &Inner) -> Result<()> {
    let want = inner.commit_queue.progress.lock().appended;
    wait_durable(inner, want, 1)
}

#[cfg(test)]
mod tests {
    //! The pipeline under a storage whose WAL fsyncs wait at a gate the test opens: group N's
    //! fsync is held in flight while group N+1 is appended, then made to succeed or fail.
    use crate::error::{Error, Result};
    use crate::storage::{DirLock, FileSync, MemStorage, RandomAccessFile, Storage, WritableFile};
    use crate::{Durability, Engine, IsolationLevel, Options};
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Fsyncs through a [`FileSync`] handle report to the test and wait for its verdict.
    #[derive(Debug)]
    struct Gate {
        started: Sender<()>,
        verdict: parking_lot::Mutex<Receiver<bool>>,
    }

    #[derive(Debug, Clone)]
    struct GateStorage {
        mem: MemStorage,
        gate: Arc<parking_lot::Mutex<Option<Arc<Gate>>>>,
    }

    struct GateFile {
        inner: Box<dyn WritableFile>,
        gate: Arc<parking_lot::Mutex<Option<Arc<Gate>>>>,
    }

    struct GateSync {
        gate: Arc<parking_lot::Mutex<Option<Arc<Gate>>>>,
    }

    impl FileSync for GateSync {
        fn sync(&self) -> Result<()> {
            let gate = self.gate.lock().clone();
            let Some(gate) = gate else { return Ok(()) };
            let _ = gate.started.send(());
            let ok = gate.verdict.lock().recv().unwrap_or(false);
            if ok {
                Ok(())
            } else {
                Err(Error::Io(std::io::Error::other("injected fsync failure")))
            }
        }
    }

    impl WritableFile for GateFile {
        fn append(&mut self, data: &[u8]) -> Result<()> {
            self.inner.append(data)
        }
        fn sync(&mut self) -> Result<()> {
            GateSync {
                gate: Arc::clone(&self.gate),
            }
            .sync()
        }
        fn len(&self) -> u64 {
            self.inner.len()
        }
        fn sync_handle(&self) -> Option<Arc<dyn FileSync>> {
            Some(Arc::new(GateSync {
                gate: Arc::clone(&self.gate),
            }))
        }
    }

    impl Storage for GateStorage {
        fn create(&self, name: &str) -> Result<Box<dyn WritableFile>> {
            let inner = self.mem.create(name)?;
            Ok(Box::new(GateFile {
                inner,
                gate: Arc::clone(&self.gate),
            }))
        }
        fn open_append(&self, name: &str) -> Result<Box<dyn WritableFile>> {
            self.mem.open_append(name)
        }
        fn open_read(&self, name: &str) -> Result<Arc<dyn RandomAccessFile>> {
            self.mem.open_read(name)
        }
        fn exists(&self, name: &str) -> Result<bool> {
            self.mem.exists(name)
        }
        fn rename(&self, from: &str, to: &str) -> Result<()> {
            self.mem.rename(from, to)
        }
        fn remove(&self, name: &str) -> Result<()> {
            self.mem.remove(name)
        }
        fn truncate(&self, name: &str, len: u64) -> Result<()> {
            self.mem.truncate(name, len)
        }
        fn list(&self) -> Result<Vec<String>> {
            self.mem.list()
        }
        fn sync_dir(&self) -> Result<()> {
            self.mem.sync_dir()
        }
        fn lock(&self) -> Result<Box<dyn DirLock>> {
            self.mem.lock()
        }
        fn location(&self) -> String {
            self.mem.location()
        }
    }

    /// An engine whose fsyncs (after open) wait for the returned sender's verdicts.
    fn gated() -> (Engine, Receiver<()>, Sender<bool>) {
        let storage = GateStorage {
            mem: MemStorage::new(),
            gate: Arc::new(parking_lot::Mutex::new(None)),
        };
        let gate = Arc::clone(&storage.gate);
        let mut opts = Options::default().durability(Durability::Immediate);
        opts.background_compaction = false;
        let db = Engine::open_with_storage(Arc::new(storage), opts).expect("open");
        let (started_tx, started) = channel();
        let (verdict, verdict_rx) = channel();
        *gate.lock() = Some(Arc::new(Gate {
            started: started_tx,
            verdict: parking_lot::Mutex::new(verdict_rx),
        }));
        (db, started, verdict)
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn recv(started: &Receiver<()>) {
        started
            .recv_timeout(Duration::from_secs(20))
            .expect("an fsync should start");
    }

    #[test]
    fn next_group_appends_while_fsync_runs_and_publishes_in_order() {
        let (db, started, verdict) = gated();
        let base = db.last_seq();
        // A transaction that began before both commits and writes key a.
        let mut txn = db.begin(IsolationLevel::RepeatableRead);
        txn.put(b"a", b"txn").expect("put");

        let d = db.clone();
        let first = std::thread::spawn(move || d.put(b"a", b"1"));
        recv(&started); // group 1's fsync is in flight
        let wal_before = db.stats().wal_bytes;
        let d = db.clone();
        let second = std::thread::spawn(move || d.put(b"b", b"2"));
        // Group 2 is appended while group 1's fsync still runs...
        wait_until("the second append", || db.stats().wal_bytes > wal_before);
        // ...but neither commit is visible before an fsync covers it.
        assert_eq!(db.last_seq(), base);
        assert_eq!(db.get(b"a").expect("get"), None);
        assert_eq!(db.get(b"b").expect("get"), None);
        // Validation sees group 1 as committed although it is not durable yet.
        let d = db.clone();
        let conflicting = std::thread::spawn(move || txn.commit());
        verdict.send(true).expect("verdict");
        assert_eq!(first.join().expect("thread").expect("commit 1"), base + 1);
        assert_eq!(db.get(b"a").expect("get"), Some(b"1".to_vec()));
        // The next fsync covers group 2 (and the transaction's group, which logs nothing).
        recv(&started);
        verdict.send(true).expect("verdict");
        assert_eq!(second.join().expect("thread").expect("commit 2"), base + 2);
        assert!(matches!(
            conflicting.join().expect("thread"),
            Err(Error::Conflict(_))
        ));
        assert_eq!(d.get(b"b").expect("get"), Some(b"2".to_vec()));
        assert_eq!(db.last_seq(), base + 2);
        assert_eq!(d.get(b"a").expect("get"), Some(b"1".to_vec()));
    }

    #[test]
    fn failed_fsync_fails_every_uncovered_commit_and_publishes_none() {
        let (db, started, verdict) = gated();
        let base = db.last_seq();
        let d = db.clone();
        let first = std::thread::spawn(move || d.put(b"a", b"1"));
        recv(&started);
        let wal_before = db.stats().wal_bytes;
        let d = db.clone();
        let second = std::thread::spawn(move || d.put(b"b", b"2"));
        wait_until("the second append", || db.stats().wal_bytes > wal_before);
        verdict.send(false).expect("verdict");
        assert!(matches!(
            first.join().expect("thread"),
            Err(Error::Poisoned(_))
        ));
        // Group 2 was appended but no successful fsync covers it: it fails too.
        assert!(matches!(
            second.join().expect("thread"),
            Err(Error::Poisoned(_))
        ));
        assert_eq!(db.last_seq(), base);
        assert_eq!(db.get(b"a").expect("get"), None);
        assert_eq!(db.get(b"b").expect("get"), None);
        assert!(matches!(db.put(b"c", b"3"), Err(Error::Poisoned(_))));
        assert!(matches!(db.check_writable(), Err(Error::Poisoned(_))));
        assert!(matches!(db.sync(), Err(Error::Poisoned(_))));
    }
}
