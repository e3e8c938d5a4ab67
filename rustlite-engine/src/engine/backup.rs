//! Online backups: a consistent point-in-time copy of a live database, and restore.
//!
//! [`Engine::backup_to`] switches the memtable (the only moment writers wait), flushes every
//! frozen memtable to L0, and — holding the job lock so no compaction deletes a file meanwhile —
//! hard-links the live SSTables into the destination, or, where it cannot link (another file
//! system, an in-memory source), takes their open files. Then, the lock released, it copies
//! those through the open files (readable after a compaction unlinks them), writes a fresh
//! manifest naming exactly those files, and last a `BACKUP` file listing every file with its
//! size and crc32, sealed by a trailer (format in [`listing`]). The backup is itself a database
//! directory that `Engine::open` opens, and it holds every commit up to the memtable switch (a
//! prefix of the history: one commit boundary, never a partial commit). Opening it makes it a
//! live database whose files change: [`restore`] then refuses it (the files no longer match the
//! listing), so restore first and open the copy.
//!
//! ```text
//! BACKUP:  rustlite-backup 2
//!          000012.sst 4096123 9f3a01c2
//!          000016.wal 0 00000000
//!          MANIFEST-000015 211 0c44aa10
//!          CURRENT 16 1d2e3f40
//!          end 4 45dde01d
//! ```
//! The listing is the last thing made durable: every file it names is fsynced and the directory
//! synced first, then it is written to `BACKUP.tmp`, fsynced, renamed to `BACKUP` and the
//! directory synced again. A backup cut short (a crash, an I/O error) has no `BACKUP`, never one
//! that looks whole; and a listing torn or edited anyway fails its trailer.
//!
//! [`restore`] trusts nothing in a backup: it refuses a non-empty target, a listing without its
//! trailer, names other than the plain file names the engine writes (no `..`, no `/`, no
//! absolute paths) and symlinks; it verifies every listed file's size and crc32, and that the
//! listed files make a whole database — `CURRENT` names a listed manifest, and every table and
//! the live WAL that manifest names are listed — all before copying anything.

use crate::engine::{jobs, Engine};
use crate::error::{Error, Result};
use crate::lsm::ikey::SeqNo;
use crate::lsm::manifest::{
    manifest_file_name, parse_file_name, sst_file_name, FileName, Manifest, ManifestState,
    CURRENT_FILE, MAX_LEVELS,
};
use crate::lsm::wal::wal_file_name;
use crate::storage::{write_file_synced, FsStorage, MemStorage, RandomAccessFile, Storage};
use listing::Entry;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

mod listing;

/// Name of the file that lists a backup's files with sizes and checksums.
pub const BACKUP_FILE: &str = "BACKUP";
/// The listing is written here, then renamed to [`BACKUP_FILE`].
const BACKUP_TMP_FILE: &str = "BACKUP.tmp";

/// What a backup wrote.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = rustlite_engine::Engine::open_in_memory(Default::default())?;
/// let seq = db.put(b"k", b"v")?;
/// let info = db.backup_to(dir.path())?;
/// assert_eq!(info.last_seq, seq);
/// assert_eq!(info.linked, 0); // an in-memory source has nothing to hard-link
/// assert!(info.bytes > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupInfo {
    /// Files in the backup (tables, manifest, `CURRENT`).
    pub files: usize,
    /// Total bytes.
    pub bytes: u64,
    /// Tables hard-linked rather than copied.
    pub linked: usize,
    /// Every commit up to this seqno is in the backup.
    pub last_seq: SeqNo,
}

/// Copies an open file into a new file at `path`, a chunk at a time, and fsyncs it.
fn copy_out(src: &dyn RandomAccessFile, path: &Path) -> Result<()> {
    use std::io::Write;
    const CHUNK: u64 = 1 << 20;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut buf = Vec::new();
    let mut offset = 0;
    while offset < src.len() {
        let n = (src.len() - offset).min(CHUNK);
        buf.resize(usize::try_from(n).unwrap_or(usize::MAX), 0);
        src.read_exact_at(&mut buf, offset)?;
        out.write_all(&buf)?;
        offset += n;
    }
    out.sync_all()?;
    Ok(())
}

fn crc_of(path: &Path) -> Result<(u64, u32)> {
    let data = std::fs::read(path)?;
    Ok((data.len() as u64, crc32fast::hash(&data)))
}

fn sync_dir(path: &Path) -> Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    Ok(())
}

fn ensure_empty_dir(path: &Path) -> Result<()> {
    if path.exists() {
        if !path.is_dir() || std::fs::read_dir(path)?.next().is_some() {
            return Err(Error::InvalidArgument(format!(
                "{} exists and is not an empty directory",
                path.display()
            )));
        }
    } else {
        crate::storage::create_dir_all_durably(path)?;
    }
    Ok(())
}

