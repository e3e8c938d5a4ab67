//! The Hermitage anomaly suite (<https://github.com/ept/hermitage>) at every isolation level.
//!
//! Each test replays one of Hermitage's interleavings step by step from one thread, with the
//! table `test(id, value)` holding `1 => 10, 2 => 20` stored as raw keys `test/{id}` and values
//! as decimal strings. A `select ... where <predicate>` is a range scan over `test/` filtered in
//! the test, so predicate anomalies (PMP, G2) exercise range (phantom) validation.
//!
//! The [`hermitage!`] macro turns each `fn anomaly(level)` into one `#[test]` per level
//! (`g0::read_committed`, ...), and every test asserts the exact outcome the rustdoc of
//! `rustlite_engine::mvcc` promises for its level: where an anomaly is prevented, the read shows
//! the old value or the later committer gets [`Error::Conflict`]; where it is allowed, the test
//! asserts that it really happens, so a change of behaviour in either direction fails a test.
//! `docs/ISOLATION_TABLE.md` summarises the outcomes.
//!
//! Where Hermitage's PostgreSQL run would block a writer on a row lock, our optimistic
//! transactions buffer the write and decide at commit instead.

use rustlite::{Database, Error, IsolationLevel, Result, SeqNo, Transaction};
use IsolationLevel::{ReadCommitted, ReadUncommitted, RepeatableRead, Serializable};

/// Rows as `(id, value)`.
type Rows = Vec<(u32, i64)>;

/// `create table test (id int primary key, value int); insert (1, 10), (2, 20)`.
fn setup() -> Database {
    let db = Database::in_memory().expect("open");
    db.put(key(1), "10").expect("put");
    db.put(key(2), "20").expect("put");
    db
}

fn key(id: u32) -> String {
    format!("test/{id}")
}

fn parse(v: &[u8]) -> i64 {
    std::str::from_utf8(v)
        .expect("utf8")
        .parse()
        .expect("decimal")
}

fn row(k: &[u8], v: &[u8]) -> (u32, i64) {
    let id = std::str::from_utf8(k)
        .expect("utf8")
        .strip_prefix("test/")
        .expect("test/ prefix")
        .parse()
        .expect("id");
    (id, parse(v))
}

fn begin(db: &Database, level: IsolationLevel) -> Transaction {
    db.begin_with(level).expect("begin")
}

/// `select value from test where id = ?`.
fn get(tx: &mut Transaction, id: u32) -> Option<i64> {
    tx.get(key(id)).expect("get").map(|v| parse(&v))
}

/// `update test set value = ? where id = ?` (or insert).
fn set(tx: &mut Transaction, id: u32, value: i64) {
    tx.put(key(id), value.to_string()).expect("put");
}

/// `select * from test where <pred>`: a range scan over the whole table, filtered.
fn select(tx: &mut Transaction, pred: impl Fn(i64) -> bool) -> Rows {
    tx.scan("test/".."test0")
        .expect("scan")
        .map(|e| e.map(|(k, v)| row(&k, &v)))
        .collect::<Result<Rows>>()
        .expect("scan")
        .into_iter()
        .filter(|&(_, v)| pred(v))
        .collect()
}

fn select_all(tx: &mut Transaction) -> Rows {
    select(tx, |_| true)
}

/// The committed table, read outside any transaction.
fn table(db: &Database) -> Rows {
    db.scan_prefix("test/")
        .expect("scan")
        .map(|e| e.map(|(k, v)| row(&k, &v)))
        .collect::<Result<Rows>>()
        .expect("scan")
}

fn committed(r: Result<SeqNo>) {
    if let Err(e) = r {
        panic!("commit should succeed, got {e:?}");
    }
}

fn conflicted(r: Result<SeqNo>) {
    match r {
        Err(Error::Conflict(_)) => {}
        other => panic!("commit should fail with Error::Conflict, got {other:?}"),
    }
}

