//! Opening a database: lock, manifest, tables, WAL replay, and a fresh start.
//!
//! 1. Take the directory lock (`LOCK`), or fail with [`Error::Locked`].
//! 2. Load the manifest named by `CURRENT` (none: a new database). Open every live table (footer,
//!    index and filter checksums are verified here).
//! 3. Replay every WAL numbered at or above the manifest's log number, oldest first, into a
//!    memtable. A torn tail (a record cut short by a crash: never acknowledged), or damage that
//!    only records never known to be durable follow (a torn write, see `lsm::wal`), ends the
//!    replay and is cut off; any other damage is [`Error::Corruption`].
//! 4. Flush the recovered memtable to L0, write a fresh manifest (the old ones are removed) and
//!    start a new WAL, then delete files no manifest references.

use crate::engine::{BgState, Inner, JobState, State, WriteState};
use crate::error::{Error, Result};
use crate::lsm::compaction::{self, TableSink, VersionFilter};
use crate::lsm::iter::Direction;
use crate::lsm::manifest::{
    parse_file_name, sst_file_name, Edit, FileName, Manifest, ManifestState, VersionEdit,
    MAX_COUNTER, MAX_LEVELS,
};
use crate::lsm::memtable::Memtable;
use crate::lsm::sstable::{BlockCache, Table, TableFiles};
use crate::lsm::version::{TableHandle, Version};
use crate::lsm::wal::{self, wal_file_name, WalWriter};
use crate::mvcc::oracle::Oracle;
use crate::mvcc::snapshot::SnapshotList;
use crate::options::Options;
use crate::storage::Storage;
use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

