//! End-to-end: `u64` fields and keys across their whole range, above `i64::MAX` included, on
//! disk and across a reopen: typed CRUD, every index kind, key and index ranges in numeric
//! order, and SQL over the same rows (filters, ORDER BY, aggregates, arithmetic, parameters).

use rustlite::{params, Collection, Database, Error, Value};
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
#[collection(name = "blobs")]
struct Blob {
    #[key]
    id: u64,
    #[index]
    size: u64,
    #[index(hash)]
    digest: u64,
    #[index(unique)]
    serial: u64,
    tag: String,
}

const HALF: u64 = 1 << 63; // i64::MAX + 1

/// Ids on both sides of `i64::MAX`, in the order a numeric sort gives.
const IDS: [u64; 6] = [0, 7, i64::MAX as u64, HALF, HALF + 5, u64::MAX];

fn blob(id: u64) -> Blob {
    Blob {
        id,
        size: id.wrapping_add(1),
        digest: id ^ 0xA5A5_A5A5_A5A5_A5A5,
        serial: u64::MAX - id,
        tag: if id > i64::MAX as u64 { "big" } else { "small" }.into(),
    }
}

fn ids(blobs: &[Blob]) -> Vec<u64> {
    blobs.iter().map(|b| b.id).collect()
}

#[test]
fn u64_keys_and_indexed_fields_cover_the_whole_range_across_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let blobs = db.collection::<Blob>()?;
        // Inserted out of order: the key order must come from the encoding.
        for id in [HALF + 5, 7, u64::MAX, 0, HALF, i64::MAX as u64] {
            blobs.insert(&blob(id))?;
        }
    }
    let db = Database::open(dir.path())?;
    let blobs = db.collection::<Blob>()?;
    for id in IDS {
        assert_eq!(blobs.get(&id)?, Some(blob(id)), "get {id}");
    }
    let all: Vec<Blob> = blobs.iter()?.collect::<Result<_, _>>()?;
    assert_eq!(ids(&all), IDS, "key order is numeric");
    let upper: Vec<Blob> = blobs
        .range_keys(i64::MAX as u64..u64::MAX)?
        .collect::<Result<_, _>>()?;
    assert_eq!(ids(&upper), [i64::MAX as u64, HALF, HALF + 5]);

    // B-tree index: `size` is id + 1 (wrapping: u64::MAX's is 0, so it sorts first).
    let by_size: Vec<Blob> = blobs.range(Blob::SIZE, HALF..)?.collect::<Result<_, _>>()?;
    assert_eq!(ids(&by_size), [i64::MAX as u64, HALF, HALF + 5]);
    let by_size: Vec<Blob> = blobs
        .range(Blob::SIZE, ..=HALF)?
        .collect::<Result<_, _>>()?;
    assert_eq!(ids(&by_size), [u64::MAX, 0, 7, i64::MAX as u64]);
    // Hash and unique indexes.
    let d = blob(HALF + 5).digest;
    assert_eq!(ids(&blobs.find(Blob::DIGEST, &d)?), [HALF + 5]);
    assert_eq!(ids(&blobs.find(Blob::SERIAL, &(u64::MAX - HALF))?), [HALF]);
    let mut dup = blob(1);
    dup.serial = u64::MAX - HALF;
    assert!(matches!(
        blobs.insert(&dup),
        Err(Error::UniqueViolation { .. })
    ));

    // Updates and deletes move and remove the big values' index entries.
    let mut moved = blob(u64::MAX);
    moved.size = HALF + 100;
    blobs.update(&moved)?;
    let by_size: Vec<Blob> = blobs
        .range(Blob::SIZE, HALF + 50..)?
        .collect::<Result<_, _>>()?;
    assert_eq!(ids(&by_size), [u64::MAX]);
    assert!(blobs.delete(&HALF)?);
    assert!(blobs.find(Blob::SERIAL, &(u64::MAX - HALF))?.is_empty());
    assert_eq!(blobs.count()?, 5);
    Ok(())
}

