//! Helpers shared by RustLite's end-to-end tests (`tests/`) and examples (`examples/`).

use std::path::Path;

/// Flips bit `bit` of the byte at `offset` in the file at `path`.
pub fn flip_bit(path: &Path, offset: u64, bit: u8) -> std::io::Result<()> {
    let mut bytes = std::fs::read(path)?;
    let i = usize::try_from(offset).map_err(|_| std::io::Error::other("offset too large"))?;
    let byte = bytes
        .get_mut(i)
        .ok_or_else(|| std::io::Error::other("offset past the end of the file"))?;
    *byte ^= 1 << (bit % 8);
    std::fs::write(path, bytes)
}

/// Files in `dir` whose names end with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    Ok(out)
}

/// A deterministic 16-byte key for index `i` (spread over the key space like a random key).
pub fn key16(i: u64) -> [u8; 16] {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&x.to_be_bytes());
    out[8..].copy_from_slice(&i.to_be_bytes());
    out
}

/// Copies every regular file of database directory `from` into `to` (created if needed), except
/// `LOCK`: a "crash image" of a database that is still open.
///
/// Take it between operations (no commit, flush or compaction in flight): each file is copied
/// on its own, so a copy taken while the engine writes could mix states no real crash produces.
/// With `Durability::Immediate` every acknowledged commit is in the WAL on disk at that point.
pub fn copy_crash_image(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() || entry.file_name() == "LOCK" {
            continue;
        }
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// Resident set size of this process in bytes (`VmRSS` of `/proc/self/status`; Linux).
pub fn resident_bytes() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other("no VmRSS in /proc/self/status"))
}

/// Whether the long (soak) mode of the randomized and crash tests is on: `RUSTLITE_LONG=1`.
pub fn long_mode() -> bool {
    std::env::var("RUSTLITE_LONG").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Number of cases for a randomized test: `PROPTEST_CASES` if set, else `long` in the long mode
/// (`RUSTLITE_LONG=1`), else `short`.
pub fn cases(short: u32, long: u32) -> u32 {
    if let Some(n) = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if long_mode() {
        long
    } else {
        short
    }
}

/// A deterministic pseudo-random generator for tests (splitmix64): reproducible from its seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}
