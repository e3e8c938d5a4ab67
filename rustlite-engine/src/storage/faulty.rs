//! [`FaultyStorage`]: a [`MemStorage`] that remembers what a power loss would keep, and fails
//! chosen I/O operations on request. Crash-consistency and I/O-error tests run the engine on it.
//!
//! ```text
//!            engine
//!              │  create / append / sync / sync_dir / rename / remove / truncate  (numbered 1, 2, ..)
//!              ▼
//!   FaultyStorage ── countdown: fail op N (transient: only N; persistent: N and every later one)
//!     │      │
//!     │      └── model: inodes { live bytes, synced bytes }
//!     │                live_dir    name ─▶ inode   (what the process sees)
//!     │                durable_dir name ─▶ inode   (what the directory holds after the last sync_dir)
//!     ▼
//!   MemStorage (the live view: every read goes here)
//! ```
//!
//! The power-loss model follows the [`Storage`] durability contract:
//! - bytes appended to a file survive only up to its last [`WritableFile::sync`]; on a crash the
//!   unsynced tail is dropped whole ([`CrashMode::DropUnsynced`]) or cut at a random length
//!   ([`CrashMode::RandomPrefix`], seeded, so a torn write is reproducible);
//! - a create, rename or remove survives for sure only after the next [`Storage::sync_dir`];
//!   until then a crash forgets it (a created file vanishes, a removed one comes back with its
//!   synced content, a renamed one is back under its old name) — all of them
//!   ([`CrashMode::DropUnsynced`]), or all after a random prefix of them, in order, as a
//!   journal commit for another file's fsync may have carried the earlier ones
//!   ([`CrashMode::RandomPrefix`]);
//! - [`Storage::truncate`] is durable when it returns (as in [`FsStorage`](super::FsStorage),
//!   which syncs the file);
//! - a preallocated file ([`Storage::create_preallocated`], the WALs) is its reserved zeros,
//!   synced at creation, overwritten by its appends: a crash keeps its whole reserved length,
//!   the synced data, and of the unsynced overwrites each 512-byte sector new or still zero
//!   (`RandomPrefix`), so holes with later data after them; an append past the reserve
//!   reserves more and syncs, as `FsStorage` does.
//!
//! Reads (`open_read`, `read_all`, `list`, `exists`) and `lock` are neither counted nor failed.
//! Operations are counted in the order they reach the storage; with the engine's
//! `background_compaction: false` that order is deterministic, so "op 137" names the same
//! operation in every run of a workload.

use super::{DirLock, FileSync, MemStorage, RandomAccessFile, Storage, WritableFile};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

/// The kind of a counted (mutating) storage operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// [`Storage::create`].
    Create,
    /// [`WritableFile::append`].
    Append,
    /// [`WritableFile::sync`] or [`FileSync::sync`].
    Sync,
    /// [`Storage::sync_dir`].
    SyncDir,
    /// [`Storage::rename`].
    Rename,
    /// [`Storage::remove`].
    Remove,
    /// [`Storage::truncate`].
    Truncate,
}

/// One counted operation, as recorded in [`FaultyStorage::op_log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRecord {
    /// 1-based position of the operation.
    pub index: u64,
    /// What it was.
    pub kind: OpKind,
    /// The file it touched (`from -> to` for a rename, empty for `sync_dir`).
    pub name: String,
    /// Whether it was failed by the countdown.
    pub failed: bool,
}

/// What a simulated power loss keeps of data written but not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// Nothing unsynced survives.
    DropUnsynced,
    /// A random prefix (possibly empty, possibly all) of each file's unsynced bytes survives; the
    /// seed makes the choice reproducible.
    RandomPrefix(u64),
}

#[derive(Debug, Default)]
struct Inode {
    live: Vec<u8>,
    synced: Vec<u8>,
    /// Preallocated files ([`Storage::create_preallocated`]): the durable zeros reserved past
    /// the data, as `(end of the reserved zeros, step)`.
    reserved: Option<(u64, u64)>,
}

/// The sector size a power loss tears a preallocated file's overwrites at: each sector keeps its
/// old bytes (zeros) or its new ones, independently of the others.
const SECTOR: usize = 512;

#[derive(Debug, Clone, Copy)]
struct Fault {
    at: u64,
    persistent: bool,
}