/// Reads use one snapshot taken at begin (RepeatableRead, Serializable).
fn snapshot_reads(level: IsolationLevel) -> bool {
    matches!(level, RepeatableRead | Serializable)
}

/// One `#[test]` per isolation level for each `fn name(level)`.
macro_rules! hermitage {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn read_uncommitted() {
                super::$name(ReadUncommitted)
            }
            #[test]
            fn read_committed() {
                super::$name(ReadCommitted)
            }
            #[test]
            fn repeatable_read() {
                super::$name(RepeatableRead)
            }
            #[test]
            fn serializable() {
                super::$name(Serializable)
            }
        }
    )*};
}

hermitage!(
    g0,
    g1a,
    g1b,
    g1c,
    otv,
    pmp,
    pmp_write,
    p4,
    p4_write_after_commit,
    g_single,
    g_single_write_1,
    g_single_write_2,
    g2_item,
    g2,
    g2_two_edges,
);

/// G0, write cycles (dirty writes): T2 overwrites T1's uncommitted write of a key, then both
/// write a second key. Prevented at every level: T2 wrote key 1 before T1 committed it, so T2's
/// commit conflicts (also under ReadCommitted, whose floor is the time of T2's write), and the
/// result is T1's pair, never a mix.
fn g0(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    set(&mut t1, 1, 11);
    set(&mut t2, 1, 12); // PostgreSQL blocks here
    set(&mut t1, 2, 21);
    committed(t1.commit());
    set(&mut t2, 2, 22);
    conflicted(t2.commit());
    assert_eq!(table(&db), [(1, 11), (2, 21)]);
}

/// G1a, aborted reads: T2 must never see a write of T1, which then aborts. Prevented at every
/// level (writes are private until commit, even under ReadUncommitted).
fn g1a(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    set(&mut t1, 1, 101);
    assert_eq!(select_all(&mut t2), [(1, 10), (2, 20)]);
    t1.rollback();
    assert_eq!(select_all(&mut t2), [(1, 10), (2, 20)]);
    assert_eq!(get(&mut t2, 1), Some(10));
    committed(t2.commit());
    assert_eq!(table(&db), [(1, 10), (2, 20)]);
}

/// G1b, intermediate reads: T2 must never see T1's intermediate value 101, only its final 11.
/// Prevented at every level. After T1 commits, ReadCommitted/ReadUncommitted see 11, the
/// snapshot levels still see 10.
fn g1b(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    set(&mut t1, 1, 101);
    assert_eq!(select_all(&mut t2), [(1, 10), (2, 20)]);
    set(&mut t1, 1, 11);
    committed(t1.commit());
    let expected = if snapshot_reads(level) { 10 } else { 11 };
    assert_eq!(select_all(&mut t2), [(1, expected), (2, 20)]);
    committed(t2.commit());
}

/// G1c, circular information flow: each transaction writes one key and reads the other's; neither
/// may see the other's uncommitted write. Prevented at every level. Both then commit, except under
/// Serializable: T1 and T2 each read what the other overwrote (a cycle of anti-dependencies), so
/// the second committer T2 gets a conflict (T1 changed key 1, which T2 read).
fn g1c(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    set(&mut t1, 1, 11);
    set(&mut t2, 2, 22);
    assert_eq!(get(&mut t1, 2), Some(20));
    assert_eq!(get(&mut t2, 1), Some(10));
    committed(t1.commit());
    if level == Serializable {
        conflicted(t2.commit());
        assert_eq!(table(&db), [(1, 11), (2, 20)]);
    } else {
        committed(t2.commit());
        assert_eq!(table(&db), [(1, 11), (2, 22)]);
    }
}

