//! Tuning knobs and durability modes for opening an engine.

use std::time::Duration;

/// The largest [`Options::block_size`] (64 MiB): a table builder allocates a block at once.
pub const MAX_BLOCK_SIZE: usize = 64 << 20;

/// The largest [`Options::bloom_bits_per_key`] (64, a false-positive rate far below any use):
/// a filter allocates its bits at once.
pub const MAX_BLOOM_BITS_PER_KEY: usize = 64;

/// The smallest [`Options::max_conflict_history`] (64 KiB).
pub const MIN_CONFLICT_HISTORY: usize = 64 << 10;

/// The smallest [`Options::max_open_files`]: a budget below it would reopen tables on most
/// reads that miss the block cache (a scan holds a file per level and L0 table it merges).
pub const MIN_OPEN_FILES: usize = 16;

/// [`Options::max_open_files`] when the soft `RLIMIT_NOFILE` is unlimited or unknown (not a
/// Unix system, or `getrlimit` failed): half the common default soft limit of 1,024.
pub const FALLBACK_MAX_OPEN_FILES: usize = 512;

/// The largest default [`Options::max_open_files`]: past it, a larger budget only saves
/// reopens of tables read so rarely that a reopen costs nothing worth saving.
pub const MAX_DEFAULT_OPEN_FILES: usize = 65_536;

/// The default [`Options::max_open_files`]: half the process's soft limit on open descriptors
/// (`RLIMIT_NOFILE`), leaving the other half to the application, its sockets and the engine's
/// WAL and manifest; at least [`MIN_OPEN_FILES`] and at most [`MAX_DEFAULT_OPEN_FILES`];
/// [`FALLBACK_MAX_OPEN_FILES`] when the limit is unlimited or cannot be read. With the common
/// soft limit of 1,024 it is 512: 16 GiB of the default 32 MiB tables stay open.
///
/// ```
/// use rustlite_engine::options::{default_max_open_files, MAX_DEFAULT_OPEN_FILES, MIN_OPEN_FILES};
/// let n = default_max_open_files();
/// assert!((MIN_OPEN_FILES..=MAX_DEFAULT_OPEN_FILES).contains(&n));
/// ```
pub fn default_max_open_files() -> usize {
    let half = soft_nofile_limit().map_or(FALLBACK_MAX_OPEN_FILES, |limit| {
        usize::try_from(limit / 2).unwrap_or(MAX_DEFAULT_OPEN_FILES)
    });
    half.clamp(MIN_OPEN_FILES, MAX_DEFAULT_OPEN_FILES)
}

/// The soft `RLIMIT_NOFILE`, `None` when unlimited or unknown.
#[cfg(unix)]
fn soft_nofile_limit() -> Option<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer, which points at a live,
    // writable `rlimit` for the duration of the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn soft_nofile_limit() -> Option<u64> {
    None
}

/// When a commit is durable.
///
/// | mode | `commit()` returns after | survives a process crash | survives a power loss |
/// |---|---|---|---|
/// | [`Durability::Immediate`] | the WAL record is fsynced | yes | yes |
/// | [`Durability::Buffered`] | the WAL record is handed to the OS | yes | only what [`sync`](crate::Engine::sync) covered |
///
/// With `Immediate`, concurrent committers share one fsync (group commit), so many threads commit
/// far faster together than one thread alone.
///
/// ```
/// use rustlite_engine::{Durability, Engine, Options};
/// assert_eq!(Options::default().durability, Durability::Immediate);
/// let db = Engine::open_in_memory(Options::default().durability(Durability::Buffered))?;
/// db.put(b"k", b"v")?;
/// db.sync()?; // what Buffered needs before a power loss
/// assert_eq!(db.get(b"k")?, Some(b"v".to_vec()));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Fsync the WAL before a commit returns (the default).
    #[default]
    Immediate,
    /// Write the WAL to the OS page cache only; call `sync()` to make it durable.
    Buffered,
}