impl Engine {
    /// Writes a consistent point-in-time copy of the database into `dest` (created if missing;
    /// refused if not empty) while other threads keep reading and writing. See the module docs.
    ///
    /// ```
    /// use rustlite_engine::{Engine, Options};
    /// let dir = tempfile::tempdir()?;
    /// let db = Engine::open_in_memory(Options::default())?;
    /// db.put(b"k", b"v")?;
    /// let info = db.backup_to(dir.path().join("backup"))?;
    /// assert!(info.files > 0);
    /// let copy = Engine::open(dir.path().join("backup"), Options::default())?; // a database
    /// assert_eq!(copy.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<BackupInfo> {
        let dest = dest.as_ref();
        let inner = &self.inner;
        inner.check_writable()?;
        ensure_empty_dir(dest)?;
        let span = tracing::info_span!("backup", dest = %dest.display());
        let _enter = span.enter();
        let started = std::time::Instant::now();
        jobs::force_flush(inner)?;
        let mut jobs_guard = inner.jobs.lock();
        // Anything a concurrent switch froze meanwhile is flushed too: the backup ends at a
        // memtable boundary, which is a commit boundary.
        jobs::flush_all(inner, &mut jobs_guard)?;
        let state = inner.state.load_full();
        let last_seq = jobs_guard.manifest_state.last_seq;
        let mut info = BackupInfo {
            last_seq,
            ..BackupInfo::default()
        };
        let mut levels = vec![Vec::new(); state.version.levels.len()];
        let mut to_copy = Vec::new();
        for (level, files) in state.version.levels.iter().enumerate() {
            for f in files {
                let name = sst_file_name(f.meta.number);
                if inner.storage.link_into(&name, dest)? {
                    info.linked += 1;
                } else {
                    // Through the table's own file: no descriptor per table (it is reopened
                    // within the open-file budget if closed), and a compaction pins it open
                    // before unlinking it, so the held `state` still reads it.
                    to_copy.push((Arc::clone(f.table.file()), name));
                }
                if let Some(l) = levels.get_mut(level) {
                    l.push(f.meta.clone());
                }
            }
        }
        // Copies run without the job lock: flushes and compactions go on (and writers never
        // stall behind a long copy); `state` keeps the tables, and their files, open.
        drop(jobs_guard);
        for (src, name) in to_copy {
            copy_out(src.as_ref(), &dest.join(name))?;
        }
        let manifest_number = inner.next_file_number.fetch_add(2, Ordering::Relaxed);
        let wal_number = manifest_number + 1;
        let manifest_state = ManifestState {
            levels,
            next_file_number: wal_number + 1,
            last_seq,
            log_number: wal_number,
        };
        let dest_storage = FsStorage::open(dest)?;
        // An empty live WAL, as every database directory has one.
        dest_storage.create(&wal_file_name(wal_number))?.sync()?;
        Manifest::create(&dest_storage, manifest_number, &manifest_state)?;
        let mut entries = Vec::new();
        for name in dest_storage.list()? {
            let (size, crc) = crc_of(&dest.join(&name))?;
            info.files += 1;
            info.bytes += size;
            entries.push(Entry { name, size, crc });
        }
        // The listing is the last thing made durable, and appears whole or not at all: every
        // file it names is fsynced (copies, the WAL, the manifest, `CURRENT`) and their entries
        // (links included) made durable here, before the listing is written under a temporary
        // name, fsynced and renamed into place.
        sync_dir(dest)?;
        let tmp = dest.join(BACKUP_TMP_FILE);
        write_file_synced(&tmp, listing::encode(&entries).as_bytes())?;
        std::fs::rename(&tmp, dest.join(BACKUP_FILE))?;
        sync_dir(dest)?;
        tracing::info!(
            files = info.files,
            bytes = info.bytes,
            linked = info.linked,
            last_seq,
            ms = started.elapsed().as_millis() as u64,
            "backup written"
        );
        Ok(info)
    }
}

/// Reads the listed file `e` of `backup`, checking it still matches its listing.
fn read_listed(backup: &Path, e: &Entry) -> Result<Vec<u8>> {
    let data = std::fs::read(backup.join(&e.name))?;
    if data.len() as u64 != e.size || crc32fast::hash(&data) != e.crc {
        return Err(Error::corruption(
            &e.name,
            0,
            "backup file changed during restore",
        ));
    }
    Ok(data)
}

