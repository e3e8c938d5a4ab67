//! Transactions from many threads at once, on a real directory with a tiny memtable so flushes
//! and compactions run underneath them.
//!
//! - Bank transfers: 8 threads move random amounts between 100 accounts through
//!   `Database::transaction_with` at Serializable and at RepeatableRead, while a reader checks
//!   that every snapshot and every read-only transaction sees the initial total; the total also
//!   holds at the end and after a reopen.
//! - Two doctors on call (write skew): at Serializable one of two overlapping "go off call"
//!   transactions is refused, so someone stays on call; at RepeatableRead both commit.
//!
//! `RUSTLITE_LONG=1` runs longer workloads.

use rustlite::{Database, Durability, Error, IsolationLevel, Options, Result, Transaction};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

const ACCOUNTS: u64 = 100;
const INITIAL: u64 = 1_000;
const THREADS: u64 = 8;

fn long() -> bool {
    std::env::var_os("RUSTLITE_LONG").is_some_and(|v| v != "0")
}

/// Options that make flushes and compactions happen every few hundred transactions.
fn small() -> Options {
    Options {
        durability: Durability::Buffered,
        memtable_size: 16 << 10,
        l1_target_size: 64 << 10,
        target_file_size: 16 << 10,
        block_cache_size: 256 << 10,
        ..Options::default()
    }
}

fn account(i: u64) -> String {
    format!("acct/{i:03}")
}

fn amount(v: &[u8]) -> u64 {
    u64::from_be_bytes(v.try_into().expect("8-byte balance"))
}

/// A small deterministic PRNG (xorshift64*), one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Sums every balance and counts the accounts of a prefix scan's results.
fn sum(entries: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>) -> (u64, u64) {
    let mut total = 0;
    let mut count = 0;
    for entry in entries {
        let (_, v) = entry.expect("scan");
        total += amount(&v);
        count += 1;
    }
    (total, count)
}

fn sum_db(db: &Database) -> (u64, u64) {
    sum(db.scan_prefix("acct/").expect("scan"))
}

fn sum_txn(tx: &mut Transaction) -> (u64, u64) {
    sum(tx.scan_prefix("acct/").expect("scan"))
}

/// Moves a random amount from one random account to another (if the balance allows).
fn transfer(tx: &mut Transaction, from: u64, to: u64, amt: u64) -> Result<()> {
    let a = amount(&tx.get(account(from))?.expect("account exists"));
    let b = amount(&tx.get(account(to))?.expect("account exists"));
    if a < amt {
        return Ok(()); // insufficient funds: a read-only transaction
    }
    tx.put(account(from), (a - amt).to_be_bytes())?;
    tx.put(account(to), (b + amt).to_be_bytes())?;
    Ok(())
}

#[derive(Debug, Default)]
struct Counts {
    committed: AtomicU64,
    conflicts: AtomicU64,
    gave_up: AtomicU64,
    reads: AtomicU64,
    /// Largest number of tables seen by the reader (flushes happened during the run).
    max_tables: AtomicU64,
    /// Largest level below L0 holding a table (compactions happened during the run).
    max_level: AtomicU64,
}

