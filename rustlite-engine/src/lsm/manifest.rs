//! The manifest: the durable history of which files are live, and the pointer to it.
//!
//! ```text
//! CURRENT         "MANIFEST-000005\n"          names the live manifest (replaced by rename)
//! MANIFEST-000005 [record][record]...           crc-framed version edits, type 2
//! ```
//!
//! Each manifest record (see [`crate::codec::record`]) is one [`VersionEdit`]:
//!
//! ```text
//! record:  [crc32 u32 LE][len u32 LE][type u8 = 2][payload]
//! payload: [format version u8 = 1][edit]*
//! edit:    tag u8, then its fields (varints; keys as varint length + bytes):
//!   1 AddFile         level, number, size, entries, smallest key, largest key
//!   2 DeleteFile      level, number
//!   3 NextFileNumber  n
//!   4 LastSeq         seq
//!   5 LogNumber       n        (WAL files numbered below n are obsolete)
//! ```
//!
//! Replaying the edits of the live manifest in order over an empty [`ManifestState`] gives the
//! current state. A manifest starts with one edit that snapshots the whole state
//! ([`Manifest::create`]); later edits ([`Manifest::log`]) record flushes and compactions.
//!
//! Switching manifests is atomic: the new `MANIFEST-n` is written and synced, then `CURRENT.tmp`
//! is written, synced and renamed over `CURRENT`, then the directory is synced; only then are
//! older manifests removed. A crash at any point leaves `CURRENT` naming a whole manifest.
//!
//! On [`Manifest::load`], a torn tail of the live manifest (an edit whose append never completed,
//! so whose flush or compaction never took effect) is ignored; any other damage is
//! [`Error::Corruption`]. The engine then writes a fresh manifest with [`Manifest::create`] (a new
//! number from `next_file_number`) instead of appending after the torn bytes.

use crate::codec::record::{self, encode_record};
use crate::codec::varint::{self, Reader};
use crate::error::{Error, Result};
use crate::lsm::ikey::SeqNo;
use crate::lsm::version::FileMeta;
use crate::storage::{Storage, WritableFile};

/// Record type of a manifest edit.
pub const EDIT_RECORD: u8 = 2;

/// Version of the edit payload format written by this build.
pub const FORMAT_VERSION: u8 = 1;

/// Name of the file that names the live manifest.
pub const CURRENT_FILE: &str = "CURRENT";

/// Scratch name used while replacing [`CURRENT_FILE`].
pub const CURRENT_TMP_FILE: &str = "CURRENT.tmp";

/// Largest seqno or file number a manifest edit or a WAL batch may carry (2^62). A larger one
/// can only come from damage that kept its checksum valid, and accepting it would make the next
/// commit's seqno or the next file number overflow (seqno `u64::MAX` is the "see everything"
/// snapshot); recovery reports it as [`Error::Corruption`] instead.
pub const MAX_COUNTER: u64 = 1 << 62;

/// The most levels a database may have (`Options::num_levels`); a manifest naming a level at
/// or past it is damaged.
pub const MAX_LEVELS: usize = 64;

const TAG_ADD_FILE: u8 = 1;
const TAG_DELETE_FILE: u8 = 2;
const TAG_NEXT_FILE_NUMBER: u8 = 3;
const TAG_LAST_SEQ: u8 = 4;
const TAG_LOG_NUMBER: u8 = 5;

/// Name of SSTable `number`: `{number:06}.sst`.
///
/// ```
/// assert_eq!(rustlite_engine::lsm::manifest::sst_file_name(42), "000042.sst");
/// ```
pub fn sst_file_name(number: u64) -> String {
    format!("{number:06}.sst")
}

/// Name of manifest `number`: `MANIFEST-{number:06}`.
///
/// ```
/// assert_eq!(rustlite_engine::lsm::manifest::manifest_file_name(3), "MANIFEST-000003");
/// ```
pub fn manifest_file_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// What a file in the database directory is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileName {
    /// `CURRENT`.
    Current,
    /// `CURRENT.tmp`, left over if a manifest switch was interrupted.
    CurrentTmp,
    /// `LOCK`.
    Lock,
    /// `MANIFEST-n`.
    Manifest(u64),
    /// `n.wal`.
    Wal(u64),
    /// `n.sst`.
    Sst(u64),
}

