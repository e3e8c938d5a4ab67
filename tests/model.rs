//! Model-based randomized tests: random sequences of operations run against a real database and
//! against a `BTreeMap`, which must agree at every step.
//!
//! - Keys come from a tiny alphabet (`""`, bytes `0x00`, `a`, `b`, `0xFF`, up to 3 long) so puts,
//!   overwrites and deletes keep hitting the same keys; values are empty, short, or a few KiB.
//! - Options are tiny (32 KiB memtable, small L1 and files) so flushes and compactions, in the
//!   background and forced, happen inside one case; `Reopen` drops the handle and opens the
//!   directory again (WAL replay).
//! - Variants: real directory with `Durability::Immediate` and a background compaction thread,
//!   real directory with `Durability::Buffered` and inline compaction, and in memory.
//! - A snapshot model: snapshots taken along the way must keep reading their state exactly while
//!   writes, flushes and compactions continue (compaction keeps the versions they need).
//!
//! Case counts keep this file well under a minute in debug on 2 cores. `PROPTEST_CASES=n` sets
//! the count for every test here; `RUSTLITE_LONG=1` runs the long mode (hundreds of cases):
//! `RUSTLITE_LONG=1 cargo test --release --test model`.

use proptest::prelude::*;
use rustlite::{Database, Durability, Options, WriteBatch};
use rustlite_suite::cases;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

fn tiny(durability: Durability, background: bool) -> Options {
    let mut o = Options::default().durability(durability);
    o.memtable_size = 32 << 10;
    o.block_size = 1024;
    o.l1_target_size = 96 << 10;
    o.target_file_size = 24 << 10;
    o.l0_compaction_trigger = 2;
    o.block_cache_size = 256 << 10;
    o.background_compaction = background;
    o
}

