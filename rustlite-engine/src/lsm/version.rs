//! A `Version`: the immutable set of live SSTables per level.
//!
//! Flushes and compactions build a new `Version` and swap it in atomically; readers hold an
//! `Arc<Version>` for as long as they read, so they never block writers and files they read are
//! never pulled from under them (an unlinked file stays readable through its open handle).
//!
//! ```text
//! L0: [7.sst] [5.sst] [4.sst]      newest first, key ranges may overlap
//! L1: [a..f] [g..m] [n..z]         sorted, non-overlapping, ~l1_target_size bytes
//! L2: [a..c] [d..h] ...            10x larger per level
//! ```
//! Invariants: for one user key, versions in L0 file `n` are newer than in L0 files `< n`, L0 is
//! newer than L1, and Ln newer than Ln+1; within L1+ all versions of a user key sit in one file.

use crate::error::Result;
use crate::lsm::ikey::{self, Kind, SeqNo};
use crate::lsm::iter::{Direction, InternalIterator};
use crate::lsm::sstable::{Table, TableIter};
use std::sync::Arc;

/// Metadata of one live SSTable, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// File number; the file is named `{number:06}.sst`.
    pub number: u64,
    /// File size in bytes.
    pub size: u64,
    /// Smallest internal key in the file.
    pub smallest: Vec<u8>,
    /// Largest internal key in the file.
    pub largest: Vec<u8>,
    /// Number of entries (versions) in the file.
    pub entries: u64,
}

impl FileMeta {
    /// Smallest user key in the file.
    pub fn smallest_user(&self) -> &[u8] {
        ikey::user_key(&self.smallest)
    }
    /// Largest user key in the file.
    pub fn largest_user(&self) -> &[u8] {
        ikey::user_key(&self.largest)
    }
    /// Whether the file's user-key range intersects `[lo, hi]`.
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        self.smallest_user() <= hi && self.largest_user() >= lo
    }
}

/// A live SSTable: its manifest metadata and its open reader.
#[derive(Clone)]
pub struct TableHandle {
    /// What the manifest says about the file.
    pub meta: FileMeta,
    /// The open table.
    pub table: Arc<Table>,
}

/// The live files of every level. See the module docs.
#[derive(Clone, Default)]
pub struct Version {
    /// `levels[0]` newest first; `levels[1..]` sorted by smallest key.
    pub levels: Vec<Vec<TableHandle>>,
}

impl Version {
    /// An empty version with `num_levels` levels.
    pub fn empty(num_levels: usize) -> Self {
        Version {
            levels: vec![Vec::new(); num_levels],
        }
    }

    /// Total bytes in `level`.
    pub fn level_size(&self, level: usize) -> u64 {
        self.levels
            .get(level)
            .map_or(0, |files| files.iter().map(|f| f.meta.size).sum())
    }

    /// Number of files in `level`.
    pub fn level_files(&self, level: usize) -> usize {
        self.levels.get(level).map_or(0, Vec::len)
    }

