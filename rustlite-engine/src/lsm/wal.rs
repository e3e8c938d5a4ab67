//! The write-ahead log: one crc-framed record per committed batch, so a commit is atomic.
//!
//! A WAL file `{number:06}.wal` is a sequence of [`record`] frames of type
//! [`SYNCED_BATCH_RECORD`] (`3`; files written before it hold type [`BATCH_RECORD`] `1`, read
//! the same way). Each payload is one batch:
//!
//! ```text
//! record:  [crc32 u32 LE][len u32 LE][type u8 = 3][payload]
//! payload: +-------------+----------------+---------------+------+------+------+
//!          | seq u64 BE  | synced u64 BE  | count varint  | op 1 | ...  | op n |
//!          +-------------+----------------+---------------+------+------+------+
//!          (type 1: no `synced` field)
//! op:      [kind u8][key_len varint][key][value_len varint][value]   kind 1 = Put
//!          [kind u8][key_len varint][key]                            kind 0 = Delete
//! ```
//!
//! - `seq` is the batch's commit seqno (see [`crate::lsm::ikey`]); all its ops share it. The
//!   batches of a log carry consecutive seqnos.
//! - `synced`: every batch with a seqno up to it was durable (an fsync had completed) before this
//!   record was written. It lets [`replay`] tell a torn write of unsynced records from
//!   corruption (below).
//! - The engine may concatenate several framed batches and [`WalWriter::append`] them with one
//!   write (group commit): the frames stay independent, each one atomic.
//! - A [`WalSyncer`] fsyncs the log from another thread while appends go on (pipelined commit):
//!   each sync covers every record appended before it began.
//! - The engine creates WALs with [`Storage::create_preallocated`]: the records are followed by
//!   zeros up to the end of the file. The log ends at the first offset that does not hold a valid
//!   record; zeros from there to the end of the file are the clean end, anything else is a torn
//!   tail (or corruption, as below). Zeros can never pass for a record: type 0 is reserved.
//! - [`replay`] applies every whole batch in file order, up to the first damaged record. What
//!   follows the damage decides what it was:
//!   - nothing valid: a torn tail (the remains of a write that was never acknowledged); replay
//!     ends quietly.
//!   - only records whose `synced` is below the damaged batch's seqno: the damaged batch was not
//!     durable when any later record was written, so no fsync covered it; the page cache wrote a
//!     later page back before an earlier one and the power failed in between (an overwrite of
//!     preallocated space has no file size to order the pages). A torn write too: replay ends
//!     there and the later, unacknowledged records are dropped with it.
//!   - any other record (one written after the damaged batch was durable, or a type-1 record):
//!     [`Error::Corruption`], as is a record whose crc is right but whose payload does not
//!     decode.
//! - After a replay that reported `torn_tail`, truncate the file to `valid_len` (or start a new
//!   WAL) before appending to it again, or the next record lands after garbage.

use crate::codec::record::{self, begin_record, finish_record};
use crate::codec::varint::{self, Reader};
use crate::error::{Error, Result};
use crate::lsm::ikey::{Kind, SeqNo};
use crate::storage::{FileSync, Storage, WritableFile};
use parking_lot::Mutex;
use std::sync::Arc;

/// Record type of a WAL batch without a `synced` field (written by earlier versions).
pub const BATCH_RECORD: u8 = 1;

/// Record type of a WAL batch carrying its `synced` watermark (what the engine writes).
pub const SYNCED_BATCH_RECORD: u8 = 3;

/// Name of WAL file `number`: `{number:06}.wal`.
///
/// ```
/// assert_eq!(rustlite_engine::lsm::wal::wal_file_name(7), "000007.wal");
/// ```
pub fn wal_file_name(number: u64) -> String {
    format!("{number:06}.wal")
}

/// Bytes a WAL reserves ahead of its data at a time (see [`Storage::create_preallocated`]): the
/// memtable size (a WAL holds about one memtable), at most 1 MiB, at least 4 KiB.
pub fn reserve_step(memtable_size: usize) -> u64 {
    (memtable_size as u64).clamp(4 << 10, 1 << 20)
}

