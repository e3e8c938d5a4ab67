//! The workloads, run against one engine inside its own child process (so the peak RSS read at
//! the end belongs to that engine alone).
//!
//! ```text
//!  phase A  open durable, warm cache   load ─ disk ─ warm-up scan ─ gets (1t, 4t) ─ ranges ─ scan
//!                                      ─ compact ─ disk ─ warm-up scan
//!                                      ─ (individual commits ─ small txns 1t ─ 4t) × 3, each row
//!                                        in turn with the other engines' (see `turns`)
//!  phase B  reopen buffered            warm-up scan ─ small txns (1t, 4t) ─ warm-up scan ─ YCSB-A
//!                                      ─ YCSB-B
//!  phase C  reopen durable, cache =    cold gets 1t ─ reopen ─ cold gets 4t ─ deletes (durable
//!           dataset / 4                 batches of 1000); OS page cache dropped after each open
//! ```
//! Every measurement is printed as `RESULT <id> <value>`; the parent assembles the table.

use crate::engines::{self, disk_bytes, Config, Engine, Result};
use crate::keys::{key, value, Rng, Zipf, HIT, KEY_LEN, MISS, NEW, VALUE_LEN};
use crate::turns::Gate;
use std::path::Path;
use std::time::Instant;

/// Operation counts; `--quick` divides the full sizes by 100.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub keys: u64,
    pub batch: usize,
    pub reads: u64,
    pub range100: u64,
    pub range10: u64,
    pub commits: u64,
    pub txn_durable: u64,
    pub txn_buffered: u64,
    pub ycsb: u64,
    pub cold_reads: u64,
    pub deletes: u64,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        let d = if quick { 100 } else { 1 };
        Sizes {
            keys: 1_000_000 / d,
            batch: 1000,
            reads: 1_000_000 / d,
            range100: 20_000 / d,
            range10: 100_000 / d,
            commits: 1000 / d,
            txn_durable: 4000 / d,
            txn_buffered: 100_000 / d,
            ycsb: 500_000 / d,
            cold_reads: 100_000 / d,
            deletes: 500_000 / d,
        }
    }

    /// Bytes of user data after the load (keys + values).
    pub fn logical_bytes(&self) -> u64 {
        self.keys * (KEY_LEN + VALUE_LEN) as u64
    }
}

/// Block cache for the warm phases: the whole data set fits.
pub const WARM_CACHE: usize = 256 << 20;

pub const THREADS: u64 = 4;

pub fn report(id: &str, value: f64) {
    println!("RESULT {id} {value}");
}

/// Median of `v` (sorts it in place); NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Runs `n` operations and reports ops/s.
fn timed(id: &str, n: u64, f: impl FnOnce() -> Result<()>) -> Result<()> {
    report(id, rate(id, n, f)?);
    Ok(())
}

/// Runs `n` operations and returns ops/s (printing the time taken).
fn rate(id: &str, n: u64, f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    f()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!("  {id:<16} {n:>9} ops in {secs:>7.3}s");
    Ok(n as f64 / secs)
}

/// Runs `per_thread(t)` on `THREADS` threads and reports total ops/s.
fn timed_threads(
    id: &str,
    total: u64,
    per_thread: impl Fn(u64) -> Result<()> + Sync,
) -> Result<()> {
    report(id, rate_threads(id, total, per_thread)?);
    Ok(())
}

/// Runs `per_thread(t)` on `THREADS` threads and returns total ops/s.
fn rate_threads(
    id: &str,
    total: u64,
    per_thread: impl Fn(u64) -> Result<()> + Sync,
) -> Result<f64> {
    rate(id, total, || {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let f = &per_thread;
                    s.spawn(move || f(t))
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().map_err(|_| "worker panicked")?)
        })
    })
}

/// Marks an operation the engine does not offer.
fn unsupported(id: &str, err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    if err.downcast_ref::<engines::Unsupported>().is_some() {
        eprintln!("  {id:<16} n/a ({err})");
        true
    } else {
        false
    }
}

/// Drops the OS page cache (needs root and a writable /proc/sys); says whether it worked.
fn drop_page_cache() -> bool {
    // Write back dirty pages first, so dropping the clean ones empties the cache.
    let _ = std::process::Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "1").is_ok()
}

