//! Unit tests of the table layer: row and index maintenance through engine transactions.

use std::ops::Bound;

use super::*;
use crate::catalog::{Catalog, FieldDef, FieldType, IndexDef, IndexKind, Schema, TableSchema};
use crate::mvcc::Reader;
use crate::{Direction, Engine, IsolationLevel, Options, Transaction};

fn doc(id: i64, email: Option<&str>, age: i64) -> Value {
    Value::Map(vec![
        ("id".into(), Value::Int(id)),
        (
            "email".into(),
            email.map_or(Value::Null, |e| Value::Text(e.into())),
        ),
        ("age".into(), Value::Int(age)),
    ])
}

fn setup() -> Result<(Engine, Transaction, std::sync::Arc<TableSchema>)> {
    let engine = Engine::open_in_memory(Options::default())?;
    let mut tx = engine.begin(IsolationLevel::default());
    let t = Catalog::create_table(
        &mut tx,
        &Schema {
            name: "users".into(),
            fields: vec![
                FieldDef::new("id", FieldType::Int, false),
                FieldDef::new("email", FieldType::Text, true),
                FieldDef::new("age", FieldType::Int, false),
            ],
            key_fields: vec!["id".into()],
            indexes: vec![
                IndexDef::new("users", "email", IndexKind::BTree, true),
                IndexDef::new("users", "age", IndexKind::BTree, false),
            ],
        },
    )?;
    Ok((engine, tx, t))
}

fn ids(rows: impl Iterator<Item = RawRow>) -> Vec<i64> {
    rows.map(|r| match r.pk_values().ok().as_deref() {
        Some([Value::Int(i)]) => *i,
        _ => -1,
    })
    .collect()
}

fn entries(tx: &mut Transaction) -> usize {
    tx.scan(
        Bound::Included(&[crate::keyspace::INDEX][..]),
        Bound::Excluded(&[crate::keyspace::CATALOG][..]),
        Direction::Forward,
    )
    .map(|s| s.count())
    .unwrap_or(0)
}

#[test]
fn unique_violation_applies_nothing_and_nulls_are_not_indexed() -> Result<()> {
    let (_e, mut tx, t) = setup()?;
    insert(&mut tx, &t, &doc(1, Some("a@x"), 30))?;
    let before = entries(&mut tx);
    let err = insert(&mut tx, &t, &doc(2, Some("a@x"), 40));
    assert!(matches!(err, Err(Error::UniqueViolation { ref index, .. }) if index == "users.email"));
    assert_eq!(get(&mut tx, &t, &[Value::Int(2)])?, None);
    assert_eq!(entries(&mut tx), before);
    insert(&mut tx, &t, &doc(3, None, 40))?;
    insert(&mut tx, &t, &doc(4, None, 40))?;
    assert_eq!(
        ids(index_eq(&mut tx, &t, &t.indexes[0], &Value::Null)?),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(index_eq(&mut tx, &t, &t.indexes[1], &Value::Int(40))?),
        [3, 4]
    );
    Ok(())
}

#[test]
fn updates_move_index_entries_and_deletes_remove_them() -> Result<()> {
    let (_e, mut tx, t) = setup()?;
    insert(&mut tx, &t, &doc(1, Some("a@x"), 30))?;
    insert(&mut tx, &t, &doc(2, Some("b@x"), 31))?;
    update(&mut tx, &t, &doc(1, Some("c@x"), 50))?;
    let email = &t.indexes[0];
    assert!(ids(index_eq(&mut tx, &t, email, &Value::Text("a@x".into()))?).is_empty());
    assert_eq!(
        ids(index_eq(&mut tx, &t, email, &Value::Text("c@x".into()))?),
        [1]
    );
    // The freed value can be taken by another row.
    update(&mut tx, &t, &doc(2, Some("a@x"), 31))?;
    let age = &t.indexes[1];
    let lo = Value::Int(31);
    let r = index_range(
        &mut tx,
        &t,
        age,
        Bound::Included(&lo),
        Bound::Unbounded,
        Direction::Reverse,
    )?;
    assert_eq!(ids(r), [1, 2]);
    assert!(matches!(
        update(&mut tx, &t, &doc(9, None, 1)),
        Err(Error::NotFound(_))
    ));
    assert!(delete(&mut tx, &t, &[Value::Int(1)])?);
    assert!(ids(index_eq(&mut tx, &t, email, &Value::Text("c@x".into()))?).is_empty());
    assert_eq!(entries(&mut tx), 2);
    assert_eq!(count(&mut tx, &t)?, 1);
    Ok(())
}