/// Classifies a file name of the database directory; `None` for names the engine never writes.
///
/// ```
/// use rustlite_engine::lsm::manifest::{parse_file_name, FileName};
/// assert_eq!(parse_file_name("000012.wal"), Some(FileName::Wal(12)));
/// assert_eq!(parse_file_name("MANIFEST-000002"), Some(FileName::Manifest(2)));
/// assert_eq!(parse_file_name("notes.txt"), None);
/// ```
pub fn parse_file_name(name: &str) -> Option<FileName> {
    fn number(digits: &str) -> Option<u64> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
    match name {
        CURRENT_FILE => return Some(FileName::Current),
        CURRENT_TMP_FILE => return Some(FileName::CurrentTmp),
        "LOCK" => return Some(FileName::Lock),
        _ => {}
    }
    if let Some(n) = name.strip_prefix("MANIFEST-") {
        return number(n).map(FileName::Manifest);
    }
    if let Some(n) = name.strip_suffix(".wal") {
        return number(n).map(FileName::Wal);
    }
    if let Some(n) = name.strip_suffix(".sst") {
        return number(n).map(FileName::Sst);
    }
    None
}

/// One change to the set of live files or to the engine's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// A new SSTable is live at `level`.
    AddFile {
        /// Level the file belongs to.
        level: u32,
        /// The file.
        meta: FileMeta,
    },
    /// SSTable `number` at `level` is no longer live.
    DeleteFile {
        /// Level the file was in.
        level: u32,
        /// Its file number.
        number: u64,
    },
    /// The next unused file number.
    NextFileNumber(u64),
    /// The highest seqno whose batch is in an SSTable or a live WAL.
    LastSeq(SeqNo),
    /// WAL files numbered below this are obsolete (their contents are in SSTables).
    LogNumber(u64),
}

/// A list of edits applied together: one manifest record.
///
/// ```
/// use rustlite_engine::lsm::manifest::{Edit, VersionEdit};
/// let edit = VersionEdit(vec![Edit::LastSeq(9), Edit::LogNumber(4)]);
/// let bytes = edit.encode();
/// assert_eq!(VersionEdit::decode(&bytes, "MANIFEST-000001", 0)?, edit);
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionEdit(pub Vec<Edit>);

impl VersionEdit {
    /// Encodes the edit as a record payload (see the module docs for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION];
        for edit in &self.0 {
            match edit {
                Edit::AddFile { level, meta } => {
                    out.push(TAG_ADD_FILE);
                    varint::put_u32(&mut out, *level);
                    varint::put_u64(&mut out, meta.number);
                    varint::put_u64(&mut out, meta.size);
                    varint::put_u64(&mut out, meta.entries);
                    varint::put_length_prefixed(&mut out, &meta.smallest);
                    varint::put_length_prefixed(&mut out, &meta.largest);
                }
                Edit::DeleteFile { level, number } => {
                    out.push(TAG_DELETE_FILE);
                    varint::put_u32(&mut out, *level);
                    varint::put_u64(&mut out, *number);
                }
                Edit::NextFileNumber(n) => {
                    out.push(TAG_NEXT_FILE_NUMBER);
                    varint::put_u64(&mut out, *n);
                }
                Edit::LastSeq(s) => {
                    out.push(TAG_LAST_SEQ);
                    varint::put_u64(&mut out, *s);
                }
                Edit::LogNumber(n) => {
                    out.push(TAG_LOG_NUMBER);
                    varint::put_u64(&mut out, *n);
                }
            }
        }
        out
    }

    /// Decodes a record payload. `file` and `offset` (of the record) locate damage in the
    /// [`Error::Corruption`]; an unknown format version is [`Error::UnsupportedVersion`].
    pub fn decode(payload: &[u8], file: &str, offset: u64) -> Result<Self> {
        let bad = |what: &str| Error::corruption(file, offset, format!("manifest edit: {what}"));
        let mut r = Reader::new(payload);
        let version = r.u8().ok_or_else(|| bad("empty payload"))?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                file: file.to_owned(),
                found: u32::from(version),
                supported: u32::from(FORMAT_VERSION),
            });
        }
        let mut edits = Vec::new();
        while let Some(tag) = r.u8() {
            let mut num = |what: &str| r.u64().ok_or_else(|| bad(&format!("truncated {what}")));
            let edit = match tag {
                TAG_ADD_FILE => {
                    let level = level(num("level")?).ok_or_else(|| bad("level too large"))?;
                    let number = num("file number")?;
                    let size = num("file size")?;
                    let entries = num("entry count")?;
                    let smallest = r.length_prefixed().ok_or_else(|| bad("truncated key"))?;
                    let largest = r.length_prefixed().ok_or_else(|| bad("truncated key"))?;
                    Edit::AddFile {
                        level,
                        meta: FileMeta {
                            number,
                            size,
                            smallest: smallest.to_vec(),
                            largest: largest.to_vec(),
                            entries,
                        },
                    }
                }
                TAG_DELETE_FILE => {
                    let level = level(num("level")?).ok_or_else(|| bad("level too large"))?;
                    let number = num("file number")?;
                    Edit::DeleteFile { level, number }
                }
                TAG_NEXT_FILE_NUMBER => Edit::NextFileNumber(num("next file number")?),
                TAG_LAST_SEQ => Edit::LastSeq(num("last seqno")?),
                TAG_LOG_NUMBER => Edit::LogNumber(num("log number")?),
                other => return Err(bad(&format!("unknown tag {other}"))),
            };
            edits.push(edit);
        }
        Ok(VersionEdit(edits))
    }
}

