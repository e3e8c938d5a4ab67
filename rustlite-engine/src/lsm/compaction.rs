//! Leveled compaction: which files to merge (a pure policy over a [`Version`]) and how merged
//! entries are filtered and written out as new tables.
//!
//! Policy ([`pick`]), with level targets sized from the last level down (RocksDB's dynamic level
//! bytes): the last level's target is its size, each level above gets the target below divided by
//! `level_size_ratio`, and the *base level* is the shallowest level whose target is still at least
//! `l1_target_size`. Levels between L0 and the base level stay empty, so a database smaller than
//! `l1_target_size × level_size_ratio` keeps one sorted run below L0 (a seek positions one cursor
//! there instead of one per level), and a larger one has the usual ratio between its levels.
//! Every level gets a score — L0: `files / l0_compaction_trigger`; a level above the base level:
//! at least 1 while it holds anything (it drains down); any other level: `bytes / target`. The
//! level with the highest score `>= 1` is compacted: L0 compacts all its files (they overlap) with
//! the overlapping files of the base level — or of the shallowest non-empty level, if that is
//! above the base (newer data never goes below older); Ln compacts one file (round-robin through
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
use crate::lsm::sstable::{BlockCache, Table, TableBuilder, TableFiles, TableOptions};
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
    /// Compacts `inputs` (files of `level`) with the overlapping files of `output_level` into it.
    pub fn into_level(
        version: &Version,
        level: usize,
        output_level: usize,
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
            output_level,
            lower_inputs: version.overlapping(output_level, &lo, &hi),
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

/// The level targets of `version` (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LevelTargets {
    /// Target bytes per level (index 0, L0, is unused: L0 is scored by file count).
    pub targets: Vec<u64>,
    /// The shallowest level sized for data; the levels between L0 and it drain down.
    pub base: usize,
    /// Where L0 compacts into: the base level, or the shallowest non-empty level above it.
    pub l0_output: usize,
}

/// Sizes every level from the last one up (see the module docs).
pub fn level_targets(version: &Version, opts: &Options) -> LevelTargets {
    let last = version.levels.len().saturating_sub(1).max(1);
    let ratio = opts.level_size_ratio.max(2);
    let base_bytes = opts.l1_target_size.max(1);
    let mut targets = vec![0u64; last + 1];
    targets[last] = version.level_size(last).max(base_bytes);
    let mut base = last;
    while base > 1 && targets[base] / ratio >= base_bytes {
        targets[base - 1] = targets[base] / ratio;
        base -= 1;
    }
    let shallowest = (1..=last).find(|&level| version.level_files(level) > 0);
    let l0_output = shallowest.map_or(base, |level| level.min(base));
    LevelTargets {
        targets,
        base,
        l0_output,
    }
}

/// The compaction score of every level but the last (see the module docs), under the targets
/// `t` that [`level_targets`] computed for `version`.
pub fn scores(version: &Version, opts: &Options, t: &LevelTargets) -> Vec<f64> {
    let last = version.levels.len().saturating_sub(1);
    (0..last)
        .map(|level| {
            if level == 0 {
                return version.level_files(0) as f64 / opts.l0_compaction_trigger.max(1) as f64;
            }
            let size = version.level_size(level) as f64;
            if level >= t.base {
                size / t.targets[level].max(1) as f64
            } else if version.level_files(level) == 0 {
                0.0
            } else {
                (size / opts.l1_target_size.max(1) as f64).max(1.0)
            }
        })
        .collect()
}

/// Chooses the next compaction, or `None` when every level is within its target.
/// `cursors[level]` is the largest user key compacted last time at that level (round-robin).
pub fn pick(version: &Version, opts: &Options, cursors: &[Vec<u8>]) -> Option<CompactionTask> {
    let targets = level_targets(version, opts);
    let scores = scores(version, opts, &targets);
    let (level, score) = scores
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if score < 1.0 {
        return None;
    }
    let files = version.levels.get(level)?;
    if level == 0 {
        return CompactionTask::into_level(version, 0, targets.l0_output, files.clone());
    }
    let cursor = cursors.get(level).map_or(&[][..], Vec::as_slice);
    let chosen = files
        .iter()
        .find(|f| f.meta.smallest_user() > cursor)
        .or_else(|| files.first())?;
    CompactionTask::into_level(version, level, level + 1, vec![chosen.clone()])
}

