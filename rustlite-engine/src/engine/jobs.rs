//! Background work: memtable switches, flushes to L0, leveled compaction, and write stalls.
//!
//! All flushes and compactions run under the `jobs` mutex (which also owns the manifest), either
//! on the background thread or inline when a caller forces them; every change of the live file set
//! follows the same order so a crash at any point leaves a consistent database:
//! 1. write and fsync the new tables, fsync the directory;
//! 2. append and fsync the manifest edit (the commit point);
//! 3. swap the in-memory state;
//! 4. delete the files the edit made obsolete (WALs, input tables).

use crate::engine::{Inner, JobState, State, WriteState};
use crate::error::{Error, Result};
use crate::lsm::compaction::{self, CompactionTask, TableSink, VersionFilter};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::lsm::manifest::{Edit, Manifest, VersionEdit};
use crate::lsm::memtable::Memtable;
use crate::lsm::merge::MergeIterator;
use crate::lsm::sstable::{Table, TableOptions};
use crate::lsm::version::{TableHandle, Version};
use crate::lsm::wal::{wal_file_name, WalWriter};
use crate::options::Options;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn table_options(opts: &Options) -> TableOptions {
    TableOptions {
        block_size: opts.block_size,
        restart_interval: opts.block_restart_interval,
        bloom_bits_per_key: opts.bloom_bits_per_key,
    }
}

/// Where flushes and compactions write their tables.
fn table_sink<'a>(
    inner: &'a Inner,
    next_file_number: &'a dyn Fn() -> u64,
    target_file_size: u64,
) -> TableSink<'a> {
    TableSink {
        storage: inner.storage.as_ref(),
        cache: &inner.cache,
        table_files: &inner.table_files,
        table_opts: table_options(&inner.opts),
        next_file_number,
        target_file_size,
    }
}

/// Called by the commit leader before writing: switches a full memtable and stalls while
/// flushes or L0 compaction fall behind.
pub(crate) fn make_room_for_write(inner: &Inner, write: &mut WriteState) -> Result<()> {
    let mut stalled_since: Option<Instant> = None;
    loop {
        inner.check_writable()?;
        let state = inner.state.load();
        let l0 = state.version.level_files(0);
        let mem_full = state.mem.approximate_size() >= inner.opts.memtable_size;
        let must_wait = l0 >= inner.opts.l0_stop_writes
            || (mem_full && state.imm.len() >= inner.opts.max_immutable_memtables);
        if must_wait {
            drop(state);
            if !inner.opts.background_compaction {
                run_pending_jobs(inner)?;
                continue;
            }
            if stalled_since.is_none() {
                tracing::info!(l0_files = l0, "write stall: waiting for flush/compaction");
                stalled_since = Some(Instant::now());
            }
            let mut bg = inner.bg.lock();
            bg.wake = true;
            inner.bg_work.notify_one();
            inner.bg_done.wait_for(&mut bg, Duration::from_millis(50));
            continue;
        }
        if let Some(since) = stalled_since {
            tracing::info!(ms = since.elapsed().as_millis() as u64, "write stall over");
        }
        if mem_full {
            switch_memtable(inner, write)?;
            schedule(inner);
        }
        return Ok(());
    }
}

/// Freezes the active memtable and starts a new one with a new WAL file.
pub(crate) fn switch_memtable(inner: &Inner, write: &mut WriteState) -> Result<()> {
    let number = inner.alloc_file_number();
    let file = inner.storage.create_preallocated(
        &wal_file_name(number),
        crate::lsm::wal::reserve_step(inner.opts.memtable_size),
    )?;
    inner.storage.sync_dir()?;
    // The old WAL's records stay needed until its memtable is flushed; make them durable (and
    // published) now, so a power loss cannot tear an older log while a newer one survives and a
    // flush never writes an unacknowledged commit. A failed fsync may have dropped those records
    // from the page cache: the pipeline refuses further writes, like a failed commit.
    super::write::sync_appended(inner)?;
    let _guard = inner.state_lock.lock();
    let old = inner.state.load_full();
    let mut imm = Vec::with_capacity(old.imm.len() + 1);
    imm.push(Arc::clone(&old.mem));
    imm.extend(old.imm.iter().cloned());
    inner.state.store(Arc::new(State {
        mem: Arc::new(Memtable::with_budget(number, inner.opts.memtable_size)),
        imm,
        version: Arc::clone(&old.version),
    }));
    write.wal = WalWriter::new(file);
    super::write::use_wal(inner, write.wal.syncer());
    inner.wal_bytes.store(write.wal.len(), Ordering::Relaxed);
    Ok(())
}