/// `v` if it is within [`MAX_COUNTER`].
fn counter(v: u64, what: &str) -> Result<u64, String> {
    if v > MAX_COUNTER {
        return Err(format!("{what} {v} exceeds the limit {MAX_COUNTER}"));
    }
    Ok(v)
}

fn level(v: u64) -> Option<u32> {
    u32::try_from(v).ok()
}

/// Everything the manifest records: the live files per level and the engine's counters.
///
/// Files within a level are kept in the order they were added; building a searchable
/// `Version` (sorting L1.. by key range) is up to its builder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestState {
    /// Live SSTables, indexed by level.
    pub levels: Vec<Vec<FileMeta>>,
    /// The next unused file number (for WALs, SSTables and manifests alike).
    pub next_file_number: u64,
    /// The highest seqno recorded.
    pub last_seq: SeqNo,
    /// WAL files numbered below this are obsolete.
    pub log_number: u64,
}

impl ManifestState {
    /// The state of a fresh database: `num_levels` empty levels, file numbers from 1.
    pub fn new(num_levels: usize) -> ManifestState {
        ManifestState {
            levels: vec![Vec::new(); num_levels],
            next_file_number: 1,
            last_seq: 0,
            log_number: 0,
        }
    }

    /// Applies `edit` in order. Adding a file that is already live (at any level), deleting one
    /// that is not live at that level, or a level `>= num_levels` is [`Error::Corruption`]
    /// (reported at offset 0 of `"version edit"`; [`Manifest::load`] reports the real place).
    /// To move a file between levels, put its `DeleteFile` before its `AddFile`.
    /// On error `self` may be partly updated: discard it.
    pub fn apply(&mut self, edit: &VersionEdit, num_levels: usize) -> Result<()> {
        self.apply_edit(edit, num_levels)
            .map_err(|reason| Error::corruption("version edit", 0, reason))
    }

    fn apply_edit(&mut self, edit: &VersionEdit, num_levels: usize) -> Result<(), String> {
        if self.levels.len() < num_levels {
            self.levels.resize_with(num_levels, Vec::new);
        }
        for e in &edit.0 {
            match e {
                Edit::AddFile { level, meta } => {
                    counter(meta.number, "file number")?;
                    if self
                        .levels
                        .iter()
                        .flatten()
                        .any(|f| f.number == meta.number)
                    {
                        return Err(format!("file {} added twice", meta.number));
                    }
                    self.level_mut(*level, num_levels)?.push(meta.clone());
                }
                Edit::DeleteFile { level, number } => {
                    let files = self.level_mut(*level, num_levels)?;
                    let pos = files
                        .iter()
                        .position(|f| f.number == *number)
                        .ok_or_else(|| format!("deleted file {number} is not live at L{level}"))?;
                    files.remove(pos);
                }
                Edit::NextFileNumber(n) => self.next_file_number = counter(*n, "next file number")?,
                Edit::LastSeq(s) => self.last_seq = counter(*s, "last seqno")?,
                Edit::LogNumber(n) => self.log_number = counter(*n, "log number")?,
            }
        }
        Ok(())
    }

