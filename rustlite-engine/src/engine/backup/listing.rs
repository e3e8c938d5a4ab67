//! The `BACKUP` listing: the files a backup holds, each with its size and crc32, sealed by a
//! trailer line so that a listing cut short or edited is told apart from a whole one.
//!
//! ```text
//! rustlite-backup 2\n               header: magic and listing format version
//! 000012.sst 4096123 9f3a01c2\n     one line per file: name, size (decimal), crc32 (8 hex digits)
//! 000016.wal 0 00000000\n
//! MANIFEST-000015 211 0c44aa10\n
//! CURRENT 16 1d2e3f40\n
//! end 4 45dde01d\n                  trailer: entry count, crc32 of every byte before "end"
//! ```
//! Fields are separated by one space, lines end in `\n` (no `\r`), hex is lowercase, and nothing
//! follows the trailer. The lines are in the writer's order (sorted by name), which nothing relies
//! on. [`parse`] checks the framing before it reads any entry: the header, then that the last
//! line is a trailer whose crc32 matches the bytes before it and whose count matches the entry
//! lines. A listing torn anywhere (at a line boundary or inside a line) lacks its trailer or fails
//! its crc; so does one with a line removed, added or changed. Failures are
//! [`Error::Corruption`] in file `BACKUP`, with the offset field holding the line number
//! (header = line 0).
//!
//! Format 1 (before the trailer) had the same header with `1` and no trailer: a torn format-1
//! listing cannot be told from a whole one, so [`parse`] refuses it as an older or unfinished
//! backup. A version above 2 is [`Error::UnsupportedVersion`].

use crate::error::{Error, Result};
use crate::lsm::manifest::{parse_file_name, FileName, CURRENT_FILE};
use std::fmt::Write as _;

use super::BACKUP_FILE;

/// The listing format this build writes and reads.
pub(super) const VERSION: u32 = 2;
const HEADER_PREFIX: &str = "rustlite-backup ";
const TRAILER_PREFIX: &str = "end ";

/// One file of a backup, as its listing names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) crc: u32,
}

/// The whole listing for `entries`, header to trailer.
pub(super) fn encode(entries: &[Entry]) -> String {
    let mut text = format!("{HEADER_PREFIX}{VERSION}\n");
    for e in entries {
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{} {} {:08x}", e.name, e.size, e.crc);
    }
    let crc = crc32fast::hash(text.as_bytes());
    let _ = writeln!(text, "{TRAILER_PREFIX}{} {crc:08x}", entries.len());
    text
}

fn bad(line: usize, why: impl Into<String>) -> Error {
    Error::corruption(BACKUP_FILE, line as u64, why)
}