/// OTV, observed transaction vanishes: T3 must not see T1's writes and then, partly, T2's
/// overwrites of them. Prevented at every level: T2 wrote key 1 before T1 committed, so T2 fails,
/// and every read of T3 shows T1's complete result.
fn otv(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    set(&mut t1, 1, 11);
    set(&mut t1, 2, 19);
    set(&mut t2, 1, 12); // PostgreSQL blocks here
    committed(t1.commit());
    let mut t3 = begin(&db, level);
    assert_eq!(select_all(&mut t3), [(1, 11), (2, 19)]);
    set(&mut t2, 2, 18);
    assert_eq!(select_all(&mut t3), [(1, 11), (2, 19)]);
    conflicted(t2.commit());
    assert_eq!(select_all(&mut t3), [(1, 11), (2, 19)]);
    assert_eq!(get(&mut t3, 1), Some(11));
    assert_eq!(get(&mut t3, 2), Some(19));
    committed(t3.commit());
    assert_eq!(table(&db), [(1, 11), (2, 19)]);
}

/// PMP, predicate-many-preceders: T1 evaluates a predicate (a range scan) twice while T2 inserts
/// a matching row and commits. Allowed at ReadUncommitted/ReadCommitted (the second scan sees the
/// new row); prevented at RepeatableRead and Serializable (both scans read the snapshot). T1 is
/// read-only, so it commits at every level.
fn pmp(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    assert_eq!(select(&mut t1, |v| v == 30), []);
    set(&mut t2, 3, 30);
    committed(t2.commit());
    let second = select(&mut t1, |v| v % 3 == 0);
    if snapshot_reads(level) {
        assert_eq!(second, []);
    } else {
        assert_eq!(second, [(3, 30)], "the anomaly happens at {level:?}");
    }
    committed(t1.commit());
    assert_eq!(table(&db), [(1, 10), (2, 20), (3, 30)]);
}

/// PMP-write: T1 updates every row (`value = value + 10`); T2, before T1 commits, deletes the rows
/// where `value = 20`. Prevented at every level: T2's delete of key 2 conflicts with T1's commit
/// of key 2, so the result is T1's update alone (PostgreSQL at ReadCommitted re-evaluates the
/// predicate and deletes nothing; here T2 is refused).
fn pmp_write(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    for (id, v) in select_all(&mut t1) {
        set(&mut t1, id, v + 10);
    }
    let victims = select(&mut t2, |v| v == 20);
    assert_eq!(victims, [(2, 20)]);
    for (id, _) in victims {
        t2.delete(key(id)).expect("delete"); // PostgreSQL blocks here
    }
    committed(t1.commit());
    conflicted(t2.commit());
    assert_eq!(table(&db), [(1, 20), (2, 30)]);
}

/// P4, lost update, in Hermitage's order: both read 10, both write 11, T1 commits, then T2.
/// Prevented at every level: T2 wrote key 1 before T1 committed it, which is a conflict even
/// under ReadCommitted. (See [`p4_write_after_commit`] for the order ReadCommitted allows.)
fn p4(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    let v1 = get(&mut t1, 1).expect("row 1");
    let v2 = get(&mut t2, 1).expect("row 1");
    set(&mut t1, 1, v1 + 1);
    set(&mut t2, 1, v2 + 1); // PostgreSQL blocks here
    committed(t1.commit());
    conflicted(t2.commit());
    assert_eq!(table(&db), [(1, 11), (2, 20)]);
}

/// P4, lost update, when T2 writes only after T1 committed: both read 10 and increment.
/// Allowed at ReadUncommitted/ReadCommitted (T2's write comes after T1's commit, and those levels
/// only refuse commits that land after this transaction's write): the result is 11, one increment
/// is lost. Prevented at RepeatableRead/Serializable (T1 committed key 1 after T2 began).
fn p4_write_after_commit(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    let v1 = get(&mut t1, 1).expect("row 1");
    let v2 = get(&mut t2, 1).expect("row 1");
    set(&mut t1, 1, v1 + 1);
    committed(t1.commit());
    set(&mut t2, 1, v2 + 1);
    if snapshot_reads(level) {
        conflicted(t2.commit());
    } else {
        committed(t2.commit());
    }
    // Either way the table says 11 after two increments of 10; at the snapshot levels T2 was told
    // to retry (and would then read 11 and write 12).
    assert_eq!(table(&db), [(1, 11), (2, 20)]);
}