/// Appends one complete framed batch record (seqno `seq`, the `synced` watermark, then `ops`)
/// to `out`. `synced` must be a seqno up to which every batch was durable before this record is
/// written (0 if none is known).
///
/// `ops` yields `(kind, key, value)`; the value of a [`Kind::Delete`] is ignored (not written).
/// Fails with [`Error::InvalidArgument`], leaving `out` as it was, if the encoded batch exceeds
/// [`record::MAX_RECORD_LEN`].
///
/// ```
/// use rustlite_engine::lsm::{ikey::Kind, wal::encode_batch};
/// let mut group = Vec::new();
/// encode_batch(&mut group, 1, 0, [(Kind::Put, &b"k"[..], &b"v"[..])])?;
/// encode_batch(&mut group, 2, 0, [(Kind::Delete, &b"k"[..], &b""[..])])?;
/// // one append + one sync commits both batches
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn encode_batch<'a>(
    out: &mut Vec<u8>,
    seq: SeqNo,
    synced: SeqNo,
    ops: impl IntoIterator<Item = (Kind, &'a [u8], &'a [u8])>,
) -> Result<()> {
    let ops = ops.into_iter();
    // The count precedes the ops; trust an exact size hint and fix it up afterwards otherwise.
    let guess = match ops.size_hint() {
        (lo, Some(hi)) if lo == hi => lo as u64,
        _ => 0,
    };
    let start = begin_record(out);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&synced.to_be_bytes());
    let count_pos = out.len();
    varint::put_u64(out, guess);
    let count_end = out.len();
    let mut count = 0u64;
    for (kind, key, value) in ops {
        out.push(kind as u8);
        varint::put_length_prefixed(out, key);
        if kind == Kind::Put {
            varint::put_length_prefixed(out, value);
        }
        count += 1;
    }
    if count != guess {
        let mut fixed = Vec::with_capacity(10);
        varint::put_u64(&mut fixed, count);
        out.splice(count_pos..count_end, fixed);
    }
    finish_record(out, start, SYNCED_BATCH_RECORD)
}

/// Decodes a batch payload of record type `rtype`, pushing its ops into `ops` (cleared first)
/// and returning its seqno. `file` and `offset` (of the record) locate the damage in a
/// [`Error::Corruption`].
pub fn decode_batch<'a>(
    rtype: u8,
    payload: &'a [u8],
    file: &str,
    offset: u64,
    ops: &mut Vec<(Kind, &'a [u8], &'a [u8])>,
) -> Result<SeqNo> {
    ops.clear();
    let bad = |what: &str| Error::corruption(file, offset, format!("WAL batch: {what}"));
    let mut r = Reader::new(payload);
    let seq = r.fixed_u64().ok_or_else(|| bad("truncated seqno"))?;
    match rtype {
        BATCH_RECORD => {}
        SYNCED_BATCH_RECORD => {
            r.fixed_u64().ok_or_else(|| bad("truncated synced seqno"))?;
        }
        other => return Err(bad(&format!("unexpected record type {other}"))),
    }
    let count = r.u64().ok_or_else(|| bad("truncated op count"))?;
    // Every op takes at least two bytes: never reserve more than the payload can hold.
    let cap = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(r.remaining() / 2);
    ops.reserve(cap);
    for _ in 0..count {
        let kind = r.u8().ok_or_else(|| bad("truncated op"))?;
        let kind = Kind::from_u8(kind).ok_or_else(|| bad(&format!("unknown op kind {kind}")))?;
        let key = r.length_prefixed().ok_or_else(|| bad("truncated key"))?;
        let value = match kind {
            Kind::Put => r.length_prefixed().ok_or_else(|| bad("truncated value"))?,
            Kind::Delete => &[],
        };
        ops.push((kind, key, value));
    }
    if !r.is_empty() {
        return Err(bad(&format!("{} trailing bytes", r.remaining())));
    }
    Ok(seq)
}

/// The open, appendable WAL file.
///
/// ```
/// use rustlite_engine::lsm::{ikey::Kind, wal::{self, WalWriter}};
/// use rustlite_engine::storage::MemStorage;
/// let storage = MemStorage::new();
/// let mut wal = WalWriter::create(&storage, 1)?;
/// let mut buf = Vec::new();
/// wal::encode_batch(&mut buf, 1, 0, [(Kind::Put, &b"k"[..], &b"v"[..])])?;
/// wal.append(&buf)?;
/// wal.sync()?;
/// assert_eq!(wal.len(), buf.len() as u64);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct WalWriter {
    file: Arc<Mutex<Box<dyn WritableFile>>>,
    syncer: WalSyncer,
    /// Bytes in the file plus the staged bytes not yet written to it.
    len: u64,
}

impl std::fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter").field("len", &self.len).finish()
    }
}