#[test]
fn sql_reads_and_computes_over_integers_above_i64_max() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        let blobs = db.collection::<Blob>()?;
        for id in IDS {
            blobs.insert(&blob(id))?;
        }
    }
    let db = Database::open(dir.path())?;
    let col = |sql: &str, p: &[Value]| -> rustlite::Result<Vec<Value>> {
        Ok(db
            .query(sql, p)?
            .rows
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect())
    };
    let uint = |u: u64| Value::from(u);

    // Point and range lookups on the key, a literal and a parameter above i64::MAX.
    assert_eq!(
        col("SELECT id FROM blobs WHERE id = 18446744073709551615", &[])?,
        [uint(u64::MAX)]
    );
    assert_eq!(
        col(
            "SELECT id FROM blobs WHERE id >= ? ORDER BY id",
            &params![HALF]
        )?,
        [uint(HALF), uint(HALF + 5), uint(u64::MAX)]
    );
    assert_eq!(
        col(
            "SELECT id FROM blobs WHERE id BETWEEN 7 AND ? ORDER BY id DESC",
            &params![HALF]
        )?,
        [uint(HALF), uint(i64::MAX as u64), uint(7)]
    );
    // Index scans: the B-tree range crosses from Int keys to UInt keys; hash and unique lookups.
    assert_eq!(
        col(
            "SELECT id FROM blobs WHERE size > 9223372036854775807 ORDER BY size",
            &[]
        )?,
        [uint(i64::MAX as u64), uint(HALF), uint(HALF + 5)]
    );
    assert_eq!(
        col(
            "SELECT id FROM blobs WHERE size BETWEEN 1 AND ? ORDER BY size",
            &params![HALF]
        )?,
        [uint(0), uint(7), uint(i64::MAX as u64)]
    );
    let d = blob(u64::MAX).digest;
    assert_eq!(
        col("SELECT id FROM blobs WHERE digest = ?", &params![d])?,
        [uint(u64::MAX)]
    );
    assert_eq!(
        col("SELECT id FROM blobs WHERE serial = 0", &[])?,
        [uint(u64::MAX)]
    );
    // Aggregates and arithmetic: exact, with overflow an error rather than a wrong answer.
    assert_eq!(col("SELECT MAX(id) FROM blobs", &[])?, [uint(u64::MAX)]);
    assert_eq!(
        col(
            "SELECT SUM(id) FROM blobs WHERE id > 7 AND id < ?",
            &params![HALF + 5]
        )?,
        [uint(u64::MAX)], // (2^63 - 1) + 2^63
    );
    assert_eq!(
        col(
            "SELECT id - 18446744073709551610 FROM blobs WHERE id = ?",
            &params![u64::MAX]
        )?,
        [Value::Int(5)]
    );
    assert!(matches!(
        db.query("SELECT SUM(id) FROM blobs", params![]),
        Err(Error::Sql(_))
    ));
    assert!(matches!(
        db.query("SELECT id + 1 FROM blobs WHERE id = ?", params![u64::MAX]),
        Err(Error::Sql(_))
    ));
    let groups = db.query(
        "SELECT tag, COUNT(*), MIN(id) FROM blobs GROUP BY tag ORDER BY tag",
        params![],
    )?;
    assert_eq!(
        groups.rows,
        [
            vec![Value::from("big"), Value::Int(3), uint(HALF)],
            vec![Value::from("small"), Value::Int(3), uint(0)],
        ]
    );
    // Rows come back as typed structs, big values intact.
    let typed: Vec<Blob> = db.query_as(
        "SELECT * FROM blobs WHERE id > ? ORDER BY id",
        params![HALF],
    )?;
    assert_eq!(typed, [blob(HALF + 5), blob(u64::MAX)]);
    Ok(())
}

#[test]
fn sql_tables_store_integers_up_to_u64_max_and_refuse_beyond() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(dir.path())?;
        db.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, x REAL)",
            params![],
        )?;
        db.execute(
            "INSERT INTO t VALUES (1, 18446744073709551615, 18446744073709551615), (2, -5, 1)",
            params![],
        )?;
        assert!(db
            .execute(
                "INSERT INTO t VALUES (3, 18446744073709551616, 0)",
                params![]
            )
            .is_err_and(|e| matches!(e, Error::Sql(_))));
    }
    let db = Database::open(dir.path())?;
    let rows = db
        .query("SELECT n, x FROM t ORDER BY n DESC", params![])?
        .rows;
    assert_eq!(
        rows,
        [
            vec![Value::UInt(u64::MAX), Value::Float(u64::MAX as f64)],
            vec![Value::Int(-5), Value::Float(1.0)],
        ]
    );
    Ok(())
}

/// Review follow-ups: a hand-built `Value::UInt` within `i64` is the `Int` it equals (one key,
/// one row); `=` between integers and floats is exact, as the key lookup is; SUM does not
/// depend on the order of its inputs.
#[test]
fn integers_have_one_key_compare_exactly_with_floats_and_sum_in_any_order() -> TestResult {
    let db = Database::in_memory()?;
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
        params![],
    )?;
    db.execute("INSERT INTO t VALUES (?, 1)", [Value::UInt(5)])?;
    assert!(
        db.execute("INSERT INTO t VALUES (?, 2)", [Value::Int(5)])
            .is_err(),
        "UInt(5) and Int(5) are one key"
    );
    let n =
        |sql: &str, p: &[Value]| -> rustlite::Result<usize> { Ok(db.query(sql, p)?.rows.len()) };
    assert_eq!(n("SELECT id FROM t WHERE id = ?", &[Value::Int(5)])?, 1);
    assert_eq!(n("SELECT id FROM t WHERE id = ?", &[Value::UInt(5)])?, 1);

    db.execute(
        "INSERT INTO t VALUES (9223372036854775807, 18446744073709551615), \
         (9223372036854775808, -1), (7, 1)",
        params![],
    )?;
    // A key lookup and a full scan agree: 2^63 as a float equals only the integer 2^63.
    for sql in [
        "SELECT id FROM t WHERE id = 9223372036854775808.0",
        "SELECT id FROM t WHERE id + 0 = 9223372036854775808.0",
    ] {
        assert_eq!(
            db.query(sql, params![])?.rows,
            [vec![Value::UInt(HALF)]],
            "{sql}"
        );
    }
    // In key order the running sum is 1 + u64::MAX (past the range) before the -1 brings it
    // back: the total fits, so it is the answer (before, the running sum overflowed).
    assert_eq!(
        db.query("SELECT SUM(n) FROM t WHERE id <> 5", params![])?
            .rows,
        [vec![Value::UInt(u64::MAX)]]
    );
    Ok(())
}