#[test]
fn rows_moved_by_update_at_keep_their_entries_pointing_at_the_new_key() -> Result<()> {
    let (_e, mut tx, t) = setup()?;
    insert(&mut tx, &t, &doc(1, Some("a@x"), 30))?;
    insert(&mut tx, &t, &doc(2, Some("b@x"), 40))?;
    // Onto a taken key: refused, nothing changes.
    assert!(matches!(
        update_at(&mut tx, &t, &[Value::Int(1)], &doc(2, Some("a@x"), 30)),
        Err(Error::AlreadyExists { .. })
    ));
    // From a missing key: NotFound names the key it looked for.
    match update_at(&mut tx, &t, &[Value::Int(8)], &doc(9, None, 1)) {
        Err(Error::NotFound(msg)) => assert!(msg.contains('8'), "{msg}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // Same unique value, same age, new key: the unique entry now names pk 3, the B-Tree entry
    // moved from (30, 1) to (30, 3), the old row is gone.
    assert_eq!(
        update_at(&mut tx, &t, &[Value::Int(1)], &doc(3, Some("a@x"), 30))?,
        [Value::Int(3)]
    );
    assert_eq!(get(&mut tx, &t, &[Value::Int(1)])?, None);
    assert_eq!(
        get(&mut tx, &t, &[Value::Int(3)])?,
        Some(doc(3, Some("a@x"), 30))
    );
    let (email, age) = (&t.indexes[0], &t.indexes[1]);
    assert_eq!(
        ids(index_eq(&mut tx, &t, email, &Value::Text("a@x".into()))?),
        [3]
    );
    assert_eq!(ids(index_eq(&mut tx, &t, age, &Value::Int(30))?), [3]);
    assert_eq!(entries(&mut tx), 4);
    // The value stays owned by the moved row.
    assert!(matches!(
        insert(&mut tx, &t, &doc(1, Some("a@x"), 1)),
        Err(Error::UniqueViolation { .. })
    ));
    // update_at onto its own key is an in-place update.
    update_at(&mut tx, &t, &[Value::Int(3)], &doc(3, Some("z@x"), 30))?;
    assert_eq!(
        ids(index_eq(&mut tx, &t, email, &Value::Text("z@x".into()))?),
        [3]
    );
    assert_eq!(entries(&mut tx), 4);
    assert_eq!(count(&mut tx, &t)?, 2);
    Ok(())
}

#[test]
fn type_checks_name_the_column() -> Result<()> {
    let (_e, mut tx, t) = setup()?;
    let bad = Value::Map(vec![
        ("id".into(), Value::Int(1)),
        ("age".into(), Value::Text("old".into())),
    ]);
    assert!(matches!(insert(&mut tx, &t, &bad), Err(Error::Schema(m)) if m.contains("age")));
    let missing = Value::Map(vec![("id".into(), Value::Int(1))]);
    assert!(
        matches!(insert(&mut tx, &t, &missing), Err(Error::Schema(m)) if m.contains("NOT NULL"))
    );
    assert!(matches!(
        insert(&mut tx, &t, &Value::Int(1)),
        Err(Error::Schema(_))
    ));
    Ok(())
}

#[test]
fn hash_indexes_and_composite_keys() -> Result<()> {
    let engine = Engine::open_in_memory(Options::default())?;
    let mut tx = engine.begin(IsolationLevel::default());
    let t = Catalog::create_table(
        &mut tx,
        &Schema {
            name: "lines".into(),
            fields: vec![
                FieldDef::new("order", FieldType::Int, false),
                FieldDef::new("line", FieldType::Int, false),
                FieldDef::new("sku", FieldType::Text, false),
                FieldDef::new("price", FieldType::Float, false),
            ],
            key_fields: vec!["order".into(), "line".into()],
            indexes: vec![
                IndexDef::new("lines", "sku", IndexKind::Hash, true),
                IndexDef::new("lines", "price", IndexKind::BTree, false),
            ],
        },
    )?;
    for (o, l) in [(2, 1), (1, 10), (1, 2), (3, 0)] {
        let d = Value::Map(vec![
            ("order".into(), Value::Int(o)),
            ("line".into(), Value::Int(l)),
            ("sku".into(), Value::Text(format!("s{o}-{l}"))),
            ("price".into(), Value::Int(o * 10 + l)),
        ]);
        insert(&mut tx, &t, &d)?;
    }
    let one = [Value::Int(1)];
    let keys: Vec<Vec<Value>> = scan(
        &mut tx,
        &t,
        Bound::Included(&one[..]),
        Bound::Included(&one[..]),
        Direction::Forward,
    )?
    .decoded()
    .map(|r| r.map(|(pk, _)| pk))
    .collect::<Result<_>>()?;
    assert_eq!(
        keys,
        [
            vec![Value::Int(1), Value::Int(2)],
            vec![Value::Int(1), Value::Int(10)]
        ]
    );
    let hit = index_eq(&mut tx, &t, &t.indexes[0], &Value::Text("s3-0".into()))?.next();
    assert_eq!(
        hit.map(|r| r.pk_values()).transpose()?,
        Some(vec![Value::Int(3), Value::Int(0)])
    );
    let v = Value::Int(1);
    assert!(matches!(
        index_range(
            &mut tx,
            &t,
            &t.indexes[0],
            Bound::Included(&v),
            Bound::Unbounded,
            Direction::Forward
        ),
        Err(Error::InvalidArgument(_))
    ));
    // Ints in a Float column are stored and looked up as floats.
    let twelve = Value::Int(12);
    assert_eq!(index_eq(&mut tx, &t, &t.indexes[1], &twelve)?.count(), 1);
    Ok(())
}

#[test]
fn concurrent_unique_inserts_conflict() -> Result<()> {
    let (engine, tx, t) = setup()?;
    tx.commit()?;
    let mut a = engine.begin(IsolationLevel::default());
    let mut b = engine.begin(IsolationLevel::default());
    insert(&mut a, &t, &doc(1, Some("same"), 1))?;
    insert(&mut b, &t, &doc(2, Some("same"), 1))?;
    a.commit()?;
    assert!(matches!(b.commit(), Err(Error::Conflict(_))));
    Ok(())
}

#[test]
fn create_index_backfills_and_checks_uniqueness() -> Result<()> {
    let (engine, mut tx, t) = setup()?;
    insert(&mut tx, &t, &doc(1, Some("a"), 7))?;
    insert(&mut tx, &t, &doc(2, Some("b"), 7))?;
    tx.commit()?;
    let mut tx = engine.begin(IsolationLevel::default());
    let def = IndexDef::named("age_unique", "age", IndexKind::Hash, true);
    assert!(matches!(
        Catalog::create_index(&mut tx, "users", &def),
        Err(Error::UniqueViolation { .. })
    ));
    tx.rollback();
    let mut tx = engine.begin(IsolationLevel::default());
    let def = IndexDef::named("age_hash", "age", IndexKind::Hash, false);
    let t2 = Catalog::create_index(&mut tx, "users", &def)?;
    let ix = t2
        .index("age_hash")
        .cloned()
        .ok_or_else(|| Error::NotFound("ix".into()))?;
    assert_eq!(ids(index_eq(&mut tx, &t2, &ix, &Value::Int(7))?), [1, 2]);
    Catalog::drop_table(&mut tx, "users")?;
    assert_eq!(entries(&mut tx), 0);
    tx.commit()?;
    Ok(())
}

#[test]
fn writes_racing_a_migration_conflict_instead_of_missing_index_entries() -> Result<()> {
    let (engine, tx, t) = setup()?;
    tx.commit()?;
    let mut writer = engine.begin(IsolationLevel::default());
    insert(&mut writer, &t, &doc(1, Some("a"), 7))?;
    let mut ddl = engine.begin(IsolationLevel::default());
    let def = IndexDef::named("age_hash", "age", IndexKind::Hash, false);
    let t2 = Catalog::create_index(&mut ddl, "users", &def)?;
    ddl.commit()?;
    assert!(matches!(writer.commit(), Err(Error::Conflict(_))));
    // A writer holding the old schema after the migration is refused as well.
    let mut late = engine.begin(IsolationLevel::default());
    assert!(matches!(
        insert(&mut late, &t, &doc(2, None, 7)),
        Err(Error::Conflict(_))
    ));
    insert(&mut late, &t2, &doc(2, None, 7))?;
    late.commit()?;
    Ok(())
}

/// The other order: the writer commits first, under the old schema, while a migration that
/// read the rows before it is still open. The migration must not commit without the row: at
/// every isolation level it conflicts (and a retry then sees the row), for an index backfill,
/// an index drop and a table drop alike.
#[test]
fn a_migration_racing_a_committed_write_conflicts_instead_of_missing_it() -> Result<()> {
    for isolation in [
        IsolationLevel::ReadUncommitted,
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
        IsolationLevel::Serializable,
    ] {
        let (engine, tx, t) = setup()?;
        tx.commit()?;
        let def = IndexDef::named("age_hash", "age", IndexKind::Hash, false);
        type Migration<'a> = &'a dyn Fn(&mut Transaction) -> Result<()>;
        let migrations: [Migration<'_>; 3] = [
            &|ddl| Catalog::create_index(ddl, "users", &def).map(drop),
            &|ddl| Catalog::drop_index(ddl, "users", "users.age").map(drop),
            &|ddl| Catalog::drop_table(ddl, "users").map(drop),
        ];
        for (n, migrate) in migrations.iter().enumerate() {
            let what = format!("{isolation:?}, migration {n}");
            let mut ddl = engine.begin(isolation);
            migrate(&mut ddl)?;
            let mut writer = engine.begin(isolation);
            insert(&mut writer, &t, &doc(100 + n as i64, None, 7))?;
            writer.commit()?;
            assert!(
                matches!(ddl.commit(), Err(Error::Conflict(_))),
                "{what}: committed without the row written meanwhile"
            );
        }
        // A retry of the index creation sees every row, the one written during the race too.
        let mut ddl = engine.begin(isolation);
        let t2 = Catalog::create_index(&mut ddl, "users", &def)?;
        ddl.commit()?;
        let ix = t2
            .index("age_hash")
            .ok_or_else(|| Error::NotFound("ix".into()))?;
        let mut r = engine.begin(isolation);
        assert_eq!(
            ids(index_eq(&mut r, &t2, ix, &Value::Int(7))?),
            [100, 101, 102]
        );
    }
    Ok(())
}

/// At ReadCommitted a write's conflict floor is the time of the write, so a commit landing
/// between the table layer's read of the old row (or of a unique value's owner) and its write
/// went unnoticed: the write was decided on a stale value (a second owner of a unique value, a
/// dangling index entry). Those reads go through `get_for_update`, which guards the key from
/// before the read. Here the race is laid out step by step on a unique entry's key.
#[test]
fn a_read_for_update_at_read_committed_conflicts_with_a_commit_before_the_write() -> Result<()> {
    let engine = Engine::open_in_memory(Options::default())?;
    let key = b"unique-entry";
    for (guarded, expect_conflict) in [(true, true), (false, false)] {
        let mut t1 = engine.begin(IsolationLevel::ReadCommitted);
        let seen = if guarded {
            t1.get_for_update(key)?
        } else {
            t1.get(key)?
        };
        assert_eq!(seen, None, "the value looks free");
        engine.put(key, b"owner 2")?; // another transaction takes it
        t1.put(key, b"owner 1")?;
        let result = t1.commit();
        assert_eq!(
            matches!(result, Err(Error::Conflict(_))),
            expect_conflict,
            "guarded read: {guarded}, commit: {result:?}"
        );
        engine.delete(key)?;
    }
    // Under snapshot isolation the write's floor (the snapshot) covers the read already.
    let mut t1 = engine.begin(IsolationLevel::RepeatableRead);
    assert_eq!(t1.get_for_update(key)?, None);
    engine.put(key, b"owner 2")?;
    t1.put(key, b"owner 1")?;
    assert!(matches!(t1.commit(), Err(Error::Conflict(_))));
    Ok(())
}

/// The cached schema (what `Engine::catalog` hands out) answers `check_current` without a read
/// only while it is provably what the transaction sees: never for a snapshot older than the
/// cache, a stale cache, or a transaction that rewrote the entry itself.
#[test]
fn cached_schemas_are_checked_against_the_transactions_view() -> Result<()> {
    let (engine, tx, _) = setup()?;
    tx.commit()?;
    let cached = |engine: &Engine| -> Result<std::sync::Arc<TableSchema>> {
        engine
            .catalog()?
            .get("users")
            .ok_or_else(|| Error::NotFound("users".into()))
    };
    let t = cached(&engine)?;
    let mut old = engine.begin(IsolationLevel::default());
    let mut serializable = engine.begin(IsolationLevel::Serializable);
    insert(&mut serializable, &t, &doc(9, None, 1))?;

    let mut ddl = engine.begin(IsolationLevel::default());
    let def = IndexDef::named("age_hash", "age", IndexKind::Hash, false);
    Catalog::create_index(&mut ddl, "users", &def)?;
    ddl.commit()?;
    assert!(matches!(serializable.commit(), Err(Error::Conflict(_))));

    // The stale cached schema is refused in a new transaction.
    let mut late = engine.begin(IsolationLevel::default());
    assert!(matches!(
        insert(&mut late, &t, &doc(1, None, 7)),
        Err(Error::Conflict(_))
    ));
    // The reloaded one is accepted, but not by a transaction whose snapshot predates it.
    let t2 = cached(&engine)?;
    assert_eq!(t2.indexes.len(), 3);
    insert(&mut late, &t2, &doc(1, None, 7))?;
    late.commit()?;
    assert!(matches!(
        insert(&mut old, &t2, &doc(2, None, 7)),
        Err(Error::Conflict(_))
    ));
    insert(&mut old, &t, &doc(2, None, 7))?;
    assert!(matches!(old.commit(), Err(Error::Conflict(_))));

    // A transaction that changes the schema itself must write with the schema it made.
    let mut own = engine.begin(IsolationLevel::ReadCommitted);
    let t3 = Catalog::drop_index(&mut own, "users", "age_hash")?;
    assert!(matches!(
        insert(&mut own, &t2, &doc(3, None, 7)),
        Err(Error::Conflict(_))
    ));
    insert(&mut own, &t3, &doc(3, None, 7))?;
    own.commit()?;
    let mut check = engine.begin(IsolationLevel::default());
    let now = cached(&engine)?;
    assert_eq!(count(&mut check, &now)?, 2);
    Ok(())
}

/// Many index hits are fetched in primary-key order but returned in index order, each row
/// with its own document.
#[test]
fn many_index_hits_come_back_in_index_order() -> Result<()> {
    let (_engine, mut tx, t) = setup()?;
    let n = 300;
    for id in 0..n {
        insert(&mut tx, &t, &doc(id, None, (id * 7919) % 97))?;
    }
    let age = &t.indexes[1];
    let rows: Vec<RawRow> = index_range(
        &mut tx,
        &t,
        age,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Forward,
    )?
    .collect();
    let mut want: Vec<(i64, i64)> = (0..n).map(|id| ((id * 7919) % 97, id)).collect();
    want.sort_unstable();
    let got: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| match r.document()? {
            Value::Map(fields) => {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .and_then(|(_, v)| match v {
                            Value::Int(i) => Some(*i),
                            _ => None,
                        })
                };
                Ok((field("age").unwrap_or(-1), field("id").unwrap_or(-1)))
            }
            _ => Ok((-1, -1)),
        })
        .collect::<Result<_>>()?;
    assert_eq!(got, want);
    let reversed = ids(index_range(
        &mut tx,
        &t,
        age,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Reverse,
    )?);
    let mut want_ids: Vec<i64> = want.iter().map(|(_, id)| *id).collect();
    want_ids.reverse();
    assert_eq!(reversed, want_ids);
    Ok(())
}