/// Runs every selected workload on engine `name` in `dir` and prints the results; `gate` holds
/// each durable row of each round until the parent gives this engine its turn.
pub fn run_engine(
    name: &str,
    dir: &Path,
    sizes: Sizes,
    want: &dyn Fn(&str) -> bool,
    gate: &mut Gate,
) -> Result<()> {
    let n = sizes.keys;
    let durable = Config {
        cache_bytes: WARM_CACHE,
        durable: true,
    };

    // ── phase A ──────────────────────────────────────────────────────────────────────────
    let mut db = engines::open(name, dir, durable)?;
    timed("load", n, || {
        let mut i = 0;
        while i < n {
            let end = (i + sizes.batch as u64).min(n);
            let data: Vec<_> = (i..end).map(|j| (key(j, HIT), value(j, 0))).collect();
            let ops: Vec<_> = data.iter().map(|(k, v)| (&k[..], Some(&v[..]))).collect();
            db.write_batch(&ops)?;
            i = end;
        }
        Ok(())
    })?;
    db.settle()?;
    report("disk_load", disk_bytes(dir) as f64);

    read_workloads(&*db, sizes, want)?;

    if want("disk_compact") {
        match db.compact() {
            Ok(()) => {
                db.settle()?;
                report("disk_compact", disk_bytes(dir) as f64);
                report(
                    "space_amp",
                    disk_bytes(dir) as f64 / sizes.logical_bytes() as f64,
                );
            }
            Err(e) if unsupported("compact", &*e) => {
                // No compaction: the size as loaded is what the user gets.
                report(
                    "space_amp",
                    disk_bytes(dir) as f64 / sizes.logical_bytes() as f64,
                );
            }
            Err(e) => return Err(e),
        }
    }

    // The durable transactions read loaded keys, and the compaction above rewrote every table of
    // the engines that compact (their caches then hold only blocks of deleted tables): the same
    // untimed full scan as before the reads and before phase B's transactions, for every engine.
    if want("txn1_durable") || want("txn4_durable") {
        warm_up(&*db, n)?;
    }

    // Entries stored once phase A is done: the load, plus the keys the individual commits add
    // (in each of the durable rounds).
    let mut stored = n;
    let commits = want("commit1").then_some(sizes.commits);
    if let Some(c) = commits {
        stored += c * DURABLE_ROUNDS;
    }
    txn_workloads(
        &*db,
        sizes,
        "durable",
        sizes.txn_durable,
        want,
        commits,
        gate,
    )?;
    drop(db);

    // ── phase B ──────────────────────────────────────────────────────────────────────────
    let db = engines::open(
        name,
        dir,
        Config {
            durable: false,
            ..durable
        },
    )?;
    // The reopen emptied the engines' own caches but not the OS page cache, through which LMDB
    // reads (mmap): without this LMDB started phase B warm and every engine with a cache of its
    // own started it cold. The same untimed full scan as in phase A, for every engine.
    let phase_b = ["txn1_buffered", "txn4_buffered", "ycsb_a", "ycsb_b"];
    if phase_b.iter().any(|id| want(id)) {
        warm_up(&*db, stored)?;
    }
    let free = &mut Gate::new(false);
    txn_workloads(
        &*db,
        sizes,
        "buffered",
        sizes.txn_buffered,
        want,
        None,
        free,
    )?;
    // Again before YCSB: SQLite's page cache is per connection, and a commit through one
    // connection empties every other connection's cache (at its next transaction), so the
    // 4-thread transactions left the main thread's connection cold. Every other engine's cache
    // is still warm here: for them the scan is only untimed time.
    if want("ycsb_a") || want("ycsb_b") {
        warm_up(&*db, stored)?;
    }
    for (id, read_pct) in [("ycsb_a", 50), ("ycsb_b", 95)] {
        if !want(id) {
            continue;
        }
        let zipf = Zipf::new(n);
        timed(id, sizes.ycsb, || {
            let mut rng = Rng::new(7);
            for op in 0..sizes.ycsb {
                let i = zipf.next(&mut rng);
                if rng.below(100) < read_pct {
                    // Every loaded key is there (YCSB updates, never deletes): a miss is a wrong
                    // answer, and fails the run.
                    if db.get(&key(i, HIT))?.is_none() {
                        return Err(format!("{id}: loaded key {i} not found").into());
                    }
                } else {
                    let (k, v) = (key(i, HIT), value(i, op + 2));
                    db.write_batch(&[(&k[..], Some(&v[..]))])?;
                }
            }
            Ok(())
        })?;
    }
    db.settle()?;
    drop(db);

    // ── phase C ──────────────────────────────────────────────────────────────────────────
    let cold = Config {
        cache_bytes: (sizes.logical_bytes() / 4) as usize,
        durable: true,
    };
    // Each cold row starts cold: the engine is opened afresh (its own cache empty) and the OS
    // page cache is dropped after the open, the same for every engine. One shared start left the
    // 4-thread row warm: the 1-thread row's reads had filled both caches. The deletes run on the
    // 4-thread row's engine, as they did before.
    let mut dropped = true;
    if want("cold_get") {
        let db = engines::open(name, dir, cold)?;
        dropped &= drop_page_cache();
        timed("cold_get", sizes.cold_reads, || {
            get_loop(&*db, 11, sizes.cold_reads, n, HIT)
        })?;
    }
    let db = engines::open(name, dir, cold)?;
    if want("cold_get4") {
        dropped &= drop_page_cache();
        let per = sizes.cold_reads / THREADS;
        timed_threads("cold_get4", per * THREADS, |t| {
            get_loop(&*db, 20 + t, per, n, HIT)
        })?;
    }
    if want("cold_get") || want("cold_get4") {
        report("page_cache_dropped", if dropped { 1.0 } else { 0.0 });
    }
    if want("delete") {
        let deletes = sizes.deletes.min(n);
        timed("delete", deletes, || {
            let mut rng = Rng::new(99);
            // Distinct random loaded keys: a random permutation prefix of 0..n.
            let mut idx: Vec<u64> = (0..n).collect();
            for j in 0..deletes as usize {
                let pick = j + rng.below((n as usize - j) as u64) as usize;
                idx.swap(j, pick);
            }
            for chunk in idx[..deletes as usize].chunks(sizes.batch) {
                let ks: Vec<_> = chunk.iter().map(|&i| key(i, HIT)).collect();
                let ops: Vec<_> = ks.iter().map(|k| (&k[..], None)).collect();
                db.write_batch(&ops)?;
            }
            Ok(())
        })?;
    }
    drop(db);
    report("peak_rss", peak_rss_bytes() as f64);
    Ok(())
}