#[derive(Debug, Default)]
struct Model {
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    live_dir: BTreeMap<String, u64>,
    durable_dir: BTreeMap<String, u64>,
    /// `live_dir` after each create, rename or remove since the last `sync_dir`: a file system
    /// may persist a prefix of those before any sync (a journal commit for another file's
    /// fsync carries them), in order.
    dir_history: Vec<BTreeMap<String, u64>>,
    ops: u64,
    log: Vec<OpRecord>,
    fault: Option<Fault>,
    first_failure: Option<OpRecord>,
    crash_at: Option<(u64, CrashMode)>,
    captured: Option<MemStorage>,
}

impl Model {
    /// Numbers the next operation and decides whether it fails.
    fn begin(&mut self, kind: OpKind, name: &str) -> Result<()> {
        self.ops += 1;
        let index = self.ops;
        let failed = self
            .fault
            .is_some_and(|f| index == f.at || (f.persistent && index > f.at));
        let record = OpRecord {
            index,
            kind,
            name: name.to_owned(),
            failed,
        };
        if failed && self.first_failure.is_none() {
            self.first_failure = Some(record.clone());
        }
        self.log.push(record);
        if failed {
            return Err(Error::Io(io::Error::other(format!(
                "injected failure of op {index} ({kind:?} {name})"
            ))));
        }
        Ok(())
    }

    /// Called after a successful operation: captures the crash image if this was the chosen op.
    fn end(&mut self) {
        if let Some((at, mode)) = self.crash_at {
            if at == self.ops {
                self.captured = Some(self.crash_image(mode));
            }
        }
    }

    /// Records the live directory after a create, rename or remove.
    fn dir_changed(&mut self) {
        self.dir_history.push(self.live_dir.clone());
    }

    fn new_inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.inodes.insert(self.next_inode, Inode::default());
        self.next_inode
    }

    fn crash_image(&self, mode: CrashMode) -> MemStorage {
        let image = MemStorage::new();
        let dir = match mode {
            CrashMode::DropUnsynced => &self.durable_dir,
            CrashMode::RandomPrefix(seed) => {
                let mut rng = SplitMix(seed ^ 0xD1EC_7021_5EED_0001);
                match rng.below(self.dir_history.len() as u64 + 1) {
                    0 => &self.durable_dir,
                    i => self
                        .dir_history
                        .get(i as usize - 1)
                        .unwrap_or(&self.durable_dir),
                }
            }
        };
        for (name, id) in dir {
            let Some(inode) = self.inodes.get(id) else {
                continue;
            };
            let preallocated;
            let content: &[u8] = match (inode.reserved, mode) {
                (Some((reserved, _)), mode) => {
                    preallocated = preallocated_image(inode, reserved, mode, *id);
                    &preallocated
                }
                (None, mode) => match mode {
                    CrashMode::DropUnsynced => &inode.synced,
                    CrashMode::RandomPrefix(seed) => {
                        let mut rng = SplitMix(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                        if inode.live.starts_with(&inode.synced) {
                            let extra = inode.live.len() - inode.synced.len();
                            let keep = inode.synced.len() + rng.below(extra as u64 + 1) as usize;
                            inode.live.get(..keep).unwrap_or(&inode.live)
                        } else if rng.below(2) == 0 {
                            // Rewritten since the last sync: either the old content or part of the new.
                            &inode.synced
                        } else {
                            let keep = rng.below(inode.live.len() as u64 + 1) as usize;
                            inode.live.get(..keep).unwrap_or(&inode.live)
                        }
                    }
                },
            };
            // Writing into a fresh MemStorage cannot fail for a valid name, and names here were
            // accepted by MemStorage before; a failure would only drop the file from the image.
            if let Ok(mut f) = image.create(name) {
                let _ = f.append(content);
            }
        }
        image
    }
}