#[test]
fn row_prefix_len_matches_the_prefix() {
    assert_eq!(super::row_prefix(7).len(), super::ROW_PREFIX_LEN);
}

/// The ids [`index_range`] collects over `bounds` of index `ix`, forward.
fn forward_ids(
    tx: &mut Transaction,
    t: &TableSchema,
    ix: &crate::catalog::TableIndex,
    bounds: (Bound<&Value>, Bound<&Value>),
) -> Result<Vec<i64>> {
    Ok(ids(index_range(
        tx,
        t,
        ix,
        bounds.0,
        bounds.1,
        Direction::Forward,
    )?))
}

/// A [`Reader`] over a transaction that counts the scans made through it.
struct CountingScans<'t> {
    tx: &'t mut Transaction,
    scans: usize,
}

impl Reader for CountingScans<'_> {
    type Scan<'a>
        = crate::mvcc::transaction::TxnScan<'a>
    where
        Self: 'a;

    fn read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.tx.get(key)
    }

    fn scan_range(
        &mut self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        dir: Direction,
    ) -> Result<Self::Scan<'_>> {
        self.scans += 1;
        self.tx.scan(lower, upper, dir)
    }
}

#[test]
fn index_scans_read_a_chunk_at_a_time_and_the_chunks_join_up_exactly() -> Result<()> {
    let (engine, mut tx, t) = setup()?;
    // Ages id % 3, inserted out of key order. The first half is committed; the open
    // transaction adds the rest, deletes a committed row and moves another to a new age, so
    // the scans resumed after each chunk cross committed entries, its own and its tombstones.
    let n = 40;
    for i in 0..n {
        if i == n / 2 {
            tx.commit()?;
            tx = engine.begin(IsolationLevel::default());
        }
        let id = (i * 17) % n;
        insert(&mut tx, &t, &doc(id, None, id % 3))?;
    }
    let (deleted, moved) = ((n / 2 * 17) % n, 0);
    assert!(delete(&mut tx, &t, &[Value::Int(deleted)])?);
    update(&mut tx, &t, &doc(moved, None, 2))?;
    let age_of = |id: i64| if id == moved { 2 } else { id % 3 };
    let present = |id: &i64| *id != deleted;

    // Ages 0 and 1: age 0 in pk order, then age 1; reversed, the other way round.
    let age = &t.indexes[1];
    let mut forward: Vec<i64> = (0..n).filter(|&i| age_of(i) == 0).collect();
    forward.extend((0..n).filter(|&i| age_of(i) == 1));
    forward.retain(present);
    let (lo, hi) = (Value::Int(0), Value::Int(1));
    let bounds = (Bound::Included(&lo), Bound::Included(&hi));
    for dir in [Direction::Forward, Direction::Reverse] {
        let mut want = forward.clone();
        if dir == Direction::Reverse {
            want.reverse();
        }
        for chunk in [1, 2, 3, 7, want.len(), 1000] {
            let mut r = CountingScans {
                tx: &mut tx,
                scans: 0,
            };
            let mut rows = Vec::new();
            let done =
                index::index_range_chunked(&mut r, &t, age, bounds, dir, chunk, &mut |row| {
                    rows.push(row);
                    Ok(true)
                })?;
            assert!(done);
            assert_eq!(ids(rows.into_iter()), want, "{dir:?}, chunks of {chunk}");
            // One scan per full chunk, then the one that runs out (empty after an exact fit).
            assert_eq!(
                r.scans,
                want.len() / chunk + 1,
                "{dir:?}, chunks of {chunk}"
            );
            // Stopping midway hands over exactly that prefix.
            for stop in [1, chunk, chunk + 1, want.len() - 1] {
                let mut rows = Vec::new();
                let done =
                    index::index_range_chunked(&mut tx, &t, age, bounds, dir, chunk, &mut |row| {
                        rows.push(row);
                        Ok(rows.len() < stop)
                    })?;
                assert_eq!(done, stop > want.len());
                let stop = stop.min(want.len());
                assert_eq!(
                    ids(rows.into_iter()),
                    want[..stop],
                    "{dir:?}, chunks of {chunk}, stop at {stop}"
                );
            }
        }
    }
    // The collecting scans and the equality scan agree.
    assert_eq!(forward_ids(&mut tx, &t, age, bounds)?, forward);
    let ones: Vec<i64> = (0..n).filter(|&i| age_of(i) == 1).filter(present).collect();
    assert_eq!(ids(index_eq(&mut tx, &t, age, &Value::Int(1))?), ones);
    Ok(())
}