/// A decimal number: ASCII digits only (no sign, no spaces), one encoding per value.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A crc32 as the writer spells it: exactly 8 lowercase hex digits.
fn hex32(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Checks the header line (the text up to the first `\n`).
fn check_header(header: Option<&[u8]>) -> Result<()> {
    let Some(header) = header else {
        return Err(bad(0, "not a RustLite backup listing (no header line)"));
    };
    let version = std::str::from_utf8(header)
        .ok()
        .and_then(|h| h.strip_prefix(HEADER_PREFIX))
        .and_then(decimal);
    match version {
        Some(v) if v == u64::from(VERSION) => Ok(()),
        Some(1) => Err(bad(
            0,
            "backup listing format 1 (an older or unfinished backup): it has no trailer, so a \
             listing cut short cannot be told from a whole one; take a new backup with this \
             version, or restore it with the release that wrote it",
        )),
        Some(v) if v > u64::from(VERSION) => Err(Error::UnsupportedVersion {
            file: BACKUP_FILE.to_string(),
            found: u32::try_from(v).unwrap_or(u32::MAX),
            supported: VERSION,
        }),
        _ => Err(bad(0, "not a RustLite backup listing (bad header)")),
    }
}

/// Parses and checks a whole listing (see the module docs): the entries it names, in order.
/// Every name is one the engine writes (a table, WAL, manifest or `CURRENT`; never a path),
/// no name twice, and `CURRENT` among them.
pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Entry>> {
    let header = bytes
        .iter()
        .position(|&b| b == b'\n')
        .and_then(|end| bytes.get(..end));
    check_header(header)?;

    // The trailer is the last line; its crc covers every byte before it.
    let Some(body_with_trailer) = bytes.strip_suffix(b"\n") else {
        return Err(bad(
            0,
            "the listing does not end with a whole line: it was cut short (an unfinished backup)",
        ));
    };
    let trailer_start = body_with_trailer
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let (body, trailer) = body_with_trailer.split_at(trailer_start);
    let body_lines = body.iter().filter(|&&b| b == b'\n').count();
    let trailer_line = body_lines;
    let fields = std::str::from_utf8(trailer)
        .ok()
        .and_then(|t| t.strip_prefix(TRAILER_PREFIX))
        .and_then(|t| {
            let mut parts = t.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(count), Some(crc), None) => Some((decimal(count)?, hex32(crc)?)),
                _ => None,
            }
        });
    let Some((count, crc)) = fields else {
        return Err(bad(
            trailer_line,
            "the listing has no trailer line: it was cut short (an unfinished backup) or edited",
        ));
    };
    let actual = crc32fast::hash(body);
    if crc != actual {
        return Err(bad(
            trailer_line,
            format!(
                "the trailer's crc32 {crc:08x} does not match the listing ({actual:08x}): \
                 the listing was damaged or edited"
            ),
        ));
    }
    let entry_lines = body_lines.saturating_sub(1);
    if count != entry_lines as u64 {
        return Err(bad(
            trailer_line,
            format!("the trailer counts {count} files but the listing has {entry_lines}"),
        ));
    }

    let text = std::str::from_utf8(body).map_err(|_| bad(0, "the listing is not UTF-8 text"))?;
    let mut entries: Vec<Entry> = Vec::with_capacity(entry_lines);
    // Skip the header; `body` ends in `\n`, so the last split piece is empty.
    for (i, line) in text.split('\n').enumerate().skip(1).take(entry_lines) {
        let mut parts = line.split(' ');
        let (Some(name), Some(size), Some(crc), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(i, "malformed line"));
        };
        let allowed = matches!(
            parse_file_name(name),
            Some(FileName::Sst(_) | FileName::Wal(_) | FileName::Manifest(_) | FileName::Current)
        );
        if !allowed || name.contains('/') || name.contains("..") {
            return Err(bad(i, format!("refusing file name {name:?}")));
        }
        if entries.iter().any(|e| e.name == name) {
            return Err(bad(i, format!("{name} is listed twice")));
        }
        let size = decimal(size).ok_or_else(|| bad(i, "bad size"))?;
        let crc = hex32(crc).ok_or_else(|| bad(i, "bad checksum"))?;
        entries.push(Entry {
            name: name.to_string(),
            size,
            crc,
        });
    }
    if !entries.iter().any(|e| e.name == CURRENT_FILE) {
        return Err(bad(0, "listing names no CURRENT file"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, crc: u32) -> Entry {
        Entry {
            name: name.to_string(),
            size,
            crc,
        }
    }

    fn sample() -> Vec<Entry> {
        vec![
            entry("000012.sst", 4096123, 0x9f3a01c2),
            entry("000016.wal", 0, 0),
            entry("MANIFEST-000015", 211, 0x0c44aa10),
            entry("CURRENT", 16, 0x1d2e3f40),
        ]
    }

    /// The bytes the module docs and docs/FORMAT.md show: the format is pinned.
    const GOLDEN: &str = "rustlite-backup 2\n\
                          000012.sst 4096123 9f3a01c2\n\
                          000016.wal 0 00000000\n\
                          MANIFEST-000015 211 0c44aa10\n\
                          CURRENT 16 1d2e3f40\n\
                          end 4 45dde01d\n";

    fn reason(err: Error) -> (u64, String) {
        match err {
            Error::Corruption {
                file,
                offset,
                reason,
            } => {
                assert_eq!(file, BACKUP_FILE);
                (offset, reason)
            }
            other => panic!("expected Corruption in BACKUP, got {other:?}"),
        }
    }

    /// Recomputes the trailer of `body` (header and entry lines), as an editor who knew the
    /// format would.
    fn seal(body: &str, count: usize) -> String {
        format!(
            "{body}end {count} {:08x}\n",
            crc32fast::hash(body.as_bytes())
        )
    }

    #[test]
    fn encode_matches_the_golden_listing_and_parses_back() {
        assert_eq!(encode(&sample()), GOLDEN);
        assert_eq!(parse(GOLDEN.as_bytes()).expect("parse"), sample());
    }

    #[test]
    fn every_cut_of_a_listing_is_refused() {
        let text = encode(&sample());
        for len in 0..text.len() {
            let cut = text.get(..len).expect("ascii");
            assert!(
                matches!(parse(cut.as_bytes()), Err(Error::Corruption { .. })),
                "a listing cut to {len} bytes was accepted: {cut:?}"
            );
        }
    }

    #[test]
    fn a_listing_torn_right_after_current_is_refused() {
        let text = encode(&sample());
        let cut = text.find("end ").expect("trailer");
        let (line, why) = reason(parse(&text.as_bytes()[..cut]).expect_err("torn"));
        assert_eq!(line, 4);
        assert!(why.contains("no trailer"), "{why}");
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let text = encode(&sample()).into_bytes();
        for byte in 0..text.len() {
            for bit in 0..8 {
                let mut damaged = text.clone();
                damaged[byte] ^= 1 << bit;
                assert!(
                    parse(&damaged).is_err(),
                    "bit {bit} of byte {byte} flipped was accepted"
                );
            }
        }
    }

    #[test]
    fn an_edited_listing_fails_its_trailer() {
        // A table line removed (as if its file had been dropped from the backup).
        let edited = GOLDEN.replace("000012.sst 4096123 9f3a01c2\n", "");
        let (line, why) = reason(parse(edited.as_bytes()).expect_err("edited"));
        assert_eq!(line, 4);
        assert!(why.contains("crc32"), "{why}");
        // The right crc with the wrong count.
        let body = &GOLDEN[..GOLDEN.find("end ").expect("trailer")];
        let (_, why) = reason(parse(seal(body, 5).as_bytes()).expect_err("count"));
        assert!(
            why.contains("counts 5 files but the listing has 4"),
            "{why}"
        );
        // Anything after the trailer makes the trailer not the last line.
        assert!(parse(format!("{GOLDEN}\n").as_bytes()).is_err());
        assert!(parse(format!("{GOLDEN}CURRENT 16 1d2e3f40\n").as_bytes()).is_err());
        // Uppercase hex, a sign or a CR is not how the writer spells it.
        for (from, to) in [
            ("9f3a01c2", "9F3A01C2"),
            ("4096123", "+4096123"),
            (" 211 ", "  211 "),
        ] {
            let edited = body.replace(from, to);
            assert!(parse(seal(&edited, 4).as_bytes()).is_err(), "{edited:?}");
        }
        assert!(parse(GOLDEN.replace('\n', "\r\n").as_bytes()).is_err());
    }

    #[test]
    fn a_sealed_listing_is_still_checked_line_by_line() {
        let refused = |body: &str, count: usize, want: &str| {
            let (_, why) = reason(parse(seal(body, count).as_bytes()).expect_err(body));
            assert!(why.contains(want), "{body:?}: {why}");
        };
        refused(
            "rustlite-backup 2\n../etc/passwd 1 00000000\nCURRENT 1 00000000\n",
            2,
            "refusing file name",
        );
        refused(
            "rustlite-backup 2\nCURRENT 1 00000000\nCURRENT 1 00000000\n",
            2,
            "listed twice",
        );
        refused(
            "rustlite-backup 2\n000001.sst 1 00000000\n",
            1,
            "no CURRENT",
        );
        refused("rustlite-backup 2\nCURRENT 1\n", 1, "malformed");
    }

    #[test]
    fn a_format_1_listing_is_refused_as_an_older_backup() {
        // A listing as the previous version wrote it: no trailer.
        const FORMAT_1: &str = "rustlite-backup 1\n\
                                000012.sst 4096123 9f3a01c2\n\
                                000016.wal 0 00000000\n\
                                MANIFEST-000015 211 0c44aa10\n\
                                CURRENT 16 1d2e3f40\n";
        let (line, why) = reason(parse(FORMAT_1.as_bytes()).expect_err("format 1"));
        assert_eq!(line, 0);
        assert!(
            why.contains("format 1") && why.contains("older or unfinished"),
            "{why}"
        );
    }

    #[test]
    fn a_newer_format_is_an_unsupported_version() {
        let newer = GOLDEN.replace("rustlite-backup 2", "rustlite-backup 3");
        assert!(matches!(
            parse(newer.as_bytes()),
            Err(Error::UnsupportedVersion {
                found: 3,
                supported: 2,
                ..
            })
        ));
        assert!(parse(b"not a listing\n").is_err());
        assert!(parse(b"").is_err());
    }
}
