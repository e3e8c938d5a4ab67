//! The commit pipeline: group commit, with the WAL append of one group overlapping the fsync of
//! the groups before it.
//!
//! ```text
//!  committers ─► queue [A, B, C] ─► leader (one at a time, holds `write`):
//!                                     1. switch memtable / stall if needed
//!                                     2. per request: validate (oracle), assign seqno, record keys
//!                                     3. one WAL append of all records (under Immediate:
//!                                        staged in memory, see below), memtable insert
//!                                     4. `appended` = last seqno; each accepted request waits
//!                                        for durability in `waiters` (a conflicting one for
//!                                        the commits it lost to); requests queued meanwhile
//!                                        are taken as the next group (back to 2, at most
//!                                        `MAX_COMBINED` times), then leadership is handed on
//!                                   then, outside `write`, drives the sync:
//!                                     5. if no fsync is running or gathering, start one (or
//!                                        gather first, see below); take over a gathering one
//!                                        once enough commits are appended
//!                                   the syncer, after its fsync:
//!                                     6. inserts the deferred batches still queued, then
//!                                        `durable` = `published` = what it covered; hands each
//!                                        covered waiter its result; asks the first uncovered
//!                                        waiter (if any) to drive the next fsync
//!
//!   time ─────────────────────────────────────────────────────────►
//!   group N   │append│──────── fsync ────────│publish N, ack N
//!   group N+1          │append│ (waits)       │──── fsync ────│publish N+1, ack N+1
//!   group N+2                    │append│ (waits)              │── fsync (N+2, N+3 ...) ──│
//! ```
//!
//! **Combining.** A leader that finds requests queued after its append appends them too, as the
//! next group, instead of handing the leadership to the oldest of their committers: it is
//! running, while that committer, with more threads than CPUs, may wait for one (behind a thread
//! in the middle of its transaction) before it can even see the hand-over. With 4 durable
//! threads on 2 CPUs that took the median time from one fsync's end to the next one's start from
//! ~40 to ~33 µs (docs/BENCHMARKS-HISTORY.md).
//!
//! Every committer sleeps on its own slot. A leader wakes exactly the committer it hands the
//! leadership to (the oldest queued one); a syncer wakes exactly the committers its fsync covered,
//! and the one it asks to drive the next fsync. No wake-up is broadcast to every waiting
//! committer, and no woken committer has to win a shared lock before it may return.
//!
//! **Gathering.** With several threads committing, the threads one fsync released are about to
//! commit again; an fsync started at the first of them would carry one commit and make the others
//! wait a whole fsync. So a committer that finds no fsync running, while fewer commits are appended
//! than threads have lately been committing, *gathers*: it waits (at most one fsync's time) for
//! the others to append. The committer whose append completes the gathering starts the fsync
//! itself at once, without waking the gatherer first; the gatherer only runs the fsync if its wait
//! times out. A lone writer never gathers; a gathering that times out makes the queue forget the
//! threads it counted, so a writer left alone after a busy phase stops waiting for the others.
//! While fsyncs are short enough for committers to spin ([`spin_budget`]), the gatherer spins
//! too, yielding its CPU to the committers it waits for, rather than sleep on a condition
//! variable: with 4 durable threads on 2 CPUs that committed ~12 % more per second (median of
//! eight alternated runs; docs/BENCHMARKS-HISTORY.md), as each sleep and wake-up adds two context
//! switches to a cycle of ~140 µs and lets the scheduler place the gatherer anew.
//!
//! **Staged WAL records.** Under [`Durability::Immediate`] a group's records are staged in memory
//! ([`WalWriter::stage`](crate::lsm::wal::WalWriter::stage)) rather than written: nobody hears of
//! a commit before an fsync covers it, and the syncer writes everything staged with one write right
//! before its fsync. The four committers of one fsync then cost one write instead of four, and no
//! write sits between one committer's append and the next's.
//!
//! **A lone committer writes early.** With one thread committing, nothing is gained by staging:
//! its records are written at once, before its memtable insert, and the OS is asked to start
//! writing them to the device ([`write_out_staged`]). The insert (a few µs of cache misses in the
//! skip list) then overlaps the device write, and the fsync waits only for the rest of that write
//! and the cache flush: single durable commits ~2 % faster (interleaved A/B,
//! docs/BENCHMARKS-HISTORY.md).
//!
//! [`write_out_staged`]: crate::lsm::wal::WalWriter::write_out_staged
//!
//! **Deferred inserts.** With several committers under [`Durability::Immediate`], a group's
//! memtable insert waits for the fsync: the leader logs (stages) the batches and records their
//! keys for validation, and queues each batch with the memtable of its WAL. While the fsync
//! runs, a committer spinning for its result inserts the queued batches; the syncer inserts any
//! left before it publishes. The insert (skip-list searches that miss the CPU cache, under the
//! `write` lock) was the largest part of a commit between two fsyncs, where four threads on two
//! CPUs run their transactions two after two: a cycle of 4 durable transactions 131.8 → 116.2
//! µs and 133.0 → 113.9 µs (medians of 20 alternated rounds each, docs/BENCHMARKS-HISTORY.md).
//! A lone committer still inserts at once (its insert overlaps its early write), and under
//! Buffered the group is published at once, so it is inserted at once.
//!
//! Invariants:
//! - Seqnos, WAL order and validation order agree: steps 1–4 run for one group at a time, in
//!   queue order. A later request (in this group or a later one) is validated against every
//!   earlier one, durable or not: the oracle records keys at step 2, before the fsync.
//! - `appended` ≥ `durable` = the visible (published) seqno under [`Durability::Immediate`]. One
//!   watermark is published, only by the syncer and only after its fsync succeeded, so readers
//!   see commits in seqno order and never one that is not durable. A commit is acknowledged only
//!   once `durable` reaches its seqno.
//! - Whenever a waiter is not yet covered, an fsync is running, a gatherer is waiting (with a
//!   deadline), or a waiter has been asked to drive: no commit waits forever.
//! - Every batch is in its memtable before its seqno is published (the syncer inserts what is
//!   still queued before it publishes); a queued batch goes into the memtable of the WAL that
//!   logged it.
//! - Memtable entries above the visible seqno are invisible to readers. A memtable is frozen
//!   ([`sync_appended`] from the switch) only after everything appended to its WAL is durable and
//!   published, so flushes never write an unacknowledged commit, and no batch is still queued
//!   for it.
//! - A failed WAL write or fsync poisons the engine. Every commit whose seqno the last successful
//!   fsync does not cover gets [`Error::Poisoned`] and is never published.
//!
//! Under [`Durability::Buffered`] there is no fsync: step 4 also publishes.

