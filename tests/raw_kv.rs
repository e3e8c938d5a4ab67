//! End-to-end tests of the raw key-value API on real directories: persistence across reopen,
//! flushes and compactions, scans in both directions, batches and sharing between threads.

use rustlite::{Database, Durability, Options, WriteBatch};
use rustlite_suite::key16;
use std::collections::BTreeMap;

/// Options that make flushes and compactions happen after a few hundred KiB.
fn small() -> Options {
    Options {
        memtable_size: 64 << 10,
        l1_target_size: 256 << 10,
        target_file_size: 64 << 10,
        block_cache_size: 1 << 20,
        ..Options::default()
    }
}

fn value(i: u64, round: u64) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat((i % 50) as usize)).into_bytes()
}

fn collect(it: rustlite::KvIter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.collect::<Result<Vec<_>, _>>().expect("scan")
}

#[test]
fn data_survives_reopen_flush_and_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut model = BTreeMap::new();
    {
        let db = Database::open_with(dir.path(), small().durability(Durability::Buffered))
            .expect("open");
        for round in 0..3 {
            let mut batch = WriteBatch::new();
            for i in 0..4000u64 {
                let k = key16(i).to_vec();
                if (i + round) % 7 == 0 {
                    batch.delete(&k);
                    model.remove(&k);
                } else {
                    batch.put(&k, value(i, round));
                    model.insert(k, value(i, round));
                }
                if batch.len() == 500 {
                    db.write_batch(std::mem::take(&mut batch)).expect("batch");
                }
            }
            db.write_batch(batch).expect("batch");
        }
        let stats = db.stats();
        assert!(
            stats.levels.iter().map(|l| l.files).sum::<usize>() > 1,
            "workload should have flushed tables: {stats:?}"
        );
        assert_eq!(
            collect(db.scan::<&[u8]>(..).expect("scan")),
            model_vec(&model)
        );
    }
    // Reopen: WAL replay plus tables.
    let db = Database::open_with(dir.path(), small()).expect("reopen");
    assert_eq!(
        collect(db.scan::<&[u8]>(..).expect("scan")),
        model_vec(&model)
    );
    for i in (0..4000u64).step_by(37) {
        let k = key16(i).to_vec();
        assert_eq!(db.get(&k).expect("get"), model.get(&k).cloned(), "key {i}");
    }
    // Full compaction drops deletes and old versions; everything still reads back after reopen.
    db.compact().expect("compact");
    let stats = db.stats();
    assert_eq!(stats.levels[0].files, 0, "L0 empty after full compaction");
    drop(db);
    let db = Database::open_with(dir.path(), small()).expect("reopen after compaction");
    assert_eq!(
        collect(db.scan::<&[u8]>(..).expect("scan")),
        model_vec(&model)
    );
    let deleted = key16(0).to_vec(); // (0 + 2) % 7 != 0, so check one that was deleted last round
    let last_round_deleted = (0..4000u64).find(|i| (i + 2) % 7 == 0).expect("some");
    assert_eq!(db.get(key16(last_round_deleted)).expect("get"), None);
    assert_eq!(db.get(&deleted).expect("get"), model.get(&deleted).cloned());
    assert!(db.verify().expect("verify") >= model.len() as u64);
}