/// G-single, read skew: T1 reads key 1, T2 moves value between keys 1 and 2 and commits, T1 reads
/// key 2. Allowed at ReadUncommitted/ReadCommitted (T1 sees 10 + 18, a sum no state ever had);
/// prevented at the snapshot levels (T1 sees 10 + 20).
fn g_single(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    assert_eq!(get(&mut t1, 1), Some(10));
    assert_eq!(get(&mut t2, 1), Some(10));
    assert_eq!(get(&mut t2, 2), Some(20));
    set(&mut t2, 1, 12);
    set(&mut t2, 2, 18);
    committed(t2.commit());
    let second = get(&mut t1, 2);
    if snapshot_reads(level) {
        assert_eq!(second, Some(20));
    } else {
        assert_eq!(second, Some(18), "the anomaly happens at {level:?}");
    }
    committed(t1.commit()); // read-only: never conflicts
}

/// G-single-write-1: as G-single, but T1's second step is `delete from test where value = 20`.
/// ReadUncommitted/ReadCommitted read T2's committed 18, so T1 deletes nothing (as PostgreSQL).
/// At the snapshot levels T1 still sees 20 and deletes key 2, which T2 committed after T1 began:
/// T1 conflicts.
fn g_single_write_1(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    assert_eq!(get(&mut t1, 1), Some(10));
    assert_eq!(select_all(&mut t2), [(1, 10), (2, 20)]);
    set(&mut t2, 1, 12);
    set(&mut t2, 2, 18);
    committed(t2.commit());
    let victims = select(&mut t1, |v| v == 20);
    for &(id, _) in &victims {
        t1.delete(key(id)).expect("delete");
    }
    if snapshot_reads(level) {
        assert_eq!(victims, [(2, 20)]);
        conflicted(t1.commit());
    } else {
        assert_eq!(victims, []);
        committed(t1.commit());
    }
    assert_eq!(table(&db), [(1, 12), (2, 18)]);
}

/// G-single-write-2: T1 deletes the `value = 20` rows while T2 is still updating (before T2
/// commits). Prevented at every level: T2 commits key 2 after T1 wrote (deleted) it, so T1
/// conflicts and T2's update survives whole.
fn g_single_write_2(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    assert_eq!(get(&mut t1, 1), Some(10));
    assert_eq!(select_all(&mut t2), [(1, 10), (2, 20)]);
    set(&mut t2, 1, 12);
    let victims = select(&mut t1, |v| v == 20);
    assert_eq!(victims, [(2, 20)]);
    for (id, _) in victims {
        t1.delete(key(id)).expect("delete"); // PostgreSQL blocks here
    }
    set(&mut t2, 2, 18);
    committed(t2.commit());
    conflicted(t1.commit());
    assert_eq!(table(&db), [(1, 12), (2, 18)]);
}

/// G2-item, write skew: both read keys 1 and 2, then each writes a different one. Allowed at
/// ReadUncommitted, ReadCommitted and RepeatableRead (disjoint write sets: snapshot isolation
/// lets both commit); prevented at Serializable (T1 changed key 1, which T2 read).
fn g2_item(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    assert_eq!((get(&mut t1, 1), get(&mut t1, 2)), (Some(10), Some(20)));
    assert_eq!((get(&mut t2, 1), get(&mut t2, 2)), (Some(10), Some(20)));
    set(&mut t1, 1, 11);
    set(&mut t2, 2, 21);
    committed(t1.commit());
    if level == Serializable {
        conflicted(t2.commit());
        assert_eq!(table(&db), [(1, 11), (2, 20)]);
    } else {
        committed(t2.commit());
        assert_eq!(
            table(&db),
            [(1, 11), (2, 21)],
            "the anomaly happens at {level:?}"
        );
    }
}

