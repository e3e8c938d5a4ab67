//! Test-only in-memory files (the real `MemStorage` lives in `storage/`): a shared byte vector
//! written through [`WritableFile`] and read through [`RandomAccessFile`], counting reads so
//! tests can assert that a lookup touched no data block.

use crate::error::{Error, Result};
use crate::lsm::ikey::{self, Kind, SeqNo};
use crate::storage::{RandomAccessFile, WritableFile};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{BlockCache, Table, TableBuilder, TableInfo, TableIter, TableOptions};
use crate::lsm::iter::{Direction, InternalIterator};

/// Bytes shared between a writer and readers.
#[derive(Clone, Default)]
pub struct MemFile {
    pub data: Arc<Mutex<Vec<u8>>>,
    pub reads: Arc<AtomicU64>,
    pub syncs: Arc<AtomicU64>,
    pub appends: Arc<AtomicU64>,
}

impl MemFile {
    pub fn from_bytes(bytes: Vec<u8>) -> MemFile {
        MemFile {
            data: Arc::new(Mutex::new(bytes)),
            ..MemFile::default()
        }
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.data.lock().clone()
    }
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

impl WritableFile for MemFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        self.data.lock().extend_from_slice(data);
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.data.lock().len() as u64
    }
}

impl RandomAccessFile for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let data = self.data.lock();
        let start = usize::try_from(offset).map_err(|_| short_read())?;
        let end = start.checked_add(buf.len()).ok_or_else(short_read)?;
        let src = data.get(start..end).ok_or_else(short_read)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.data.lock().len() as u64
    }
}

fn short_read() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "short read",
    ))
}

/// One entry of a test data set: (user key, seq, kind, value).
pub type Version = (Vec<u8>, SeqNo, Kind, Vec<u8>);

/// Sorts versions into table order and returns (internal key, value) pairs.
pub fn to_entries(versions: &[Version]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = versions
        .iter()
        .map(|(k, s, kind, v)| (ikey::encode(k, *s, *kind), v.clone()))
        .collect();
    out.sort_by(|a, b| ikey::compare(&a.0, &b.0));
    out
}

/// Writes `entries` (already in order) into a fresh in-memory table.
pub fn build(entries: &[(Vec<u8>, Vec<u8>)], opts: TableOptions) -> (MemFile, TableInfo) {
    let file = MemFile::default();
    let mut b = TableBuilder::new(Box::new(file.clone()), "test.sst".to_string(), opts);
    for (k, v) in entries {
        b.add(k, v).expect("add in order");
    }
    let info = b.finish().expect("finish");
    (file, info)
}

/// Opens `file` as table number 7 with its own cache.
pub fn open(file: &MemFile, cache_bytes: usize) -> Result<Arc<Table>> {
    Table::open(
        Arc::new(file.clone()),
        7,
        "test.sst".to_string(),
        Arc::new(BlockCache::new(cache_bytes)),
    )
}

/// A data set of `keys` user keys with 1..=3 versions each, some tombstones, in table order.
pub fn versions(keys: usize) -> Vec<Version> {
    let mut out = Vec::new();
    for i in 0..keys {
        let key = format!("key{:06}", i * 2).into_bytes();
        let n = 1 + (i % 3);
        for j in 0..n {
            let seq = (i as u64) * 10 + 1 + (j as u64) * 3;
            let kind = if (i + j) % 7 == 3 {
                Kind::Delete
            } else {
                Kind::Put
            };
            let value = if kind == Kind::Delete {
                Vec::new()
            } else {
                format!("v{i}.{seq}.{}", "x".repeat(i % 13)).into_bytes()
            };
            out.push((key.clone(), seq, kind, value));
        }
    }
    out
}

/// (internal key, value) pairs in table order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

pub fn small_blocks() -> TableOptions {
    TableOptions {
        block_size: 256,
        restart_interval: 4,
        bloom_bits_per_key: 10,
    }
}

/// The newest version of `key` with seq <= `snap` in `vs`.
pub fn model_get(vs: &[Version], key: &[u8], snap: SeqNo) -> Option<(SeqNo, Kind, Vec<u8>)> {
    vs.iter()
        .filter(|(k, s, _, _)| k == key && *s <= snap)
        .max_by_key(|(_, s, _, _)| *s)
        .map(|(_, s, kind, v)| (*s, *kind, v.clone()))
}

pub fn collect(it: &mut TableIter, limit: usize) -> Result<Entries> {
    let mut out = Vec::new();
    while it.valid() && out.len() < limit {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.advance()?;
    }
    Ok(out)
}

/// Expected entries of a cursor from `start` in `dir`.
pub fn model_iter(entries: &Entries, dir: Direction, start: Option<&[u8]>) -> Entries {
    match dir {
        Direction::Forward => entries
            .iter()
            .filter(|(k, _)| start.is_none_or(|s| ikey::compare(k, s) != std::cmp::Ordering::Less))
            .cloned()
            .collect(),
        Direction::Reverse => entries
            .iter()
            .rev()
            .filter(|(k, _)| {
                start.is_none_or(|s| ikey::compare(k, s) != std::cmp::Ordering::Greater)
            })
            .cloned()
            .collect(),
    }
}