/// For a full compaction (`compact()`): the shallowest non-empty level, whole, into the next
/// one — L0 into the level [`pick`] would compact it into; `None` once all data sits in one level
/// below L0.
pub fn pick_full(version: &Version, opts: &Options) -> Option<CompactionTask> {
    let deepest = version.levels.iter().rposition(|files| !files.is_empty())?;
    let level = version.levels.iter().position(|files| !files.is_empty())?;
    if level == deepest && level > 0 {
        return None;
    }
    let inputs = version.levels.get(level)?.clone();
    let output = if level == 0 {
        level_targets(version, opts).l0_output
    } else {
        level + 1
    };
    CompactionTask::into_level(version, level, output, inputs)
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
    /// Opens the new tables' files (within the open-file budget).
    pub table_files: &'a Arc<TableFiles>,
    /// Block and filter layout.
    pub table_opts: TableOptions,
    /// Allocates file numbers.
    pub next_file_number: &'a dyn Fn() -> u64,
    /// Start a new output file past this size (at a user-key boundary).
    pub target_file_size: u64,
}

/// Writes the entries of `input` that `filter` keeps into new tables, split at user-key
/// boundaries past `target_file_size`, opens them and returns their handles. The files and the
/// directory are synced; the caller records them in the manifest. On failure every file it
/// created is removed: a flush or compaction retried after a failure (a full disk) must not
/// leave a partial table behind each time, taking the space it is short of.
pub fn write_tables(
    input: &mut dyn InternalIterator,
    filter: &mut VersionFilter<'_>,
    sink: &TableSink<'_>,
) -> Result<Vec<TableHandle>> {
    let mut created = Vec::new();
    let result = write_tables_into(input, filter, sink, &mut created).and_then(|outputs| {
        sink.storage.sync_dir()?;
        Ok(outputs)
    });
    if result.is_err() {
        for name in created {
            if let Err(e) = sink.storage.remove(&name) {
                tracing::warn!(file = %name, error = %e, "could not remove a table a failed job wrote");
            }
        }
    }
    result
}

/// [`write_tables`] before its directory sync, naming each file it creates in `created`.
fn write_tables_into(
    input: &mut dyn InternalIterator,
    filter: &mut VersionFilter<'_>,
    sink: &TableSink<'_>,
    created: &mut Vec<String>,
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
                created.push(name.clone());
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
        sink.table_files.open(&name)?,
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

    /// The engine with small levels (L1 target 64 KiB, ratio 4, 4 levels) after `n` random
    /// 100-byte writes settle, and its files per level; every key reads back.
    fn settled_levels(n: u32) -> crate::Result<Vec<usize>> {
        let opts = Options {
            memtable_size: 32 << 10,
            l1_target_size: 64 << 10,
            level_size_ratio: 4,
            target_file_size: 16 << 10,
            l0_compaction_trigger: 2,
            num_levels: 4,
            background_compaction: false,
            ..Options::default()
        };
        let db = crate::Engine::open_in_memory(opts)?;
        let key = |i: u32| i.wrapping_mul(2_654_435_761).to_be_bytes();
        for i in 0..n {
            db.put(&key(i), &[i as u8; 100])?;
        }
        db.compact(false)?;
        for i in 0..n {
            assert_eq!(db.get(&key(i))?, Some(vec![i as u8; 100]), "key {i}");
        }
        Ok(db.stats().levels.iter().map(|l| l.files).collect())
    }

    /// Below `l1_target_size × level_size_ratio` the data sits in one sorted run, the last
    /// level; above it the base level moves up and the levels between L0 and it stay empty.
    #[test]
    fn level_targets_are_sized_from_the_last_level() -> crate::Result<()> {
        // ~200 KiB: under 64 KiB × 4, one run below L0.
        let small = settled_levels(1_800)?;
        assert_eq!(&small[1..3], &[0, 0], "levels {small:?}");
        assert!(small[3] > 0, "levels {small:?}");
        // ~1.2 MiB: the last level's target / 4 ≥ 64 KiB, so L2 is the base level; L1 stays empty.
        let large = settled_levels(11_000)?;
        assert_eq!(large[1], 0, "levels {large:?}");
        assert!(large[2] > 0 && large[3] > 0, "levels {large:?}");
        Ok(())
    }
}