#[derive(Clone, Debug)]
enum BatchOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Batch(Vec<BatchOp>),
    Get(Vec<u8>),
    Scan(Range, bool),
    ScanPrefix(Vec<u8>, bool),
    Flush,
    Compact,
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), Just(0xFF)],
        0..=3,
    )
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    let fill = |(len, seed): (usize, u8)| -> Vec<u8> {
        (0..len)
            .map(|i| seed.wrapping_add((i as u8).wrapping_mul(31)))
            .collect()
    };
    prop_oneof![
        2 => Just(Vec::new()),
        6 => (1usize..40, any::<u8>()).prop_map(fill),
        2 => (1000usize..4096, any::<u8>()).prop_map(fill),
    ]
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key().prop_map(Bound::Included),
        2 => key().prop_map(Bound::Excluded),
    ]
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| BatchOp::Put(k, v)),
        1 => key().prop_map(BatchOp::Delete),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => key().prop_map(Op::Delete),
        5 => proptest::collection::vec(batch_op(), 1..8).prop_map(Op::Batch),
        6 => key().prop_map(Op::Get),
        4 => (bound(), bound(), any::<bool>()).prop_map(|(lo, hi, rev)| Op::Scan((lo, hi), rev)),
        2 => (proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a'), Just(0xFF)], 0..=2), any::<bool>())
            .prop_map(|(p, rev)| Op::ScanPrefix(p, rev)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn in_range(k: &[u8], (lo, hi): &Range) -> bool {
    let above = match lo {
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

fn collect(it: rustlite::KvIter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.collect::<Result<Vec<_>, _>>().expect("scan item")
}

fn expected(model: &Model, keep: impl Fn(&[u8]) -> bool, rev: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = model
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if rev {
        out.reverse();
    }
    out
}

/// Full forward and reverse scans of `db` equal the model.
fn check_all(db: &Database, model: &Model, step: usize) {
    let all = collect(db.scan::<&[u8]>(..).expect("scan"));
    assert!(
        all == expected(model, |_| true, false),
        "step {step}: full scan differs: db keys {:?}, model keys {:?}",
        all.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>()
    );
    let rev = collect(db.scan_rev::<&[u8]>(..).expect("scan_rev"));
    assert!(
        rev == expected(model, |_| true, true),
        "step {step}: reverse scan differs"
    );
}

/// Where the database under test lives; `reopen` is `None` in memory.
struct Target {
    dir: Option<tempfile::TempDir>,
    options: Options,
}

impl Target {
    fn open(&self) -> Database {
        match &self.dir {
            Some(dir) => Database::open_with(dir.path(), self.options.clone()).expect("open"),
            None => Database::in_memory_with(self.options.clone()).expect("in_memory"),
        }
    }

    fn path(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

fn run(target: &Target, ops: &[Op]) {
    let mut db = target.open();
    let mut model = Model::new();
    for (step, op) in ops.iter().enumerate() {
        let mut full_check = step % 8 == 7;
        match op {
            Op::Put(k, v) => {
                db.put(k, v).expect("put");
                model.insert(k.clone(), v.clone());
                assert_eq!(db.get(k).expect("get").as_ref(), Some(v), "step {step}");
            }
            Op::Delete(k) => {
                db.delete(k).expect("delete");
                model.remove(k);
                assert_eq!(db.get(k).expect("get"), None, "step {step}");
            }
            Op::Batch(ops) => {
                let mut batch = WriteBatch::new();
                for o in ops {
                    match o {
                        BatchOp::Put(k, v) => {
                            batch.put(k, v);
                            model.insert(k.clone(), v.clone());
                        }
                        BatchOp::Delete(k) => {
                            batch.delete(k);
                            model.remove(k);
                        }
                    }
                }
                db.write_batch(batch).expect("write_batch");
            }
            Op::Get(k) => {
                assert_eq!(
                    db.get(k).expect("get").as_ref(),
                    model.get(k),
                    "step {step}: get {k:?}"
                );
            }
            Op::Scan(range, rev) => {
                let it = if *rev {
                    db.scan_rev(range.clone())
                } else {
                    db.scan(range.clone())
                };
                let got = collect(it.expect("scan"));
                let want = expected(&model, |k| in_range(k, range), *rev);
                assert!(
                    got == want,
                    "step {step}: scan {range:?} rev={rev}: got keys {:?}, want {:?}",
                    got.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                    want.iter().map(|(k, _)| k).collect::<Vec<_>>()
                );
            }
            Op::ScanPrefix(p, rev) => {
                let it = if *rev {
                    db.scan_prefix_rev(p)
                } else {
                    db.scan_prefix(p)
                };
                let got = collect(it.expect("scan_prefix"));
                let want = expected(&model, |k| k.starts_with(p), *rev);
                assert!(got == want, "step {step}: prefix {p:?} rev={rev}");
            }
            Op::Flush => {
                db.flush().expect("flush");
                full_check = true;
            }
            Op::Compact => {
                db.compact().expect("compact");
                db.verify().expect("verify after compaction");
                full_check = true;
            }
            Op::Reopen => {
                if target.path().is_some() {
                    drop(db);
                    db = target.open();
                }
                full_check = true;
            }
        }
        if full_check {
            check_all(&db, &model, step);
        }
    }
    check_all(&db, &model, ops.len());
    db.verify().expect("verify at the end");
    if target.path().is_some() {
        drop(db);
        let db = target.open();
        check_all(&db, &model, usize::MAX);
    }
}

fn on_disk(options: Options) -> Target {
    Target {
        dir: Some(tempfile::tempdir().expect("tempdir")),
        options,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(12, 500), ..ProptestConfig::default() })]

    #[test]
    fn model_on_disk_immediate(ops in proptest::collection::vec(op(), 1..120)) {
        run(&on_disk(tiny(Durability::Immediate, true)), &ops);
    }

    #[test]
    fn model_on_disk_buffered_inline_compaction(ops in proptest::collection::vec(op(), 1..160)) {
        run(&on_disk(tiny(Durability::Buffered, false)), &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24, 1000), ..ProptestConfig::default() })]

    #[test]
    fn model_in_memory(ops in proptest::collection::vec(op(), 1..200)) {
        run(&Target { dir: None, options: tiny(Durability::Immediate, true) }, &ops);
    }
}

/// The options above really do produce flushes and multi-level compactions with a workload of
/// the size the model test generates (otherwise the model test would only test the memtable).
#[test]
fn tiny_options_flush_and_compact() {
    let target = on_disk(tiny(Durability::Buffered, false));
    let db = target.open();
    for i in 0..400u32 {
        let k = [b'a', (i % 7) as u8, (i % 5) as u8];
        db.put(k, vec![i as u8; 1500]).expect("put");
    }
    let stats = db.stats();
    let deeper: usize = stats.levels.iter().skip(1).map(|l| l.files).sum();
    assert!(deeper > 0, "expected tables below L0: {stats:?}");
}

// ---- snapshots ----------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum SnapOp {
    Write(Op),
    Take,
    Release(usize),
    Check,
}

fn snap_op() -> impl Strategy<Value = SnapOp> {
    prop_oneof![
        20 => prop_oneof![
            6 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
            2 => key().prop_map(Op::Delete),
            2 => proptest::collection::vec(batch_op(), 1..8).prop_map(Op::Batch),
            1 => Just(Op::Flush),
            1 => Just(Op::Compact),
        ].prop_map(SnapOp::Write),
        2 => Just(SnapOp::Take),
        1 => (0usize..4).prop_map(SnapOp::Release),
        3 => Just(SnapOp::Check),
    ]
}

fn check_snapshot(snap: &rustlite::Snapshot, model: &Model, what: &str) {
    let all = collect(snap.scan::<&[u8]>(..).expect("snapshot scan"));
    assert!(
        all == expected(model, |_| true, false),
        "{what}: snapshot scan differs: got keys {:?}, want {:?}",
        all.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>()
    );
    for k in [&b""[..], b"a", b"\xff", b"ab", b"\xff\xff"] {
        assert_eq!(
            snap.get(k).expect("snapshot get").as_ref(),
            model.get(k),
            "{what}: get {k:?}"
        );
    }
    let p = collect(snap.scan_prefix(b"a").expect("snapshot prefix scan"));
    assert!(
        p == expected(model, |k| k.starts_with(b"a"), false),
        "{what}: prefix"
    );
}

fn run_snapshots(target: &Target, ops: &[SnapOp]) {
    let db = target.open();
    let mut model = Model::new();
    let mut snaps: Vec<(rustlite::Snapshot, Model, usize)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            SnapOp::Write(Op::Put(k, v)) => {
                db.put(k, v).expect("put");
                model.insert(k.clone(), v.clone());
            }
            SnapOp::Write(Op::Delete(k)) => {
                db.delete(k).expect("delete");
                model.remove(k);
            }
            SnapOp::Write(Op::Batch(ops)) => {
                let mut batch = WriteBatch::new();
                for o in ops {
                    match o {
                        BatchOp::Put(k, v) => {
                            batch.put(k, v);
                            model.insert(k.clone(), v.clone());
                        }
                        BatchOp::Delete(k) => {
                            batch.delete(k);
                            model.remove(k);
                        }
                    }
                }
                db.write_batch(batch).expect("batch");
            }
            SnapOp::Write(Op::Flush) => db.flush().expect("flush"),
            SnapOp::Write(Op::Compact) => db.compact().expect("compact"),
            SnapOp::Write(_) => {}
            SnapOp::Take => {
                if snaps.len() < 4 {
                    snaps.push((db.snapshot(), model.clone(), step));
                }
            }
            SnapOp::Release(i) => {
                if *i < snaps.len() {
                    snaps.remove(*i);
                }
            }
            SnapOp::Check => {
                for (snap, m, taken) in &snaps {
                    check_snapshot(snap, m, &format!("step {step}, snapshot of step {taken}"));
                }
            }
        }
    }
    // A last full compaction must still keep what every live snapshot reads.
    db.compact().expect("final compact");
    for (snap, m, taken) in &snaps {
        check_snapshot(
            snap,
            m,
            &format!("after final compaction, snapshot of step {taken}"),
        );
    }
    check_all(&db, &model, ops.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(16, 500), ..ProptestConfig::default() })]

    #[test]
    fn snapshots_keep_reading_their_state(ops in proptest::collection::vec(snap_op(), 1..150)) {
        run_snapshots(&on_disk(tiny(Durability::Buffered, false)), &ops);
    }

    #[test]
    fn snapshots_keep_reading_their_state_in_memory_background(ops in proptest::collection::vec(snap_op(), 1..150)) {
        run_snapshots(&Target { dir: None, options: tiny(Durability::Immediate, true) }, &ops);
    }
}