impl WalWriter {
    /// Wraps a file opened for appending (new, or an old WAL cut to its valid length).
    pub fn new(file: Box<dyn WritableFile>) -> WalWriter {
        let len = file.len();
        let handle = file.sync_handle();
        let file = Arc::new(Mutex::new(file));
        let syncer = WalSyncer {
            file: Arc::clone(&file),
            staged: Arc::default(),
            handle,
        };
        WalWriter { file, syncer, len }
    }

    /// Creates WAL file `number` (replacing any file of that name) and syncs the directory, so
    /// records synced into it later survive a power loss.
    pub fn create(storage: &dyn Storage, number: u64) -> Result<WalWriter> {
        let file = storage.create(&wal_file_name(number))?;
        storage.sync_dir()?;
        Ok(WalWriter::new(file))
    }

    /// Appends framed records (one or more [`encode_batch`] outputs) with one write, after any
    /// records [`stage`](Self::stage)d before them.
    pub fn append(&mut self, framed: &[u8]) -> Result<()> {
        let mut file = self.file.lock();
        self.syncer.write_staged(&mut file)?;
        file.append(framed)?;
        self.len += framed.len() as u64;
        Ok(())
    }

    /// Queues framed records in memory; the next [`WalSyncer::sync`] (or [`append`](Self::append))
    /// writes every queued record with one write before it fsyncs. For records nobody is told
    /// about before a sync covers them (group commit under `Durability::Immediate`): the
    /// committers of one fsync then cost one write instead of one each, and no write sits in
    /// the commit path between two committers.
    pub fn stage(&mut self, framed: Vec<u8>) {
        self.len += framed.len() as u64;
        let mut staged = self.syncer.staged.lock();
        if staged.is_empty() {
            *staged = framed;
        } else {
            staged.extend_from_slice(&framed);
        }
    }

    /// Writes the [`stage`](Self::stage)d records now and asks the OS to start writing them to
    /// the device ([`WritableFile::start_write_out`]) without waiting: the caller works on (a
    /// lone committer inserts into the memtable) while the device writes, and the next sync
    /// waits only for what is left.
    pub fn write_out_staged(&mut self) -> Result<()> {
        let mut file = self.file.lock();
        let from = file.len();
        self.syncer.write_staged(&mut file)?;
        file.start_write_out(from);
        Ok(())
    }

    /// Makes everything appended or staged so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.syncer.sync()
    }

    /// A handle that makes this WAL durable without borrowing the writer (see [`WalSyncer`]).
    pub fn syncer(&self) -> WalSyncer {
        self.syncer.clone()
    }

    /// Bytes in the log, staged ones included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Syncs a WAL from any thread while its [`WalWriter`] keeps appending: the pipelined commit
/// fsyncs group N through it while group N+1 is written.
///
/// A sync first writes the records [staged](WalWriter::stage) so far, then covers every record
/// appended before it began. When the file offers no [`FileSync`] handle, the sync takes the
/// file's own lock, so appends wait for it (still correct, no longer overlapped).
///
/// ```
/// use rustlite_engine::lsm::{ikey::Kind, wal::{self, WalWriter}};
/// use rustlite_engine::storage::MemStorage;
/// let storage = MemStorage::new();
/// let mut w = WalWriter::create(&storage, 1)?;
/// let syncer = w.syncer();
/// let mut buf = Vec::new();
/// wal::encode_batch(&mut buf, 1, 0, [(Kind::Put, &b"k"[..], &b"v"[..])])?;
/// w.append(&buf)?;
/// std::thread::spawn(move || syncer.sync()).join().expect("thread")?;
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct WalSyncer {
    file: Arc<Mutex<Box<dyn WritableFile>>>,
    /// Records staged by the writer, not yet written. Locked after `file` when both are held.
    staged: Arc<Mutex<Vec<u8>>>,
    handle: Option<Arc<dyn FileSync>>,
}

impl std::fmt::Debug for WalSyncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalSyncer")
            .field("concurrent", &self.handle.is_some())
            .finish()
    }
}

impl WalSyncer {
    /// Makes durable every record staged or appended to the WAL before this call began.
    pub fn sync(&self) -> Result<()> {
        let mut file = self.file.lock();
        self.write_staged(&mut file)?;
        match &self.handle {
            Some(h) => {
                drop(file);
                h.sync()
            }
            None => file.sync(),
        }
    }

