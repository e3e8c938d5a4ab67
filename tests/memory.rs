//! Memory returns to the operating system: a compaction frees its input tables' cached blocks
//! and closing a database frees all of them; the process's resident size must drop with them,
//! also when those blocks sit between the application's own live allocations in the heap
//! (glibc keeps such holes mapped unless asked to return them).
//!
//! One test per file: resident size is per process, so no other test may run beside it.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use rustlite::{Database, Durability, Options, WriteBatch};
use rustlite_suite::key16;

const KEYS: u64 = 300_000;

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    rustlite_suite::resident_bytes().expect("VmRSS in /proc/self/status")
}

fn value(i: u64) -> Vec<u8> {
    format!("{i:0100}").into_bytes()
}

#[test]
fn compactions_and_close_return_the_freed_cache_to_the_os() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .durability(Durability::Buffered)
        .block_cache_size(256 << 20);
    let db = Database::open_with(dir.path(), opts).expect("open");
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(key16(i), value(i));
        }
        db.write_batch(batch).expect("write");
    }
    db.flush().expect("flush");

    let mut kept = Vec::new();
    read_all(&db, &mut kept);
    let cached = db.stats().cache.size_bytes;
    assert!(cached > 20 << 20, "the reads cached {cached} bytes");
    let before = rss();

    // Rewrite a key in every stretch of the key space: the compaction that merges them
    // rewrites, and then deletes, every table the reads cached.
    let mut batch = WriteBatch::new();
    for i in (0..KEYS).step_by(100) {
        batch.put(key16(i), value(i));
    }
    db.write_batch(batch).expect("write");
    db.flush().expect("flush");
    db.compact().expect("compact");
    let after = rss();
    assert!(
        db.stats().cache.size_bytes < cached / 10,
        "the compaction dropped its inputs' blocks from the cache"
    );
    let released = before.saturating_sub(after);
    assert!(
        released > cached / 2,
        "RSS {before} -> {after}: only {released} of the {cached} cached bytes returned"
    );

    // Nothing was lost on the way; the new tables' blocks fill the cache again.
    read_all(&db, &mut kept);
    let cached = db.stats().cache.size_bytes;
    let before = rss();
    drop(db);
    let after = rss();
    let released = before.saturating_sub(after);
    assert!(
        released > cached / 2,
        "closing: RSS {before} -> {after}: only {released} of the {cached} cached bytes returned"
    );
    assert_eq!(kept.len() as u64, 2 * KEYS.div_ceil(1000));
}

/// Reads every key (so the cache loads every block), keeping every 1000th value the way an
/// application keeps what it read: its allocations land between the blocks in the heap.
fn read_all(db: &Database, kept: &mut Vec<Vec<u8>>) {
    for i in 0..KEYS {
        let v = db
            .get(key16(i))
            .expect("get")
            .expect("every key was written");
        assert_eq!(v, value(i));
        if i % 1000 == 0 {
            kept.push(v);
        }
    }
}