use crate::engine::{jobs, CommitStats, Inner, WriteBatch};
use crate::error::{Error, Result};
use crate::lsm::ikey::SeqNo;
use crate::lsm::memtable::Memtable;
use crate::lsm::wal::{encode_batch, WalSyncer};
use crate::mvcc::oracle::Validation;
use crate::options::Durability;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Groups larger than this many bytes are split, bounding the latency of the first committer.
const MAX_GROUP_BYTES: usize = 4 << 20;

/// How many more groups a leader appends, of requests queued while it appended, before it hands
/// the leadership on (bounding how long its own commit waits under a steady stream).
const MAX_COMBINED: usize = 4;

/// How many recent committers the queue remembers to estimate how many threads commit
/// concurrently.
const RECENT_COMMITTERS: usize = 16;

/// The longest a gatherer waits for more commits to join its fsync.
const MAX_GATHER: Duration = Duration::from_millis(1);

/// Committers spin before sleeping only while an average fsync takes at most this long.
const SPIN_MAX_FSYNC: Duration = Duration::from_micros(500);

/// How long a follower spins under [`Durability::Buffered`], where it waits only for a leader's
/// append (a write and a memtable insert, ~10 µs); a longer wait (a stall, a memtable switch)
/// sleeps.
const SPIN_BUFFERED: Duration = Duration::from_micros(50);

struct Request {
    batch: WriteBatch,
    validation: Option<Validation>,
}

/// One committer's place in the pipeline. Its thread sleeps on `wake` until the slot is given
/// a result, the leadership, or the job of driving the next fsync; nobody else is woken for it.
struct Slot {
    state: Mutex<SlotState>,
    wake: Condvar,
    /// Set with every change a sleeper wakes for; a spinning committer polls it.
    signaled: AtomicBool,
}

#[derive(Default)]
struct SlotState {
    /// Taken by the leader that puts the slot in its group.
    request: Option<Request>,
    result: Option<Result<SeqNo>>,
    /// The previous leader handed leadership to this (queued, ungrouped) slot.
    lead: bool,
    /// A syncer asks this (waiting) committer to drive the next fsync.
    drive: bool,
}

impl Slot {
    fn new(request: Option<Request>) -> Arc<Slot> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                request,
                ..SlotState::default()
            }),
            wake: Condvar::new(),
            signaled: AtomicBool::new(false),
        })
    }

    /// Applies `change` to the slot's state and wakes its committer (sleeping or spinning).
    fn signal(&self, change: impl FnOnce(&mut SlotState)) {
        change(&mut self.state.lock());
        self.signaled.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn finish(&self, result: Result<SeqNo>) {
        self.signal(|st| st.result = Some(result));
    }

    fn lead(&self) {
        self.signal(|st| st.lead = true);
    }

    fn drive(&self) {
        self.signal(|st| st.drive = true);
    }
}

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

/// Who owns the next fsync.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
enum Sync {
    /// Nobody: the next committer to drive starts (or gathers) one.
    #[default]
    Idle,
    /// A gatherer waits until `appended` reaches `until` (or its deadline); whoever appends that
    /// far runs the fsync instead. `round` tells one gathering from the next.
    Gathering { until: SeqNo, round: u64 },
    /// An fsync is running; its syncer hands on whatever it does not cover.
    Running,
}

/// A committer (or a [`sync_appended`] caller: `commit` false) waiting for `durable` to reach
/// `seq` before it gets `result`.
struct Waiter {
    seq: SeqNo,
    slot: Arc<Slot>,
    result: Result<SeqNo>,
    commit: bool,
}

/// A batch appended to the WAL whose memtable insert is deferred: it goes into `mem`, the
/// memtable of the WAL it was logged in, before its seqno is published.
struct Deferred {
    seq: SeqNo,
    mem: Arc<Memtable>,
    batch: WriteBatch,
}

/// How far the WAL is written and how far it is durable.
#[derive(Default)]
struct Progress {
    /// Last seqno appended to the WAL and inserted into the memtable.
    appended: SeqNo,
    /// The WAL appends go to: it holds `appended`, unless a memtable switch made everything
    /// appended durable and moved on to a new one ([`use_wal`]).
    wal: Option<WalSyncer>,
    /// Every seqno at or below this is covered by a completed fsync (or was recovered).
    durable: SeqNo,
    sync: Sync,
    /// Gatherings started so far (names each [`Sync::Gathering`]).
    rounds: u64,
    /// How many threads have been committing lately (set by each leader).
    expected: u64,
    /// Committers waiting for `durable` to reach their seqno, in seqno order.
    waiters: VecDeque<Waiter>,
    /// Why an fsync failed; nothing above `durable` will ever become durable.
    failed: Option<String>,
}

/// The queue of commits waiting for a leader, and the WAL's durability watermark.
#[derive(Default)]
pub(crate) struct CommitQueue {
    queue: Mutex<Queue>,
    progress: Mutex<Progress>,
    /// Wakes a sleeping gatherer early when another committer took its fsync over.
    gather_cv: Condvar,
    /// The last gathering round another committer took over (a spinning gatherer polls it).
    taken_round: AtomicU64,
    /// Set when a gathering timed out: the threads counted in [`Queue::recent`] no longer all
    /// commit, so the next committer forgets them rather than gather for them again.
    forget_recent: AtomicBool,
    /// Moving average of the WAL fsync latency in nanoseconds.
    fsync_nanos: AtomicU64,
    /// Accepted batches whose memtable insert waits for the fsync (see "Deferred inserts").
    deferred: Mutex<Vec<Deferred>>,
    /// `deferred` may hold batches (a spinning committer polls it).
    has_deferred: AtomicBool,
    /// Held while deferred batches are inserted; a syncer takes it before it publishes.
    inserting: Mutex<()>,
    /// An fsync is running: waiting committers insert the deferred batches meanwhile.
    syncing: AtomicBool,
    /// Counters for [`CommitStats`].
    wal_syncs: AtomicU64,
    synced_commits: AtomicU64,
    gathers: AtomicU64,
    gather_timeouts: AtomicU64,
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