/// Asks for background work (or runs it inline without a background thread).
pub(crate) fn schedule(inner: &Inner) {
    if inner.opts.background_compaction {
        let mut bg = inner.bg.lock();
        bg.wake = true;
        inner.bg_work.notify_one();
    } else if let Err(e) = run_pending_jobs(inner) {
        inner.poison(&e);
    }
}

/// The background thread: flush and compact while there is work, sleep otherwise.
pub(crate) fn background_loop(inner: &Arc<Inner>) {
    loop {
        {
            let mut bg = inner.bg.lock();
            while !bg.wake && !bg.shutdown {
                inner.bg_work.wait(&mut bg);
            }
            if bg.shutdown {
                return;
            }
            bg.wake = false;
        }
        if inner.poisoned.lock().is_some() {
            continue;
        }
        // A panic would end this thread with nobody told: writers waiting for a flush would
        // wait forever. It poisons the engine instead, as a failed job does.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_pending_jobs(inner))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => inner.poison(&e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                inner.poison(&Error::Poisoned(format!(
                    "a background job panicked: {what}"
                )));
            }
        }
        inner.bg_done.notify_all();
    }
}

/// Flushes every immutable memtable, then compacts until no level is over its target.
pub(crate) fn run_pending_jobs(inner: &Inner) -> Result<()> {
    loop {
        if inner.bg.lock().shutdown {
            return Ok(());
        }
        let mut jobs = inner.jobs.lock();
        if flush_oldest(inner, &mut jobs)? {
            drop(jobs);
            inner.bg_done.notify_all();
            continue;
        }
        let did = compact_once(inner, &mut jobs, false)?;
        drop(jobs);
        inner.bg_done.notify_all();
        if !did {
            return Ok(());
        }
    }
}

/// Switches the memtable (if it holds anything) and flushes every immutable memtable.
pub(crate) fn force_flush(inner: &Inner) -> Result<()> {
    inner.check_writable()?;
    {
        let mut write = inner.write.lock();
        if !inner.state.load().mem.is_empty() {
            switch_memtable(inner, &mut write)?;
        }
    }
    let mut jobs = inner.jobs.lock();
    flush_all(inner, &mut jobs)?;
    drop(jobs);
    inner.bg_done.notify_all();
    // The flushed tables may have brought L0 to its trigger: wake the background thread, or
    // the compaction would wait for the next write (reads alone never schedule one), and a
    // read-only phase after a flush would search every L0 table for as long as it lasts.
    if inner.opts.background_compaction {
        schedule(inner);
    }
    Ok(())
}

/// Flushes every immutable memtable (the caller holds the job lock).
pub(crate) fn flush_all(inner: &Inner, jobs: &mut JobState) -> Result<()> {
    while flush_oldest(inner, jobs)? {}
    Ok(())
}

/// Compacts until idle; with `full`, also pushes every level down to the last non-empty one.
pub(crate) fn compact_until_idle(inner: &Inner, full: bool) -> Result<()> {
    let mut jobs = inner.jobs.lock();
    while compact_once(inner, &mut jobs, full)? {}
    Ok(())
}