    /// Writes the staged records to `file` (whose lock the caller holds, so writes keep their
    /// order) with one write.
    fn write_staged(&self, file: &mut Box<dyn WritableFile>) -> Result<()> {
        let staged = std::mem::take(&mut *self.staged.lock());
        if staged.is_empty() {
            return Ok(());
        }
        file.append(&staged)
    }
}

/// Whether every byte of `buf` from `from` on is zero (the reserved tail of a preallocated WAL).
fn zeros_after(buf: &[u8], from: u64) -> bool {
    usize::try_from(from)
        .ok()
        .and_then(|from| buf.get(from..))
        .is_some_and(|tail| tail.iter().all(|&b| b == 0))
}

/// What [`replay`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Batches applied.
    pub records: u64,
    /// Seqno of the last batch applied (`None` if there was none).
    pub last_seq: Option<SeqNo>,
    /// Length of the valid prefix of the file (truncate to this before appending).
    pub valid_len: u64,
    /// Whether a torn tail was dropped after `valid_len`. Zeros alone after `valid_len` are the
    /// unused reserved space of a preallocated WAL, the clean end of the log, not a torn tail.
    pub torn_tail: bool,
}

/// Reads WAL file `name` and calls `apply(seq, ops)` for each whole batch, in file order.
///
/// The ops slice borrows the file's bytes (nothing is copied per op). An error from `apply` stops
/// replay and is returned as is. `recovered_before` is the last seqno recovered before this log
/// (from the manifest and earlier logs), if known: when the very first record is damaged, it
/// gives the damaged batch's seqno for telling a torn write from corruption (module docs).
///
/// ```
/// use rustlite_engine::lsm::{ikey::Kind, wal};
/// use rustlite_engine::storage::{MemStorage, Storage};
/// let storage = MemStorage::new();
/// let mut w = wal::WalWriter::create(&storage, 3)?;
/// let mut buf = Vec::new();
/// wal::encode_batch(&mut buf, 10, 0, [(Kind::Put, &b"k"[..], &b"v"[..])])?;
/// w.append(&buf)?;
/// let mut seen = Vec::new();
/// let stats = wal::replay(&storage, &wal::wal_file_name(3), None, |seq, ops| {
///     seen.push((seq, ops.len()));
///     Ok(())
/// })?;
/// assert_eq!(seen, [(10, 1)]);
/// assert_eq!(stats.last_seq, Some(10));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub fn replay(
    storage: &dyn Storage,
    name: &str,
    recovered_before: Option<SeqNo>,
    mut apply: impl FnMut(SeqNo, &[(Kind, &[u8], &[u8])]) -> Result<()>,
) -> Result<ReplayStats> {
    let buf = storage.read_all(name)?;
    let (found, damage) = record::scan_records(&buf);
    if let Some(damage) = damage {
        // The damaged batch's seqno follows the last valid one (or what came before this log).
        let last_valid = found
            .records
            .last()
            .and_then(|r| buf.get(r.payload.clone()))
            .and_then(leading_u64);
        let damaged_seq = last_valid.or(recovered_before).map(|s| s.saturating_add(1));
        if !torn_overwrite(&buf, &damage, damaged_seq) {
            return Err(damage.into_error(name));
        }
        tracing::warn!(
            file = name,
            offset = damage.offset,
            dropped_records = damage.after.len(),
            "WAL: a torn write of unsynced records (a later page reached the disk before an \
             earlier one); the unacknowledged records from there on are dropped"
        );
    }
    let mut stats = ReplayStats {
        records: 0,
        last_seq: None,
        valid_len: found.valid_len,
        torn_tail: found.torn_tail && !zeros_after(&buf, found.valid_len),
    };
    let mut ops = Vec::new();
    for rec in &found.records {
        if rec.rtype != BATCH_RECORD && rec.rtype != SYNCED_BATCH_RECORD {
            return Err(Error::corruption(
                name,
                rec.offset,
                format!("unexpected record type {} in a WAL", rec.rtype),
            ));
        }
        let payload = buf
            .get(rec.payload.clone())
            .ok_or_else(|| Error::corruption(name, rec.offset, "record out of bounds"))?;
        let seq = decode_batch(rec.rtype, payload, name, rec.offset, &mut ops)?;
        apply(seq, &ops)?;
        stats.records += 1;
        stats.last_seq = Some(seq);
    }
    Ok(stats)
}