/// G2, anti-dependency cycles over a predicate: both scan for `value % 3 = 0` (none), then each
/// inserts a matching row the other's scan would have returned. Allowed below Serializable (both
/// commit); prevented at Serializable (T2's scanned range gained T1's row 3: a phantom).
fn g2(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    let mut t2 = begin(&db, level);
    assert_eq!(select(&mut t1, |v| v % 3 == 0), []);
    assert_eq!(select(&mut t2, |v| v % 3 == 0), []);
    set(&mut t1, 3, 30);
    set(&mut t2, 4, 42);
    committed(t1.commit());
    if level == Serializable {
        conflicted(t2.commit());
        assert_eq!(table(&db), [(1, 10), (2, 20), (3, 30)]);
    } else {
        committed(t2.commit());
        assert_eq!(
            table(&db),
            [(1, 10), (2, 20), (3, 30), (4, 42)],
            "the anomaly happens at {level:?}"
        );
    }
}

/// G2-two-edges: T1 reads the table; T2 adds 5 to row 2 and commits; T3 reads (sees T2's write),
/// zeroes row 1 and commits; T1 zeroes row 2. If T1 commits, T1 must precede T3 (it missed T3's
/// write) and follow T2 (it overwrote T2's write) while T3 follows T2: a cycle. Allowed at
/// ReadUncommitted/ReadCommitted (T1's write comes after T2's commit); prevented at the snapshot
/// levels (T2 committed key 2 after T1 began: first committer wins).
fn g2_two_edges(level: IsolationLevel) {
    let db = setup();
    let mut t1 = begin(&db, level);
    assert_eq!(select_all(&mut t1), [(1, 10), (2, 20)]);
    let mut t2 = begin(&db, level);
    let v = get(&mut t2, 2).expect("row 2");
    set(&mut t2, 2, v + 5);
    committed(t2.commit());
    let mut t3 = begin(&db, level);
    assert_eq!(select_all(&mut t3), [(1, 10), (2, 25)]);
    set(&mut t3, 1, 0);
    committed(t3.commit());
    set(&mut t1, 2, 0);
    if snapshot_reads(level) {
        conflicted(t1.commit());
        assert_eq!(table(&db), [(1, 0), (2, 25)]);
    } else {
        committed(t1.commit());
        assert_eq!(
            table(&db),
            [(1, 0), (2, 0)],
            "the anomaly happens at {level:?}"
        );
    }
}

/// Read-only transactions never conflict, at any level, whatever committed meanwhile.
#[test]
fn read_only_transactions_never_conflict() {
    for level in [ReadUncommitted, ReadCommitted, RepeatableRead, Serializable] {
        let db = setup();
        let mut t1 = begin(&db, level);
        assert_eq!(select_all(&mut t1), [(1, 10), (2, 20)]);
        assert_eq!(get(&mut t1, 1), Some(10));
        let mut t2 = begin(&db, level);
        set(&mut t2, 1, 11);
        set(&mut t2, 3, 30);
        committed(t2.commit());
        committed(t1.commit());
    }
}

/// `Database::transaction_with` retries a conflicted closure and then succeeds; the retry reads
/// the winner's value, so no update is lost at the snapshot levels.
#[test]
fn transaction_with_retries_conflicts() {
    for level in [RepeatableRead, Serializable] {
        let db = setup();
        let mut attempts = 0;
        db.transaction_with(level, |tx| {
            attempts += 1;
            let v = parse(&tx.get(key(1))?.expect("row 1"));
            if attempts == 1 {
                // A concurrent increment commits between our read and our commit.
                let mut other = begin(&db, level);
                let w = get(&mut other, 1).expect("row 1");
                set(&mut other, 1, w + 1);
                committed(other.commit());
            }
            tx.put(key(1), (v + 1).to_string())
        })
        .expect("transaction");
        assert_eq!(attempts, 2, "{level:?}");
        assert_eq!(table(&db), [(1, 12), (2, 20)], "{level:?}");
    }
}

