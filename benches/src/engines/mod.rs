//! The [`Engine`] trait every database under test implements, and [`open`], which maps an engine
//! name to its adapter.
//!
//! Each adapter gets the same [`Config`]: one cache size and one durability mode, mapped to that
//! engine's own knobs:
//!
//! | engine | durable commit | buffered commit | cache knob |
//! |---|---|---|---|
//! | rustlite | `Durability::Immediate` (fsync, group commit) | `Durability::Buffered` | `block_cache_size` |
//! | redb | `Durability::Immediate` | `Durability::None` | `set_cache_size` |
//! | fjall | `PersistMode::SyncAll` per commit | `PersistMode::Buffer` per commit (journal written to the OS) | `cache_size` |
//! | sled | `flush()` after each commit (**weaker than fsync**, see docs) | no flush | `cache_capacity` |
//! | lmdb (heed) | default (fsync at commit) | `MDB_NOSYNC` | none (OS page cache via mmap) |
//! | sqlite | WAL + `synchronous=FULL` | WAL + `synchronous=OFF` | `cache_size` pragma, the full size on each pooled connection (the page cache is per connection) |
//! | rocksdb | `WriteOptions::set_sync(true)` | `set_sync(false)` | LRU block cache |
//!
//! A workload an engine cannot run (e.g. LMDB has no compaction) returns [`Unsupported`] and its
//! cell reads `n/a`.

mod fjall;
mod lmdb;
mod redb;
#[cfg(feature = "rocksdb")]
mod rocksdb;
mod rustlite;
mod sled;
mod sqlite;

use std::path::Path;

/// Errors from any adapter, as text: the harness only reports them.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Returned by an adapter for an operation its engine does not offer.
#[derive(Debug)]
pub struct Unsupported(pub &'static str);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unsupported: {}", self.0)
    }
}
impl std::error::Error for Unsupported {}

/// How an engine is opened: the same for every engine in a run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Bytes of block/page cache.
    pub cache_bytes: usize,
    /// `true`: a commit returns after fsync. `false`: the engine's no-fsync mode.
    pub durable: bool,
}

/// One write in a batch: `Some(value)` puts, `None` deletes.
pub type BatchOp<'a> = (&'a [u8], Option<&'a [u8]>);

/// A database under test. Every method is one operation as an application would issue it
/// (point reads each take their own read snapshot/transaction).
pub trait Engine: Send + Sync {
    /// Applies `ops` as one atomic commit, durable per [`Config::durable`].
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()>;
    /// Point read; returns the value's length (the value is read, then dropped).
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;
    /// Seeks to the first key `>= start` and reads up to `n` entries; returns how many it read.
    fn range(&self, start: &[u8], n: usize) -> Result<usize>;
    /// Reads every entry in key order; returns the count.
    fn scan_all(&self) -> Result<usize>;
    /// Untimed, before timed reads: reads every entry once through every handle a timed read
    /// may use, so those reads find the engine's cache warm; returns the entries one pass saw.
    /// One full scan for an engine with one cache; SQLite, whose page cache is per connection,
    /// scans through each of its connections.
    fn warm_up(&self) -> Result<usize> {
        self.scan_all()
    }
    /// One transaction: reads `reads`, writes `writes`, commits (durable per config).
    /// `Ok(false)` means a conflict: the caller retries.
    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool>;
    /// Compacts everything it can now (major compaction).
    fn compact(&mut self) -> Result<()>;
    /// Makes everything written so far durable and flushes memtables where the engine has them,
    /// so disk sizes compare like with like.
    fn settle(&self) -> Result<()>;
    /// WAL fsyncs and the commits they acknowledged so far, where the engine counts them.
    fn commit_stats(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Engines built into this binary, in table order.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["rustlite", "redb", "fjall", "sled", "lmdb", "sqlite"];
    if cfg!(feature = "rocksdb") {
        v.push("rocksdb");
    }
    v
}

/// Opens engine `name` in directory `dir` (created if needed).
pub fn open(name: &str, dir: &Path, cfg: Config) -> Result<Box<dyn Engine>> {
    std::fs::create_dir_all(dir)?;
    Ok(match name {
        "rustlite" => Box::new(rustlite::RustLite::open(dir, cfg)?),
        "redb" => Box::new(redb::Redb::open(dir, cfg)?),
        "fjall" => Box::new(fjall::Fjall::open(dir, cfg)?),
        "sled" => Box::new(sled::Sled::open(dir, cfg)?),
        "lmdb" => Box::new(lmdb::Lmdb::open(dir, cfg)?),
        "sqlite" => Box::new(sqlite::Sqlite::open(dir, cfg)?),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Box::new(rocksdb::Rocks::open(dir, cfg)?),
        other => return Err(format!("unknown engine {other:?} (built: {:?})", available()).into()),
    })
}

/// Bytes allocated on disk under `dir` (st_blocks × 512, so sparse and preallocated files count
/// what they really use).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += disk_bytes(&entry.path());
        } else {
            total += meta.blocks() * 512;
        }
    }
    total
}
