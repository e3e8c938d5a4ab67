//! Leveled compaction: which files to merge (a pure policy over a [`Version`]) and how merged
//! entries are filtered and written out as new tables.
//!
//! Policy ([`pick`]): every level gets a score — L0: `files / l0_compaction_trigger`; Ln:
//! `bytes / target(n)` with `target(1) = l1_target_size` and `target(n+1) = target(n) *
//! level_size_ratio`. The level with the highest score `>= 1` is compacted: L0 compacts all its
//! files (they overlap) with the overlapping L1 files; Ln compacts one file (round-robin through
//! the key space) with the overlapping files of Ln+1. A single input with nothing to merge below
//! is moved by a manifest edit alone (a trivial move).
//!
//! Filter ([`VersionFilter`]): for each user key, versions newer than the oldest live snapshot are
//! all kept; of the older ones only the newest survives (it is what the oldest snapshot reads), and
//! it is dropped too when it is a tombstone and no deeper level can hold the key.

use crate::error::Result;
use crate::lsm::ikey::{self, Kind, SeqNo};
use crate::lsm::iter::InternalIterator;
use crate::lsm::manifest::sst_file_name;
use crate::lsm::sstable::{BlockCache, Table, TableBuilder, TableOptions};
use crate::lsm::version::{FileMeta, TableHandle, Version};
use crate::options::Options;
use crate::storage::Storage;
use std::sync::Arc;

/// One unit of compaction work.
#[derive(Clone)]
pub struct CompactionTask {
    /// Level the inputs come from.
    pub level: usize,
    /// Level the outputs go to (`level + 1`).
    pub output_level: usize,
    /// Files taken from `level`.
    pub inputs: Vec<TableHandle>,
    /// Overlapping files taken from `output_level`.
    pub lower_inputs: Vec<TableHandle>,
}

impl CompactionTask {
    /// Compacts `inputs` (files of `level`) with the overlapping files of `level + 1` into it.
    pub fn into_next_level(
        version: &Version,
        level: usize,
        inputs: Vec<TableHandle>,
    ) -> Option<CompactionTask> {
        let lo = inputs
            .iter()
            .map(|f| f.meta.smallest_user())
            .min()?
            .to_vec();
        let hi = inputs.iter().map(|f| f.meta.largest_user()).max()?.to_vec();
        Some(CompactionTask {
            level,
            output_level: level + 1,
            lower_inputs: version.overlapping(level + 1, &lo, &hi),
            inputs,
        })
    }

    /// Whether the task is a single file with nothing below it: move it without rewriting.
    pub fn is_trivial_move(&self) -> bool {
        self.level > 0 && self.inputs.len() == 1 && self.lower_inputs.is_empty()
    }

    /// Total input bytes.
    pub fn input_bytes(&self) -> u64 {
        self.inputs
            .iter()
            .chain(&self.lower_inputs)
            .map(|f| f.meta.size)
            .sum()
    }
}

/// Target size in bytes of `level` (`level >= 1`).
pub fn level_target(opts: &Options, level: usize) -> u64 {
    let mut target = opts.l1_target_size.max(1);
    for _ in 1..level {
        target = target.saturating_mul(opts.level_size_ratio.max(2));
    }
    target
}

/// The compaction score of every level but the last (see the module docs).
pub fn scores(version: &Version, opts: &Options) -> Vec<f64> {
    let last = version.levels.len().saturating_sub(1);
    (0..last)
        .map(|level| {
            if level == 0 {
                version.level_files(0) as f64 / opts.l0_compaction_trigger.max(1) as f64
            } else {
                version.level_size(level) as f64 / level_target(opts, level) as f64
            }
        })
        .collect()
}

/// Chooses the next compaction, or `None` when every level is within its target.
/// `cursors[level]` is the largest user key compacted last time at that level (round-robin).
pub fn pick(version: &Version, opts: &Options, cursors: &[Vec<u8>]) -> Option<CompactionTask> {
    let scores = scores(version, opts);
    let (level, score) = scores
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if score < 1.0 {
        return None;
    }
    let files = version.levels.get(level)?;
    let inputs: Vec<TableHandle> = if level == 0 {
        files.clone()
    } else {
        let cursor = cursors.get(level).map_or(&[][..], Vec::as_slice);
        let chosen = files
            .iter()
            .find(|f| f.meta.smallest_user() > cursor)
            .or_else(|| files.first())?;
        vec![chosen.clone()]
    };
    CompactionTask::into_next_level(version, level, inputs)
}

/// For a full compaction (`compact()`): the shallowest non-empty level, whole, into the next
/// one; `None` once all data sits in one level below L0.
pub fn pick_full(version: &Version) -> Option<CompactionTask> {
    let deepest = version.levels.iter().rposition(|files| !files.is_empty())?;
    let level = version.levels.iter().position(|files| !files.is_empty())?;
    if level == deepest && level > 0 {
        return None;
    }
    let inputs = version.levels.get(level)?.clone();
    CompactionTask::into_next_level(version, level, inputs)
}

/// Decides, entry by entry in merged order, which versions survive a flush or compaction.
pub struct VersionFilter<'a> {
    oldest_snapshot: SeqNo,
    /// Levels below the output; `None` means tombstones are never dropped (flushes).
    deeper: Option<&'a [Vec<TableHandle>]>,
    last_user_key: Vec<u8>,
    has_last: bool,
    /// The newest version `<= oldest_snapshot` of the current key was already decided.
    decided: bool,
}