/// What a power loss leaves of a preallocated file: its whole reserved length (the zeros were
/// synced when reserved), the synced data, and of the data written since (overwrites of those
/// zeros, which the kernel may write back in any order) each sector either new or still zero:
/// holes followed by later data, the layout the WAL's torn-write rule is for.
fn preallocated_image(inode: &Inode, reserved: u64, mode: CrashMode, id: u64) -> Vec<u8> {
    let len = usize::try_from(reserved)
        .unwrap_or(usize::MAX)
        .max(inode.live.len());
    let mut out = vec![0u8; len];
    let synced = inode.synced.len().min(inode.live.len());
    if let (Some(dst), Some(src)) = (out.get_mut(..synced), inode.live.get(..synced)) {
        dst.copy_from_slice(src);
    }
    if let CrashMode::RandomPrefix(seed) = mode {
        let mut rng = SplitMix(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Sectors by file offset: the first one may hold synced bytes too (kept either way).
        let mut at = synced - synced % SECTOR;
        while at < inode.live.len() {
            let end = (at + SECTOR).min(inode.live.len());
            if rng.below(2) == 0 {
                if let (Some(dst), Some(src)) = (out.get_mut(at..end), inode.live.get(at..end)) {
                    dst.copy_from_slice(src);
                }
            }
            at = end;
        }
    }
    out
}

/// A tiny deterministic generator (no dependency needed for a few random lengths).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// A fault-injecting [`Storage`] over a [`MemStorage`]; clones share the same files and model.
///
/// ```
/// use rustlite_engine::storage::faulty::{CrashMode, FaultyStorage};
/// use rustlite_engine::storage::Storage;
/// let fs = FaultyStorage::new();
/// let mut f = fs.create("a")?;
/// f.append(b"durable")?;
/// f.sync()?;
/// fs.sync_dir()?;
/// f.append(b" lost")?;
/// let image = fs.crash(CrashMode::DropUnsynced);
/// assert_eq!(image.read_all("a")?, b"durable");
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultyStorage {
    live: MemStorage,
    model: Arc<Mutex<Model>>,
}

impl FaultyStorage {
    /// An empty directory with no fault armed.
    pub fn new() -> FaultyStorage {
        FaultyStorage::default()
    }

    /// A directory holding `files` (name, content), every one durable: a disk after a power
    /// loss, as the next boot finds it, to crash again while the engine recovers from it.
    pub fn with_files(files: &[(String, Vec<u8>)]) -> Result<FaultyStorage> {
        let fs = FaultyStorage::new();
        {
            let mut m = fs.model.lock();
            for (name, content) in files {
                let mut f = fs.live.create(name)?;
                f.append(content)?;
                let id = m.new_inode();
                if let Some(inode) = m.inodes.get_mut(&id) {
                    inode.live = content.clone();
                    inode.synced = content.clone();
                }
                m.live_dir.insert(name.clone(), id);
            }
            m.durable_dir = m.live_dir.clone();
        }
        Ok(fs)
    }

    /// The live files, as a process crash (not a power loss) would leave them. Reopening this
    /// storage bypasses the fault model.
    pub fn live(&self) -> MemStorage {
        self.live.clone()
    }

    /// How many counted operations have run (or been failed) so far.
    pub fn ops(&self) -> u64 {
        self.model.lock().ops
    }

    /// Every counted operation so far, in order.
    pub fn op_log(&self) -> Vec<OpRecord> {
        self.model.lock().log.clone()
    }

    /// Fails op number `at` (1-based, counted since creation) with an [`Error::Io`]; with
    /// `persistent`, every later counted op fails too.
    pub fn fail_at(&self, at: u64, persistent: bool) {
        self.model.lock().fault = Some(Fault { at, persistent });
    }

    /// Disarms the countdown.
    pub fn clear_fault(&self) {
        self.model.lock().fault = None;
    }

    /// The first operation the countdown failed, if any.
    pub fn first_failure(&self) -> Option<OpRecord> {
        self.model.lock().first_failure.clone()
    }

    /// What a power loss right now would leave: a fresh [`MemStorage`] (unlocked) holding the
    /// durable directory entries with their durable content.
    pub fn crash(&self, mode: CrashMode) -> MemStorage {
        self.model.lock().crash_image(mode)
    }

    /// Arranges for [`crash_image`](Self::crash_image) to hold what a power loss right after
    /// op `at` completes would leave (op 0: before any op, i.e. now).
    pub fn crash_after(&self, at: u64, mode: CrashMode) {
        let mut m = self.model.lock();
        m.captured = None;
        m.crash_at = Some((at, mode));
        if at == m.ops {
            m.captured = Some(m.crash_image(mode));
        }
    }

    /// The image captured by [`crash_after`](Self::crash_after), once that op has run.
    pub fn crash_image(&self) -> Option<MemStorage> {
        self.model.lock().captured.clone()
    }

    /// [`Storage::create`], or with `reserved` (`(end of the reserved zeros, step)`)
    /// [`Storage::create_preallocated`]: one counted [`OpKind::Create`] either way.
    fn create_file(
        &self,
        name: &str,
        reserved: Option<(u64, u64)>,
    ) -> Result<Box<dyn WritableFile>> {
        let mut m = self.model.lock();
        m.begin(OpKind::Create, name)?;
        let inner = self.live.create(name)?;
        // An existing name is truncated in place (same inode, as O_TRUNC); a new one gets an inode.
        let inode = match m.live_dir.get(name) {
            Some(&id) => id,
            None => {
                let id = m.new_inode();
                m.live_dir.insert(name.to_owned(), id);
                m.dir_changed();
                id
            }
        };
        if let Some(i) = m.inodes.get_mut(&inode) {
            i.live.clear();
            i.reserved = reserved;
            if reserved.is_some() {
                // The reserved zeros are synced before the call returns.
                i.synced.clear();
            }
        }
        m.end();
        Ok(Box::new(FaultyWritable {
            inner,
            inode,
            name: name.to_owned(),
            model: Arc::clone(&self.model),
        }))
    }
}

struct FaultyWritable {
    inner: Box<dyn WritableFile>,
    inode: u64,
    name: String,
    model: Arc<Mutex<Model>>,
}

impl WritableFile for FaultyWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::Append, &self.name)?;
        self.inner.append(data)?;
        if let Some(inode) = m.inodes.get_mut(&self.inode) {
            inode.live.extend_from_slice(data);
            // Past the reserved zeros, the file reserves more and syncs it (as `FsStorage`),
            // which makes everything written so far durable.
            if let Some((reserved, step)) = inode.reserved {
                let end = inode.live.len() as u64;
                if end > reserved {
                    inode.reserved = Some(((end / step + 1) * step, step));
                    inode.synced = inode.live.clone();
                }
            }
        }
        m.end();
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::Sync, &self.name)?;
        self.inner.sync()?;
        if let Some(inode) = m.inodes.get_mut(&self.inode) {
            inode.synced = inode.live.clone();
        }
        m.end();
        Ok(())
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn sync_handle(&self) -> Option<Arc<dyn FileSync>> {
        Some(Arc::new(FaultySync {
            inner: self.inner.sync_handle(),
            inode: self.inode,
            name: self.name.clone(),
            model: Arc::clone(&self.model),
        }))
    }
}