    fn level_mut(&mut self, level: u32, num_levels: usize) -> Result<&mut Vec<FileMeta>, String> {
        usize::try_from(level)
            .ok()
            .filter(|&l| l < num_levels)
            .and_then(|l| self.levels.get_mut(l))
            .ok_or_else(|| format!("level {level} out of range (the engine has {num_levels})"))
    }

    /// One edit that rebuilds this whole state when applied to an empty one.
    pub fn snapshot(&self) -> VersionEdit {
        let mut edits = vec![
            Edit::NextFileNumber(self.next_file_number),
            Edit::LastSeq(self.last_seq),
            Edit::LogNumber(self.log_number),
        ];
        for (level, files) in self.levels.iter().enumerate() {
            let level = u32::try_from(level).unwrap_or(u32::MAX);
            edits.extend(files.iter().map(|meta| Edit::AddFile {
                level,
                meta: meta.clone(),
            }));
        }
        VersionEdit(edits)
    }
}

/// The live manifest, open for appending edits.
///
/// ```
/// use rustlite_engine::lsm::manifest::{Edit, Manifest, ManifestState, VersionEdit};
/// use rustlite_engine::storage::MemStorage;
/// let storage = MemStorage::new();
/// assert!(Manifest::load(&storage, 7)?.is_none()); // fresh directory
/// let mut state = ManifestState::new(7);
/// state.next_file_number = 2;
/// let mut manifest = Manifest::create(&storage, 1, &state)?;
/// manifest.log(&VersionEdit(vec![Edit::LastSeq(100)]))?;
/// let (loaded, number) = Manifest::load(&storage, 7)?.expect("CURRENT exists");
/// assert_eq!((loaded.last_seq, number), (100, 1));
/// # Ok::<(), rustlite_engine::Error>(())
/// ```
pub struct Manifest {
    file: Box<dyn WritableFile>,
    number: u64,
    /// Bytes of the snapshot edit `create` wrote first.
    base: u64,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("number", &self.number)
            .field("size", &self.file.len())
            .finish()
    }
}

impl Manifest {
    /// Writes `MANIFEST-{number}` holding one edit that snapshots `state`, makes `CURRENT` name
    /// it (atomically, see the module docs), then removes every other manifest.
    ///
    /// `number` must be a fresh file number: an existing `MANIFEST-{number}` is refused with
    /// [`Error::InvalidArgument`] rather than overwritten.
    pub fn create(storage: &dyn Storage, number: u64, state: &ManifestState) -> Result<Manifest> {
        let name = manifest_file_name(number);
        if storage.exists(&name)? {
            return Err(Error::InvalidArgument(format!("{name} already exists")));
        }
        let mut buf = Vec::new();
        encode_record(&mut buf, EDIT_RECORD, &state.snapshot().encode())?;
        let mut file = storage.create(&name)?;
        file.append(&buf)?;
        file.sync()?;
        storage.sync_dir()?;

        let mut current = storage.create(CURRENT_TMP_FILE)?;
        current.append(format!("{name}\n").as_bytes())?;
        current.sync()?;
        drop(current);
        storage.rename(CURRENT_TMP_FILE, CURRENT_FILE)?;
        storage.sync_dir()?;

        for other in storage.list()? {
            if matches!(parse_file_name(&other), Some(FileName::Manifest(n)) if n != number) {
                storage.remove(&other)?;
            }
        }
        Ok(Manifest {
            file,
            number,
            base: buf.len() as u64,
        })
    }