fn bank(level: IsolationLevel) {
    let started = Instant::now();
    let per_thread = if long() { 10_000 } else { 2_500 };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open_with(dir.path(), small()).expect("open");
    let total = ACCOUNTS * INITIAL;
    db.transaction(|tx| {
        for i in 0..ACCOUNTS {
            tx.put(account(i), INITIAL.to_be_bytes())?;
        }
        Ok(())
    })
    .expect("seed");

    let counts = Arc::new(Counts::default());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, counts, done) = (db.clone(), Arc::clone(&counts), Arc::clone(&done));
        std::thread::spawn(move || {
            let levels = [
                IsolationLevel::ReadCommitted,
                IsolationLevel::RepeatableRead,
                IsolationLevel::Serializable,
            ];
            let mut i = 0usize;
            // At least a few rounds even if the writers finish first.
            while !done.load(Ordering::Acquire) || i < 6 {
                // A snapshot: two scans of it agree with each other and with the total.
                let snap = db.snapshot();
                assert_eq!(
                    sum(snap.scan_prefix("acct/").expect("scan")),
                    (total, ACCOUNTS),
                    "snapshot read"
                );
                // A read-only transaction (a single scan is one consistent cut at every level).
                let level = levels[i % levels.len()];
                let mut tx = db.begin_with(level).expect("begin");
                assert_eq!(
                    sum_txn(&mut tx),
                    (total, ACCOUNTS),
                    "read-only transaction at {level:?}"
                );
                if level != IsolationLevel::ReadCommitted {
                    // Point reads at the same snapshot agree with the scan.
                    let by_get: u64 = (0..ACCOUNTS)
                        .map(|a| amount(&tx.get(account(a)).expect("get").expect("account")))
                        .sum();
                    assert_eq!(by_get, total, "point reads at {level:?}");
                }
                tx.commit().expect("read-only transactions never conflict");
                assert_eq!(
                    sum(snap.scan_prefix("acct/").expect("scan")),
                    (total, ACCOUNTS),
                    "snapshot re-read"
                );
                counts.reads.fetch_add(1, Ordering::Relaxed);
                let stats = db.stats();
                let tables: usize = stats.levels.iter().map(|l| l.files).sum();
                let deepest = stats.levels.iter().rposition(|l| l.files > 0).unwrap_or(0);
                counts
                    .max_tables
                    .fetch_max(tables as u64, Ordering::Relaxed);
                counts
                    .max_level
                    .fetch_max(deepest as u64, Ordering::Relaxed);
                i += 1;
            }
        })
    };

    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, counts) = (db.clone(), Arc::clone(&counts));
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                for _ in 0..per_thread {
                    let from = rng.below(ACCOUNTS);
                    let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
                    let amt = 1 + rng.below(50);
                    let mut attempts = 0u64;
                    let outcome = db.transaction_with(level, |tx| {
                        attempts += 1;
                        transfer(tx, from, to, amt)
                    });
                    counts.conflicts.fetch_add(attempts - 1, Ordering::Relaxed);
                    match outcome {
                        Ok(()) => counts.committed.fetch_add(1, Ordering::Relaxed),
                        Err(Error::Conflict(_)) => {
                            counts.conflicts.fetch_add(1, Ordering::Relaxed);
                            counts.gave_up.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(e) => panic!("transfer failed: {e}"),
                    };
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    done.store(true, Ordering::Release);
    reader.join().expect("reader thread");

    assert_eq!(sum_db(&db), (total, ACCOUNTS), "at the end");
    let committed = counts.committed.load(Ordering::Relaxed);
    let gave_up = counts.gave_up.load(Ordering::Relaxed);
    assert_eq!(committed + gave_up, THREADS * per_thread);
    let max_tables = counts.max_tables.load(Ordering::Relaxed);
    let max_level = counts.max_level.load(Ordering::Relaxed);
    assert!(
        max_tables >= 2 && max_level >= 1,
        "flushes and compactions should run during the workload: {max_tables} tables, \
         deepest level {max_level}"
    );
    eprintln!(
        "{level:?}: {committed} transfers committed, {} conflicts retried, {gave_up} gave up, \
         {} consistent reads, up to {max_tables} tables down to L{max_level}, {:?}",
        counts.conflicts.load(Ordering::Relaxed),
        counts.reads.load(Ordering::Relaxed),
        started.elapsed()
    );
    let balances: Vec<_> = db
        .scan_prefix("acct/")
        .expect("scan")
        .collect::<Result<_>>()
        .expect("scan");
    drop(db);

    let db = Database::open_with(dir.path(), small()).expect("reopen");
    let reopened: Vec<_> = db
        .scan_prefix("acct/")
        .expect("scan")
        .collect::<Result<_>>()
        .expect("scan");
    assert_eq!(reopened, balances, "every balance survives a reopen");
    assert_eq!(sum_db(&db), (total, ACCOUNTS), "after reopen");
    db.compact().expect("compact");
    assert_eq!(sum_db(&db), (total, ACCOUNTS), "after a full compaction");
}

#[test]
fn bank_transfers_keep_the_total_at_serializable() {
    bank(IsolationLevel::Serializable);
}

#[test]
fn bank_transfers_keep_the_total_at_repeatable_read() {
    bank(IsolationLevel::RepeatableRead);
}

const DOCTORS: [&str; 2] = ["doc/alice", "doc/bob"];

fn on_call(tx: &mut Transaction) -> Result<usize> {
    let mut n = 0;
    for entry in tx.scan_prefix("doc/")? {
        if entry?.1 == b"on" {
            n += 1;
        }
    }
    Ok(n)
}

fn on_call_db(db: &Database) -> usize {
    db.scan_prefix("doc/")
        .expect("scan")
        .filter(|e| e.as_ref().expect("scan").1 == b"on")
        .count()
}

fn everyone_on_call(db: &Database) {
    for d in DOCTORS {
        db.put(d, "on").expect("put");
    }
}

/// Deterministic interleaving from one thread: both doctors check (2 on call) before either
/// commits, then both go off call. Returns how many are on call afterwards.
fn doctors_round(db: &Database, level: IsolationLevel, round: usize) -> usize {
    everyone_on_call(db);
    let mut t1 = db.begin_with(level).expect("begin");
    let mut t2 = db.begin_with(level).expect("begin");
    assert_eq!(on_call(&mut t1).expect("scan"), 2);
    assert_eq!(on_call(&mut t2).expect("scan"), 2);
    // Alternate who commits first, and who is the one going off call in each transaction.
    let (first, second) = if round.is_multiple_of(2) {
        (0, 1)
    } else {
        (1, 0)
    };
    t1.put(DOCTORS[first], "off").expect("put");
    t2.put(DOCTORS[second], "off").expect("put");
    let (a, b) = if round.is_multiple_of(3) {
        (t2, t1)
    } else {
        (t1, t2)
    };
    a.commit().expect("first committer wins");
    match (level, b.commit()) {
        (IsolationLevel::Serializable, Err(Error::Conflict(_))) => {}
        (IsolationLevel::Serializable, other) => {
            panic!("second doctor must be refused at Serializable, got {other:?}")
        }
        (_, r) => {
            r.expect("snapshot isolation lets the second doctor commit");
        }
    }
    on_call_db(db)
}

#[test]
fn doctors_on_call_write_skew_interleaved() {
    let db = Database::in_memory().expect("open");
    let rounds = if long() { 2_000 } else { 100 };
    let mut zero_at_rr = 0;
    for round in 0..rounds {
        assert_eq!(
            doctors_round(&db, IsolationLevel::Serializable, round),
            1,
            "Serializable must keep a doctor on call (round {round})"
        );
        if doctors_round(&db, IsolationLevel::RepeatableRead, round) == 0 {
            zero_at_rr += 1;
        }
    }
    // Write skew is what snapshot isolation allows: here it happens every round.
    assert_eq!(zero_at_rr, rounds, "RepeatableRead shows write skew");
}

/// Two threads per round each run "if at least 2 are on call, go off call" through
/// `transaction_with`; a barrier inside the first attempt makes both check before either
/// commits. Returns how many doctors are on call after each round.
fn doctors_threads(level: IsolationLevel, rounds: usize) -> Vec<usize> {
    let db = Database::in_memory().expect("open");
    let mut outcomes = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        everyone_on_call(&db);
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = DOCTORS
            .iter()
            .map(|&me| {
                let (db, barrier) = (db.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut first = true;
                    db.transaction_with(level, |tx| {
                        let n = on_call(tx)?;
                        if first {
                            first = false;
                            barrier.wait();
                        }
                        if n >= 2 {
                            tx.put(me, "off")?;
                        }
                        Ok(())
                    })
                    .expect("transaction");
                })
            })
            .collect();
        for h in handles {
            h.join().expect("doctor thread");
        }
        outcomes.push(on_call_db(&db));
    }
    outcomes
}