    /// The newest version of `key` with seqno `<= snapshot` in the tables: `visit` runs on it,
    /// the value borrowed from its data block (no copy). `hash` is the key's
    /// [`hash_key`](crate::lsm::sstable::bloom::hash_key), computed once by the caller for the
    /// memtables' filters and every table's. Returns whether a version was found (then `visit`
    /// ran once).
    pub fn get_visit(
        &self,
        key: &[u8],
        hash: u64,
        snapshot: SeqNo,
        visit: &mut dyn FnMut(SeqNo, Kind, &[u8]),
    ) -> Result<bool> {
        for (level, files) in self.levels.iter().enumerate() {
            if level == 0 {
                for f in files {
                    if f.meta.overlaps(key, key) && f.table.get_visit(key, hash, snapshot, visit)? {
                        return Ok(true);
                    }
                }
            } else if let Some(f) = find_file(files, key) {
                if f.table.get_visit(key, hash, snapshot, visit)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Cursors over every table, newest source first: one per L0 file, one [`LevelIter`] per
    /// deeper non-empty level.
    /// A level cursor shares this `Arc<Version>` rather than copying the level's file list.
    pub fn iterators(
        self: &Arc<Self>,
        dir: Direction,
        start: Option<&[u8]>,
    ) -> Result<Vec<Box<dyn InternalIterator>>> {
        let mut out: Vec<Box<dyn InternalIterator>> = Vec::with_capacity(self.iterator_count());
        for (level, files) in self.levels.iter().enumerate() {
            if level == 0 {
                for f in files {
                    out.push(Box::new(f.table.iter(dir, start)?));
                }
            } else if !files.is_empty() {
                out.push(Box::new(LevelIter::new(
                    Arc::clone(self),
                    level,
                    dir,
                    start,
                )?));
            }
        }
        Ok(out)
    }

    /// How many cursors [`iterators`](Self::iterators) returns.
    pub fn iterator_count(&self) -> usize {
        self.levels
            .iter()
            .enumerate()
            .map(|(level, files)| match level {
                0 => files.len(),
                _ => usize::from(!files.is_empty()),
            })
            .sum()
    }

    /// Files of `level` whose user-key range intersects `[lo, hi]`.
    pub fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<TableHandle> {
        self.levels.get(level).map_or_else(Vec::new, |files| {
            files
                .iter()
                .filter(|f| f.meta.overlaps(lo, hi))
                .cloned()
                .collect()
        })
    }

    /// Every live file number.
    pub fn file_numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.levels.iter().flatten().map(|f| f.meta.number)
    }
}

/// The file of a sorted level that may hold `key` (the first whose largest key is `>= key`).
fn find_file<'a>(files: &'a [TableHandle], key: &[u8]) -> Option<&'a TableHandle> {
    let idx = files.partition_point(|f| f.meta.largest_user() < key);
    files.get(idx).filter(|f| f.meta.smallest_user() <= key)
}

/// A cursor over a sorted, non-overlapping level: one table at a time, opened lazily. It holds
/// the `Arc<Version>` the level belongs to (no copy of the file list per scan).
pub struct LevelIter {
    version: Arc<Version>,
    level: usize,
    dir: Direction,
    /// Index of the file `current` reads; moves up (forward) or down (reverse).
    next_file: Option<usize>,
    current: Option<TableIter>,
}

impl LevelIter {
    /// Positions on the first entry `>= start` (forward) or the last `<= start` (reverse).
    pub fn new(
        version: Arc<Version>,
        level: usize,
        dir: Direction,
        start: Option<&[u8]>,
    ) -> Result<Self> {
        let files = version.levels.get(level).map_or(&[][..], Vec::as_slice);
        let first = match (dir, start) {
            (Direction::Forward, None) => Some(0),
            (Direction::Reverse, None) => files.len().checked_sub(1),
            (Direction::Forward, Some(s)) => {
                Some(files.partition_point(|f| ikey::compare(&f.meta.largest, s).is_lt()))
            }
            (Direction::Reverse, Some(s)) => files
                .partition_point(|f| ikey::compare(&f.meta.smallest, s).is_le())
                .checked_sub(1),
        };
        let mut it = LevelIter {
            version,
            level,
            dir,
            next_file: first,
            current: None,
        };
        it.open_next(start)?;
        Ok(it)
    }

    /// Opens files in direction order until one yields an entry or none are left.
    fn open_next(&mut self, start: Option<&[u8]>) -> Result<()> {
        let mut start = start;
        loop {
            let Some(idx) = self.next_file else {
                self.current = None;
                return Ok(());
            };
            let file = self
                .version
                .levels
                .get(self.level)
                .and_then(|files| files.get(idx));
            let Some(file) = file else {
                self.current = None;
                self.next_file = None;
                return Ok(());
            };
            let it = file.table.iter(self.dir, start)?;
            self.next_file = match self.dir {
                Direction::Forward => Some(idx + 1),
                Direction::Reverse => idx.checked_sub(1),
            };
            start = None;
            if it.valid() {
                self.current = Some(it);
                return Ok(());
            }
        }
    }
}

impl InternalIterator for LevelIter {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }
    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.key())
    }
    fn value(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.value())
    }
    fn advance(&mut self) -> Result<()> {
        if let Some(c) = self.current.as_mut() {
            c.advance()?;
            if !c.valid() {
                self.open_next(None)?;
            }
        }
        Ok(())
    }
}