/// Writes the oldest immutable memtable to an L0 table. Returns whether there was one.
fn flush_oldest(inner: &Inner, jobs: &mut JobState) -> Result<bool> {
    let state = inner.state.load_full();
    let Some(mem) = state.imm.last().cloned() else {
        return Ok(false);
    };
    let span = tracing::info_span!("flush", wal = mem.wal_number(), entries = mem.len());
    let _enter = span.enter();
    let started = Instant::now();
    let oldest = inner.snapshots.oldest();
    let mut filter = VersionFilter::new(oldest, None);
    let mut iter = mem.iter(Direction::Forward, None);
    let next = || inner.alloc_file_number();
    let sink = table_sink(inner, &next, u64::MAX);
    let outputs = compaction::write_tables(&mut iter, &mut filter, &sink)?;

    // WALs older than the oldest memtable still unflushed are obsolete after this edit.
    let remaining_wal = state
        .imm
        .iter()
        .rev()
        .nth(1)
        .map_or(state.mem.wal_number(), |m| m.wal_number());
    let mut edit: Vec<Edit> = outputs
        .iter()
        .map(|t| Edit::AddFile {
            level: 0,
            meta: t.meta.clone(),
        })
        .collect();
    edit.push(Edit::LogNumber(remaining_wal));
    // Exactly the last commit now in the tables (later ones are still in WALs).
    edit.push(Edit::LastSeq(
        jobs.manifest_state.last_seq.max(mem.max_seq()),
    ));
    log_edit(inner, jobs, VersionEdit(edit))?;

    let bytes: u64 = outputs.iter().map(|t| t.meta.size).sum();
    {
        let _guard = inner.state_lock.lock();
        let cur = inner.state.load_full();
        let mut version = (*cur.version).clone();
        if let Some(l0) = version.levels.get_mut(0) {
            for t in outputs.into_iter().rev() {
                l0.insert(0, t);
            }
        }
        let imm = cur
            .imm
            .iter()
            .filter(|m| !Arc::ptr_eq(m, &mem))
            .cloned()
            .collect();
        inner.state.store(Arc::new(State {
            mem: Arc::clone(&cur.mem),
            imm,
            version: Arc::new(version),
        }));
    }
    remove_obsolete(inner, &wal_file_name(mem.wal_number()));
    tracing::info!(
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "flushed memtable to L0"
    );
    Ok(true)
}

/// Runs one compaction if the policy (or `full`) asks for one. Returns whether it did.
fn compact_once(inner: &Inner, jobs: &mut JobState, full: bool) -> Result<bool> {
    let state = inner.state.load_full();
    let version = &state.version;
    let task = match compaction::pick(version, &inner.opts, &jobs.cursors) {
        Some(task) => task,
        None if full => match compaction::pick_full(version, &inner.opts) {
            Some(task) => task,
            None => return Ok(false),
        },
        None => return Ok(false),
    };
    let rewrote = !task.is_trivial_move();
    run_compaction(inner, jobs, version, task)?;
    // The inputs are out of the cache and, with this last reference to the old version, their
    // tables and blocks are freed (often most of the cache): return those pages.
    drop(state);
    if rewrote {
        super::heap::release_free_pages();
    }
    Ok(true)
}

fn run_compaction(
    inner: &Inner,
    jobs: &mut JobState,
    version: &Version,
    task: CompactionTask,
) -> Result<()> {
    let span = tracing::info_span!(
        "compaction",
        level = task.level,
        output_level = task.output_level
    );
    let _enter = span.enter();
    let started = Instant::now();
    let bytes_in = task.input_bytes();
    let mut edit = Vec::new();
    for f in &task.inputs {
        edit.push(Edit::DeleteFile {
            level: task.level as u32,
            number: f.meta.number,
        });
    }
    for f in &task.lower_inputs {
        edit.push(Edit::DeleteFile {
            level: task.output_level as u32,
            number: f.meta.number,
        });
    }
    let outputs: Vec<TableHandle> = if task.is_trivial_move() {
        task.inputs.clone()
    } else {
        let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
        for f in task.inputs.iter().chain(&task.lower_inputs) {
            children.push(Box::new(f.table.compaction_iter()?));
        }
        let mut merged = MergeIterator::new(children, Direction::Forward);
        let deeper = version
            .levels
            .get(task.output_level + 1..)
            .unwrap_or_default();
        let mut filter = VersionFilter::new(inner.snapshots.oldest(), Some(deeper));
        let next = || inner.alloc_file_number();
        let sink = table_sink(inner, &next, inner.opts.target_file_size);
        compaction::write_tables(&mut merged, &mut filter, &sink)?
    };
    for f in &outputs {
        edit.push(Edit::AddFile {
            level: task.output_level as u32,
            meta: f.meta.clone(),
        });
    }
    log_edit(inner, jobs, VersionEdit(edit))?;

    let input_numbers: Vec<u64> = task
        .inputs
        .iter()
        .chain(&task.lower_inputs)
        .map(|f| f.meta.number)
        .collect();
    {
        let _guard = inner.state_lock.lock();
        let cur = inner.state.load_full();
        let mut next = (*cur.version).clone();
        for files in next.levels.iter_mut() {
            files.retain(|f| !input_numbers.contains(&f.meta.number));
        }
        if let Some(level) = next.levels.get_mut(task.output_level) {
            level.extend(outputs.iter().cloned());
            level.sort_by(|a, b| crate::lsm::ikey::compare(&a.meta.smallest, &b.meta.smallest));
        }
        inner.state.store(Arc::new(State {
            mem: Arc::clone(&cur.mem),
            imm: cur.imm.clone(),
            version: Arc::new(next),
        }));
    }
    if let (Some(cursor), Some(last)) = (
        jobs.cursors.get_mut(task.level),
        task.inputs.iter().map(|f| f.meta.largest_user()).max(),
    ) {
        *cursor = last.to_vec();
    }
    if !task.is_trivial_move() {
        for f in task.inputs.iter().chain(&task.lower_inputs) {
            remove_table(inner, &f.table);
        }
    }
    tracing::info!(
        bytes_in,
        bytes_out = outputs.iter().map(|f| f.meta.size).sum::<u64>(),
        files_in = input_numbers.len(),
        files_out = outputs.len(),
        trivial_move = task.is_trivial_move(),
        ms = started.elapsed().as_millis() as u64,
        "compaction done"
    );
    Ok(())
}