/// One untimed pass over every entry, the same for every engine, so the timed workloads that
/// follow find the engine's cache (and the OS page cache) warm. It must see `expected` entries.
fn warm_up(db: &dyn Engine, expected: u64) -> Result<()> {
    let start = Instant::now();
    let count = db.warm_up()?;
    eprintln!(
        "  {:<16} {count:>9} entries in {:>7.3}s (untimed)",
        "warm-up scan",
        start.elapsed().as_secs_f64()
    );
    if count as u64 != expected {
        return Err(format!("warm-up scan saw {count} entries, expected {expected}").into());
    }
    Ok(())
}

fn get_loop(db: &dyn Engine, seed: u64, count: u64, n: u64, space: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    for _ in 0..count {
        let found = db.get(&key(rng.below(n), space))?;
        if found.is_some() != (space == HIT) {
            return Err(format!("get returned {found:?} for a key of space {space}").into());
        }
    }
    Ok(())
}

fn read_workloads(db: &dyn Engine, sizes: Sizes, want: &dyn Fn(&str) -> bool) -> Result<()> {
    let n = sizes.keys;
    let reads = [
        "get_hit",
        "get_miss",
        "get_hit4",
        "get_miss4",
        "range100",
        "range10",
    ];
    if reads.iter().any(|id| want(id)) {
        // The warm-phase targets are for a warm cache: no engine's first reads may pay for
        // filling its own block cache (the B-trees read through the OS page cache the load has
        // just filled).
        warm_up(db, n)?;
    }
    for (id, space) in [("get_hit", HIT), ("get_miss", MISS)] {
        if want(id) {
            timed(id, sizes.reads, || get_loop(db, 1, sizes.reads, n, space))?;
        }
        let id4 = format!("{id}4");
        if want(&id4) {
            let per = sizes.reads / THREADS;
            timed_threads(&id4, per * THREADS, |t| get_loop(db, 2 + t, per, n, space))?;
        }
    }
    // The stored keys in order (untimed), to check each seek's entry count after its row.
    let sorted: Vec<[u8; KEY_LEN]> = if want("range100") || want("range10") {
        let mut v: Vec<_> = (0..n).map(|i| key(i, HIT)).collect();
        v.sort_unstable();
        v
    } else {
        Vec::new()
    };
    for (id, len, count) in [
        ("range100", 100, sizes.range100),
        ("range10", 10, sizes.range10),
    ] {
        if want(id) {
            let mut got = Vec::with_capacity(count as usize);
            timed(id, count, || {
                let mut rng = Rng::new(3);
                for _ in 0..count {
                    // Seek to a random point of the key space (not necessarily a stored key).
                    got.push(db.range(&key(rng.below(n), MISS), len)?);
                }
                Ok(())
            })?;
            // Each seek must have read min(len, entries at or after its start): the same starts
            // again, checked outside the timing.
            let mut rng = Rng::new(3);
            for (j, &g) in got.iter().enumerate() {
                let start = key(rng.below(n), MISS);
                let after = sorted.len() - sorted.partition_point(|k| *k < start);
                if g != len.min(after) {
                    return Err(format!(
                        "{id}: seek {j} read {g} entries, expected {} ({after} stored at or after its start)",
                        len.min(after)
                    )
                    .into());
                }
            }
        }
    }
    if want("scan") {
        let start = Instant::now();
        let count = db.scan_all()?;
        if count as u64 != n {
            return Err(format!("full scan saw {count} entries, expected {n}").into());
        }
        let secs = start.elapsed().as_secs_f64();
        report("scan", count as f64 / secs);
        eprintln!("  {:<16} {count:>9} entries in {secs:>7.3}s", "scan");
    }
    Ok(())
}

