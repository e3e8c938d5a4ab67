//! Simulated power loss and injected I/O errors, swept over every I/O operation of a workload.
//!
//! The engine runs on a [`FaultyStorage`] with `background_compaction: false`, so a workload
//! issues the same storage operations in the same order every run and "op k" names one point in
//! it. The workload commits single puts, deletes and multi-key batches, and forces flushes and
//! compactions (tiny memtable and levels make memtable switches, L0 flushes, compactions and
//! manifest edits happen on their own too), and takes online backups (`backup_to` a real
//! directory: the crash point sweeps over the flush it forces, and the full run checks that each
//! backup opens to exactly the commits acknowledged before it).
//!
//! - **Power loss** (`power_loss_*`): for every op k, run the workload, take the image a power
//!   loss right after op k leaves (unsynced bytes dropped whole, or cut at a seeded random
//!   length; unsynced directory changes forgotten), open it, and check that the state is exactly
//!   the state after some prefix of the commits: every commit acknowledged by op k is in it
//!   (with `Durability::Immediate`; with `Buffered`, every commit before the last acknowledged
//!   `sync()`), no commit started after op k is, and no batch is partly there.
//! - **I/O errors** (`io_error_*`): for every op n, fail op n (once, or n and every later op).
//!   The call that hit it returns an error (except a failed delete of a file the manifest no
//!   longer names, which is logged: the next open deletes it); after a failed WAL write or fsync, or a failed
//!   manifest append, fsync or rewrite (from a flush, a compaction or a backup), writes, flushes
//!   and compactions return `Error::Poisoned`; reopening the files as they are (a process crash) and as a power loss
//!   leaves them both give a state that holds every acknowledged commit and is a prefix of the
//!   attempted ones.
//!
//! - **Concurrent** (`power_loss_during_concurrent_pipelined_commits`): four threads commit while
//!   power-loss images are taken; each holds every commit acknowledged before it, none torn.
//!
//! Short mode sweeps every op with a few crash modes; `RUSTLITE_LONG=1` adds seeds:
//! `RUSTLITE_LONG=1 cargo test --release -p rustlite-engine --test power_loss`.

use rustlite_engine::storage::faulty::{CrashMode, FaultyStorage, OpKind};
use rustlite_engine::storage::{MemStorage, Storage};
use rustlite_engine::{Direction, Durability, Engine, Error, Options, WriteBatch};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Ops = Vec<(Vec<u8>, Option<Vec<u8>>)>;