/// At ReadCommitted every read sees the latest commit; an index scan still reads its entries
/// and rows in one state, so commits made while it hands rows over neither repeat nor lose a
/// row (before: a row moved ahead was handed over twice, across chunks).
#[test]
fn an_index_scan_at_read_committed_reads_one_state() -> Result<()> {
    let (engine, mut tx, t) = setup()?;
    let n = index::FETCH_CHUNK as i64 + 100;
    for id in 0..n {
        insert(&mut tx, &t, &doc(id, None, 0))?;
    }
    tx.commit()?;
    let age = &t.indexes[1];
    let (lo, hi) = (Value::Int(0), Value::Int(1));
    let bounds = (Bound::Included(&lo), Bound::Included(&hi));

    let mut rc = engine.begin(IsolationLevel::ReadCommitted);
    let mut seen = Vec::new();
    index_range_each(&mut rc, &t, age, bounds, Direction::Forward, &mut |row| {
        if seen.is_empty() {
            // Once the first row is out: move it past the others, delete the last one.
            let mut other = engine.begin(IsolationLevel::default());
            update(&mut other, &t, &doc(0, None, 1))?;
            delete(&mut other, &t, &[Value::Int(n - 1)])?;
            other.commit()?;
        }
        seen.push(row);
        Ok(true)
    })?;
    assert_eq!(ids(seen.into_iter()), (0..n).collect::<Vec<_>>());
    // The next scan sees the commit.
    let mut after: Vec<i64> = (1..n - 1).collect();
    after.push(0);
    assert_eq!(forward_ids(&mut rc, &t, age, bounds)?, after);
    Ok(())
}