pub(crate) fn open(storage: Arc<dyn Storage>, opts: Options) -> Result<Inner> {
    let span = tracing::info_span!("open", location = %storage.location());
    let _enter = span.enter();
    opts.validate()?;
    let lock = storage.lock()?;
    let num_levels = opts.num_levels.max(2);
    let files = storage.list()?;

    // Loaded with every level a manifest may hold, so that tables deeper than this open's
    // `num_levels` are reported as the option mismatch they are, not as corruption.
    let loaded = Manifest::load(storage.as_ref(), MAX_LEVELS)?;
    let mut state = match loaded {
        Some((state, number)) => {
            // Every manifest edit names a WAL that exists while the edit is the last one (the
            // WAL is created, and the directory synced, before the edit; it is removed only
            // after a later edit supersedes it). A missing one means later edits were lost,
            // e.g. a damaged last edit read as a torn tail: the tables it added and the WAL it
            // retired would be silently dropped.
            if number > 0 && !files.contains(&wal_file_name(state.log_number)) {
                return Err(Error::corruption(
                    crate::lsm::manifest::manifest_file_name(number),
                    0,
                    format!(
                        "names {} as the live WAL, but it is missing: edits were lost",
                        wal_file_name(state.log_number)
                    ),
                ));
            }
            if let Some(deepest) = state.levels.iter().rposition(|files| !files.is_empty()) {
                if deepest >= num_levels {
                    return Err(Error::InvalidArgument(format!(
                        "the database has tables at level {deepest}: open it with num_levels of \
                         at least {} (this open asked for {num_levels})",
                        deepest + 1
                    )));
                }
            }
            let mut state = state;
            state.levels.truncate(num_levels);
            state
        }
        None => {
            if files
                .iter()
                .any(|f| matches!(parse_file_name(f), Some(FileName::Sst(_))))
            {
                return Err(Error::corruption(
                    "CURRENT",
                    0,
                    "missing CURRENT in a directory that holds tables",
                ));
            }
            ManifestState::new(num_levels)
        }
    };
    let max_seen = files
        .iter()
        .filter_map(|f| match parse_file_name(f)? {
            FileName::Wal(n) | FileName::Sst(n) | FileName::Manifest(n) => Some(n),
            _ => None,
        })
        // A number past the counter's limit was not made by the engine (the manifest refuses
        // one): leave such a stray file out rather than overflow the counter.
        .filter(|&n| n < MAX_COUNTER)
        .max()
        .unwrap_or(0);
    let next_file_number = AtomicU64::new(state.next_file_number.max(max_seen + 1));

    let cache = Arc::new(BlockCache::new(opts.block_cache_size));
    let table_files = TableFiles::new(Arc::clone(&storage), opts.max_open_files);
    let mut version = Version::empty(num_levels);
    for (level, metas) in state.levels.iter().enumerate() {
        for meta in metas {
            let name = sst_file_name(meta.number);
            let file = table_files.open(&name).map_err(|e| match e {
                Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => Error::corruption(
                    &name,
                    0,
                    "the manifest names this table but the file is missing",
                ),
                other => other,
            })?;
            let table = Table::open(file, meta.number, name, Arc::clone(&cache))?;
            check_meta(meta, &table)?;
            if let Some(files) = version.levels.get_mut(level) {
                files.push(TableHandle {
                    meta: meta.clone(),
                    table,
                });
            }
        }
    }
    // The manifest lists files in the order they were added; readers need L0 newest first and
    // deeper levels sorted by key range.
    for (level, files) in version.levels.iter_mut().enumerate() {
        if level == 0 {
            files.sort_by_key(|f| std::cmp::Reverse(f.meta.number));
        } else {
            files.sort_by(|a, b| crate::lsm::ikey::compare(&a.meta.smallest, &b.meta.smallest));
            check_disjoint(files)?;
        }
    }

    // Replay WALs.
    let mut wals: Vec<u64> = files
        .iter()
        .filter_map(|f| match parse_file_name(f)? {
            FileName::Wal(n) if n >= state.log_number => Some(n),
            _ => None,
        })
        .collect();
    wals.sort_unstable();
    let recovered = Arc::new(Memtable::new(0));
    let mut last_seq = state.last_seq;
    let mut records = 0u64;
    // The WAL that ended in a torn tail, and where its valid records end.
    let mut torn: Option<(String, u64)> = None;
    for &n in &wals {
        let name = wal_file_name(n);
        if let Some((torn_wal, valid_len)) = &torn {
            // Every WAL but the newest was made durable before the next one got its first
            // record (`jobs::switch_memtable`), so a power loss can tear only the last WAL that
            // holds records. A later WAL with a record means the "torn" tail was damage to
            // durable, acknowledged commits: refuse, rather than drop the later WAL's commits.
            let later = wal::replay(storage.as_ref(), &name, None, |_, _| Ok(()))?;
            if later.records > 0 {
                return Err(Error::corruption(
                    torn_wal,
                    *valid_len,
                    format!(
                        "damaged before the end of a WAL that {name} (with {} commits) follows",
                        later.records
                    ),
                ));
            }
            tracing::warn!(file = %name, "ignoring an empty WAL after a torn tail");
            continue;
        }
        let stats = wal::replay(storage.as_ref(), &name, Some(last_seq), |seq, ops| {
            if seq > MAX_COUNTER {
                // A checksummed batch with an absurd seqno: later commits' seqnos would overflow.
                return Err(Error::corruption(
                    &name,
                    0,
                    format!("batch seqno {seq} exceeds the limit {MAX_COUNTER}"),
                ));
            }
            recovered.insert_batch(seq, ops.iter().copied());
            Ok(())
        })?;
        records += stats.records;
        if let Some(s) = stats.last_seq {
            last_seq = last_seq.max(s);
        }
        if stats.torn_tail {
            tracing::warn!(file = %name, valid_len = stats.valid_len, "discarded torn WAL tail");
            torn = Some((name, stats.valid_len));
        }
    }
    tracing::info!(
        wal_files = wals.len(),
        records,
        tables = version.file_numbers().count(),
        last_seq,
        "recovered"
    );

    // Flush what the WALs held, so the new database starts with an empty WAL.
    let mut edit = Vec::new();
    if !recovered.is_empty() {
        let next = || next_file_number.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sink = TableSink {
            storage: storage.as_ref(),
            cache: &cache,
            table_files: &table_files,
            table_opts: super::jobs::table_options(&opts),
            next_file_number: &next,
            target_file_size: u64::MAX,
        };
        let mut filter = VersionFilter::new(last_seq, None);
        let mut iter = recovered.iter(Direction::Forward, None);
        let outputs = compaction::write_tables(&mut iter, &mut filter, &sink)?;
        if let Some(l0) = version.levels.get_mut(0) {
            for t in outputs.into_iter().rev() {
                edit.push(Edit::AddFile {
                    level: 0,
                    meta: t.meta.clone(),
                });
                l0.insert(0, t);
            }
        }
    }
    let wal_number = next_file_number.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let wal_file = storage.create_preallocated(
        &wal_file_name(wal_number),
        wal::reserve_step(opts.memtable_size),
    )?;
    let manifest_number = next_file_number.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    edit.push(Edit::LogNumber(wal_number));
    edit.push(Edit::LastSeq(last_seq));
    edit.push(Edit::NextFileNumber(
        next_file_number.load(std::sync::atomic::Ordering::Relaxed),
    ));
    state.apply(&VersionEdit(edit), num_levels)?;
    let manifest = Manifest::create(storage.as_ref(), manifest_number, &state)?;

    // Remove files no longer referenced: replayed WALs and tables from unfinished compactions.
    let live: std::collections::HashSet<u64> = version.file_numbers().collect();
    for f in &files {
        let obsolete = match parse_file_name(f) {
            Some(FileName::Wal(n)) => n != wal_number,
            Some(FileName::Sst(n)) => !live.contains(&n),
            _ => false,
        };
        if obsolete {
            storage.remove(f)?;
        }
    }

    let wal = WalWriter::new(wal_file);
    Ok(Inner {
        state: ArcSwap::from_pointee(State {
            mem: Arc::new(Memtable::with_budget(wal_number, opts.memtable_size)),
            imm: Vec::new(),
            version: Arc::new(version),
        }),
        state_lock: Mutex::new(()),
        wal_bytes: AtomicU64::new(wal.len()),
        write: Mutex::new(WriteState { wal }),
        commit_queue: super::write::CommitQueue::new(last_seq),
        jobs: Mutex::new(JobState {
            manifest,
            manifest_state: state,
            cursors: vec![Vec::new(); num_levels],
        }),
        bg: Mutex::new(BgState::default()),
        bg_work: Condvar::new(),
        bg_done: Condvar::new(),
        snapshots: Arc::new(SnapshotList::new(last_seq)),
        oracle: Mutex::new(Oracle::new(opts.max_conflict_history)),
        next_file_number,
        cache,
        table_files,
        poisoned: Mutex::new(None),
        closed: AtomicBool::new(false),
        catalog: crate::catalog::CatalogCache::new(last_seq),
        rowids: Default::default(),
        _lock: lock,
        _release: super::heap::ReleaseOnDrop,
        opts: Options { num_levels, ..opts },
        storage,
    })
}