/// Deletes a file the manifest no longer references. The database is consistent either way, so
/// a failure is only logged (the next open deletes unreferenced files), rather than failing a
/// flush or compaction that has already been committed (from the background thread, that would
/// poison the engine).
fn remove_obsolete(inner: &Inner, name: &str) {
    if let Err(e) = inner.storage.remove(name) {
        tracing::warn!(file = name, error = %e, "could not delete an obsolete file");
    }
}

/// Deletes the file of a table the manifest no longer references and drops its cached blocks.
/// Older versions (iterators, snapshots, a backup copying it) may still read the table: its file
/// is pinned open first, so they read on after the name is gone (see
/// [`crate::lsm::sstable::files`]). A file that cannot be pinned stays on disk, for the next open
/// to delete, rather than fail those readers.
fn remove_table(inner: &Inner, table: &Table) {
    let name = table.file_name();
    match table.keep_file_open() {
        Ok(()) => remove_obsolete(inner, name),
        Err(e) => tracing::warn!(
            file = name,
            error = %e,
            "could not keep an obsolete table open for its readers; leaving it until the next open"
        ),
    }
    inner.cache.remove_file(table.file_number());
}

/// Appends `edit` to the manifest (plus the next file number), rewriting a large manifest.
///
/// A failure poisons the engine, from a background job or a foreground `flush`, `compact` or
/// backup alike: the edit may or may not be in the manifest (a failed fsync, a short append, a
/// rewrite that failed after the edit was logged), so nothing may be appended after it, and the
/// in-memory version no longer says what a reopen will load. A reopen reads the manifest as it
/// is (a torn last edit is ignored) and starts a fresh one.
fn log_edit(inner: &Inner, jobs: &mut JobState, edit: VersionEdit) -> Result<()> {
    if let Some(why) = inner.poisoned.lock().as_ref() {
        return Err(Error::Poisoned(why.clone()));
    }
    let result = append_edit(inner, jobs, edit);
    if let Err(e) = &result {
        inner.poison(e);
    }
    result
}

