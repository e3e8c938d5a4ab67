//! The commit pipeline: group commit with one leader at a time.
//!
//! ```text
//!  thread A ─┐ enqueue           ┌─ leader (first waiter): take the whole queue
//!  thread B ─┼────► [A, B, C] ───┤    1. switch memtable / stall if needed
//!  thread C ─┘                   │    2. per request: validate (oracle), assign seqno
//!                                │    3. one WAL append of all records, one fsync
//!                                │    4. insert into memtable, publish last seqno
//!                                └─   5. hand each request its result, wake the queue
//! ```
//! Requests are validated and applied in queue order, so seqnos, WAL order and visibility agree.
//! A later request in a group sees the earlier ones' writes during validation. A failed WAL write
//! or fsync poisons the engine: the group's callers get the error and nothing is published.

use crate::engine::{jobs, Inner, WriteBatch};
use crate::error::{Error, Result};
use crate::lsm::ikey::{Kind, SeqNo};
use crate::lsm::wal::encode_batch;
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

struct Slot {
    request: Mutex<Option<Request>>,
    result: Mutex<Option<Result<SeqNo>>>,
    thread: ThreadId,
}

/// How many recent committers the leader remembers to estimate how many threads commit
/// concurrently.
const RECENT_COMMITTERS: usize = 16;

/// The longest a leader waits for more committers to join its group.
const MAX_LINGER: Duration = Duration::from_millis(1);

#[derive(Default)]
struct Queue {
    pending: VecDeque<Arc<Slot>>,
    leader_active: bool,
    /// The leader is waiting for more committers: arrivals must wake it.
    lingering: bool,
    /// Threads of the last few committers.
    recent: VecDeque<ThreadId>,
}

impl Queue {
    fn distinct_recent_committers(&self) -> usize {
        let mut seen: Vec<ThreadId> = Vec::with_capacity(self.recent.len());
        for t in &self.recent {
            if !seen.contains(t) {
                seen.push(*t);
            }
        }
        seen.len()
    }
}

/// The queue of commits waiting for a leader.
#[derive(Default)]
pub(crate) struct CommitQueue {
    queue: Mutex<Queue>,
    cv: Condvar,
    /// Wakes a lingering leader when a committer arrives.
    linger_cv: Condvar,
    /// Moving average of the WAL fsync latency in nanoseconds.
    fsync_nanos: AtomicU64,
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
        request: Mutex::new(Some(Request { batch, validation })),
        result: Mutex::new(None),
        thread: std::thread::current().id(),
    });
    let cq = &inner.commit_queue;
    let mut q = cq.queue.lock();
    q.pending.push_back(Arc::clone(&slot));
    if q.lingering {
        cq.linger_cv.notify_one();
    }
    loop {
        if let Some(result) = slot.result.lock().take() {
            return result;
        }
        if !q.leader_active {
            q.leader_active = true;
            break;
        }
        cq.cv.wait(&mut q);
    }
    // Leader. When several threads have been committing, the group that forms while the previous
    // leader fsyncs holds only some of them (the rest are just being released). Waiting up to one
    // fsync's time for the others lets one fsync serve them all; a lone writer never waits.
    if inner.opts.durability == Durability::Immediate {
        let expected = q.distinct_recent_committers();
        let linger = Duration::from_nanos(cq.fsync_nanos.load(Ordering::Relaxed)).min(MAX_LINGER);
        let deadline = Instant::now() + linger;
        while q.pending.len() < expected && Instant::now() < deadline {
            q.lingering = true;
            cq.linger_cv.wait_until(&mut q, deadline);
        }
        q.lingering = false;
    }
    // Take a group off the queue (it always includes our own slot, which is queued before any
    // slot that is not yet done).
    let mut group = Vec::new();
    let mut bytes = 0usize;
    while let Some(s) = q.pending.front() {
        let size = s.request.lock().as_ref().map_or(0, |r| r.batch.size());
        if !group.is_empty() && bytes + size > MAX_GROUP_BYTES {
            break;
        }
        bytes += size;
        if let Some(s) = q.pending.pop_front() {
            q.recent.push_back(s.thread);
            group.push(s);
        }
    }
    while q.recent.len() > RECENT_COMMITTERS {
        q.recent.pop_front();
    }
    drop(q);

    lead_group(inner, &group);

    let mut q = cq.queue.lock();
    q.leader_active = false;
    cq.cv.notify_all();
    drop(q);
    let result = slot.result.lock().take();
    result.unwrap_or_else(|| Err(Error::Poisoned("commit slot lost its result".into())))
}

fn lead_group(inner: &Inner, group: &[Arc<Slot>]) {
    let requests: Vec<Request> = group
        .iter()
        .filter_map(|s| s.request.lock().take())
        .collect();
    let results = match apply_group(inner, &requests) {
        Ok(results) => results,
        Err(e) => {
            let msg = e.to_string();
            requests
                .iter()
                .map(|_| Err(Error::Poisoned(msg.clone())))
                .collect()
        }
    };
    for (slot, result) in group.iter().zip(results) {
        *slot.result.lock() = Some(result);
    }
}

/// Validates, logs, applies and publishes a group; an `Err` means the WAL failed (poisoned).
fn apply_group(inner: &Inner, requests: &[Request]) -> Result<Vec<Result<SeqNo>>> {
    let mut write = inner.write.lock();
    inner.check_writable()?;
    if let Err(e) = jobs::make_room_for_write(inner, &mut write) {
        // A failed WAL switch is a write-path I/O failure like a failed fsync: refuse writes.
        if !matches!(e, Error::Closed | Error::Poisoned(_)) {
            inner.poison(&e);
        }
        return Err(e);
    }

    let mut results = Vec::with_capacity(requests.len());
    let mut accepted: Vec<(SeqNo, &WriteBatch)> = Vec::with_capacity(requests.len());
    let mut next_seq = inner.snapshots.visible();
    let any_validation = requests.iter().any(|r| r.validation.is_some());
    let mut buf = Vec::with_capacity(requests.iter().map(|r| r.batch.size() + 32).sum());
    {
        let mut oracle = inner.oracle.lock();
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
            if let Err(e) = encode_batch(&mut buf, next_seq + 1, ops) {
                results.push(Err(e));
                continue;
            }
            next_seq += 1;
            if any_validation {
                let keys = req.batch.ops.iter().map(|o| o.key.clone()).collect();
                oracle.record(next_seq, keys);
            }
            accepted.push((next_seq, &req.batch));
            results.push(Ok(next_seq));
        }
    }
    if accepted.is_empty() {
        return Ok(results);
    }

    let wal_result = write.wal.append(&buf).and_then(|()| {
        if inner.opts.durability == Durability::Immediate {
            let started = Instant::now();
            let r = write.wal.sync();
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let avg = &inner.commit_queue.fsync_nanos;
            let old = avg.load(Ordering::Relaxed);
            avg.store(
                if old == 0 { took } else { (old * 7 + took) / 8 },
                Ordering::Relaxed,
            );
            r
        } else {
            Ok(())
        }
    });
    if let Err(e) = wal_result {
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
    let txns_live = inner.snapshots.publish(next_seq);
    let mut oracle = inner.oracle.lock();
    if txns_live && !any_validation {
        for (seq, batch) in &accepted {
            oracle.record(*seq, batch.ops.iter().map(|o| o.key.clone()).collect());
        }
    }
    if !oracle.is_empty() {
        oracle.prune(inner.snapshots.oldest());
    }
    Ok(results)
}