/// A table's key range as the manifest records it must cover the keys the table holds: reads
/// skip a table by that range, so a narrower one would hide versions (wrong results, not an
/// error). Only a writer bug or damage the checksums missed could cause it; refused at open.
/// The recorded size and entry count must be the table's too: compaction plans by them.
fn check_meta(meta: &crate::lsm::version::FileMeta, table: &Table) -> Result<()> {
    use crate::lsm::ikey::compare;
    if meta.size != table.file_size() || meta.entries != table.entries() {
        return Err(Error::corruption(
            table.file_name(),
            0,
            format!(
                "the manifest records {} bytes and {} entries for this table, which has {} and {}",
                meta.size,
                meta.entries,
                table.file_size(),
                table.entries()
            ),
        ));
    }
    let (smallest, largest) = (table.smallest(), table.largest());
    let covered = smallest.is_empty()
        || (compare(&meta.smallest, smallest).is_le() && compare(largest, &meta.largest).is_le());
    if covered {
        return Ok(());
    }
    Err(Error::corruption(
        table.file_name(),
        0,
        "the table holds keys outside the range the manifest records for it",
    ))
}

/// The tables of a sorted level (L1 and deeper), ordered by smallest key, must not overlap: a
/// read looks in only one table per such level.
fn check_disjoint(files: &[TableHandle]) -> Result<()> {
    for pair in files.windows(2) {
        if let [a, b] = pair {
            if a.meta.largest_user() >= b.meta.smallest_user() {
                return Err(Error::corruption(
                    b.table.file_name(),
                    0,
                    format!(
                        "the manifest puts this table in a sorted level overlapping {}",
                        a.table.file_name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::lsm::manifest::{Manifest, ManifestState};
    use crate::storage::{FsStorage, Storage};
    use crate::{Engine, Error, Options, Result};
    use std::path::Path;

    /// A database with one L0 table per `[from, to)` (keys `k{i:02}`), closed; its manifest
    /// state.
    fn tables(dir: &Path, ranges: &[(u32, u32)]) -> Result<(FsStorage, ManifestState, u64)> {
        let engine = Engine::open(dir, Options::default())?;
        for &(from, to) in ranges {
            for i in from..to {
                engine.put(format!("k{i:02}").as_bytes(), b"v")?;
            }
            engine.flush()?;
        }
        drop(engine);
        let storage = FsStorage::open(dir)?;
        let (state, number) = Manifest::load(&storage, Options::default().num_levels)?
            .ok_or_else(|| Error::InvalidArgument("no manifest".into()))?;
        Ok((storage, state, number))
    }

    /// Writes `state` as manifest `number` (past every file number in use) and points `CURRENT`
    /// at it.
    fn rewrite(storage: &FsStorage, state: &ManifestState, number: u64) -> Result<()> {
        let state = ManifestState {
            next_file_number: number + 1,
            ..state.clone()
        };
        Manifest::create(storage, number, &state)?;
        storage.sync_dir()
    }

    #[test]
    fn a_manifest_range_narrower_than_its_table_is_corruption() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (storage, mut state, number) = tables(dir.path(), &[(0, 10)])?;
        let meta = state.levels[0]
            .first_mut()
            .ok_or_else(|| Error::InvalidArgument("no table".into()))?;
        meta.largest = meta.smallest.clone(); // hides k01..k09 from reads
        rewrite(&storage, &state, number + 100)?;
        match Engine::open(dir.path(), Options::default()) {
            Err(Error::Corruption { file, .. }) => assert!(file.ends_with(".sst"), "{file}"),
            other => panic!("expected Corruption, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn a_manifest_size_unlike_its_table_is_corruption() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (storage, mut state, number) = tables(dir.path(), &[(0, 10), (10, 20)])?;
        for meta in &mut state.levels[0] {
            meta.size = 1 << 63; // two of them would overflow every sum of level sizes
        }
        rewrite(&storage, &state, number + 100)?;
        match Engine::open(dir.path(), Options::default()) {
            Err(Error::Corruption { reason, .. }) => assert!(reason.contains("bytes"), "{reason}"),
            other => panic!("expected Corruption, got {other:?}"),
        }
        Ok(())
    }

    /// Tables deeper than `num_levels` allows are an option mismatch, not corruption: before,
    /// a database compacted into L6 and opened with `num_levels: 4` was reported corrupt.
    #[test]
    fn fewer_levels_than_the_database_uses_is_an_invalid_argument() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (storage, mut state, number) = tables(dir.path(), &[(0, 10)])?;
        state.levels[6] = std::mem::take(&mut state.levels[0]);
        rewrite(&storage, &state, number + 100)?;
        let four = Options {
            num_levels: 4,
            ..Options::default()
        };
        match Engine::open(dir.path(), four) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("at least 7"), "{m}"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        let engine = Engine::open(dir.path(), Options::default())?;
        assert_eq!(engine.get(b"k03")?, Some(b"v".to_vec()));
        Ok(())
    }

    #[test]
    fn overlapping_tables_in_a_sorted_level_are_corruption() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (storage, mut state, number) = tables(dir.path(), &[(0, 10), (5, 15)])?;
        let l0 = std::mem::take(&mut state.levels[0]);
        let valid = ManifestState {
            levels: {
                let mut levels = state.levels.clone();
                levels[1] = l0.iter().take(1).cloned().collect();
                levels
            },
            ..state.clone()
        };
        state.levels[1] = l0; // k00..k09 and k05..k14, both in L1
        rewrite(&storage, &state, number + 100)?;
        match Engine::open(dir.path(), Options::default()) {
            Err(Error::Corruption { reason, .. }) => {
                assert!(reason.contains("overlapping"), "{reason}")
            }
            other => panic!("expected Corruption, got {other:?}"),
        }
        // One of them alone in L1 is a valid database.
        rewrite(&storage, &valid, number + 200)?;
        let engine = Engine::open(dir.path(), Options::default())?;
        assert_eq!(engine.get(b"k00")?, Some(b"v".to_vec()));
        Ok(())
    }
}