fn model_vec(m: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[test]
fn scans_forward_reverse_ranges_and_prefixes() {
    let db = Database::open_with(tempfile::tempdir().expect("dir").keep(), small()).expect("open");
    for i in 0..300u32 {
        db.put(format!("k{i:03}"), format!("v{i}")).expect("put");
    }
    db.flush().expect("flush");
    for i in (0..300u32).step_by(3) {
        db.delete(format!("k{i:03}")).expect("delete");
    }
    let live: Vec<u32> = (0..300).filter(|i| i % 3 != 0).collect();
    let keys = |it| -> Vec<String> {
        collect(it)
            .into_iter()
            .map(|(k, _)| String::from_utf8(k).expect("utf8"))
            .collect()
    };
    let want: Vec<String> = live.iter().map(|i| format!("k{i:03}")).collect();
    assert_eq!(keys(db.scan::<&[u8]>(..).expect("scan")), want);
    let mut rev = want.clone();
    rev.reverse();
    assert_eq!(keys(db.scan_rev::<&[u8]>(..).expect("scan")), rev);
    let want_range: Vec<String> = want
        .iter()
        .filter(|k| k.as_str() >= "k100" && k.as_str() < "k120")
        .cloned()
        .collect();
    assert_eq!(keys(db.scan("k100".."k120").expect("scan")), want_range);
    let mut want_rev_range = want_range.clone();
    want_rev_range.reverse();
    assert_eq!(
        keys(db.scan_rev("k100".."k120").expect("scan")),
        want_rev_range
    );
    let inclusive: Vec<String> = want
        .iter()
        .filter(|k| k.as_str() >= "k101" && k.as_str() <= "k104")
        .cloned()
        .collect();
    assert_eq!(keys(db.scan("k101"..="k104").expect("scan")), inclusive);
    let prefix: Vec<String> = want
        .iter()
        .filter(|k| k.starts_with("k25"))
        .cloned()
        .collect();
    assert_eq!(keys(db.scan_prefix("k25").expect("scan")), prefix);
    let mut prefix_rev = prefix.clone();
    prefix_rev.reverse();
    assert_eq!(keys(db.scan_prefix_rev("k25").expect("scan")), prefix_rev);
    assert!(keys(db.scan_prefix("zz").expect("scan")).is_empty());
}

#[test]
fn raw_keys_are_isolated_from_each_other_including_empty_and_binary_keys() {
    let db = Database::in_memory().expect("open");
    db.put(b"", b"empty").expect("put");
    db.put([0xFFu8, 0xFF], b"ff").expect("put");
    db.put([0u8], b"zero").expect("put");
    assert_eq!(db.get(b"").expect("get"), Some(b"empty".to_vec()));
    let all = collect(db.scan::<&[u8]>(..).expect("scan"));
    assert_eq!(
        all.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        vec![vec![], vec![0u8], vec![0xFF, 0xFF]]
    );
    assert_eq!(collect(db.scan_prefix([0xFFu8]).expect("scan")).len(), 1);
}

#[test]
fn write_batch_is_atomic_and_ordered() {
    let db = Database::in_memory().expect("open");
    let mut batch = WriteBatch::new();
    batch.put("a", "1").put("a", "2").put("b", "1").delete("b");
    db.write_batch(batch).expect("batch");
    assert_eq!(db.get("a").expect("get"), Some(b"2".to_vec()));
    assert_eq!(db.get("b").expect("get"), None);
}

#[test]
fn many_threads_share_one_handle() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Database>();
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::open_with(dir.path(), small()).expect("open");
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..300u64 {
                    db.put(key16(t * 1000 + i), value(i, t)).expect("put");
                    assert_eq!(db.get(key16(t * 1000 + i)).expect("get"), Some(value(i, t)));
                }
            });
        }
    });
    drop(db);
    let db = Database::open(dir.path()).expect("reopen");
    assert_eq!(collect(db.scan::<&[u8]>(..).expect("scan")).len(), 1200);
}