/// Options for opening an engine. `Options::default()` suits most applications.
///
/// ```
/// use rustlite_engine::{Durability, Engine, Options};
/// let opts = Options {
///     background_compaction: false, // compaction only on `compact()`
///     ..Options::default()
/// }
/// .durability(Durability::Buffered)
/// .memtable_size(4 << 20)
/// .block_cache_size(8 << 20);
/// let db = Engine::open_in_memory(opts)?;
/// assert_eq!(db.options().memtable_size, 4 << 20);
/// assert!(!db.options().background_compaction);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// Durability of commits.
    pub durability: Durability,
    /// Memtable size that triggers a flush to an SSTable (default 16 MiB: a skiplist of this size
    /// still mostly fits the CPU caches, which keeps inserts cheap; see
    /// `docs/BENCHMARKS-HISTORY.md`).
    pub memtable_size: usize,
    /// Target size of one data block in an SSTable (default 4 KiB, at most [`MAX_BLOCK_SIZE`]).
    pub block_size: usize,
    /// Entries between restart points inside a block (default 16).
    pub block_restart_interval: usize,
    /// Bloom filter bits per key (default 10, about 1% false positives; at most
    /// [`MAX_BLOOM_BITS_PER_KEY`]).
    pub bloom_bits_per_key: usize,
    /// Capacity of the block cache in bytes (default 64 MiB).
    pub block_cache_size: usize,
    /// When a table read misses both the block cache and the OS page cache, the OS is also asked
    /// to read the surrounding window of this many bytes (aligned) into its page cache, as an
    /// `mmap` fault's read-around would (default 128 KiB). A database opened cold then warms in
    /// a thirty-second of the device round trips. 0 reads only the block, which suits data far
    /// larger than memory read at random. Linux only: ignored elsewhere, in memory, and on a file
    /// system that cannot tell a cached read from one that is not (`RWF_NOWAIT`); the kernel
    /// reads at most the device's readahead size (`read_ahead_kb`) of a larger window.
    pub read_around: u64,
    /// Number of L0 files that triggers a compaction into L1 (default 4).
    pub l0_compaction_trigger: usize,
    /// Number of L0 files at which writers stall until compaction catches up (default 12).
    pub l0_stop_writes: usize,
    /// Number of immutable memtables waiting for flush at which writers stall (default 2).
    pub max_immutable_memtables: usize,
    /// Target size of L1 in bytes; each deeper level is `level_size_ratio` times larger (default 64 MiB).
    pub l1_target_size: u64,
    /// Size ratio between adjacent levels (default 10).
    pub level_size_ratio: u64,
    /// Target size of one SSTable written by compaction (default 32 MiB).
    pub target_file_size: u64,
    /// Number of levels (default 7).
    pub num_levels: usize,
    /// Once the manifest's edit log passes this many bytes, the next edit starts a new manifest
    /// holding one snapshot of the state (default 4 MiB; as RocksDB's
    /// `max_manifest_file_size`).
    pub max_manifest_size: u64,
    /// Most bytes of commit history kept for validating transactions (default 64 MiB, at least
    /// [`MIN_CONFLICT_HISTORY`]). While a transaction is open, the keys of every later commit are
    /// remembered so its commit can be checked for conflicts; past this budget the oldest are
    /// forgotten, and a transaction that needed them gets a retryable
    /// [`Error::Conflict`](crate::Error::Conflict) ("transaction too old") when it commits
    /// writes. A transaction that only reads never fails this way. At ~200 bytes per small
    /// commit the default covers ~300k commits (30 s of a 10k-commits/s writer) since the
    /// snapshot of the oldest transaction that writes.
    pub max_conflict_history: usize,
    /// Run flushes and compactions on a background thread (default true). When false, they run
    /// inline in the writer that triggered them (deterministic; used by tests).
    pub background_compaction: bool,
    /// The most table files the engine keeps open at once (default: half the process's soft
    /// `RLIMIT_NOFILE`, see [`default_max_open_files`]; at least [`MIN_OPEN_FILES`]). A table
    /// whose descriptor is closed to stay within it is reopened by its next read that misses
    /// the block cache, so a database may hold many more tables than descriptors; a budget
    /// that covers every table never reopens one. Write-ahead log, manifest and backups take
    /// a few descriptors beyond it.
    pub max_open_files: usize,
    /// SQL statements that take longer than this are logged at `warn` with their text and
    /// duration (target `rustlite_engine::sql`); `None` turns the check off (default 1 s).
    pub slow_query_threshold: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Immediate,
            memtable_size: 16 << 20,
            block_size: 4096,
            block_restart_interval: 16,
            bloom_bits_per_key: 10,
            block_cache_size: 64 << 20,
            read_around: 128 << 10,
            l0_compaction_trigger: 4,
            l0_stop_writes: 12,
            max_immutable_memtables: 2,
            l1_target_size: 64 << 20,
            level_size_ratio: 10,
            target_file_size: 32 << 20,
            num_levels: 7,
            max_manifest_size: 4 << 20,
            max_conflict_history: 64 << 20,
            background_compaction: true,
            max_open_files: default_max_open_files(),
            slow_query_threshold: Some(Duration::from_secs(1)),
        }
    }
}