/// Rounds of the durable rows: individual commits, then small transactions on one thread, then
/// on four, this many times over (on other keys each round); each row reports its median, the
/// 4-thread row its commits per fsync over all rounds. A round of RustLite's individual commits
/// lasts ~0.1 s and a 4-thread round ~0.15 s, short enough for one slow moment of a shared
/// machine to move them by a third; interleaving the rounds also spreads such moments over the
/// rows, whose ratio is a target.
const DURABLE_ROUNDS: u64 = 3;

/// Small transactions: read 2 random loaded keys, write 2 random loaded keys. Durable, each
/// round starts with `singles` individual commits of new keys when given (the `commit1` row).
/// Each row of each round, and the end of the rounds, waits at `gate` (the parent's turns).
fn txn_workloads(
    db: &dyn Engine,
    sizes: Sizes,
    mode: &str,
    count: u64,
    want: &dyn Fn(&str) -> bool,
    singles: Option<u64>,
    gate: &mut Gate,
) -> Result<()> {
    let n = sizes.keys;
    let one = |seed: u64, count: u64| -> Result<()> {
        let mut rng = Rng::new(seed);
        for op in 0..count {
            let (r1, r2, w1, w2) = (rng.below(n), rng.below(n), rng.below(n), rng.below(n));
            let (k1, k2, k3, k4) = (key(r1, HIT), key(r2, HIT), key(w1, HIT), key(w2, HIT));
            let (v1, v2) = (value(w1, op + 1_000_000), value(w2, op + 1_000_000));
            for attempt in 0.. {
                match db.txn([&k1, &k2], [(&k3, &v1), (&k4, &v2)]) {
                    Ok(true) => break,
                    Ok(false) if attempt < 100 => continue,
                    Ok(false) => return Err("transaction kept conflicting".into()),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    };
    let rounds = if mode == "durable" { DURABLE_ROUNDS } else { 1 };
    let (id1, id4) = (format!("txn1_{mode}"), format!("txn4_{mode}"));
    let (mut rates_c, mut rates1, mut rates4) = (Vec::new(), Vec::new(), Vec::new());
    let (mut syncs, mut commits) = (0, 0);
    // Both rows are skipped from the first time the engine says it lacks transactions, but still
    // wait for their turns: every engine's children then take the same turns.
    let (wait1, wait4) = (want(&id1), want(&id4));
    let (mut run1, mut run4) = (wait1, wait4);
    for round in 0..rounds {
        let seed = 100 * round;
        if let Some(c) = singles {
            gate.wait()?;
            rates_c.push(rate("commit1", c, || {
                for i in round * c..(round + 1) * c {
                    let (k, v) = (key(i, NEW), value(i, 1));
                    db.write_batch(&[(&k[..], Some(&v[..]))])?;
                }
                Ok(())
            })?);
        }
        if wait1 {
            gate.wait()?;
        }
        if run1 {
            match rate(&id1, count, || one(5 + seed, count)) {
                Ok(r) => rates1.push(r),
                Err(e) if unsupported(&id1, &*e) => run1 = false,
                Err(e) => return Err(e),
            }
        }
        if wait4 {
            gate.wait()?;
        }
        if run4 {
            let per = count / THREADS;
            let before = db.commit_stats();
            match rate_threads(&id4, per * THREADS, |t| one(50 + seed + t, per)) {
                Ok(r) => rates4.push(r),
                Err(e) if unsupported(&id4, &*e) => run4 = false,
                Err(e) => return Err(e),
            }
            if let (Some((s0, c0)), Some((s1, c1))) = (before, db.commit_stats()) {
                syncs += s1 - s0;
                commits += c1 - c0;
            }
        }
    }
    if singles.is_some() || wait1 || wait4 {
        // The rest of this child runs once every engine's rounds are done.
        gate.wait()?;
    }
    if !rates_c.is_empty() {
        report("commit1", median(&mut rates_c));
    }
    if !rates1.is_empty() {
        report(&id1, median(&mut rates1));
    }
    if !rates4.is_empty() {
        report(&id4, median(&mut rates4));
    }
    if syncs > 0 {
        report(&format!("{id4}_per_fsync"), commits as f64 / syncs as f64);
    }
    Ok(())
}

/// Peak resident set size of this process (VmHWM), in bytes.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
