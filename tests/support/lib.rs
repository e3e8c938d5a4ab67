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