/// An empty or inverted range is empty, in a transaction with writes of its own too (the
/// transaction's write set used to panic on it), through the raw API and through SQL ranges on
/// a primary key and on an index.
#[test]
fn inverted_ranges_are_empty_in_a_transaction_with_writes() -> rustlite::Result<()> {
    use rustlite::{params, Value};
    let db = Database::in_memory()?;
    db.put(b"a", b"1")?;
    let mut tx = db.begin()?;
    tx.put(b"x", b"2")?;
    assert!(collect(tx.scan(&b"b"[..]..&b"a"[..])?).is_empty());
    assert!(collect(tx.scan_rev(&b"y"[..]..&b"b"[..])?).is_empty());
    let excluded = (
        std::ops::Bound::Excluded(&b"x"[..]),
        std::ops::Bound::Excluded(&b"x"[..]),
    );
    assert!(collect(tx.scan::<&[u8]>(excluded)?).is_empty());
    assert_eq!(collect(tx.scan(&b"a"[..]..=&b"x"[..])?).len(), 2);
    tx.rollback();

    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, age INTEGER)",
        params![],
    )?;
    db.execute("CREATE INDEX t_age ON t (age)", params![])?;
    db.execute("INSERT INTO t VALUES (1, 30), (4, 40)", params![])?;
    let mut tx = db.begin()?;
    tx.query("INSERT INTO t VALUES (2, 35)", params![])?;
    for sql in [
        "SELECT id FROM t WHERE id > 5 AND id < 3",
        "SELECT id FROM t WHERE id > 2 AND id < 2",
        "SELECT id FROM t WHERE age BETWEEN 50 AND 20",
        "SELECT id FROM t WHERE age > 35 AND age < 35 ORDER BY age DESC",
    ] {
        assert!(tx.query(sql, params![])?.rows.is_empty(), "{sql}");
    }
    let all = tx.query("SELECT id FROM t WHERE age BETWEEN 20 AND 50", params![])?;
    assert_eq!(all.rows.len(), 3);
    assert_eq!(
        tx.query("SELECT count(*) FROM t", params![])?.rows,
        [vec![Value::Int(3)]]
    );
    Ok(())
}

/// Options the engine cannot run with are refused at open with a clear error. Before, an L0
/// stop threshold at or below the compaction trigger (or no room for an immutable memtable)
/// made the first stalled write wait forever.
#[test]
fn unusable_options_are_refused_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        Options {
            l0_compaction_trigger: 4,
            l0_stop_writes: 2,
            ..Options::default()
        },
        Options {
            l0_compaction_trigger: 4,
            l0_stop_writes: 4,
            ..Options::default()
        },
        Options {
            max_immutable_memtables: 0,
            ..Options::default()
        },
        Options {
            l0_compaction_trigger: 0,
            ..Options::default()
        },
        Options {
            level_size_ratio: 1,
            ..Options::default()
        },
    ];
    for opts in cases {
        let what = format!("{opts:?}");
        match Database::open_with(dir.path(), opts) {
            Err(rustlite::Error::InvalidArgument(m)) => assert!(m.contains("options"), "{m}"),
            other => panic!(
                "{what}: expected InvalidArgument, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    assert!(Database::open_with(dir.path(), Options::default()).is_ok());
}

/// A key longer than the engine's limit is refused before it reaches the WAL. Before, a
/// 130 MiB key was acknowledged, then its flush could not record the table's boundary keys in
/// the manifest (a record is at most 256 MiB): the engine was poisoned and every reopen failed.
#[test]
fn an_overlong_key_is_refused_and_the_database_stays_usable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let longest = vec![b'k'; 65_535];
    let too_long = vec![b'k'; 65_536];
    {
        let db = Database::open_with(dir.path(), small()).expect("open");
        db.put(&longest, "v").expect("the longest key");
        let refused = db.put(&too_long, "v");
        assert!(
            matches!(refused, Err(rustlite::Error::InvalidArgument(_))),
            "{refused:?}"
        );
        let mut batch = WriteBatch::new();
        batch.put("a", "1").delete(&too_long);
        assert!(matches!(
            db.write_batch(batch),
            Err(rustlite::Error::InvalidArgument(_))
        ));
        let mut tx = db.begin().expect("begin");
        assert!(matches!(
            tx.put(&too_long, "v"),
            Err(rustlite::Error::InvalidArgument(_))
        ));
        tx.put("b", "2").expect("put");
        tx.commit().expect("commit");
        db.flush().expect("flush");
        db.put("after", "x").expect("still writable");
    }
    let db = Database::open_with(dir.path(), small()).expect("reopen");
    assert_eq!(db.get(&longest).expect("get"), Some(b"v".to_vec()));
    assert_eq!(
        db.get("a").expect("get"),
        None,
        "the refused batch wrote nothing"
    );
    assert_eq!(db.get("b").expect("get"), Some(b"2".to_vec()));
    assert_eq!(db.get(&too_long).expect("get"), None);
}