/// A [`FileSync`] counted and failed like [`WritableFile::sync`] (an [`OpKind::Sync`]).
struct FaultySync {
    inner: Option<Arc<dyn FileSync>>,
    inode: u64,
    name: String,
    model: Arc<Mutex<Model>>,
}

impl FileSync for FaultySync {
    fn sync(&self) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::Sync, &self.name)?;
        if let Some(inner) = &self.inner {
            inner.sync()?;
        }
        if let Some(inode) = m.inodes.get_mut(&self.inode) {
            inode.synced = inode.live.clone();
        }
        m.end();
        Ok(())
    }
}

impl Storage for FaultyStorage {
    fn create(&self, name: &str) -> Result<Box<dyn WritableFile>> {
        self.create_file(name, None)
    }

    fn create_preallocated(&self, name: &str, reserve: u64) -> Result<Box<dyn WritableFile>> {
        // As `FsStorage`: zeros up to the first step, synced, before any data.
        let step = reserve.max(4096);
        self.create_file(name, Some((step, step)))
    }

    fn open_append(&self, name: &str) -> Result<Box<dyn WritableFile>> {
        let m = self.model.lock();
        let inner = self.live.open_append(name)?;
        let inode = m.live_dir.get(name).copied().ok_or_else(|| {
            Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: not in the fault model"),
            ))
        })?;
        Ok(Box::new(FaultyWritable {
            inner,
            inode,
            name: name.to_owned(),
            model: Arc::clone(&self.model),
        }))
    }

    fn open_read(&self, name: &str) -> Result<Arc<dyn RandomAccessFile>> {
        self.live.open_read(name)
    }

    fn read_all(&self, name: &str) -> Result<Vec<u8>> {
        self.live.read_all(name)
    }

    fn exists(&self, name: &str) -> Result<bool> {
        self.live.exists(name)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::Rename, &format!("{from} -> {to}"))?;
        self.live.rename(from, to)?;
        if let Some(id) = m.live_dir.remove(from) {
            m.live_dir.insert(to.to_owned(), id);
        }
        m.dir_changed();
        m.end();
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::Remove, name)?;
        self.live.remove(name)?;
        m.live_dir.remove(name);
        m.dir_changed();
        m.end();
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::Truncate, name)?;
        self.live.truncate(name, len)?;
        let content = self.live.read_all(name)?;
        if let Some(inode) = m.live_dir.get(name).copied() {
            if let Some(i) = m.inodes.get_mut(&inode) {
                i.synced = content.clone();
                i.live = content;
                // A truncated file ends where it was cut: no reserved zeros past it.
                i.reserved = None;
            }
        }
        m.end();
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>> {
        self.live.list()
    }

    fn sync_dir(&self) -> Result<()> {
        let mut m = self.model.lock();
        m.begin(OpKind::SyncDir, "")?;
        self.live.sync_dir()?;
        m.durable_dir = m.live_dir.clone();
        m.dir_history.clear();
        m.end();
        Ok(())
    }

    fn lock(&self) -> Result<Box<dyn DirLock>> {
        self.live.lock()
    }

    fn location(&self) -> String {
        ":faulty-memory:".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::tests::check_storage_semantics;

    fn write(s: &dyn Storage, name: &str, data: &[u8], sync: bool) -> Box<dyn WritableFile> {
        let mut f = s.create(name).expect("create");
        f.append(data).expect("append");
        if sync {
            f.sync().expect("sync");
        }
        f
    }

    #[test]
    fn semantics_match_mem_storage() {
        check_storage_semantics(&FaultyStorage::new());
    }

    /// A preallocated file crashes as its reserved zeros with the synced data over them and,
    /// of the unsynced overwrites, each sector new or zero (holes before later data occur);
    /// an append past the reserve makes everything durable.
    #[test]
    fn preallocated_files_crash_as_zeros_with_torn_sectors() -> Result<()> {
        let fs = FaultyStorage::new();
        let mut f = fs.create_preallocated("w", 8192)?;
        fs.sync_dir()?;
        f.append(&[1; 100])?;
        f.sync()?;
        let unsynced: Vec<u8> = (0..3000u32).map(|i| (i % 251 + 2) as u8).collect();
        f.append(&unsynced)?;
        let image = fs.crash(CrashMode::DropUnsynced).read_all("w")?;
        assert_eq!(image.len(), 8192);
        assert!(image[..100].iter().all(|&b| b == 1));
        assert!(image[100..].iter().all(|&b| b == 0));
        let mut holes_before_data = 0;
        for seed in 0..64 {
            let image = fs.crash(CrashMode::RandomPrefix(seed)).read_all("w")?;
            assert_eq!(image.len(), 8192);
            assert!(image[..100].iter().all(|&b| b == 1), "synced data kept");
            assert!(image[3100..].iter().all(|&b| b == 0), "zeros past the data");
            let sectors: Vec<bool> = (512..3100)
                .step_by(512)
                .map(|at| {
                    let end = (at + 512).min(3100);
                    let got = &image[at..end];
                    let new = &unsynced[at - 100..end - 100];
                    assert!(
                        got == new || got.iter().all(|&b| b == 0),
                        "sector {at}: old or new"
                    );
                    got == new
                })
                .collect();
            if sectors.windows(2).any(|w| !w[0] && w[1]) {
                holes_before_data += 1;
            }
        }
        assert!(
            holes_before_data > 0,
            "some image has a hole before later data"
        );
        // Past the reserve: more zeros are reserved and synced, with every byte so far.
        f.append(&[9; 6000])?;
        let image = fs.crash(CrashMode::DropUnsynced).read_all("w")?;
        assert_eq!(image.len(), 16384);
        assert_eq!(&image[100..3100], &unsynced[..]);
        assert!(image[3100..9100].iter().all(|&b| b == 9));
        Ok(())
    }

    /// Directory changes since the last `sync_dir` survive as an in-order prefix under
    /// `RandomPrefix` (every prefix occurs), and not at all under `DropUnsynced`.
    #[test]
    fn directory_changes_survive_as_a_prefix() -> Result<()> {
        let fs = FaultyStorage::new();
        write(&fs, "a", b"1", true);
        write(&fs, "b", b"2", true);
        fs.remove("a")?;
        assert!(fs.crash(CrashMode::DropUnsynced).list()?.is_empty());
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut names = fs.crash(CrashMode::RandomPrefix(seed)).list()?;
            names.sort();
            seen.insert(names.join(","));
        }
        let expected: std::collections::BTreeSet<String> = ["", "a", "a,b", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(seen, expected);
        Ok(())
    }

    #[test]
    fn unsynced_data_is_dropped_synced_data_kept() {
        let fs = FaultyStorage::new();
        let mut f = write(&fs, "a", b"one", true);
        fs.sync_dir().expect("sync_dir");
        f.append(b"two").expect("append");
        assert_eq!(fs.read_all("a").expect("live"), b"onetwo");
        let image = fs.crash(CrashMode::DropUnsynced);
        assert_eq!(image.read_all("a").expect("image"), b"one");
        f.sync().expect("sync");
        let image = fs.crash(CrashMode::DropUnsynced);
        assert_eq!(image.read_all("a").expect("image"), b"onetwo");
    }

    #[test]
    fn random_prefix_keeps_synced_part_and_covers_every_cut() {
        let fs = FaultyStorage::new();
        let mut f = write(&fs, "a", b"sync", true);
        fs.sync_dir().expect("sync_dir");
        f.append(b"0123456789").expect("append");
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..400 {
            let got = fs
                .crash(CrashMode::RandomPrefix(seed))
                .read_all("a")
                .expect("image");
            assert!(got.starts_with(b"sync"), "{got:?}");
            assert!(b"sync0123456789".starts_with(&got), "{got:?}");
            seen.insert(got.len());
        }
        assert_eq!(seen.len(), 11, "every cut 4..=14 should occur: {seen:?}");
        // The same seed gives the same image.
        assert_eq!(
            fs.crash(CrashMode::RandomPrefix(7))
                .read_all("a")
                .expect("a"),
            fs.crash(CrashMode::RandomPrefix(7))
                .read_all("a")
                .expect("a")
        );
    }

    #[test]
    fn directory_changes_need_sync_dir() {
        let fs = FaultyStorage::new();
        write(&fs, "old", b"x", true);
        fs.sync_dir().expect("sync_dir");
        // A synced file whose creation was not followed by sync_dir vanishes.
        write(&fs, "new", b"y", true);
        fs.rename("old", "renamed").expect("rename");
        let image = fs.crash(CrashMode::DropUnsynced);
        assert_eq!(image.list().expect("list"), vec!["old"]);
        assert_eq!(image.read_all("old").expect("old"), b"x");

        fs.sync_dir().expect("sync_dir");
        let image = fs.crash(CrashMode::DropUnsynced);
        assert_eq!(image.list().expect("list"), vec!["new", "renamed"]);
        assert_eq!(image.read_all("renamed").expect("renamed"), b"x");

        // A removal comes back until the directory is synced.
        fs.remove("new").expect("remove");
        assert_eq!(
            fs.crash(CrashMode::DropUnsynced).list().expect("list"),
            vec!["new", "renamed"]
        );
        fs.sync_dir().expect("sync_dir");
        assert_eq!(
            fs.crash(CrashMode::DropUnsynced).list().expect("list"),
            vec!["renamed"]
        );
    }

    #[test]
    fn rename_over_a_file_keeps_each_inode_content() {
        // The manifest switch: write CURRENT.tmp, sync it, rename over CURRENT.
        let fs = FaultyStorage::new();
        write(&fs, "CURRENT", b"M1", true);
        fs.sync_dir().expect("sync_dir");
        write(&fs, "CURRENT.tmp", b"M2", true);
        fs.rename("CURRENT.tmp", "CURRENT").expect("rename");
        let before = fs.crash(CrashMode::DropUnsynced);
        assert_eq!(before.read_all("CURRENT").expect("current"), b"M1");
        assert!(!before.exists("CURRENT.tmp").expect("exists"));
        fs.sync_dir().expect("sync_dir");
        let after = fs.crash(CrashMode::DropUnsynced);
        assert_eq!(after.read_all("CURRENT").expect("current"), b"M2");
        assert_eq!(after.list().expect("list"), vec!["CURRENT"]);
    }

    #[test]
    fn create_over_existing_truncates_but_old_synced_content_survives_until_sync() {
        let fs = FaultyStorage::new();
        write(&fs, "a", b"old", true);
        fs.sync_dir().expect("sync_dir");
        let mut f = write(&fs, "a", b"new!", false);
        assert_eq!(fs.read_all("a").expect("live"), b"new!");
        assert_eq!(
            fs.crash(CrashMode::DropUnsynced).read_all("a").expect("a"),
            b"old"
        );
        f.sync().expect("sync");
        assert_eq!(
            fs.crash(CrashMode::DropUnsynced).read_all("a").expect("a"),
            b"new!"
        );
    }

    #[test]
    fn truncate_is_durable() {
        let fs = FaultyStorage::new();
        write(&fs, "w", b"0123456789", true);
        fs.sync_dir().expect("sync_dir");
        fs.truncate("w", 3).expect("truncate");
        assert_eq!(
            fs.crash(CrashMode::DropUnsynced).read_all("w").expect("w"),
            b"012"
        );
    }

    #[test]
    fn countdown_transient_fails_only_that_op() {
        let fs = FaultyStorage::new();
        fs.fail_at(2, false);
        let mut f = fs.create("a").expect("op 1");
        let err = f.append(b"x").expect_err("op 2 fails");
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert_eq!(
            fs.read_all("a").expect("read"),
            b"",
            "failed append wrote nothing"
        );
        f.append(b"y").expect("op 3");
        f.sync().expect("op 4");
        assert_eq!(fs.ops(), 4);
        let failure = fs.first_failure().expect("recorded");
        assert_eq!(
            (failure.index, failure.kind, failure.name.as_str()),
            (2, OpKind::Append, "a")
        );
        let kinds: Vec<_> = fs.op_log().iter().map(|r| (r.kind, r.failed)).collect();
        assert_eq!(
            kinds,
            vec![
                (OpKind::Create, false),
                (OpKind::Append, true),
                (OpKind::Append, false),
                (OpKind::Sync, false)
            ]
        );
    }

    #[test]
    fn countdown_persistent_fails_every_later_op_but_not_reads() {
        let fs = FaultyStorage::new();
        let mut f = write(&fs, "a", b"data", true);
        fs.fail_at(3, true);
        assert!(fs.sync_dir().is_err());
        assert!(f.append(b"more").is_err());
        assert!(f.sync().is_err());
        assert!(fs.create("b").is_err());
        assert!(fs.rename("a", "c").is_err());
        assert!(fs.remove("a").is_err());
        assert!(fs.truncate("a", 0).is_err());
        assert_eq!(fs.read_all("a").expect("reads still work"), b"data");
        assert_eq!(fs.list().expect("list"), vec!["a"]);
        fs.clear_fault();
        fs.sync_dir().expect("disarmed");
    }

    #[test]
    fn crash_after_captures_the_image_at_that_op() {
        let fs = FaultyStorage::new();
        fs.crash_after(3, CrashMode::DropUnsynced);
        let mut f = fs.create("a").expect("op 1");
        f.append(b"x").expect("op 2");
        assert!(fs.crash_image().is_none());
        f.sync().expect("op 3");
        fs.sync_dir().expect("op 4");
        let image = fs.crash_image().expect("captured after op 3");
        // The directory was synced only at op 4, so the file does not exist in the op-3 image.
        assert!(image.list().expect("list").is_empty());
        fs.crash_after(4, CrashMode::DropUnsynced);
        assert_eq!(
            fs.crash_image()
                .expect("op 4 already ran: captured now")
                .read_all("a")
                .expect("a"),
            b"x"
        );
    }

    #[test]
    fn image_is_independent_and_unlocked() {
        let fs = FaultyStorage::new();
        let _lock = fs.lock().expect("lock");
        write(&fs, "a", b"1", true);
        fs.sync_dir().expect("sync_dir");
        let image = fs.crash(CrashMode::DropUnsynced);
        let _lock2 = image.lock().expect("image has its own lock");
        image.remove("a").expect("remove");
        assert!(fs.exists("a").expect("exists"));
    }
}