    /// Reads the manifest `CURRENT` names and replays it into a [`ManifestState`] with
    /// `num_levels` levels, returning it with the manifest's number; `None` if there is no
    /// `CURRENT` (a fresh directory).
    ///
    /// A torn tail is ignored. A `CURRENT` that is malformed or names a missing manifest, a
    /// manifest with no whole edit, damage before the tail, or an edit that does not apply is
    /// [`Error::Corruption`].
    pub fn load(storage: &dyn Storage, num_levels: usize) -> Result<Option<(ManifestState, u64)>> {
        if !storage.exists(CURRENT_FILE)? {
            return Ok(None);
        }
        let current = storage.read_all(CURRENT_FILE)?;
        let number = std::str::from_utf8(&current)
            .ok()
            .and_then(|s| s.strip_suffix('\n'))
            .and_then(parse_file_name)
            .and_then(|f| match f {
                FileName::Manifest(n) => Some(n),
                _ => None,
            })
            .ok_or_else(|| {
                Error::corruption(CURRENT_FILE, 0, "does not hold a manifest name and newline")
            })?;
        let name = manifest_file_name(number);
        if !storage.exists(&name)? {
            return Err(Error::corruption(
                CURRENT_FILE,
                0,
                format!("names {name}, which does not exist"),
            ));
        }
        let buf = storage.read_all(&name)?;
        let found = record::read_records(&buf, &name)?;
        if found.records.is_empty() {
            return Err(Error::corruption(&name, 0, "manifest holds no whole edit"));
        }
        if found.torn_tail {
            tracing::warn!(
                manifest = %name,
                valid_len = found.valid_len,
                "ignoring a torn tail at the end of the manifest"
            );
        }
        let mut state = ManifestState::new(num_levels);
        for rec in &found.records {
            if rec.rtype != EDIT_RECORD {
                return Err(Error::corruption(
                    &name,
                    rec.offset,
                    format!("unexpected record type {} in a manifest", rec.rtype),
                ));
            }
            let payload = buf
                .get(rec.payload.clone())
                .ok_or_else(|| Error::corruption(&name, rec.offset, "record out of bounds"))?;
            let edit = VersionEdit::decode(payload, &name, rec.offset)?;
            state
                .apply_edit(&edit, num_levels)
                .map_err(|reason| Error::corruption(&name, rec.offset, reason))?;
        }
        Ok(Some((state, number)))
    }

    /// Appends `edit` and syncs it: when this returns, the edit survives a crash.
    pub fn log(&mut self, edit: &VersionEdit) -> Result<()> {
        let mut buf = Vec::new();
        encode_record(&mut buf, EDIT_RECORD, &edit.encode())?;
        self.file.append(&buf)?;
        self.file.sync()
    }

    /// Bytes in the manifest file; when it grows large, [`Manifest::create`] a new one from the
    /// current state.
    pub fn size(&self) -> u64 {
        self.file.len()
    }

    /// Whether the edits appended since the snapshot outweigh it and `limit`: a rewrite then
    /// shrinks the file. A snapshot larger than `limit` by itself (many tables with long
    /// boundary keys) is not rewritten after every edit, only once the edits after it have
    /// doubled the file.
    pub fn wants_rewrite(&self, limit: u64) -> bool {
        self.size() > limit.max(self.base.saturating_mul(2))
    }

    /// This manifest's file number.
    pub fn number(&self) -> u64 {
        self.number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FsStorage, MemStorage};
    use proptest::prelude::*;

    const LEVELS: usize = 4;

    fn meta(number: u64, smallest: &[u8], largest: &[u8]) -> FileMeta {
        FileMeta {
            number,
            size: number.wrapping_mul(1000),
            smallest: smallest.to_vec(),
            largest: largest.to_vec(),
            entries: number.wrapping_add(7),
        }
    }

    fn all_kinds() -> VersionEdit {
        VersionEdit(vec![
            Edit::AddFile {
                level: 0,
                meta: meta(5, b"", b"\xff\xff"),
            },
            Edit::AddFile {
                level: 3,
                meta: meta(u64::MAX, &[0; 300], b"z"),
            },
            Edit::DeleteFile {
                level: 0,
                number: 5,
            },
            Edit::NextFileNumber(u64::MAX),
            Edit::LastSeq(0),
            Edit::LogNumber(77),
        ])
    }

    fn sample_state() -> ManifestState {
        let mut s = ManifestState::new(LEVELS);
        s.next_file_number = 20;
        s.last_seq = 1234;
        s.log_number = 9;
        if let Some(l0) = s.levels.get_mut(0) {
            l0.push(meta(11, b"a", b"m"));
            l0.push(meta(12, b"b", b"c"));
        }
        if let Some(l2) = s.levels.get_mut(2) {
            l2.push(meta(3, b"", b"k"));
        }
        s
    }