#[derive(Clone, Debug)]
enum Step {
    /// One atomic commit: `None` deletes.
    Commit(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Flush,
    Compact,
    Sync,
    /// `Engine::backup_to` a fresh real directory (its storage ops are the flush it forces;
    /// the backup's own files go to the real file system, outside the crash images).
    Backup,
}

fn long_mode() -> bool {
    std::env::var("RUSTLITE_LONG").is_ok_and(|v| !v.is_empty() && v != "0")
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn options(durability: Durability) -> Options {
    let mut o = Options::default().durability(durability);
    o.memtable_size = 6 << 10;
    o.block_size = 512;
    o.l0_compaction_trigger = 2;
    o.l1_target_size = 12 << 10;
    o.target_file_size = 6 << 10;
    o.block_cache_size = 64 << 10;
    o.background_compaction = false;
    o.max_manifest_size = 128;
    o
}

/// A deterministic workload: ~`commits` commits over 24 keys, with flushes, compactions and
/// (for buffered durability) syncs sprinkled in.
fn workload(commits: usize, seed: u64) -> Vec<Step> {
    let mut rng = Rng(seed);
    let mut steps = Vec::new();
    for c in 0..commits {
        let n = if rng.below(3) == 0 {
            2 + rng.below(5) as usize
        } else {
            1
        };
        let ops = (0..n)
            .map(|i| {
                let key = format!("key{:02}", rng.below(24)).into_bytes();
                if rng.below(5) == 0 {
                    (key, None)
                } else {
                    let len = 40 + rng.below(400) as usize;
                    let fill = (c * 7 + i) as u8;
                    (key, Some(vec![fill; len]))
                }
            })
            .collect();
        steps.push(Step::Commit(ops));
        if c % 25 == 20 {
            steps.push(Step::Backup);
        }
        match c % 17 {
            5 => steps.push(Step::Sync),
            11 => steps.push(Step::Flush),
            16 => steps.push(Step::Compact),
            _ => {}
        }
    }
    steps
}

/// Model states after each prefix of the commits: `states[j]` = after the first `j` commits.
fn prefix_states(steps: &[Step]) -> Vec<Model> {
    let mut model = Model::new();
    let mut states = vec![model.clone()];
    for step in steps {
        if let Step::Commit(ops) = step {
            apply(&mut model, ops);
            states.push(model.clone());
        }
    }
    states
}

fn apply(model: &mut Model, ops: &[(Vec<u8>, Option<Vec<u8>>)]) {
    for (k, v) in ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

fn batch_of(ops: &[(Vec<u8>, Option<Vec<u8>>)]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for (k, v) in ops {
        match v {
            Some(v) => b.put(k, v),
            None => b.delete(k),
        };
    }
    b
}

fn read_all(engine: &Engine) -> rustlite_engine::Result<Model> {
    engine
        .scan(Bound::Unbounded, Bound::Unbounded, Direction::Forward)?
        .collect()
}

/// What a run observed, in storage-op counts.
#[derive(Default, Debug)]
struct Trace {
    /// Per commit attempted: ops done before it started, ops done when it returned, whether it
    /// succeeded, and what it wrote.
    commits: Vec<(u64, u64, bool, Ops)>,
    /// Op count when the last successful `sync()` returned (buffered durability).
    synced_at: Vec<(u64, usize)>,
    /// The first error, with the step that returned it.
    first_error: Option<(usize, String)>,
}

/// Runs `steps` on `engine` until done, or until the first error when `stop_on_error`, or until
/// `stop_after_op` storage ops have run.
fn drive(engine: &Engine, fs: &FaultyStorage, steps: &[Step], stop_after_op: Option<u64>) -> Trace {
    let mut trace = Trace::default();
    for (i, step) in steps.iter().enumerate() {
        if stop_after_op.is_some_and(|k| fs.ops() > k) {
            break;
        }
        let result = match step {
            Step::Commit(ops) => {
                let before = fs.ops();
                let r = engine.write(batch_of(ops)).map(|_| ());
                trace
                    .commits
                    .push((before, fs.ops(), r.is_ok(), ops.clone()));
                r
            }
            Step::Flush => engine.flush(),
            Step::Compact => engine.compact(false),
            Step::Backup => backup_step(engine, &trace, stop_after_op.is_none()),
            Step::Sync => {
                let r = engine.sync();
                if r.is_ok() {
                    trace
                        .synced_at
                        .push((fs.ops(), trace.commits.iter().filter(|c| c.2).count()));
                }
                r
            }
        };
        if let Err(e) = result {
            trace.first_error = Some((i, e.to_string()));
            break;
        }
    }
    trace
}

/// Takes a backup; in a full run (`check`), also opens it and checks it holds exactly the
/// commits acknowledged so far (single-threaded, so that is one definite prefix).
fn backup_step(engine: &Engine, trace: &Trace, check: bool) -> rustlite_engine::Result<()> {
    let dir = tempfile::tempdir()?;
    let dest = dir.path().join("backup");
    engine.backup_to(&dest)?;
    if check {
        let mut model = Model::new();
        for c in trace.commits.iter().filter(|c| c.2) {
            apply(&mut model, &c.3);
        }
        let backup = Engine::open(&dest, Options::default())?;
        assert_eq!(
            read_all(&backup)?,
            model,
            "the backup is not the acknowledged prefix"
        );
        backup.verify()?;
    }
    Ok(())
}

/// Opens `image` and checks it holds exactly one of `states[lo..=hi]`; returns which.
fn check_image(
    image: MemStorage,
    opts: &Options,
    states: &[Model],
    lo: usize,
    hi: usize,
    what: &str,
) -> usize {
    let storage: Arc<dyn Storage> = Arc::new(image);
    let engine = match Engine::open_with_storage(Arc::clone(&storage), opts.clone()) {
        Ok(e) => e,
        Err(e) => panic!("{what}: reopening the crash image failed: {e}"),
    };
    let got = read_all(&engine).unwrap_or_else(|e| panic!("{what}: scan failed: {e}"));
    let Some(j) = (lo..=hi.min(states.len() - 1)).find(|&j| states[j] == got) else {
        let closest = (0..states.len()).find(|&j| states[j] == got);
        panic!(
            "{what}: recovered state is no allowed prefix (allowed commits {lo}..={hi}; equals \
             prefix {closest:?}); keys {:?}",
            got.keys()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect::<Vec<_>>()
        );
    };
    if let Err(e) = engine.verify() {
        panic!("{what}: verify after recovery: {e}");
    }
    // The recovered database accepts writes and keeps them across another reopen.
    engine
        .put(b"after-recovery", b"yes")
        .unwrap_or_else(|e| panic!("{what}: write after recovery: {e}"));
    drop(engine);
    let engine = Engine::open_with_storage(storage, opts.clone())
        .unwrap_or_else(|e| panic!("{what}: second reopen: {e}"));
    assert_eq!(
        engine.get(b"after-recovery").expect("get"),
        Some(b"yes".to_vec()),
        "{what}"
    );
    j
}

/// The workload's number of counted storage ops, and how many manifests it creates.
fn total_ops(steps: &[Step], opts: &Options) -> (u64, usize) {
    let fs = FaultyStorage::new();
    let engine = Engine::open_with_storage(Arc::new(fs.clone()), opts.clone()).expect("open");
    let trace = drive(&engine, &fs, steps, None);
    assert!(trace.first_error.is_none(), "{:?}", trace.first_error);
    drop(engine);
    let manifests = fs
        .op_log()
        .iter()
        .filter(|r| r.kind == OpKind::Create && r.name.starts_with("MANIFEST-"))
        .count();
    (fs.ops(), manifests)
}

fn power_loss_sweep(
    durability: Durability,
    modes: &[fn(u64) -> CrashMode],
    commits: usize,
    workload_seed: u64,
) {
    let opts = options(durability);
    let steps = workload(commits, workload_seed);
    let states = prefix_states(&steps);
    let (n, manifests) = total_ops(&steps, &opts);
    // The one at open, and rewrites while it runs (`max_manifest_size` is small here): the
    // sweep crashes inside every step of a manifest rewrite too.
    assert!(manifests >= 3, "{manifests} manifests created");
    let mut recovered_prefixes = std::collections::BTreeSet::new();
    for mode_of in modes {
        for k in 0..=n {
            let mode = mode_of(k);
            let fs = FaultyStorage::new();
            fs.crash_after(k, mode);
            let trace = match Engine::open_with_storage(Arc::new(fs.clone()), opts.clone()) {
                Ok(engine) => drive(&engine, &fs, &steps, Some(k)),
                Err(e) => panic!("open failed without a fault: {e}"),
            };
            assert!(trace.first_error.is_none(), "{:?}", trace.first_error);
            let image = fs
                .crash_image()
                .unwrap_or_else(|| panic!("op {k} never ran (workload has {n} ops)"));
            // Commits acknowledged by op k must survive; commits not started by op k cannot.
            let started = trace.commits.iter().filter(|c| c.0 < k).count();
            let must = match durability {
                Durability::Immediate => trace.commits.iter().filter(|c| c.1 <= k).count(),
                Durability::Buffered => trace
                    .synced_at
                    .iter()
                    .filter(|s| s.0 <= k)
                    .map(|s| s.1)
                    .max()
                    .unwrap_or(0),
            };
            let log = fs.op_log();
            let op = log
                .get((k as usize).wrapping_sub(1))
                .map(|r| format!("{:?} {}", r.kind, r.name))
                .unwrap_or_else(|| "start".into());
            let what = format!("{durability:?} {mode:?}, crash after op {k}/{n} ({op})");
            let j = check_image(image, &opts, &states, must, started, &what);
            recovered_prefixes.insert(j);
        }
    }
    // The sweep really crossed the workload: many different prefixes were recovered (under
    // Buffered only synced states and torn tails of them can be, about half the commits).
    assert!(
        recovered_prefixes.len() > commits / 3,
        "only {} distinct prefixes recovered",
        recovered_prefixes.len()
    );
}

#[test]
fn power_loss_immediate_drop_unsynced() {
    power_loss_sweep(
        Durability::Immediate,
        &[|_| CrashMode::DropUnsynced],
        60,
        42,
    );
}

#[test]
fn power_loss_immediate_torn_writes() {
    let seeds: u64 = if long_mode() { 8 } else { 1 };
    for s in 0..seeds {
        // A different random cut of every unsynced tail at every op.
        let modes: [fn(u64) -> CrashMode; 4] = [
            |k| CrashMode::RandomPrefix(k),
            |k| CrashMode::RandomPrefix(k ^ 0x1000),
            |k| CrashMode::RandomPrefix(k ^ 0x2000),
            |k| CrashMode::RandomPrefix(k ^ 0x3000),
        ];
        // Each seed its own workload too (four cut patterns alone would repeat after four).
        if let Some(mode) = modes.get(s as usize % modes.len()) {
            power_loss_sweep(Durability::Immediate, &[*mode], 60, 42 + s);
        }
    }
}

#[test]
fn power_loss_buffered_keeps_what_sync_covered() {
    power_loss_sweep(
        Durability::Buffered,
        &[|_| CrashMode::DropUnsynced, |k| CrashMode::RandomPrefix(k)],
        60,
        42,
    );
}

/// Every file of `image`, with its content.
fn files_of(image: &MemStorage) -> Vec<(String, Vec<u8>)> {
    image
        .list()
        .expect("list")
        .into_iter()
        .map(|name| {
            let content = image.read_all(&name).expect("read");
            (name, content)
        })
        .collect()
}

/// A power loss while a crashed database recovers (replays its WALs, flushes them to a table,
/// starts a new manifest and WAL, removes the old files) or takes its first commit after: the
/// next open finds the same state, plus that commit if it was acknowledged. Before, the sweep
/// crashed only the workload; recovery itself always ran to completion.
#[test]
fn power_loss_during_recovery() {
    let opts = options(Durability::Immediate);
    let steps = workload(60, 42);
    let states = prefix_states(&steps);
    let (n, _) = total_ops(&steps, &opts);
    let every = if long_mode() { 1 } else { 8 };
    let mut recoveries = 0;
    for k in (1..=n).step_by(every) {
        let fs = FaultyStorage::new();
        fs.crash_after(k, CrashMode::RandomPrefix(k));
        let engine = Engine::open_with_storage(Arc::new(fs.clone()), opts.clone()).expect("open");
        let trace = drive(&engine, &fs, &steps, Some(k));
        drop(engine);
        let image = fs.crash_image().expect("op k ran");
        let files = files_of(&image);
        let started = trace.commits.iter().filter(|c| c.0 < k).count();
        let must = trace.commits.iter().filter(|c| c.1 <= k).count();
        let j = check_image(image, &opts, &states, must, started, &format!("op {k}"));
        // Recovery from that image, then one commit; returns the storage and the op count
        // at which the commit was acknowledged.
        let recover = |crash: Option<(u64, CrashMode)>| -> (FaultyStorage, u64) {
            let fs = FaultyStorage::with_files(&files).expect("image");
            if let Some((r, mode)) = crash {
                fs.crash_after(r, mode);
            }
            let engine =
                Engine::open_with_storage(Arc::new(fs.clone()), opts.clone()).expect("recovery");
            engine.put(b"after", b"1").expect("commit after recovery");
            let acked = fs.ops();
            drop(engine);
            (fs, acked)
        };
        let (full, acked) = recover(None);
        for r in 0..=full.ops() {
            for mode in [CrashMode::DropUnsynced, CrashMode::RandomPrefix(r)] {
                let what = format!("op {k}, then op {r} of the recovery ({mode:?})");
                let (fs, _) = recover(Some((r, mode)));
                let image = fs
                    .crash_image()
                    .unwrap_or_else(|| panic!("{what}: never ran"));
                let engine = Engine::open_with_storage(Arc::new(image), opts.clone())
                    .unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
                let mut got = read_all(&engine).unwrap_or_else(|e| panic!("{what}: scan: {e}"));
                let after = got.remove(b"after".as_slice());
                assert!(got == states[j], "{what}: the recovered state changed");
                if r >= acked {
                    assert_eq!(
                        after,
                        Some(b"1".to_vec()),
                        "{what}: acknowledged commit lost"
                    );
                }
            }
        }
        recoveries += 1;
    }
    assert!(recoveries >= 30, "{recoveries} recoveries crashed");
}

// ---- injected I/O errors ------------------------------------------------------------------

/// Four threads commit two-key batches concurrently (so commit groups are appended while earlier
/// groups' fsyncs run); power losses are simulated while they run. Every batch acknowledged
/// before a crash image was taken is in it, and every batch is whole or absent.
#[test]
fn power_loss_during_concurrent_pipelined_commits() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 60;
    for (round, mode) in [CrashMode::DropUnsynced, CrashMode::RandomPrefix(7)]
        .into_iter()
        .enumerate()
    {
        let fs = FaultyStorage::new();
        let opts = options(Durability::Immediate);
        let db = Engine::open_with_storage(Arc::new(fs.clone()), opts.clone()).expect("open");
        let acked = Arc::new(std::sync::Mutex::new(Vec::<(usize, usize)>::new()));
        let value = |t: usize, i: usize| vec![(t * 31 + i) as u8; 20 + (i * 13) % 300];
        let key = |t: usize, i: usize, half: &str| format!("t{t}-{i:03}-{half}").into_bytes();
        // The workers and the imaging loop start together, and meet again halfway, so at least
        // the image taken right after that meeting falls between the first and the last commit
        // however the threads are scheduled.
        let start = Arc::new(std::sync::Barrier::new(THREADS + 1));
        let halfway = Arc::new(std::sync::Barrier::new(THREADS + 1));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (db, acked) = (db.clone(), Arc::clone(&acked));
                let (start, halfway) = (Arc::clone(&start), Arc::clone(&halfway));
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..PER_THREAD {
                        if i == PER_THREAD / 2 {
                            halfway.wait();
                        }
                        let mut b = WriteBatch::new();
                        b.put(key(t, i, "a"), value(t, i));
                        b.put(key(t, i, "b"), value(t, i));
                        db.write(b).expect("commit");
                        acked.lock().expect("acked").push((t, i));
                    }
                })
            })
            .collect();
        let mut images = Vec::new();
        start.wait();
        let known = acked.lock().expect("acked").clone();
        images.push((known, fs.crash(mode)));
        halfway.wait();
        while images.len() < 8 {
            let known = acked.lock().expect("acked").clone();
            images.push((known, fs.crash(mode)));
            if workers.iter().all(|w| w.is_finished()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let total = THREADS * PER_THREAD;
        let in_flight = images
            .iter()
            .filter(|(known, _)| !known.is_empty() && known.len() < total)
            .count();
        assert!(
            in_flight > 0,
            "round {round}: no image taken while commits ran"
        );
        for w in workers {
            w.join().expect("worker");
        }
        let done = acked.lock().expect("acked").clone();
        images.push((done, fs.crash(mode)));
        for (n, (known, image)) in images.into_iter().enumerate() {
            let reopened = Engine::open_with_storage(Arc::new(image), opts.clone())
                .unwrap_or_else(|e| panic!("round {round} image {n}: open: {e}"));
            for &(t, i) in &known {
                assert_eq!(
                    reopened.get(&key(t, i, "a")).expect("get"),
                    Some(value(t, i)),
                    "round {round} image {n}: acknowledged batch t{t}-{i} lost"
                );
            }
            for t in 0..THREADS {
                let mut present = Vec::new();
                for i in 0..PER_THREAD {
                    let a = reopened.get(&key(t, i, "a")).expect("get");
                    let b = reopened.get(&key(t, i, "b")).expect("get");
                    assert_eq!(a, b, "round {round} image {n}: batch t{t}-{i} torn");
                    present.push(a.is_some());
                }
                // A thread commits batch i + 1 only after i was acknowledged: what survives of
                // a thread is a prefix of its batches.
                let kept = present.iter().take_while(|&&p| p).count();
                assert!(
                    present.iter().skip(kept).all(|&p| !p),
                    "round {round} image {n}: thread {t} kept batches past a lost one: {present:?}"
                );
            }
        }
    }
}