/// An index scan that stops after a few rows reads about as many entries, not a whole chunk:
/// the first chunk is small and each later one doubles (up to `FETCH_CHUNK`).
#[test]
fn an_index_scan_stopped_early_reads_few_entries() -> Result<()> {
    let (_engine, mut tx, t) = setup()?;
    let n = index::FETCH_CHUNK as i64 + 100;
    for id in 0..n {
        insert(&mut tx, &t, &doc(id, None, 0))?;
    }
    let age = &t.indexes[1];
    let zero = Value::Int(0);
    let bounds = (Bound::Included(&zero), Bound::Included(&zero));
    let read = |tx: &mut Transaction, want: usize| -> Result<(usize, usize)> {
        index::ENTRIES_READ.with(|c| c.set(0));
        let mut got = 0;
        index_range_each(tx, &t, age, bounds, Direction::Forward, &mut |_| {
            got += 1;
            Ok(got < want)
        })?;
        Ok((got, index::ENTRIES_READ.with(|c| c.get())))
    };
    let (got, entries) = read(&mut tx, 5)?;
    assert_eq!(got, 5);
    assert!(entries <= 64, "read {entries} entries for 5 rows");
    // A whole scan still reads every entry once, across growing chunks.
    let (got, entries) = read(&mut tx, usize::MAX)?;
    assert_eq!((got, entries), (n as usize, n as usize));
    Ok(())
}