    /// A snapshot larger than the size limit by itself (long boundary keys) is rewritten only
    /// once the edits after it have doubled the file, not after every edit.
    #[test]
    fn a_snapshot_over_the_limit_is_not_rewritten_after_every_edit() {
        let storage = MemStorage::new();
        let mut state = sample_state();
        let long = vec![b'k'; 4096];
        if let Some(l1) = state.levels.get_mut(1) {
            l1.push(meta(13, &long, &long));
        }
        let mut m = Manifest::create(&storage, 21, &state).expect("create");
        let base = m.size();
        let limit = base / 2;
        assert!(!m.wants_rewrite(limit), "just written");
        let edit = VersionEdit(vec![Edit::LastSeq(1)]);
        while m.size() <= 2 * base {
            assert!(!m.wants_rewrite(limit), "at {} of {base} bytes", m.size());
            m.log(&edit).expect("log");
        }
        assert!(m.wants_rewrite(limit));
        // Below the limit, the limit decides.
        assert!(m.wants_rewrite(base));
        assert!(!m.wants_rewrite(m.size()));
    }

    #[test]
    fn file_names() {
        assert_eq!(sst_file_name(1), "000001.sst");
        assert_eq!(manifest_file_name(1234567), "MANIFEST-1234567");
        for n in [0, 1, 999_999, 1_000_000, u64::MAX] {
            assert_eq!(parse_file_name(&sst_file_name(n)), Some(FileName::Sst(n)));
            assert_eq!(
                parse_file_name(&manifest_file_name(n)),
                Some(FileName::Manifest(n))
            );
            assert_eq!(
                parse_file_name(&crate::lsm::wal::wal_file_name(n)),
                Some(FileName::Wal(n))
            );
        }
        assert_eq!(parse_file_name("CURRENT"), Some(FileName::Current));
        assert_eq!(parse_file_name("CURRENT.tmp"), Some(FileName::CurrentTmp));
        assert_eq!(parse_file_name("LOCK"), Some(FileName::Lock));
        for bad in [
            "",
            ".sst",
            "+1.sst",
            "1a.wal",
            "MANIFEST-",
            "MANIFEST--1",
            "99999999999999999999.sst",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn edit_round_trip_and_golden() {
        let edit = all_kinds();
        assert_eq!(
            VersionEdit::decode(&edit.encode(), "m", 0).expect("decode"),
            edit
        );
        assert_eq!(VersionEdit::default().encode(), [FORMAT_VERSION]);
        let small = VersionEdit(vec![
            Edit::AddFile {
                level: 1,
                meta: meta(2, b"a", b"b"),
            },
            Edit::DeleteFile {
                level: 0,
                number: 300,
            },
            Edit::NextFileNumber(3),
            Edit::LastSeq(4),
            Edit::LogNumber(5),
        ]);
        let hex: String = small.encode().iter().map(|b| format!("{b:02x}")).collect();
        // version | add L1 #2 size 2000 entries 9 "a" "b" | del L0 #300 | next 3 | seq 4 | log 5
        assert_eq!(
            hex,
            concat!(
                "01", "01", "01", "02", "d00f", "09", "0161", "0162", "02", "00", "ac02", "0303",
                "0404", "0505"
            )
        );
    }

    #[test]
    fn truncated_or_unknown_edits_are_corruption() {
        let bytes = all_kinds().encode();
        // Cutting inside an edit's fields is always detected (a cut between edits is a shorter
        // but valid edit list; the record crc is what protects against that).
        let mut cuts_detected = 0;
        for cut in 0..bytes.len() {
            match VersionEdit::decode(bytes.get(..cut).expect("cut"), "m", 8) {
                Err(Error::Corruption {
                    offset: 8, file, ..
                }) => {
                    assert_eq!(file, "m");
                    cuts_detected += 1;
                }
                Ok(_) => {}
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert!(cuts_detected > bytes.len() / 2);
        assert!(matches!(
            VersionEdit::decode(&[FORMAT_VERSION, 9], "m", 0),
            Err(Error::Corruption { .. })
        ));
        assert!(matches!(
            VersionEdit::decode(
                &[FORMAT_VERSION, TAG_ADD_FILE, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
                "m",
                0
            ),
            Err(Error::Corruption { .. })
        ));
        assert!(matches!(
            VersionEdit::decode(&[2], "m", 0),
            Err(Error::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            })
        ));
    }

    #[test]
    fn apply_checks_files() {
        let mut s = ManifestState::new(LEVELS);
        let add = |level, n| Edit::AddFile {
            level,
            meta: meta(n, b"a", b"b"),
        };
        s.apply(&VersionEdit(vec![add(0, 1), add(1, 2)]), LEVELS)
            .expect("apply");
        // Move file 1 from L0 to L2: delete first, then add.
        s.apply(
            &VersionEdit(vec![
                Edit::DeleteFile {
                    level: 0,
                    number: 1,
                },
                add(2, 1),
            ]),
            LEVELS,
        )
        .expect("move");
        assert_eq!(
            s.levels.iter().map(Vec::len).collect::<Vec<_>>(),
            [0, 1, 1, 0]
        );
        for bad in [
            vec![add(3, 2)],
            vec![Edit::DeleteFile {
                level: 0,
                number: 2,
            }],
            vec![Edit::DeleteFile {
                level: 1,
                number: 99,
            }],
            vec![add(LEVELS as u32, 50)],
            vec![Edit::DeleteFile {
                level: u32::MAX,
                number: 2,
            }],
        ] {
            let mut t = s.clone();
            assert!(
                matches!(
                    t.apply(&VersionEdit(bad.clone()), LEVELS),
                    Err(Error::Corruption { .. })
                ),
                "{bad:?}"
            );
        }
        let mut fresh = ManifestState::new(LEVELS);
        fresh
            .apply(&s.snapshot(), LEVELS)
            .expect("snapshot applies");
        assert_eq!(fresh, s);
    }

    fn create_log_load(storage: &dyn Storage) {
        assert!(Manifest::load(storage, LEVELS).expect("load").is_none());
        let mut state = sample_state();
        let mut m = Manifest::create(storage, 1, &state).expect("create");
        assert_eq!(m.number(), 1);
        let size0 = m.size();
        let edits = [
            VersionEdit(vec![
                Edit::AddFile {
                    level: 1,
                    meta: meta(20, b"c", b"d"),
                },
                Edit::NextFileNumber(21),
                Edit::LastSeq(2000),
            ]),
            VersionEdit(vec![
                Edit::DeleteFile {
                    level: 0,
                    number: 11,
                },
                Edit::LogNumber(15),
            ]),
        ];
        for e in &edits {
            m.log(e).expect("log");
            state.apply(e, LEVELS).expect("apply");
        }
        assert!(m.size() > size0);
        let (loaded, number) = Manifest::load(storage, LEVELS)
            .expect("load")
            .expect("some");
        assert_eq!((loaded, number), (state.clone(), 1));
        assert_eq!(
            storage.read_all(CURRENT_FILE).expect("CURRENT"),
            b"MANIFEST-000001\n"
        );

        // Switch to a new manifest: CURRENT moves, the old one is removed.
        drop(m);
        let m2 = Manifest::create(storage, 21, &state).expect("create 2");
        assert_eq!(m2.size(), {
            let mut b = Vec::new();
            encode_record(&mut b, EDIT_RECORD, &state.snapshot().encode()).expect("enc");
            b.len() as u64
        });
        assert_eq!(
            storage.read_all(CURRENT_FILE).expect("CURRENT"),
            b"MANIFEST-000021\n"
        );
        assert!(!storage.exists(&manifest_file_name(1)).expect("exists"));
        assert!(!storage.exists(CURRENT_TMP_FILE).expect("exists"));
        let (loaded, number) = Manifest::load(storage, LEVELS)
            .expect("load")
            .expect("some");
        assert_eq!((loaded, number), (state, 21));
        assert!(matches!(
            Manifest::create(storage, 21, &sample_state()),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn create_log_load_mem() {
        create_log_load(&MemStorage::new());
    }

    #[test]
    fn create_log_load_fs() {
        let dir = tempfile::tempdir().expect("tempdir");
        create_log_load(&FsStorage::open(dir.path()).expect("open"));
    }

    /// A manifest with the snapshot and one logged edit; returns the storage and the edit's offset.
    fn two_records() -> (MemStorage, u64) {
        let s = MemStorage::new();
        let mut m = Manifest::create(&s, 4, &sample_state()).expect("create");
        let second = m.size();
        m.log(&VersionEdit(vec![Edit::LastSeq(5000)])).expect("log");
        (s, second)
    }

    #[test]
    fn torn_manifest_tail_is_ignored() {
        let (s, second) = two_records();
        let name = manifest_file_name(4);
        let full = s.read_all(&name).expect("read").len() as u64;
        for cut in second..full {
            let (s, _) = two_records();
            s.truncate(&name, cut).expect("truncate");
            let (state, n) = Manifest::load(&s, LEVELS).expect("load").expect("some");
            assert_eq!((state, n), (sample_state(), 4), "cut {cut}");
        }
        // Zeros after the last edit are a torn tail too.
        let (s, _) = two_records();
        s.open_append(&name)
            .expect("open")
            .append(&[0; 64])
            .expect("append");
        let (state, _) = Manifest::load(&s, LEVELS).expect("load").expect("some");
        assert_eq!(state.last_seq, 5000);
    }

    #[test]
    fn corruption_is_detected() {
        let name = manifest_file_name(4);
        // A flipped byte in the first edit, which a valid edit follows.
        let (s, _) = two_records();
        let mut bytes = s.read_all(&name).expect("read");
        if let Some(b) = bytes.get_mut(record::HEADER_LEN + 2) {
            *b ^= 1;
        }
        s.create(&name)
            .expect("create")
            .append(&bytes)
            .expect("write");
        assert!(matches!(
            Manifest::load(&s, LEVELS),
            Err(Error::Corruption { file, offset: 0, .. }) if file == name
        ));

        // A well-framed edit that does not apply (deletes a file that is not live).
        let (s, second) = two_records();
        let mut m = Manifest {
            file: s.open_append(&name).expect("open"),
            number: 4,
            base: 0,
        };
        m.log(&VersionEdit(vec![Edit::DeleteFile {
            level: 1,
            number: 3,
        }]))
        .expect("log");
        let third = second + {
            let mut b = Vec::new();
            encode_record(
                &mut b,
                EDIT_RECORD,
                &VersionEdit(vec![Edit::LastSeq(5000)]).encode(),
            )
            .expect("enc");
            b.len() as u64
        };
        assert!(matches!(
            Manifest::load(&s, LEVELS),
            Err(Error::Corruption { file, offset, .. }) if file == name && offset == third
        ));

        // A record of the wrong type.
        let (s, second) = two_records();
        let mut b = Vec::new();
        encode_record(&mut b, 1, &VersionEdit::default().encode()).expect("enc");
        s.open_append(&name)
            .expect("open")
            .append(&b)
            .expect("append");
        assert!(
            matches!(Manifest::load(&s, LEVELS), Err(Error::Corruption { offset, .. }) if offset > second)
        );

        // CURRENT naming a missing manifest, or holding garbage.
        let (s, _) = two_records();
        s.remove(&name).expect("remove");
        assert!(matches!(
            Manifest::load(&s, LEVELS),
            Err(Error::Corruption { file, .. }) if file == CURRENT_FILE
        ));
        for garbage in [&b""[..], b"MANIFEST-000004", b"000004.sst\n", b"\xff\n"] {
            let (s, _) = two_records();
            s.create(CURRENT_FILE)
                .expect("create")
                .append(garbage)
                .expect("write");
            assert!(matches!(
                Manifest::load(&s, LEVELS),
                Err(Error::Corruption { file, .. }) if file == CURRENT_FILE
            ));
        }

        // A manifest whose only edit is torn holds nothing: corruption, not an empty database.
        let (s, _) = two_records();
        s.truncate(&name, 5).expect("truncate");
        assert!(matches!(
            Manifest::load(&s, LEVELS),
            Err(Error::Corruption { .. })
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut payload = vec![FORMAT_VERSION];
            payload.extend_from_slice(&data);
            let _ = VersionEdit::decode(&payload, "m", 0);
        }
    }
}