fn append_edit(inner: &Inner, jobs: &mut JobState, mut edit: VersionEdit) -> Result<()> {
    // Reserve the number a manifest rewrite would use before recording the counter.
    let rewrite = jobs.manifest.wants_rewrite(inner.opts.max_manifest_size);
    let manifest_number = rewrite.then(|| inner.alloc_file_number());
    edit.0.push(Edit::NextFileNumber(
        inner
            .next_file_number
            .load(std::sync::atomic::Ordering::Relaxed),
    ));
    jobs.manifest.log(&edit)?;
    jobs.manifest_state.apply(&edit, inner.opts.num_levels)?;
    if let Some(number) = manifest_number {
        jobs.manifest = Manifest::create(inner.storage.as_ref(), number, &jobs.manifest_state)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::engine::Engine;
    use crate::error::{Error, Result};
    use crate::options::Options;
    use crate::storage::{DirLock, MemStorage, RandomAccessFile, Storage, WritableFile};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Memory storage whose table files cannot be created: creating one panics (a bug in a
    /// background job, as far as the engine can tell).
    #[derive(Debug)]
    struct PanicOnTables(MemStorage);

    impl Storage for PanicOnTables {
        fn create(&self, name: &str) -> Result<Box<dyn WritableFile>> {
            assert!(!name.ends_with(".sst"), "injected panic creating {name}");
            self.0.create(name)
        }
        fn open_append(&self, name: &str) -> Result<Box<dyn WritableFile>> {
            self.0.open_append(name)
        }
        fn open_read(&self, name: &str) -> Result<Arc<dyn RandomAccessFile>> {
            self.0.open_read(name)
        }
        fn exists(&self, name: &str) -> Result<bool> {
            self.0.exists(name)
        }
        fn rename(&self, from: &str, to: &str) -> Result<()> {
            self.0.rename(from, to)
        }
        fn remove(&self, name: &str) -> Result<()> {
            self.0.remove(name)
        }
        fn truncate(&self, name: &str, len: u64) -> Result<()> {
            self.0.truncate(name, len)
        }
        fn list(&self) -> Result<Vec<String>> {
            self.0.list()
        }
        fn sync_dir(&self) -> Result<()> {
            self.0.sync_dir()
        }
        fn lock(&self) -> Result<Box<dyn DirLock>> {
            self.0.lock()
        }
        fn location(&self) -> String {
            self.0.location()
        }
    }

    /// A panic in a background flush poisons the engine: writers waiting for room get
    /// `Error::Poisoned` instead of waiting forever (the thread had ended with nobody told).
    #[test]
    fn a_panicking_background_job_poisons_instead_of_hanging_writers() {
        let opts = Options {
            memtable_size: 4096,
            max_immutable_memtables: 1,
            ..Options::default()
        };
        let storage = Arc::new(PanicOnTables(MemStorage::new()));
        let db = Engine::open_with_storage(storage, opts).expect("open");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut outcome = Ok(());
            for i in 0..10_000u32 {
                if let Err(e) = db.put(&i.to_be_bytes(), &[7; 100]) {
                    outcome = Err(e);
                    break;
                }
            }
            let _ = tx.send(outcome);
        });
        let outcome = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("writers waited forever for a flush that had panicked");
        assert!(
            matches!(&outcome, Err(Error::Poisoned(why)) if why.contains("panicked")),
            "{outcome:?}"
        );
    }

    /// A compaction reads its inputs past the block cache: it neither loads blocks into it nor
    /// counts lookups, and what readers cached stays.
    #[test]
    fn compaction_reads_do_not_fill_the_block_cache() -> crate::Result<()> {
        let opts = Options {
            background_compaction: false,
            ..Options::default()
        };
        let db = Engine::open_in_memory(opts)?;
        for round in 0..3u32 {
            for i in 0..2000u32 {
                db.put(&(i * 3 + round).to_be_bytes(), &[round as u8; 100])?;
            }
            db.flush()?;
        }
        assert_eq!(db.get(&3u32.to_be_bytes())?, Some(vec![0; 100]));
        let before = db.stats().cache;
        db.compact(true)?;
        let after = db.stats().cache;
        assert_eq!(db.stats().levels[0].files, 0, "compacted");
        // ~170 blocks are merged (170 misses when they went through the cache); at most one
        // lookup goes through it now.
        assert!(
            after.misses - before.misses <= 1 && after.hits == before.hits,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.size_bytes <= before.size_bytes + 8192,
            "{before:?} -> {after:?}"
        );
        for i in 0..6000u32 {
            let want = vec![(i % 3) as u8; 100];
            assert_eq!(db.get(&i.to_be_bytes())?, Some(want), "key {i}");
        }
        Ok(())
    }

    #[test]
    fn a_flush_that_fills_l0_wakes_the_compaction() -> crate::Result<()> {
        let opts = Options {
            l0_compaction_trigger: 2,
            ..Options::default()
        };
        assert!(opts.background_compaction);
        let db = Engine::open_in_memory(opts)?;
        for k in [b"a", b"b"] {
            db.put(k, b"v")?;
            db.flush()?;
        }
        // No write after the second flush: only the flush itself can have scheduled it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while db.stats().levels[0].files > 0 {
            assert!(
                Instant::now() < deadline,
                "L0 at its trigger was never compacted"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // One sorted run below L0 (a small database: the last level, see `lsm::compaction`).
        let below_l0: usize = db.stats().levels[1..].iter().map(|l| l.files).sum();
        assert_eq!(below_l0, 1);
        assert_eq!(db.get(b"a")?, Some(b"v".to_vec()));
        Ok(())
    }
}