#[test]
fn doctors_on_call_write_skew_threads() {
    let rounds = if long() { 1_000 } else { 50 };
    let ser = doctors_threads(IsolationLevel::Serializable, rounds);
    assert!(
        ser.iter().all(|&n| n == 1),
        "Serializable never ends with 0 (nor 2) on call: {ser:?}"
    );
    let rr = doctors_threads(IsolationLevel::RepeatableRead, rounds);
    assert!(
        rr.iter().all(|&n| n == 0),
        "RepeatableRead: both saw 2 on call before either committed, so both left: {rr:?}"
    );
}

/// `UPDATE t SET n = n + 1` from two threads at ReadCommitted (and ReadUncommitted): a
/// statement reads its target rows before it writes them, so a commit landing in between must
/// make it conflict (and be retried), never be overwritten. Every increment counts.
#[test]
fn sql_increments_at_read_committed_lose_no_update() {
    for level in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::ReadUncommitted,
    ] {
        let db = Database::in_memory().expect("open");
        db.execute(
            "CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)",
            rustlite::params![],
        )
        .expect("create");
        for id in 0..200 {
            db.execute("INSERT INTO c VALUES (?, 0)", rustlite::params![id])
                .expect("insert");
        }
        let rounds: i64 = if long() { 300 } else { 60 };
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        loop {
                            let mut tx = db.begin_with(level).expect("begin");
                            let done = tx
                                .query("UPDATE c SET n = n + 1", rustlite::params![])
                                .and_then(|_| tx.commit().map(drop));
                            match done {
                                Ok(()) => break,
                                Err(Error::Conflict(_)) => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let r = db
            .query("SELECT min(n), max(n) FROM c", rustlite::params![])
            .expect("query");
        let want = rustlite::Value::Int(2 * rounds);
        assert_eq!(r.rows, [[want.clone(), want]], "{level:?}");
    }
}

/// `DROP INDEX` at ReadCommitted deletes the index's entries, then rewrites its table's
/// catalog entry (read for update); a `DROP INDEX` of another index on the table committing
/// meanwhile must make one of them conflict, never bring the other index back listed without
/// its entries (lookups through it would miss every row).
#[test]
fn a_concurrent_drop_index_is_not_undone_at_read_committed() {
    const ROWS: i64 = 20_000;
    for round in 0..3u64 {
        let db = Database::in_memory().expect("open");
        db.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER)",
            rustlite::params![],
        )
        .expect("create");
        let mut tx = db.begin().expect("begin");
        for id in 0..ROWS {
            tx.query(
                "INSERT INTO t VALUES (?, ?, ?)",
                rustlite::params![id, id, id],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
        for ddl in ["CREATE INDEX ia ON t (a)", "CREATE INDEX ib ON t (b)"] {
            db.execute(ddl, rustlite::params![]).expect(ddl);
        }
        let dropper = {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut tx = db.begin_with(IsolationLevel::ReadCommitted).expect("begin");
                tx.query("DROP INDEX ia", rustlite::params![])
                    .and_then(|_| tx.commit().map(drop))
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(2 + 3 * round));
        while let Err(e) = db.execute("DROP INDEX ib", rustlite::params![]) {
            assert!(matches!(e, Error::Conflict(_)), "{e}"); // lost to the other drop: again
        }
        match dropper.join().expect("thread") {
            Ok(()) | Err(Error::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
        // Whatever the outcome, a lookup answers as a full scan does, through any index left.
        for column in ["a", "b"] {
            let q = format!("SELECT count(*) FROM t WHERE {column} = 7");
            let got = db.query(&q, rustlite::params![]).expect("query").rows;
            assert_eq!(got, [[rustlite::Value::Int(1)]], "round {round}: {q}");
        }
    }
}

/// One SQL statement inside a ReadCommitted transaction reads one state: a self-join scans its
/// table twice, and with a writer committing all the while, rows matched to themselves must
/// agree (each statement sees a newer state than the last, never two at once).
#[test]
fn a_statement_at_read_committed_reads_one_state() {
    let db = Database::in_memory().expect("open");
    db.execute(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, v INTEGER)",
        rustlite::params![],
    )
    .expect("create");
    let mut tx = db.begin().expect("begin");
    for id in 0..3000 {
        tx.query("INSERT INTO r VALUES (?, 0)", rustlite::params![id])
            .expect("insert");
    }
    tx.commit().expect("commit");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                db.execute(
                    "UPDATE r SET v = v + 1 WHERE id = ?",
                    rustlite::params![(i * 7919) % 3000],
                )
                .expect("update");
            }
        })
    };
    for level in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::ReadUncommitted,
    ] {
        for _ in 0..20 {
            let mut tx = db.begin_with(level).expect("begin");
            let r = tx
                .query(
                    "SELECT count(*) FROM r a JOIN r b ON a.id = b.id WHERE a.v <> b.v",
                    rustlite::params![],
                )
                .expect("query");
            assert_eq!(r.rows, [[rustlite::Value::Int(0)]], "{level:?}");
            tx.rollback();
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
}