/// Whether `damage` is a torn write of unsynced records rather than corruption: every valid
/// record after it says (by its `synced` watermark) that the damaged batch, seqno
/// `damaged_seq`, was not yet durable when it was written. Unknown seqno, a type-1 record or a
/// payload too short to hold the watermark: corruption.
fn torn_overwrite(buf: &[u8], damage: &record::Damage, damaged_seq: Option<SeqNo>) -> bool {
    let Some(damaged_seq) = damaged_seq else {
        return false;
    };
    damage.after.iter().all(|r| {
        r.rtype == SYNCED_BATCH_RECORD
            && buf
                .get(r.payload.clone())
                .and_then(|p| p.get(8..))
                .and_then(leading_u64)
                .is_some_and(|synced| synced < damaged_seq)
    })
}

/// The big-endian `u64` `bytes` starts with.
fn leading_u64(bytes: &[u8]) -> Option<u64> {
    let head: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::record::encode_record;
    use crate::storage::{FsStorage, MemStorage};

    type OwnedOp = (Kind, Vec<u8>, Vec<u8>);
    type OwnedBatch = (SeqNo, Vec<OwnedOp>);

    fn batches() -> Vec<OwnedBatch> {
        vec![
            (
                1,
                vec![
                    (Kind::Put, b"a".to_vec(), b"1".to_vec()),
                    (Kind::Put, b"".to_vec(), b"empty key".to_vec()),
                    (Kind::Put, b"empty value".to_vec(), b"".to_vec()),
                ],
            ),
            (2, vec![(Kind::Delete, b"a".to_vec(), Vec::new())]),
            (3, vec![]),
            (
                u64::MAX - 1,
                vec![
                    (Kind::Delete, b"".to_vec(), Vec::new()),
                    (Kind::Put, vec![0xFF; 300], vec![0; 70_000]),
                ],
            ),
        ]
    }

    /// The batches as records of a writer that fsyncs each batch before writing the next.
    fn encode_all(batches: &[OwnedBatch]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (seq, ops) in batches {
            encode_batch(
                &mut buf,
                *seq,
                seq.saturating_sub(1),
                ops.iter().map(|(k, key, v)| (*k, &key[..], &v[..])),
            )
            .expect("encode");
        }
        buf
    }

    fn replay_all(storage: &dyn Storage, name: &str) -> Result<(Vec<OwnedBatch>, ReplayStats)> {
        let mut got = Vec::new();
        let stats = replay(storage, name, None, |seq, ops| {
            got.push((
                seq,
                ops.iter()
                    .map(|(k, key, v)| (*k, key.to_vec(), v.to_vec()))
                    .collect(),
            ));
            Ok(())
        })?;
        Ok((got, stats))
    }

    fn round_trip_on(storage: &dyn Storage) {
        let want = batches();
        let mut w = WalWriter::create(storage, 1).expect("create");
        // The first two batches as one group commit, the rest one by one.
        w.append(&encode_all(&want[..2])).expect("append");
        for b in &want[2..] {
            w.append(&encode_all(std::slice::from_ref(b)))
                .expect("append");
        }
        w.sync().expect("sync");
        let len = w.len();
        let (got, stats) = replay_all(storage, &wal_file_name(1)).expect("replay");
        assert_eq!(got, want);
        assert_eq!(
            stats,
            ReplayStats {
                records: 4,
                last_seq: Some(u64::MAX - 1),
                valid_len: len,
                torn_tail: false
            }
        );
    }

    /// A preallocated WAL on a real file system: records then zeros, across several reserve
    /// steps; the zeros are the clean end, a torn record before them is still a torn tail.
    #[test]
    fn preallocated_wal_ends_at_its_zero_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FsStorage::open(dir.path()).expect("open");
        let name = wal_file_name(1);
        let file = storage
            .create_preallocated(&name, reserve_step(0))
            .expect("create");
        let mut w = WalWriter::new(file);
        let want = batches();
        for b in &want {
            w.append(&encode_all(std::slice::from_ref(b)))
                .expect("append");
            w.syncer().sync().expect("sync");
        }
        let len = w.len();
        let on_disk = storage.read_all(&name).expect("read");
        assert!(
            on_disk.len() as u64 > len,
            "space is reserved past the data"
        );
        assert_eq!(on_disk.len() % 4096, 0);
        let (got, stats) = replay_all(&storage, &name).expect("replay");
        assert_eq!(got, want);
        assert_eq!((stats.valid_len, stats.torn_tail), (len, false));

        // Half a record, then the zeros: torn.
        let mut torn = encode_all(&want[..1]);
        torn.truncate(torn.len() / 2);
        w.append(&torn).expect("append");
        let (got, stats) = replay_all(&storage, &name).expect("replay");
        assert_eq!(got, want);
        assert_eq!((stats.valid_len, stats.torn_tail), (len, true));
    }

    /// Batches 1..=4, each `(seq, synced)` as given; returns the file and each record's offset.
    fn log_with_watermarks(marks: &[(SeqNo, SeqNo)]) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for &(seq, synced) in marks {
            starts.push(buf.len());
            let key = seq.to_be_bytes();
            encode_batch(&mut buf, seq, synced, [(Kind::Put, &key[..], &b"v"[..])])
                .expect("encode");
        }
        (buf, starts)
    }

    /// Replays `buf` as WAL 1 (after `before`); the seqnos applied, or the error.
    fn replay_bytes(buf: &[u8], before: Option<SeqNo>) -> Result<(Vec<SeqNo>, ReplayStats)> {
        let storage = MemStorage::new();
        let mut w = WalWriter::create(&storage, 1).expect("create");
        w.append(buf).expect("append");
        let mut seqs = Vec::new();
        let stats = replay(&storage, &wal_file_name(1), before, |seq, _| {
            seqs.push(seq);
            Ok(())
        })?;
        Ok((seqs, stats))
    }

    /// Zeros the record starting at `starts[i]` (a page the disk never got).
    fn zero_record(buf: &mut [u8], starts: &[usize], i: usize) {
        let end = starts.get(i + 1).copied().unwrap_or(buf.len());
        buf[starts[i]..end].fill(0);
    }

    #[test]
    fn torn_overwrite_of_unsynced_records_ends_the_log() {
        // Batch 1 durable; 2, 3 and 4 written while 1 was the last durable one.
        let (mut buf, starts) = log_with_watermarks(&[(1, 0), (2, 1), (3, 1), (4, 1)]);
        zero_record(&mut buf, &starts, 1);
        let (seqs, stats) = replay_bytes(&buf, Some(0)).expect("a torn write, not corruption");
        assert_eq!(seqs, [1]);
        assert_eq!((stats.valid_len, stats.torn_tail), (starts[1] as u64, true));
        // A torn record (half of it on disk) reads the same way.
        let (mut buf, starts) = log_with_watermarks(&[(1, 0), (2, 1), (3, 1)]);
        buf[starts[1] + 12..starts[2]].fill(0);
        let (seqs, _) = replay_bytes(&buf, Some(0)).expect("torn");
        assert_eq!(seqs, [1]);
    }

    #[test]
    fn damage_to_a_record_known_durable_is_corruption() {
        // Batch 4 was written after batch 2 was durable: losing 2 would lose an acknowledged
        // commit.
        let (mut buf, starts) = log_with_watermarks(&[(1, 0), (2, 1), (3, 1), (4, 2)]);
        zero_record(&mut buf, &starts, 1);
        match replay_bytes(&buf, Some(0)) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, starts[1] as u64),
            other => panic!("expected corruption, got {other:?}"),
        }
        // A bit flip in batch 2 followed by a record that knew it durable: corruption too.
        let (mut buf, starts) = log_with_watermarks(&[(1, 0), (2, 1), (3, 2)]);
        buf[starts[1] + 20] ^= 0x10;
        assert!(matches!(
            replay_bytes(&buf, Some(0)),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn damaged_first_record_needs_the_seqno_before_the_log() {
        let (mut buf, starts) = log_with_watermarks(&[(6, 5), (7, 5), (8, 5)]);
        zero_record(&mut buf, &starts, 0);
        let (seqs, stats) = replay_bytes(&buf, Some(5)).expect("batch 6 was never durable");
        assert!(seqs.is_empty());
        assert_eq!((stats.valid_len, stats.torn_tail), (0, true));
        // Unknown: the damaged batch's seqno cannot be told, so it may have been durable.
        assert!(matches!(
            replay_bytes(&buf, None),
            Err(Error::Corruption { .. })
        ));
        // Known, but the next record was written after batch 6 was durable.
        let (mut buf, starts) = log_with_watermarks(&[(6, 5), (7, 6)]);
        zero_record(&mut buf, &starts, 0);
        assert!(matches!(
            replay_bytes(&buf, Some(5)),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn damage_before_an_old_format_record_is_corruption() {
        let (mut buf, starts) = log_with_watermarks(&[(1, 0), (2, 1)]);
        // A type-1 record (no watermark) after the damage.
        let mut old = Vec::new();
        let start = record::begin_record(&mut old);
        old.extend_from_slice(&3u64.to_be_bytes());
        old.push(0);
        record::finish_record(&mut old, start, BATCH_RECORD).expect("frame");
        zero_record(&mut buf, &starts, 1);
        buf.extend_from_slice(&old);
        assert!(matches!(
            replay_bytes(&buf, Some(0)),
            Err(Error::Corruption { .. })
        ));
        // Undamaged, old and new records replay side by side.
        let (mut buf, _) = log_with_watermarks(&[(1, 0), (2, 1)]);
        buf.extend_from_slice(&old);
        let (seqs, _) = replay_bytes(&buf, Some(0)).expect("replay");
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn zero_tail_is_not_torn_on_any_storage() {
        let storage = MemStorage::new();
        let mut w = WalWriter::create(&storage, 2).expect("create");
        let want = batches();
        w.append(&encode_all(&want)).expect("append");
        let len = w.len();
        w.append(&[0u8; 1000]).expect("append");
        let (got, stats) = replay_all(&storage, &wal_file_name(2)).expect("replay");
        assert_eq!(got, want);
        assert_eq!((stats.valid_len, stats.torn_tail), (len, false));
        // A non-zero byte inside the zeros makes it a torn tail again.
        w.append(&[0, 0, 7, 0]).expect("append");
        let (_, stats) = replay_all(&storage, &wal_file_name(2)).expect("replay");
        assert_eq!((stats.valid_len, stats.torn_tail), (len, true));
    }

    #[test]
    fn round_trip_mem() {
        round_trip_on(&MemStorage::new());
    }

    #[test]
    fn round_trip_fs() {
        let dir = tempfile::tempdir().expect("tempdir");
        round_trip_on(&FsStorage::open(dir.path()).expect("open"));
    }

    /// Staged records reach the file only at the next sync or append, before whatever that
    /// append writes: the log holds every batch once, in seqno order.
    fn staged_records_on(storage: &dyn Storage) {
        let want = batches();
        let one = |b: &OwnedBatch| encode_all(std::slice::from_ref(b));
        let name = wal_file_name(1);
        let mut w = WalWriter::create(storage, 1).expect("create");
        w.stage(one(&want[0]));
        w.stage(one(&want[1]));
        assert_eq!(
            storage.read_all(&name).expect("read"),
            b"",
            "staged, not written"
        );
        let staged_len = one(&want[0]).len() + one(&want[1]).len();
        assert_eq!(w.len(), staged_len as u64, "len counts staged bytes");
        // A sync from another handle writes them with one write, then fsyncs.
        w.syncer().sync().expect("sync");
        assert_eq!(storage.read_all(&name).expect("read").len(), staged_len);
        // An append writes what was staged before it first.
        w.stage(one(&want[2]));
        w.append(&one(&want[3])).expect("append");
        w.sync().expect("sync");
        let (got, stats) = replay_all(storage, &name).expect("replay");
        assert_eq!(got, want);
        assert_eq!(stats.valid_len, w.len());
        // Nothing staged: a sync writes nothing.
        w.sync().expect("sync");
        assert_eq!(storage.read_all(&name).expect("read").len() as u64, w.len());
    }

    #[test]
    fn staged_records_mem() {
        staged_records_on(&MemStorage::new());
    }

    #[test]
    fn staged_records_fs() {
        let dir = tempfile::tempdir().expect("tempdir");
        staged_records_on(&FsStorage::open(dir.path()).expect("open"));
    }

    #[test]
    fn golden_bytes() {
        let mut buf = Vec::new();
        encode_batch(
            &mut buf,
            5,
            4,
            [
                (Kind::Put, &b"k"[..], &b"v"[..]),
                (Kind::Delete, &b"d"[..], &b"ignored"[..]),
            ],
        )
        .expect("encode");
        let payload: String = buf
            .get(record::HEADER_LEN..)
            .expect("payload")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // seq 5 BE | synced 4 BE | count 2 | put k v | delete d
        assert_eq!(
            payload,
            concat!(
                "0000000000000005",
                "0000000000000004",
                "02",
                "01016b0176",
                "000164"
            )
        );
        assert_eq!(buf.get(8), Some(&SYNCED_BATCH_RECORD));
    }

    #[test]
    fn count_is_right_without_an_exact_size_hint() {
        let ops = [
            (Kind::Put, &b"x"[..], &b"1"[..]),
            (Kind::Delete, &b"y"[..], &b""[..]),
        ];
        let mut buf = Vec::new();
        let many: Vec<_> = (0..200).map(|_| ops[0]).collect();
        encode_batch(&mut buf, 9, 0, ops.iter().copied().filter(|_| true)).expect("encode");
        encode_batch(&mut buf, 10, 0, many.iter().copied().filter(|_| true)).expect("encode");
        let found = record::read_records(&buf, "w").expect("read");
        let mut decoded = Vec::new();
        let seq = decode_batch(
            SYNCED_BATCH_RECORD,
            found.payload(&buf, 0).expect("p"),
            "w",
            0,
            &mut decoded,
        )
        .expect("decode");
        assert_eq!((seq, decoded.as_slice()), (9, &ops[..]));
        decode_batch(
            SYNCED_BATCH_RECORD,
            found.payload(&buf, 1).expect("p"),
            "w",
            0,
            &mut decoded,
        )
        .expect("decode");
        assert_eq!(decoded.len(), 200);
    }

    #[test]
    fn torn_tail_is_dropped() {
        let want = batches();
        let full = encode_all(&want);
        let last_start = encode_all(&want[..3]).len();
        let s = MemStorage::new();
        for cut in [last_start + 1, last_start + 9, full.len() - 1] {
            let mut w = s.create("x.wal").expect("create");
            w.append(full.get(..cut).expect("cut")).expect("append");
            let (got, stats) = replay_all(&s, "x.wal").expect("replay");
            assert_eq!(got.as_slice(), want.get(..3).expect("3"));
            assert_eq!(stats.records, 3);
            assert_eq!(stats.last_seq, Some(3));
            assert_eq!(stats.valid_len, last_start as u64);
            assert!(stats.torn_tail);
        }
    }

    #[test]
    fn empty_wal_replays_nothing() {
        let s = MemStorage::new();
        WalWriter::create(&s, 2).expect("create");
        let (got, stats) = replay_all(&s, &wal_file_name(2)).expect("replay");
        assert!(got.is_empty());
        assert_eq!(stats, ReplayStats::default());
    }

    #[test]
    fn bad_checksum_before_the_tail_is_corruption() {
        let want = batches();
        let mut buf = encode_all(&want);
        let second = encode_all(&want[..1]).len();
        if let Some(b) = buf.get_mut(second + record::HEADER_LEN) {
            *b ^= 0x40;
        }
        let s = MemStorage::new();
        s.create("x.wal")
            .expect("create")
            .append(&buf)
            .expect("append");
        assert!(matches!(
            replay_all(&s, "x.wal"),
            Err(Error::Corruption { file, offset, .. }) if file == "x.wal" && offset == second as u64
        ));
    }

    #[test]
    fn valid_frame_with_bad_payload_is_corruption() {
        let mut good = Vec::new();
        encode_batch(&mut good, 1, 0, [(Kind::Put, &b"k"[..], &b"v"[..])]).expect("encode");
        let payload = good.get(record::HEADER_LEN..).expect("payload").to_vec();
        let mut trailing = payload.clone();
        trailing.push(0);
        let mut bad_kind = payload.clone();
        if let Some(b) = bad_kind.get_mut(9) {
            *b = 7;
        }
        let mut huge_count = payload.get(..8).expect("seq").to_vec();
        varint::put_u64(&mut huge_count, u64::MAX);
        let cases: [(&[u8], u8); 6] = [
            (&payload[..5], BATCH_RECORD),
            (&payload[..payload.len() - 1], BATCH_RECORD),
            (&trailing, BATCH_RECORD),
            (&bad_kind, BATCH_RECORD),
            (&huge_count, BATCH_RECORD),
            (&payload, 2),
        ];
        for (i, (p, rtype)) in cases.iter().enumerate() {
            let mut buf = good.clone();
            let offset = buf.len() as u64;
            encode_record(&mut buf, *rtype, p).expect("frame");
            let s = MemStorage::new();
            s.create("x.wal")
                .expect("create")
                .append(&buf)
                .expect("append");
            match replay_all(&s, "x.wal") {
                Err(Error::Corruption { offset: o, .. }) => assert_eq!(o, offset, "case {i}"),
                other => panic!("case {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn apply_errors_stop_replay() {
        let s = MemStorage::new();
        let mut w = WalWriter::create(&s, 1).expect("create");
        w.append(&encode_all(&batches())).expect("append");
        let mut calls = 0;
        let r = replay(&s, &wal_file_name(1), None, |_, _| {
            calls += 1;
            Err(Error::InvalidArgument("stop".into()))
        });
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        assert_eq!(calls, 1);
    }
}