impl<'a> VersionFilter<'a> {
    /// A filter for readers no older than `oldest_snapshot`; `deeper` are the levels below the
    /// output level (empty slice at the bottom), or `None` to keep every tombstone.
    pub fn new(oldest_snapshot: SeqNo, deeper: Option<&'a [Vec<TableHandle>]>) -> Self {
        VersionFilter {
            oldest_snapshot,
            deeper,
            last_user_key: Vec::new(),
            has_last: false,
            decided: false,
        }
    }

    /// Whether the entry with internal key `ikey` is written out.
    pub fn keep(&mut self, ikey: &[u8]) -> bool {
        let Some(p) = ikey::parse(ikey) else {
            return true;
        };
        if !self.has_last || p.user_key != self.last_user_key.as_slice() {
            self.last_user_key.clear();
            self.last_user_key.extend_from_slice(p.user_key);
            self.has_last = true;
            self.decided = false;
        }
        if p.seq > self.oldest_snapshot {
            return true;
        }
        if self.decided {
            return false;
        }
        self.decided = true;
        match (p.kind, self.deeper) {
            (Kind::Delete, Some(deeper)) => deeper_may_hold(deeper, p.user_key),
            _ => true,
        }
    }
}

fn deeper_may_hold(levels: &[Vec<TableHandle>], key: &[u8]) -> bool {
    levels.iter().any(|files| {
        let idx = files.partition_point(|f| f.meta.largest_user() < key);
        files
            .get(idx)
            .is_some_and(|f| f.meta.smallest_user() <= key)
    })
}

/// What table writing needs from the engine.
pub struct TableSink<'a> {
    /// Where files are created.
    pub storage: &'a dyn Storage,
    /// Cache the new tables read through.
    pub cache: &'a Arc<BlockCache>,
    /// Block and filter layout.
    pub table_opts: TableOptions,
    /// Allocates file numbers.
    pub next_file_number: &'a dyn Fn() -> u64,
    /// Start a new output file past this size (at a user-key boundary).
    pub target_file_size: u64,
}

/// Writes the entries of `input` that `filter` keeps into new tables, split at user-key
/// boundaries past `target_file_size`, opens them and returns their handles. The files are synced;
/// the caller syncs the directory and records them in the manifest.
pub fn write_tables(
    input: &mut dyn InternalIterator,
    filter: &mut VersionFilter<'_>,
    sink: &TableSink<'_>,
) -> Result<Vec<TableHandle>> {
    let mut outputs = Vec::new();
    let mut current: Option<(u64, TableBuilder)> = None;
    let mut last_user_key: Vec<u8> = Vec::new();
    while input.valid() {
        let key = input.key();
        if filter.keep(key) {
            let user_key = ikey::user_key(key);
            let split = current.as_ref().is_some_and(|(_, b)| {
                b.estimated_size() >= sink.target_file_size && user_key != last_user_key.as_slice()
            });
            if split {
                if let Some((number, builder)) = current.take() {
                    outputs.push(finish_table(number, builder, sink)?);
                }
            }
            if current.is_none() {
                let number = (sink.next_file_number)();
                let name = sst_file_name(number);
                let file = sink.storage.create(&name)?;
                current = Some((
                    number,
                    TableBuilder::new(file, name, sink.table_opts.clone()),
                ));
            }
            if let Some((_, builder)) = current.as_mut() {
                builder.add(key, input.value())?;
            }
            last_user_key.clear();
            last_user_key.extend_from_slice(user_key);
        }
        input.advance()?;
    }
    if let Some((number, builder)) = current.take() {
        outputs.push(finish_table(number, builder, sink)?);
    }
    Ok(outputs)
}

fn finish_table(number: u64, builder: TableBuilder, sink: &TableSink<'_>) -> Result<TableHandle> {
    let info = builder.finish()?;
    let name = sst_file_name(number);
    let table = Table::open(
        sink.storage.open_read(&name)?,
        number,
        name,
        Arc::clone(sink.cache),
    )?;
    Ok(TableHandle {
        meta: FileMeta {
            number,
            size: info.file_size,
            smallest: info.smallest,
            largest: info.largest,
            entries: info.entries,
        },
        table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_keeps_snapshot_versions_and_drops_shadowed() {
        let mut f = VersionFilter::new(10, Some(&[]));
        // Newest first for key "a": 15 (above snapshot), 8 (visible to snapshot 10), 3 (shadowed).
        assert!(f.keep(&ikey::encode(b"a", 15, Kind::Put)));
        assert!(f.keep(&ikey::encode(b"a", 8, Kind::Put)));
        assert!(!f.keep(&ikey::encode(b"a", 3, Kind::Put)));
        // A tombstone at the bottom with nothing deeper is dropped, and so is what it shadows.
        assert!(!f.keep(&ikey::encode(b"b", 9, Kind::Delete)));
        assert!(!f.keep(&ikey::encode(b"b", 2, Kind::Put)));
        // Flushes (deeper = None) keep tombstones.
        let mut flush = VersionFilter::new(10, None);
        assert!(flush.keep(&ikey::encode(b"b", 9, Kind::Delete)));
        assert!(!flush.keep(&ikey::encode(b"b", 2, Kind::Put)));
    }

    #[test]
    fn level_targets_grow_by_ratio() {
        let opts = Options::default();
        assert_eq!(level_target(&opts, 1), 64 << 20);
        assert_eq!(level_target(&opts, 2), 640 << 20);
    }
}