/// Checks that the listed files make a whole database, as opening it will require: `CURRENT`
/// names a listed manifest, and every table (at the size the manifest records) and the live WAL
/// that manifest names are listed. The manifest is decoded by the engine's own loader from the
/// bytes checked against the listing, held in memory. A refusal is [`Error::Corruption`] naming
/// the file the backup lacks (or the damaged `CURRENT` or manifest).
fn check_complete(backup: &Path, entries: &[Entry]) -> Result<()> {
    let listed: HashMap<&str, &Entry> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let incomplete = |name: &str, why: String| {
        Error::corruption(
            name,
            0,
            format!("{why}, but the backup does not list it: the backup is incomplete"),
        )
    };
    let current_entry = listed
        .get(CURRENT_FILE)
        .ok_or_else(|| incomplete(CURRENT_FILE, "a database needs it".to_string()))?;
    let current = read_listed(backup, current_entry)?;
    let Some(FileName::Manifest(number)) = std::str::from_utf8(&current)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(parse_file_name)
    else {
        return Err(Error::corruption(
            CURRENT_FILE,
            0,
            "does not hold a manifest name and newline",
        ));
    };
    let manifest = manifest_file_name(number);
    let manifest_entry = listed
        .get(manifest.as_str())
        .ok_or_else(|| incomplete(&manifest, format!("{CURRENT_FILE} names this manifest")))?;
    let storage = MemStorage::new();
    for (name, data) in [
        (CURRENT_FILE, current),
        (manifest.as_str(), read_listed(backup, manifest_entry)?),
    ] {
        storage.create(name)?.append(&data)?;
    }
    let Some((state, _)) = Manifest::load(&storage, MAX_LEVELS)? else {
        return Err(Error::corruption(CURRENT_FILE, 0, "names no manifest"));
    };
    for meta in state.levels.iter().flatten() {
        let name = sst_file_name(meta.number);
        match listed.get(name.as_str()) {
            None => return Err(incomplete(&name, format!("{manifest} names this table"))),
            Some(e) if e.size != meta.size => {
                return Err(Error::corruption(
                    &name,
                    0,
                    format!(
                        "the backup holds {} bytes but {manifest} records {}",
                        e.size, meta.size
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    let wal = wal_file_name(state.log_number);
    if !listed.contains_key(wal.as_str()) {
        return Err(incomplete(
            &wal,
            format!("{manifest} names this as the live WAL"),
        ));
    }
    Ok(())
}

/// Copies the backup in `backup` into `target` (created if missing; refused if not empty),
/// after verifying every listed file's name, type, size and checksum, and that the files make a
/// whole database (see the module docs).
///
/// ```
/// use rustlite_engine::{engine::restore, Engine, Options};
/// let dir = tempfile::tempdir()?;
/// let db = Engine::open_in_memory(Options::default())?;
/// db.put(b"k", b"v")?;
/// db.backup_to(dir.path().join("backup"))?;
/// restore(dir.path().join("backup"), dir.path().join("restored"))?;
/// let db = Engine::open(dir.path().join("restored"), Options::default())?;
/// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
/// // a directory without a BACKUP listing is refused
/// assert!(restore(dir.path().join("restored"), dir.path().join("other")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn restore(backup: impl AsRef<Path>, target: impl AsRef<Path>) -> Result<()> {
    let (backup, target) = (backup.as_ref(), target.as_ref());
    let listing = std::fs::read(backup.join(BACKUP_FILE)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::InvalidArgument(format!(
            "{}: not a backup (no {BACKUP_FILE} listing; a backup cut short has none): {e}",
            backup.display()
        )),
        _ => Error::from(e),
    })?;
    let entries = listing::parse(&listing)?;
    for e in &entries {
        let path = backup.join(&e.name);
        let meta = std::fs::symlink_metadata(&path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => Error::corruption(
                &e.name,
                0,
                "listed in BACKUP but missing (a backup opened as a database changes its files)",
            ),
            _ => Error::from(err),
        })?;
        if !meta.file_type().is_file() {
            return Err(Error::corruption(
                &e.name,
                0,
                "not a regular file (symlink?)",
            ));
        }
        let (size, crc) = crc_of(&path)?;
        if size != e.size || crc != e.crc {
            return Err(Error::corruption(
                &e.name,
                0,
                format!(
                    "backup file does not match its listing (size {size} vs {}, crc {crc:08x} vs {:08x})",
                    e.size, e.crc
                ),
            ));
        }
    }
    check_complete(backup, &entries)?;
    ensure_empty_dir(target)?;
    let copy = |e: &Entry| -> Result<()> {
        write_file_synced(&target.join(&e.name), &read_listed(backup, e)?)
    };
    // `CURRENT` last, once every file it leads to is complete and durable: a restore cut short
    // leaves a directory without it, which opening refuses as corrupt ("missing CURRENT in a
    // directory that holds tables"), never a database missing part of its files.
    let (current, files): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().partition(|e| e.name == CURRENT_FILE);
    for e in files {
        copy(e)?;
    }
    sync_dir(target)?;
    for e in current {
        copy(e)?;
    }
    sync_dir(target)?;
    tracing::info!(files = entries.len(), target = %target.display(), "backup restored");
    Ok(())
}