/// Serializable validates every way of reading a predicate: a point read of a missing key, a
/// reverse scan, a prefix scan, and a key deleted from a scanned range are all phantoms.
#[test]
fn serializable_catches_phantoms_through_every_read() {
    type Read = fn(&mut Transaction);
    let reads: [(&str, Read); 4] = [
        ("point read of a missing key", |tx| {
            assert_eq!(get(tx, 3), None);
        }),
        ("reverse scan", |tx| {
            let n = tx.scan_rev("test/".."test0").expect("scan").count();
            assert_eq!(n, 2);
        }),
        ("prefix scan", |tx| {
            let n = tx.scan_prefix("test/").expect("scan").count();
            assert_eq!(n, 2);
        }),
        ("bounded scan", |tx| {
            assert_eq!(select_all(tx), [(1, 10), (2, 20)]);
        }),
    ];
    for (what, read) in reads {
        for insert in [true, false] {
            let db = setup();
            let mut t1 = begin(&db, Serializable);
            read(&mut t1);
            t1.put("other", "x").expect("put"); // outside every range read above
            let mut t2 = begin(&db, Serializable);
            if insert {
                set(&mut t2, 3, 30);
            } else {
                t2.delete(key(2)).expect("delete");
            }
            committed(t2.commit());
            let r = t1.commit();
            // A point read of key 3 does not cover key 2's delete; everything else conflicts.
            if what == "point read of a missing key" && !insert {
                committed(r);
            } else {
                match r {
                    Err(Error::Conflict(_)) => {}
                    other => {
                        panic!("{what} (insert: {insert}): expected a conflict, got {other:?}")
                    }
                }
            }
        }
    }
}

/// A transaction reads its own buffered writes, also in scans (both directions), at every level.
#[test]
fn transactions_read_their_own_writes_in_scans() {
    for level in [ReadUncommitted, ReadCommitted, RepeatableRead, Serializable] {
        let db = setup();
        let mut tx = begin(&db, level);
        set(&mut tx, 3, 30);
        set(&mut tx, 1, 11);
        tx.delete(key(2)).expect("delete");
        assert_eq!(select_all(&mut tx), [(1, 11), (3, 30)], "{level:?}");
        let rev: Rows = tx
            .scan_rev("test/".."test0")
            .expect("scan")
            .map(|e| e.map(|(k, v)| row(&k, &v)))
            .collect::<Result<Rows>>()
            .expect("scan");
        assert_eq!(rev, [(3, 30), (1, 11)], "{level:?}");
        assert_eq!(get(&mut tx, 2), None, "{level:?}");
        assert_eq!(
            table(&db),
            [(1, 10), (2, 20)],
            "{level:?}: nothing visible outside"
        );
        committed(tx.commit());
        assert_eq!(table(&db), [(1, 11), (3, 30)], "{level:?}");
    }
}

/// A transaction's snapshot survives flushes and full compactions of newer versions, and its
/// write-write conflict is still detected afterwards.
#[test]
fn snapshot_survives_flush_and_compaction() {
    for level in [RepeatableRead, Serializable] {
        let db = setup();
        let snap = db.snapshot();
        let mut t1 = begin(&db, level);
        assert_eq!(get(&mut t1, 1), Some(10));
        for round in 0..50 {
            db.put(key(1), (100 + round).to_string()).expect("put");
            db.delete(key(2)).expect("delete");
            if round % 10 == 0 {
                db.flush().expect("flush");
            }
        }
        db.compact().expect("compact");
        assert_eq!(select_all(&mut t1), [(1, 10), (2, 20)], "{level:?}");
        assert_eq!(get(&mut t1, 2), Some(20), "{level:?}");
        assert_eq!(snap.get(key(1)).expect("get"), Some(b"10".to_vec()));
        set(&mut t1, 1, 11);
        conflicted(t1.commit());
        assert_eq!(table(&db), [(1, 149)], "{level:?}");
    }
}
