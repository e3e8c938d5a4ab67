//! A `Version`: the immutable set of live SSTables per level, swapped atomically on flush and
//! compaction (readers hold an `Arc<Version>` and never block writers).

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