impl Options {
    /// Refuses settings the engine cannot run with: a zero size, count or ratio where it needs
    /// at least one, or an L0 stop threshold at or below the compaction trigger (writers would
    /// wait for a compaction that is never scheduled, forever). [`Engine::open`] checks this.
    ///
    /// [`Engine::open`]: crate::Engine::open
    ///
    /// ```
    /// use rustlite_engine::Options;
    /// assert!(Options::default().validate().is_ok());
    /// let stalls = Options { l0_compaction_trigger: 4, l0_stop_writes: 4, ..Options::default() };
    /// assert!(stalls.validate().is_err());
    /// let huge = Options { block_size: usize::MAX, ..Options::default() };
    /// assert!(huge.validate().is_err()); // it panicked at the first flush
    /// let bloom = Options { bloom_bits_per_key: usize::MAX, ..Options::default() };
    /// assert!(bloom.validate().is_err()); // it aborted the process at the first flush
    /// ```
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: &str| Err(crate::Error::InvalidArgument(format!("options: {what}")));
        let at_least_one = [
            ("memtable_size", self.memtable_size),
            ("block_size", self.block_size),
            ("block_restart_interval", self.block_restart_interval),
            ("l0_compaction_trigger", self.l0_compaction_trigger),
            ("max_immutable_memtables", self.max_immutable_memtables),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                return bad(&format!("{name} must be at least 1"));
            }
        }
        // Each is allocated as a whole (a table builder's block buffer, a filter's bits per
        // key): a huge value panicked or aborted the process at the first flush.
        if self.block_size > MAX_BLOCK_SIZE {
            return bad(&format!("block_size must be at most {MAX_BLOCK_SIZE}"));
        }
        if self.bloom_bits_per_key > MAX_BLOOM_BITS_PER_KEY {
            return bad(&format!(
                "bloom_bits_per_key must be at most {MAX_BLOOM_BITS_PER_KEY}"
            ));
        }
        if self.max_conflict_history < MIN_CONFLICT_HISTORY {
            return bad(&format!(
                "max_conflict_history must be at least {MIN_CONFLICT_HISTORY}"
            ));
        }
        if self.max_open_files < MIN_OPEN_FILES {
            return bad(&format!("max_open_files must be at least {MIN_OPEN_FILES}"));
        }
        if self.l1_target_size == 0 || self.target_file_size == 0 {
            return bad("l1_target_size and target_file_size must be at least 1");
        }
        if self.level_size_ratio < 2 {
            return bad("level_size_ratio must be at least 2");
        }
        if self.num_levels > crate::lsm::manifest::MAX_LEVELS {
            return bad(&format!(
                "num_levels must be at most {}",
                crate::lsm::manifest::MAX_LEVELS
            ));
        }
        if self.l0_stop_writes <= self.l0_compaction_trigger {
            return bad(&format!(
                "l0_stop_writes ({}) must be above l0_compaction_trigger ({}): writers would \
                 wait for a compaction that never starts",
                self.l0_stop_writes, self.l0_compaction_trigger
            ));
        }
        Ok(())
    }

    /// Sets the durability mode.
    ///
    /// ```
    /// use rustlite_engine::{Durability, Options};
    /// let opts = Options::default().durability(Durability::Buffered);
    /// assert_eq!(opts.durability, Durability::Buffered);
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
    /// Sets the memtable flush threshold in bytes.
    ///
    /// ```
    /// let opts = rustlite_engine::Options::default().memtable_size(1 << 20);
    /// assert_eq!(opts.memtable_size, 1 << 20);
    /// ```
    pub fn memtable_size(mut self, bytes: usize) -> Self {
        self.memtable_size = bytes;
        self
    }
    /// Sets the slow-query threshold (`None`: never log statements as slow).
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = rustlite_engine::Options::default().slow_query_threshold(Some(Duration::from_millis(50)));
    /// assert_eq!(opts.slow_query_threshold, Some(Duration::from_millis(50)));
    /// ```
    pub fn slow_query_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow_query_threshold = threshold;
        self
    }
    /// Sets the block cache capacity in bytes.
    ///
    /// ```
    /// let opts = rustlite_engine::Options::default().block_cache_size(0);
    /// assert_eq!(opts.block_cache_size, 0);
    /// ```
    pub fn block_cache_size(mut self, bytes: usize) -> Self {
        self.block_cache_size = bytes;
        self
    }

    /// Sets the most table files kept open at once (at least [`MIN_OPEN_FILES`]).
    ///
    /// ```
    /// let opts = rustlite_engine::Options::default().max_open_files(64);
    /// assert_eq!(opts.max_open_files, 64);
    /// assert!(rustlite_engine::Options::default().max_open_files(0).validate().is_err());
    /// ```
    pub fn max_open_files(mut self, files: usize) -> Self {
        self.max_open_files = files;
        self
    }

    /// Sets the read-around window of reads the OS page cache misses (0 turns it off).
    ///
    /// ```
    /// let opts = rustlite_engine::Options::default().read_around(0);
    /// assert_eq!(opts.read_around, 0);
    /// ```
    pub fn read_around(mut self, bytes: u64) -> Self {
        self.read_around = bytes;
        self
    }
}