/// Whether a state holds every acknowledged commit and is a prefix of the attempted ones, the
/// commits that failed being either in or out.
fn consistent(got: &Model, trace: &Trace) -> bool {
    let attempted = trace.commits.len();
    let last_acked = trace.commits.iter().rposition(|c| c.2).map_or(0, |i| i + 1);
    let failed: Vec<usize> = (0..attempted).filter(|&i| !trace.commits[i].2).collect();
    assert!(failed.len() <= 4, "too many failed commits to enumerate");
    for j in last_acked..=attempted {
        let in_doubt: Vec<usize> = failed.iter().copied().filter(|&i| i < j).collect();
        for mask in 0..(1u32 << in_doubt.len()) {
            let mut model = Model::new();
            for (i, commit) in trace.commits.iter().enumerate().take(j) {
                let pos = in_doubt.iter().position(|&f| f == i);
                if pos.is_none_or(|p| mask & (1 << p) != 0) {
                    apply(&mut model, &commit.3);
                }
            }
            if &model == got {
                return true;
            }
        }
    }
    false
}

fn io_error_sweep(persistent: bool) {
    let opts = options(Durability::Immediate);
    let steps = workload(45, 7);
    let (n, _) = total_ops(&steps, &opts);
    let mut poisoned_checks = 0;
    let mut manifest_checks = 0;
    for at in 1..=n {
        let fs = FaultyStorage::new();
        fs.fail_at(at, persistent);
        let what = format!("fail op {at}/{n} (persistent: {persistent})");
        let mut trace = Trace::default();
        match Engine::open_with_storage(Arc::new(fs.clone()), opts.clone()) {
            Err(_) => {} // the failing op was part of open: nothing acknowledged
            Ok(engine) => {
                trace = drive(&engine, &fs, &steps, None);
                let failure = fs.first_failure();
                // Deleting a file the manifest no longer names is only logged when it fails
                // (the database is consistent either way; the next open deletes it).
                let tolerated = failure.as_ref().is_some_and(|f| f.kind == OpKind::Remove);
                assert!(
                    failure.is_none() || trace.first_error.is_some() || tolerated,
                    "{what}: op {failure:?} failed but no call reported an error"
                );
                let wal_write_failed = failure.as_ref().is_some_and(|f| {
                    matches!(f.kind, OpKind::Append | OpKind::Sync) && f.name.ends_with(".wal")
                });
                // A manifest edit that may or may not have been logged (a failed append, fsync
                // or rewrite), from a background job or a foreground flush or compaction.
                let manifest_failed = failure.as_ref().is_some_and(|f| {
                    f.name.starts_with("MANIFEST-") || f.name.starts_with("CURRENT")
                });
                if trace.first_error.is_some() {
                    // A probe write after the failure.
                    let before = fs.ops();
                    let probe = engine.put(b"probe", b"after the failure");
                    if wal_write_failed || manifest_failed {
                        poisoned_checks += 1;
                        manifest_checks += u64::from(manifest_failed);
                        assert!(
                            matches!(probe, Err(Error::Poisoned(_))),
                            "{what}: write after a failed WAL or manifest write ({failure:?}) \
                             returned {probe:?}"
                        );
                        for (call, result) in [
                            ("flush", engine.flush()),
                            ("compact", engine.compact(false)),
                        ] {
                            assert!(
                                matches!(result, Err(Error::Poisoned(_))),
                                "{what}: {call} after a failed WAL or manifest write \
                                 ({failure:?}) returned {result:?}"
                            );
                        }
                    }
                    trace.commits.push((
                        before,
                        fs.ops(),
                        probe.is_ok(),
                        vec![(b"probe".to_vec(), Some(b"after the failure".to_vec()))],
                    ));
                }
                drop(engine);
            }
        }
        // Reopen as a process crash would leave the files, and as a power loss would.
        fs.clear_fault();
        for (view, image) in [
            ("live files", fs.live()),
            ("power-loss image", fs.crash(CrashMode::DropUnsynced)),
        ] {
            let engine = Engine::open_with_storage(Arc::new(image), opts.clone())
                .unwrap_or_else(|e| panic!("{what}: reopening the {view} failed: {e}"));
            let got = read_all(&engine).unwrap_or_else(|e| panic!("{what}: {view}: scan: {e}"));
            assert!(
                consistent(&got, &trace),
                "{what}: {view}: state is not a consistent prefix; trace {trace:?}"
            );
            engine
                .verify()
                .unwrap_or_else(|e| panic!("{what}: {view}: verify: {e}"));
        }
    }
    assert!(poisoned_checks > 0, "no WAL failure was ever injected");
    assert!(manifest_checks > 0, "no manifest failure was ever injected");
}

#[test]
fn io_error_transient() {
    io_error_sweep(false);
}

#[test]
fn io_error_persistent() {
    io_error_sweep(true);
}