    pub(crate) fn stats(&self) -> CommitStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CommitStats {
            wal_syncs: get(&self.wal_syncs),
            synced_commits: get(&self.synced_commits),
            gathers: get(&self.gathers),
            gather_timeouts: get(&self.gather_timeouts),
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
    for op in &batch.ops {
        super::check_key(&op.key)?;
    }
    if batch.is_empty() && validation.is_none() {
        return Ok(inner.snapshots.visible());
    }
    let slot = Slot::new(Some(Request { batch, validation }));
    let cq = &inner.commit_queue;
    let mut q = cq.queue.lock();
    q.pending.push_back(Arc::clone(&slot));
    if cq.forget_recent.swap(false, Ordering::Relaxed) {
        q.recent.clear();
    }
    q.recent.push_back(std::thread::current().id());
    if q.recent.len() > RECENT_COMMITTERS {
        q.recent.pop_front();
    }
    if q.leader_active {
        drop(q);
        // Follower: a leader will either take the request into its group (its result then comes
        // from a syncer) or, once its own group is appended, hand the leadership to this slot.
        if let Some(result) = await_slot(inner, &slot, true) {
            return result;
        }
        q = cq.queue.lock();
    } else {
        q.leader_active = true;
    }
    // Leader: take a group off the queue. The first starts with our own slot: a slot is only led
    // when it is the front of the queue, and only the leader removes slots.
    let mut waiting = false;
    let mut combined = 0;
    loop {
        let mut group = take_group(&mut q);
        let expected = q.distinct_recent_committers();
        drop(q);
        let failed = match append_group(inner, &mut group, expected) {
            // Every request has its result, or waits for an fsync.
            Ok(w) => {
                waiting |= w;
                false
            }
            Err(e) => {
                for (s, _) in &group {
                    s.finish(Err(poisoned(&e)));
                }
                true
            }
        };
        q = cq.queue.lock();
        if !failed && combined < MAX_COMBINED && !q.pending.is_empty() {
            // Requests queued while this group was appended: this thread is running, the
            // committer it would hand the leadership to may be waiting for a CPU.
            combined += 1;
            continue;
        }
        // The next group may be appended while this one waits for its fsync: hand the
        // leadership to the oldest queued committer, or give it up.
        match q.pending.front() {
            Some(next) => next.lead(),
            None => q.leader_active = false,
        }
        drop(q);
        break;
    }
    if waiting {
        drive_sync(inner, false);
    }
    await_slot(inner, &slot, false)
        .unwrap_or_else(|| Err(Error::Poisoned("commit slot lost its result".into())))
}

/// Takes the next group off the front of the queue: every queued request, up to
/// [`MAX_GROUP_BYTES`] (at least one).
fn take_group(q: &mut Queue) -> Vec<(Arc<Slot>, Request)> {
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
    group
}

/// Waits on `slot` until it has a result (returned) or, when `may_lead`, the leadership
/// (`None`): spins first while that is cheaper than sleeping ([`spin_budget`]), then sleeps.
/// Drives the next fsync whenever a syncer asks it to.
fn await_slot(inner: &Inner, slot: &Slot, may_lead: bool) -> Option<Result<SeqNo>> {
    let mut spun = false;
    let mut st = slot.state.lock();
    loop {
        if st.drive {
            st.drive = false;
            slot.signaled.store(false, Ordering::Relaxed);
            spun = false;
            drop(st);
            drive_sync(inner, false);
            st = slot.state.lock();
            continue;
        }
        if let Some(result) = st.result.take() {
            return Some(result);
        }
        if may_lead && st.lead {
            return None;
        }
        if !spun {
            // Before sleeping, spin (yielding the CPU) while the wait is likely short: a
            // sleeping committer's wake-up costs more than a whole small transaction here.
            spun = true;
            if let Some(budget) = spin_budget(inner) {
                drop(st);
                let cq = &inner.commit_queue;
                spin_until(Instant::now() + budget, || {
                    // While an fsync runs, a waiting committer inserts the batches it covers.
                    if cq.syncing.load(Ordering::Relaxed) && cq.has_deferred.load(Ordering::Acquire)
                    {
                        insert_deferred(cq, false);
                    }
                    slot.signaled.load(Ordering::Acquire)
                });
                st = slot.state.lock();
                continue;
            }
        }
        slot.wake.wait(&mut st);
    }
}

/// How long a committer spins before it sleeps on its slot. Under [`Durability::Immediate`]:
/// twice the average fsync (what a result usually waits for), when fsyncs are short enough that
/// spinning through one costs less than being woken ([`SPIN_MAX_FSYNC`]). Like InnoDB's
/// spin-wait for its log flush, this trades some CPU for commit latency; a lone writer runs its
/// own fsync and never spins. Under [`Durability::Buffered`] a follower waits for a leader's
/// append only: [`SPIN_BUFFERED`]. Without it, 2 or 4 threads committed half as many small
/// transactions per second as one: each hand-over of the leadership woke a sleeping thread.
fn spin_budget(inner: &Inner) -> Option<Duration> {
    if inner.opts.durability != Durability::Immediate {
        return Some(SPIN_BUFFERED);
    }
    let fsync = Duration::from_nanos(inner.commit_queue.fsync_nanos.load(Ordering::Relaxed));
    (fsync <= SPIN_MAX_FSYNC).then(|| fsync * 2)
}

/// Yields the CPU until `done` or `deadline`. A yield lets the threads of this CPU's run queue
/// work (the committers about to commit) where a sleep would halt the CPU and leave the next
/// wake-up to place the sleeper, often beside two busy threads on the other CPU.
fn spin_until(deadline: Instant, done: impl Fn() -> bool) {
    while !done() && Instant::now() < deadline {
        std::thread::yield_now();
    }
}

/// The error every commit an I/O failure left uncovered gets.
fn poisoned(e: &Error) -> Error {
    match e {
        Error::Poisoned(why) => Error::Poisoned(why.clone()),
        other => Error::Poisoned(other.to_string()),
    }
}

/// Validates, logs and inserts a group (steps 1–4) and settles each request's result: given at
/// once where it does not wait for an fsync (a conflict, [`Durability::Buffered`], a seqno already
/// durable), otherwise registered in `waiters`. Returns whether any request waits for an fsync, or
/// `Err` when the WAL failed (the engine is then poisoned; no request has its result yet).
fn append_group(inner: &Inner, group: &mut [(Arc<Slot>, Request)], expected: u64) -> Result<bool> {
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

    // Each result, with the seqno that must be durable before it is given (0: none).
    let mut results: Vec<(Result<SeqNo>, SeqNo)> = Vec::with_capacity(group.len());
    // Each accepted request's seqno and its index in `group`.
    let mut accepted: Vec<(SeqNo, usize)> = Vec::with_capacity(group.len());
    // `synced` goes into every record: the recovery of a torn write needs it (see `lsm::wal`).
    // A lone committer (no other thread commits lately, no fsync running or gathering) writes
    // its records at once and starts their write-out; see "A lone committer writes early".
    let (mut next_seq, synced, lone) = {
        let p = inner.commit_queue.progress.lock();
        (p.appended, p.durable, expected <= 1 && p.sync == Sync::Idle)
    };
    // Under Immediate, commits stay unpublished while their fsync runs, and a transaction may be
    // validated (or begin) meanwhile: record every commit's keys now, before anyone validates.
    // Under Buffered, publication follows at once, so recording after it suffices unless this
    // group itself validates.
    let record_now = immediate || group.iter().any(|(_, r)| r.validation.is_some());
    // A record's framing is ~27 bytes, an op's (kind and two length prefixes) at most ~7.
    let mut buf = Vec::with_capacity(
        group
            .iter()
            .map(|(_, r)| r.batch.size() + 32 + 8 * r.batch.ops.len())
            .sum(),
    );
    {
        let mut oracle = inner.oracle.lock();
        if !oracle.is_empty() {
            // Forget what no live transaction can conflict with before validating, so the
            // validation does not index it first. Never prunes an unpublished commit: the oldest
            // transaction's snapshot is at most the visible seqno. Plain snapshots and iterators
            // never validate, so however long they live they do not hold the oracle back.
            oracle.prune(inner.snapshots.oldest_transaction());
        }
        for (i, (_, req)) in group.iter().enumerate() {
            if let Some(v) = &req.validation {
                if let Err(why) = oracle.check(v) {
                    tracing::debug!(reason = %why, "commit conflict");
                    // Reported once the commits it conflicts with (all at or below `next_seq`) are
                    // published, so a retry's snapshot sees them instead of conflicting again.
                    results.push((Err(Error::Conflict(why)), next_seq));
                    continue;
                }
            }
            if req.batch.is_empty() {
                results.push((Ok(next_seq), next_seq));
                continue;
            }
            let ops = req
                .batch
                .ops
                .iter()
                .map(|o| (o.kind, o.key.as_slice(), o.value.as_slice()));
            if let Err(e) = encode_batch(&mut buf, next_seq + 1, synced, ops) {
                results.push((Err(e), 0));
                continue;
            }
            next_seq += 1;
            if record_now {
                oracle.record(next_seq, req.batch.ops.iter().map(|o| o.key.as_slice()));
            }
            accepted.push((next_seq, i));
            results.push((Ok(next_seq), next_seq));
        }
    }

    if !accepted.is_empty() {
        let written = if immediate {
            // Nobody hears of these commits before an fsync covers them: the syncer writes
            // them, with everything else staged meanwhile, right before its fsync; a lone
            // committer writes them now ("A lone committer writes early").
            write.wal.stage(buf);
            if lone {
                write.wal.write_out_staged()
            } else {
                Ok(())
            }
        } else {
            write.wal.append(&buf)
        };
        if let Err(e) = written {
            inner.poison(&e);
            return Err(e);
        }
        inner.wal_bytes.store(write.wal.len(), Ordering::Relaxed);
        let mem = Arc::clone(&inner.state.load().mem);
        // Several committers under Immediate: the inserts wait for the fsync ("Deferred
        // inserts"); a lone committer's overlaps its early write, a Buffered one is published now.
        let defer = immediate && !lone;
        let mut deferred = Vec::new();
        for &(seq, i) in &accepted {
            let Some((_, req)) = group.get_mut(i) else {
                continue;
            };
            // Before the publish: see `catalog` (checking a write's schema).
            if crate::catalog::touches_catalog(req.batch.ops.iter().map(|o| o.key.as_slice())) {
                inner.catalog.note_change(seq);
            }
            if defer {
                let batch = std::mem::take(&mut req.batch);
                deferred.push(Deferred {
                    seq,
                    mem: Arc::clone(&mem),
                    batch,
                });
            } else {
                insert(&mem, seq, &req.batch);
            }
        }
        if !deferred.is_empty() {
            let cq = &inner.commit_queue;
            cq.deferred.lock().append(&mut deferred);
            cq.has_deferred.store(true, Ordering::Release);
        }
    }

    // Settle the results. Under Immediate a result waits (in seqno order) until an fsync covers
    // its seqno: an `Ok` its own, a conflict the commits it conflicts with.
    let mut now: Vec<(&Slot, Result<SeqNo>)> = Vec::new();
    let mut waiting = false;
    {
        let mut p = inner.commit_queue.progress.lock();
        if !accepted.is_empty() {
            p.appended = next_seq;
            p.wal = Some(write.wal.syncer());
        }
        p.expected = expected;
        for ((slot, _), (result, seq)) in group.iter().zip(results) {
            if !immediate || seq <= p.durable {
                now.push((slot, result));
            } else if let Some(why) = &p.failed {
                now.push((slot, Err(Error::Poisoned(why.clone()))));
            } else {
                p.waiters.push_back(Waiter {
                    seq,
                    slot: Arc::clone(slot),
                    result,
                    commit: true,
                });
                waiting = true;
            }
        }
    }
    if !immediate && !accepted.is_empty() {
        let txns_live = inner.snapshots.publish(next_seq);
        if txns_live && !record_now {
            let mut oracle = inner.oracle.lock();
            for &(seq, i) in &accepted {
                if let Some((_, req)) = group.get(i) {
                    oracle.record(seq, req.batch.ops.iter().map(|o| o.key.as_slice()));
                }
            }
        }
    }
    drop(write);
    for (slot, result) in now {
        slot.finish(result);
    }
    Ok(waiting)
}

/// Inserts `batch`, committed at `seq`, into `mem`.
fn insert(mem: &Memtable, seq: SeqNo, batch: &WriteBatch) {
    mem.insert_batch(
        seq,
        batch
            .ops
            .iter()
            .map(|op| (op.kind, op.key.as_slice(), op.value.as_slice())),
    );
}

/// Inserts every deferred batch into its memtable ("Deferred inserts"). With `wait` (a syncer
/// about to publish) it first waits for an insert another thread is running; without, it leaves
/// the work to that thread.
fn insert_deferred(cq: &CommitQueue, wait: bool) {
    let _inserting = if wait {
        cq.inserting.lock()
    } else {
        match cq.inserting.try_lock() {
            Some(guard) => guard,
            None => return,
        }
    };
    let batches = {
        let mut deferred = cq.deferred.lock();
        cq.has_deferred.store(false, Ordering::Relaxed);
        std::mem::take(&mut *deferred)
    };
    for d in &batches {
        insert(&d.mem, d.seq, &d.batch);
    }
}

/// Makes sure an fsync will cover what is appended (step 5): starts one when none is running or
/// gathering, gathering first when other threads are about to commit too, or takes over a
/// gathering one once enough is appended (at once when `urgent`). Returns when the fsync it ran is
/// done and its waiters have their results, or at once when another committer owns the fsync.
fn drive_sync(inner: &Inner, urgent: bool) {
    let cq = &inner.commit_queue;
    let mut p = cq.progress.lock();
    if p.failed.is_some() || p.durable >= p.appended {
        return;
    }
    match p.sync {
        Sync::Running => return,
        Sync::Gathering { until, round } => {
            if !urgent && p.appended < until {
                return;
            }
            // Take the gatherer's fsync over and let it go back to waiting for its result.
            cq.taken_round.store(round, Ordering::Release);
            cq.gather_cv.notify_one();
        }
        Sync::Idle => {
            let until = p.durable.saturating_add(p.expected);
            if !urgent && p.expected > 1 && p.appended < until {
                p.rounds += 1;
                let round = p.rounds;
                p.sync = Sync::Gathering { until, round };
                cq.gathers.fetch_add(1, Ordering::Relaxed);
                let linger =
                    Duration::from_nanos(cq.fsync_nanos.load(Ordering::Relaxed)).min(MAX_GATHER);
                let deadline = Instant::now() + linger;
                let spin = spin_budget(inner).is_some();
                loop {
                    let timed_out = if spin {
                        drop(p);
                        spin_until(deadline, || cq.taken_round.load(Ordering::Acquire) == round);
                        p = cq.progress.lock();
                        Instant::now() >= deadline
                    } else {
                        cq.gather_cv.wait_until(&mut p, deadline).timed_out()
                    };
                    if p.sync != (Sync::Gathering { until, round }) {
                        return; // another committer runs the fsync
                    }
                    if timed_out {
                        cq.gather_timeouts.fetch_add(1, Ordering::Relaxed);
                        cq.forget_recent.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }
    p.sync = Sync::Running;
    run_sync(inner, p);
}

/// Runs one fsync as the syncer (step 6): publishes what it covered, hands each covered waiter its
/// result (or every waiter [`Error::Poisoned`] if it failed), and asks the first waiter it did
/// not cover to drive the next one.
fn run_sync<'a>(inner: &'a Inner, mut p: MutexGuard<'a, Progress>) {
    let cq = &inner.commit_queue;
    let target = p.appended;
    let result = match p.wal.clone() {
        Some(wal) => {
            drop(p);
            let started = Instant::now();
            cq.syncing.store(true, Ordering::Release);
            let result = wal.sync();
            cq.syncing.store(false, Ordering::Relaxed);
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if result.is_ok() {
                // Every batch this fsync covers is in its memtable before it is published
                // (those appended since are inserted too: they stay invisible until theirs).
                insert_deferred(cq, true);
            }
            let old = cq.fsync_nanos.load(Ordering::Relaxed);
            cq.fsync_nanos.store(
                if old == 0 { took } else { (old * 7 + took) / 8 },
                Ordering::Relaxed,
            );
            p = cq.progress.lock();
            result
        }
        None => Err(Error::Poisoned(format!(
            "commit pipeline: seqno {target} appended without a WAL"
        ))),
    };
    p.sync = Sync::Idle;
    let covered: Vec<Waiter> = match &result {
        Ok(()) => {
            p.durable = p.durable.max(target);
            if inner.opts.durability == Durability::Immediate {
                inner.snapshots.publish(p.durable);
            }
            let n = p.waiters.partition_point(|w| w.seq <= target);
            p.waiters.drain(..n).collect()
        }
        Err(e) => {
            inner.poison(e);
            p.failed = Some(e.to_string());
            p.waiters.drain(..).collect()
        }
    };
    let next = p.waiters.front().map(|w| Arc::clone(&w.slot));
    drop(p);
    let acked = covered
        .iter()
        .filter(|w| w.commit && w.result.is_ok())
        .count() as u64;
    if result.is_ok() && acked > 0 {
        cq.wal_syncs.fetch_add(1, Ordering::Relaxed);
        cq.synced_commits.fetch_add(acked, Ordering::Relaxed);
    }
    for w in covered {
        w.slot.finish(match &result {
            Ok(()) => w.result,
            Err(e) => Err(poisoned(e)),
        });
    }
    if let Some(next) = next {
        next.drive();
    }
}

/// Points the pipeline at a new WAL, at a memtable switch (after [`sync_appended`], under the
/// `write` lock), so the old WAL's last descriptor closes here, while the file still has its
/// name. Left to the first commit after the switch, that close came after the flush had removed
/// the file: the file system then frees its blocks (and, mounted with `discard`, discards them)
/// inside that commit, 0.5–1.7 ms where a commit takes ~0.1 ms.
pub(crate) fn use_wal(inner: &Inner, wal: WalSyncer) {
    let old = inner.commit_queue.progress.lock().wal.replace(wal);
    drop(old); // outside the lock
}

/// Makes everything appended to the WAL so far durable (and, under [`Durability::Immediate`],
/// published): `Engine::sync`, the memtable switch and a clean close call this. Waits for an
/// fsync in flight rather than running a second one beside it.
pub(crate) fn sync_appended(inner: &Inner) -> Result<()> {
    let slot = Slot::new(None);
    {
        let mut p = inner.commit_queue.progress.lock();
        if let Some(why) = &p.failed {
            return Err(Error::Poisoned(why.clone()));
        }
        if p.durable >= p.appended {
            return Ok(());
        }
        let want = p.appended;
        p.waiters.push_back(Waiter {
            seq: want,
            slot: Arc::clone(&slot),
            result: Ok(want),
            commit: false,
        });
    }
    drive_sync(inner, true);
    match await_slot(inner, &slot, false) {
        Some(result) => result.map(|_| ()),
        None => Err(Error::Poisoned("sync slot lost its result".into())),
    }
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

    /// Appends to files report their thread to the test and wait for it to let them through.
    #[derive(Debug)]
    struct AppendGate {
        started: Sender<std::thread::ThreadId>,
        go: parking_lot::Mutex<Receiver<()>>,
    }

    #[derive(Debug, Clone)]
    struct GateStorage {
        mem: MemStorage,
        gate: Arc<parking_lot::Mutex<Option<Arc<Gate>>>>,
        appends: Arc<parking_lot::Mutex<Option<Arc<AppendGate>>>>,
        /// Names of the files open for writing (one entry per open [`GateFile`]).
        open: Arc<parking_lot::Mutex<Vec<String>>>,
    }

    struct GateFile {
        inner: Box<dyn WritableFile>,
        gate: Arc<parking_lot::Mutex<Option<Arc<Gate>>>>,
        appends: Arc<parking_lot::Mutex<Option<Arc<AppendGate>>>>,
        name: String,
        open: Arc<parking_lot::Mutex<Vec<String>>>,
    }

    impl Drop for GateFile {
        fn drop(&mut self) {
            let mut open = self.open.lock();
            if let Some(i) = open.iter().position(|n| *n == self.name) {
                open.swap_remove(i);
            }
        }
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
            let gate = self.appends.lock().clone();
            if let Some(gate) = gate {
                let _ = gate.started.send(std::thread::current().id());
                let _ = gate.go.lock().recv();
            }
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
            self.open.lock().push(name.to_string());
            Ok(Box::new(GateFile {
                inner,
                gate: Arc::clone(&self.gate),
                appends: Arc::clone(&self.appends),
                name: name.to_string(),
                open: Arc::clone(&self.open),
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

    /// An engine over a [`GateStorage`] with both gates open (to be closed after the open),
    /// without background compaction, and that storage.
    fn over_gates(durability: Durability) -> (Engine, GateStorage) {
        let storage = GateStorage {
            mem: MemStorage::new(),
            gate: Arc::new(parking_lot::Mutex::new(None)),
            appends: Arc::new(parking_lot::Mutex::new(None)),
            open: Arc::default(),
        };
        let mut opts = Options::default().durability(durability);
        opts.background_compaction = false;
        let db = Engine::open_with_storage(Arc::new(storage.clone()), opts).expect("open");
        (db, storage)
    }

    /// Makes every append to `storage`'s files report its thread on the returned receiver and
    /// wait for a `()` on the returned sender.
    fn gate_appends(storage: &GateStorage) -> (Receiver<std::thread::ThreadId>, Sender<()>) {
        let (started_tx, started) = channel();
        let (go, go_rx) = channel();
        *storage.appends.lock() = Some(Arc::new(AppendGate {
            started: started_tx,
            go: parking_lot::Mutex::new(go_rx),
        }));
        (started, go)
    }

    /// An engine whose fsyncs (after open) wait for the returned sender's verdicts.
    fn gated() -> (Engine, Receiver<()>, Sender<bool>) {
        let (db, storage) = over_gates(Durability::Immediate);
        let gate = storage.gate;
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
        // Not even at a seqno past the published one (the memtable may hold them already).
        assert_eq!(db.get_at(b"a", u64::MAX).expect("get_at"), None);
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
        // Two fsyncs, each acknowledging one commit (the conflict waited for none).
        let stats = db.stats().commits;
        assert_eq!((stats.wal_syncs, stats.synced_commits), (2, 2));
    }

    /// A memtable switch closes the old WAL while the file still has its name (its memtable is
    /// not flushed yet). Left to the first commit after the switch, the close came after the
    /// flush had removed the file, and the file system freed its blocks inside that commit.
    #[test]
    fn a_memtable_switch_closes_the_old_wal() {
        let (db, storage) = over_gates(Durability::Immediate);
        let open_wals = || -> Vec<String> {
            let open = storage.open.lock();
            open.iter()
                .filter(|n| n.ends_with(".wal"))
                .cloned()
                .collect()
        };
        db.put(b"a", b"1").expect("put");
        let first = open_wals();
        assert_eq!(first.len(), 1, "{first:?}");
        db.flush().expect("flush");
        let files = storage.list().expect("list");
        assert!(!files.contains(&first[0]), "flushed, its WAL removed");
        let now = open_wals();
        assert_eq!(now.len(), 1, "only the new WAL is open: {now:?}");
        assert_ne!(now, first);
        // The pipeline syncs into the new WAL.
        db.put(b"b", b"2").expect("put");
        assert_eq!(db.get(b"b").expect("get"), Some(b"2".to_vec()));
    }

    /// A leader appends the requests queued while it appended, rather than hand the leadership
    /// to the first of their committers (which, with more threads than CPUs, may wait for one).
    #[test]
    fn a_leader_appends_the_requests_queued_during_its_append() {
        let (db, storage) = over_gates(Durability::Buffered);
        let (started, go) = gate_appends(&storage);
        let next_append = || {
            started
                .recv_timeout(Duration::from_secs(20))
                .expect("an append should start")
        };

        let d = db.clone();
        let leader = std::thread::spawn(move || (std::thread::current().id(), d.put(b"a", b"1")));
        let first = next_append(); // the leader is inside its append
        let followers: Vec<_> = [b"b", b"c"]
            .into_iter()
            .map(|k| {
                let d = db.clone();
                std::thread::spawn(move || d.put(k, b"2"))
            })
            .collect();
        let queued = || db.inner.commit_queue.queue.lock().pending.len();
        wait_until("two queued commits", || queued() == 2);
        go.send(()).expect("go");
        let second = next_append();
        go.send(()).expect("go");
        let (leader_id, put) = leader.join().expect("leader");
        put.expect("put a");
        for f in followers {
            f.join().expect("follower").expect("put");
        }
        // Both followers' requests went into one more append, by the leader's thread.
        assert_eq!((first, second), (leader_id, leader_id));
        assert!(started.try_recv().is_err(), "a third append");
        for k in [&b"a"[..], b"b", b"c"] {
            assert!(db.get(k).expect("get").is_some());
        }
        *storage.appends.lock() = None;
    }

    /// A lone committer under Immediate writes its record (and starts its write-out) before its
    /// memtable insert, so the insert overlaps the device write. Staged, the record was written
    /// by the syncer, after the insert.
    #[test]
    fn a_lone_committer_writes_before_its_memtable_insert() {
        let (db, storage) = over_gates(Durability::Immediate);
        let (started, go) = gate_appends(&storage);
        let before = db.stats().memtable_bytes;
        let d = db.clone();
        let commit = std::thread::spawn(move || d.put(b"k", b"v"));
        started
            .recv_timeout(Duration::from_secs(20))
            .expect("an append should start");
        // The committer is inside its WAL write: its memtable insert has not run yet.
        assert_eq!(db.stats().memtable_bytes, before);
        go.send(()).expect("go");
        commit.join().expect("thread").expect("put");
        assert!(db.stats().memtable_bytes > before);
        assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
        *storage.appends.lock() = None;
    }

    /// With several committers, a batch appended while an fsync runs is logged at once but goes
    /// into the memtable later: here (fsyncs too slow for waiting committers to spin, so none
    /// inserts meanwhile) the syncer inserts it after its fsync, before it publishes, so the
    /// batch sits in the memtable unpublished until the next fsync covers it.
    #[test]
    fn a_deferred_insert_lands_before_its_commit_is_published() {
        let (db, started, verdict) = gated();
        // One slow fsync first: its average now exceeds what waiting committers spin through.
        let d = db.clone();
        let first = std::thread::spawn(move || d.put(b"a", b"1"));
        recv(&started);
        std::thread::sleep(Duration::from_millis(5));
        verdict.send(true).expect("verdict");
        first.join().expect("thread").expect("put a");

        let d = db.clone();
        let second = std::thread::spawn(move || d.put(b"c", b"3"));
        recv(&started); // the second commit's fsync is in flight
        let (mem_before, wal_before) = (db.stats().memtable_bytes, db.stats().wal_bytes);
        let d = db.clone();
        let third = std::thread::spawn(move || d.put(b"b", b"2"));
        wait_until("the third append", || db.stats().wal_bytes > wal_before);
        // Logged (staged), not inserted: several threads commit lately and an fsync runs.
        assert_eq!(db.stats().memtable_bytes, mem_before);
        verdict.send(true).expect("verdict");
        let seq_c = second.join().expect("thread").expect("put c");
        // The syncer inserted the third batch before publishing the second commit...
        assert!(db.stats().memtable_bytes > mem_before);
        assert_eq!(db.last_seq(), seq_c);
        // ...which stays invisible until an fsync covers it.
        assert_eq!(db.get(b"b").expect("get"), None);
        recv(&started);
        verdict.send(true).expect("verdict");
        let seq_b = third.join().expect("thread").expect("put b");
        assert_eq!(db.get_at(b"b", seq_b).expect("get_at"), Some(b"2".to_vec()));
        assert_eq!(db.get(b"c").expect("get"), Some(b"3".to_vec()));
    }

    /// Four durable committers through many memtable switches: each reads its own commit the
    /// moment it returns, and nothing is missing after a reopen (a deferred batch must go into
    /// the memtable of the WAL that logged it, before that memtable is frozen).
    #[test]
    fn deferred_inserts_survive_memtable_switches() {
        let mut opts = Options::default().durability(Durability::Immediate);
        opts.memtable_size = 16 << 10;
        let storage = Arc::new(MemStorage::new());
        let db = Engine::open_with_storage(storage.clone(), opts.clone()).expect("open");
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..300u32 {
                        let key = format!("t{t}-{i:04}");
                        let value = format!("{i}").repeat(20);
                        let mut txn = db.begin(IsolationLevel::RepeatableRead);
                        txn.put(key.as_bytes(), value.as_bytes()).expect("put");
                        txn.commit().expect("commit");
                        assert_eq!(
                            db.get(key.as_bytes()).expect("get"),
                            Some(value.into_bytes()),
                            "{key} unreadable right after its commit"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let flushed: u64 = db.stats().levels.iter().map(|l| l.bytes).sum();
        assert!(
            flushed > 64 << 10,
            "most commits should have gone through flushed memtables"
        );
        drop(db);
        let db = Engine::open_with_storage(storage, opts).expect("reopen");
        for t in 0..4u32 {
            for i in 0..300u32 {
                let key = format!("t{t}-{i:04}");
                let value = format!("{i}").repeat(20);
                assert_eq!(
                    db.get(key.as_bytes()).expect("get"),
                    Some(value.into_bytes()),
                    "{key}"
                );
            }
        }
    }

    #[test]
    fn a_conflict_is_reported_once_the_commit_it_lost_to_is_visible() {
        let (db, started, verdict) = gated();
        let mut txn = db.begin(IsolationLevel::RepeatableRead);
        txn.put(b"a", b"txn").expect("put");
        let d = db.clone();
        let first = std::thread::spawn(move || d.put(b"a", b"1"));
        recv(&started); // the put is recorded for validation; its fsync is in flight
        let (done, reported) = channel();
        let conflicting = std::thread::spawn(move || {
            let result = txn.commit();
            let _ = done.send(());
            result
        });
        // Known to conflict, but a retry begun now would not see the put yet and conflict
        // again: the conflict waits for the put's fsync.
        assert!(reported.recv_timeout(Duration::from_millis(100)).is_err());
        verdict.send(true).expect("verdict");
        assert!(matches!(
            conflicting.join().expect("thread"),
            Err(Error::Conflict(_))
        ));
        assert_eq!(db.get(b"a").expect("get"), Some(b"1".to_vec()));
        first.join().expect("thread").expect("put");
        let stats = db.stats().commits;
        assert_eq!((stats.wal_syncs, stats.synced_commits), (1, 1));
    }

    /// After several threads committed, a lone writer gathers (and times out) at most once: the
    /// timeout makes the queue forget the threads that stopped committing.
    #[test]
    fn a_lone_writer_after_many_stops_gathering_after_one_timeout() {
        let opts = Options::default().durability(Durability::Immediate);
        let db = Engine::open_with_storage(Arc::new(MemStorage::new()), opts).expect("open");
        let writers: Vec<_> = (0..4u8)
            .map(|t| {
                let d = db.clone();
                std::thread::spawn(move || {
                    for i in 0..20u8 {
                        d.put(&[t, i], b"v").expect("put");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let before = db.stats().commits.gather_timeouts;
        for i in 0..20u8 {
            db.put(&[9, i], b"v").expect("put");
        }
        let timeouts = db.stats().commits.gather_timeouts - before;
        assert!(
            timeouts <= 1,
            "a lone writer's gatherings timed out {timeouts} times"
        );
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

    #[test]
    fn a_long_lived_snapshot_does_not_keep_the_oracle_growing() {
        let db = Engine::open_in_memory(Options::default()).expect("open");
        let snapshot = db.snapshot();
        let iterator = db
            .scan(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                crate::Direction::Forward,
            )
            .expect("scan");
        // Every commit under Immediate is recorded; a transaction commit prunes before it
        // validates.
        for i in 0..500u32 {
            db.put(&i.to_be_bytes(), b"v").expect("put");
        }
        let mut tx = db.begin(IsolationLevel::RepeatableRead);
        tx.put(b"t", b"1").expect("put");
        tx.commit().expect("commit");
        let remembered = db.inner.oracle.lock().len();
        assert!(
            remembered <= 2,
            "{remembered} commits remembered while no transaction is live"
        );
        // The snapshot and the iterator still read their state.
        assert_eq!(snapshot.get(b"t").expect("get"), None);
        assert_eq!(iterator.count(), 0);
    }

    /// `stats()` does not wait for the writer: a commit leader holds `write` through a whole
    /// write stall, which is when an application most wants its statistics.
    #[test]
    fn stats_does_not_wait_for_the_writer() {
        let db = Engine::open_in_memory(Options::default()).expect("open");
        db.put(b"k", b"v").expect("put");
        let wal_bytes = db.stats().wal_bytes;
        assert!(wal_bytes > 0, "the WAL holds the put");
        let held = db.inner.write.lock(); // as a stalled leader does
        let (tx, rx) = channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tx.send(db.stats().wal_bytes);
            });
            let got = rx.recv_timeout(Duration::from_secs(5));
            drop(held);
            assert_eq!(
                got.ok(),
                Some(wal_bytes),
                "stats() waited for the write lock"
            );
        });
    }

    /// A transaction left open (even one that only reads) keeps every later commit in the
    /// conflict history; the history's budget bounds that. The old reader still commits, an old
    /// writer gets a retryable conflict, and a new transaction is not affected.
    #[test]
    fn an_open_transaction_keeps_the_conflict_history_within_its_budget() {
        let budget = crate::options::MIN_CONFLICT_HISTORY;
        let opts = Options {
            max_conflict_history: budget,
            ..Options::default()
        };
        let db = Engine::open_in_memory(opts.durability(Durability::Buffered)).expect("open");
        let mut reader = db.begin(IsolationLevel::RepeatableRead);
        assert_eq!(reader.get(b"k0").expect("get"), None);
        let mut writer = db.begin(IsolationLevel::RepeatableRead);
        writer.put(b"mine", b"1").expect("put");
        let mut peak = 0;
        for i in 0..5000u32 {
            db.put(format!("k{i}").as_bytes(), &[7; 40]).expect("put");
            peak = peak.max(db.stats().conflict_history_bytes);
        }
        assert!(
            peak <= budget + 1024,
            "the history held {peak} bytes with a budget of {budget}"
        );
        assert_eq!(reader.get(b"k0").expect("get"), None, "its snapshot stands");
        reader
            .commit()
            .expect("a transaction that only read never fails");
        let err = writer.commit().expect_err("its history was forgotten");
        assert!(
            err.is_retryable() && err.to_string().contains("too old"),
            "{err}"
        );
        assert_eq!(db.get(b"mine").expect("get"), None);
        let mut fresh = db.begin(IsolationLevel::RepeatableRead);
        fresh.put(b"mine", b"2").expect("put");
        fresh.commit().expect("a new transaction commits");
        assert_eq!(db.get(b"mine").expect("get"), Some(b"2".to_vec()));
    }
}
