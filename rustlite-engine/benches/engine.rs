//! The engine's own benchmark (issue 2): plain `std::time` timing, no harness.
//!
//! ```text
//! cargo bench -p rustlite-engine                              # 1M keys
//! RUSTLITE_BENCH_KEYS=100000 cargo bench -p rustlite-engine   # smaller
//! ```
//! On `RUSTLITE_BENCH_KEYS` random 16-byte keys with 100-byte values, in a temporary directory:
//! bulk load in batches of 1000 (each batch one durable commit), random point reads that hit
//! and that miss (one per key), a full scan, and 1000 individually durable commits. The
//! side-by-side comparison with other engines lives in `benches/` at the repository root.

use rustlite_engine::{Direction, Engine, Options, WriteBatch};
use std::ops::Bound;
use std::time::Instant;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Key `i` of key space `space` (0 = loaded, 1 = never written, 2 = single commits).
fn key(i: u64, space: u64) -> [u8; 16] {
    let seed = i * 4 + space;
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&splitmix(seed).to_be_bytes());
    k[8..].copy_from_slice(&splitmix(seed ^ 0x5555_AAAA_5555_AAAA).to_be_bytes());
    k
}

fn value(i: u64) -> [u8; 100] {
    let mut v = [0u8; 100];
    let mut x = splitmix(i);
    for chunk in v.chunks_mut(8) {
        x = splitmix(x);
        let bytes = x.to_le_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(bytes.get(..n).unwrap_or(&bytes));
    }
    v
}

fn report(what: &str, ops: u64, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what:<44} {ops:>9} ops {secs:>8.3} s {:>12.0} ops/s",
        ops as f64 / secs
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::var("RUSTLITE_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir_in(std::env::var_os("CARGO_TARGET_TMPDIR").unwrap_or(".".into()))?;
    let db = Engine::open(dir.path(), Options::default())?;
    println!(
        "rustlite-engine bench: {n} keys, 16-byte keys, 100-byte values, Durability::Immediate"
    );

    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let mut batch = WriteBatch::new();
        for j in i..end {
            batch.put(key(j, 0), value(j));
        }
        db.write(batch)?;
        i = end;
    }
    report("bulk load, durable batches of 1000", n, start);

    let mut rng = 1u64;
    let mut next = || {
        rng = splitmix(rng);
        ((u128::from(rng) * u128::from(n)) >> 64) as u64
    };
    for (what, space) in [
        ("random point reads, hits", 0),
        ("random point reads, misses", 1),
    ] {
        let start = Instant::now();
        for _ in 0..n {
            let found = db.get(&key(next(), space))?;
            assert_eq!(found.is_some(), space == 0, "{what}");
        }
        report(what, n, start);
    }

    let start = Instant::now();
    let mut count = 0u64;
    for entry in db.scan(Bound::Unbounded, Bound::Unbounded, Direction::Forward)? {
        entry?;
        count += 1;
    }
    assert_eq!(count, n, "full scan");
    report("full scan (entries)", n, start);

    let commits = 1000;
    let start = Instant::now();
    for j in 0..commits {
        db.put(&key(j, 2), &value(j))?;
    }
    report("individual durable commits", commits, start);
    Ok(())
}
