//! The typed layer against the raw key-value API of the same database (issue 4): a 5-field
//! struct with 2 secondary indexes (one unique), `insert`/`get` through `db.collection::<T>()`
//! next to `put`/`get` of the very same MessagePack bytes (`rmp_serde::to_vec_named`, what the
//! collection stores) under the very same key (the document's row key, `table::row_key`).
//!
//! ```text
//!  buffered (Durability::Buffered, 256 MiB cache), two databases side by side:
//!    typed: collection.insert(&doc)    each its own transaction (unique check + 2 index entries)
//!    raw:   db.put(row_key, bytes)     each its own commit
//!    typed: collection.get(&id) → T    one snapshot read + rmp decode
//!    raw:   db.get(row_key) → Vec<u8>
//!  durable (Durability::Immediate), batches of 1000 in one transaction / one WriteBatch
//! ```
//! Inserts run in `ROUNDS` interleaved chunks (typed chunk, raw chunk, typed chunk, …) and gets
//! in `ROUNDS` interleaved passes, so noise from other processes hits both sides alike; each
//! result is the median of the rounds' rates.

use crate::engines::Result;
use crate::keys::{splitmix, Rng};
use crate::workloads::{median, report, WARM_CACHE};
use rustlite::{Collection, Database, Durability, Options, WriteBatch};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// The 5-field document: key, a unique index, a B-Tree index, two plain fields.
#[derive(Serialize, Deserialize, Collection, Clone, Debug, PartialEq)]
#[collection(name = "people")]
pub struct Person {
    #[key]
    pub id: u64,
    #[index(unique)]
    pub email: String,
    #[index]
    pub age: u32,
    pub name: String,
    pub score: f64,
}

/// Document `i`: ids are scrambled (insert order random relative to key order).
fn person(i: u64) -> Person {
    let id = splitmix(i) >> 1;
    Person {
        id,
        email: format!("user{id:016x}@example.org"),
        age: 18 + (splitmix(i ^ 0xA5A5) % 60) as u32,
        name: format!("Person number {i}"),
        score: (splitmix(i ^ 0x5A5A) % 100_000) as f64 / 100.0,
    }
}

const ROUNDS: u64 = 3;

#[derive(Clone, Copy)]
pub struct TypedSizes {
    /// Documents inserted one per transaction (buffered).
    pub docs: u64,
    /// Point gets per pass.
    pub gets: u64,
    /// Documents inserted in durable batches.
    pub batch_docs: u64,
    pub batch: u64,
}

impl TypedSizes {
    pub fn new(quick: bool) -> Self {
        let d = if quick { 100 } else { 1 };
        TypedSizes {
            docs: 300_000 / d,
            gets: 300_000 / d,
            batch_docs: 100_000 / d,
            batch: 1000,
        }
    }
}

fn open(dir: &Path, durability: Durability) -> Result<Database> {
    let _ = std::fs::remove_dir_all(dir);
    Ok(Database::open_with(
        dir,
        Options::default()
            .durability(durability)
            .block_cache_size(WARM_CACHE),
    )?)
}

/// The key the collection stores document `doc` under.
fn row_key(db: &Database, doc: &Person) -> Result<Vec<u8>> {
    let table = db
        .engine()
        .catalog()?
        .get(<Person as Collection>::NAME)
        .ok_or("collection people not in the catalog")?;
    let pk = rustlite_engine::Value::from_serialize(&doc.id)?;
    Ok(rustlite_engine::table::row_key(table.id, &[pk])?)
}

fn rate(n: u64, f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    f()?;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

pub fn run(dir: &Path, sizes: TypedSizes) -> Result<()> {
    // ── buffered: one operation per transaction ──────────────────────────────────────────
    let tdb = open(&dir.join("typed"), Durability::Buffered)?;
    let rdb = open(&dir.join("raw"), Durability::Buffered)?;
    let people = tdb.collection::<Person>()?;

    let docs: Vec<Person> = (0..sizes.docs).map(person).collect();
    // What the raw side writes: the typed side's row key and document bytes.
    let mut raw = Vec::with_capacity(docs.len());
    for d in &docs {
        raw.push((row_key(&tdb, d)?, rmp_serde::to_vec_named(d)?));
    }

    let chunk = sizes.docs.div_ceil(ROUNDS) as usize;
    let (mut ins, mut put) = (Vec::new(), Vec::new());
    for (docs, raw) in docs.chunks(chunk).zip(raw.chunks(chunk)) {
        ins.push(rate(docs.len() as u64, || {
            for d in docs {
                people.insert(d)?;
            }
            Ok(())
        })?);
        put.push(rate(raw.len() as u64, || {
            for (k, v) in raw {
                rdb.put(k, v)?;
            }
            Ok(())
        })?);
    }
    // The raw side really holds what the collection holds.
    for (d, (k, v)) in docs.iter().zip(&raw).take(100) {
        let stored = tdb.engine().get(k)?.ok_or("typed row key not found")?;
        if &stored != v || rdb.get(k)?.as_ref() != Some(v) {
            return Err(
                format!("document {} is stored differently from its raw copy", d.id).into(),
            );
        }
    }
    report("typed_insert", median(&mut ins));
    report("raw_put", median(&mut put));
    eprintln!(
        "  typed insert {:.0}/s, raw put {:.0}/s (rounds {ins:.0?} / {put:.0?})",
        median(&mut ins),
        median(&mut put)
    );

    let (mut tget, mut rget) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let n = sizes.docs;
        tget.push(rate(sizes.gets, || {
            let mut rng = Rng::new(100 + round);
            for _ in 0..sizes.gets {
                let i = rng.below(n) as usize;
                let got = people.get(&docs[i].id)?.ok_or("typed get missed")?;
                std::hint::black_box(got);
            }
            Ok(())
        })?);
        rget.push(rate(sizes.gets, || {
            let mut rng = Rng::new(100 + round);
            for _ in 0..sizes.gets {
                let i = rng.below(n) as usize;
                let got = rdb.get(&raw[i].0)?.ok_or("raw get missed")?;
                std::hint::black_box(got);
            }
            Ok(())
        })?);
    }
    report("typed_get", median(&mut tget));
    report("raw_get", median(&mut rget));
    eprintln!(
        "  typed get {:.0}/s, raw get {:.0}/s (rounds {tget:.0?} / {rget:.0?})",
        median(&mut tget),
        median(&mut rget)
    );
    drop((people, tdb, rdb));

    // ── durable: batches in one transaction / one WriteBatch ─────────────────────────────
    let tdb = open(&dir.join("typed-durable"), Durability::Immediate)?;
    let rdb = open(&dir.join("raw-durable"), Durability::Immediate)?;
    tdb.collection::<Person>()?;
    let docs: Vec<Person> = (0..sizes.batch_docs).map(person).collect();
    let mut raw = Vec::with_capacity(docs.len());
    for d in &docs {
        raw.push((row_key(&tdb, d)?, rmp_serde::to_vec_named(d)?));
    }
    let (mut tb, mut rb) = (Vec::new(), Vec::new());
    let chunk = sizes.batch_docs.div_ceil(ROUNDS) as usize;
    for (docs, raw) in docs.chunks(chunk).zip(raw.chunks(chunk)) {
        tb.push(rate(docs.len() as u64, || {
            for batch in docs.chunks(sizes.batch as usize) {
                let mut tx = tdb.begin()?;
                {
                    let people = tx.collection::<Person>()?;
                    for d in batch {
                        people.insert(d)?;
                    }
                }
                tx.commit()?;
            }
            Ok(())
        })?);
        rb.push(rate(raw.len() as u64, || {
            for batch in raw.chunks(sizes.batch as usize) {
                let mut wb = WriteBatch::new();
                for (k, v) in batch {
                    wb.put(k, v);
                }
                rdb.write_batch(wb)?;
            }
            Ok(())
        })?);
    }
    report("typed_insert_batch", median(&mut tb));
    report("raw_put_batch", median(&mut rb));
    eprintln!(
        "  durable batches of {}: typed {:.0}/s, raw {:.0}/s",
        sizes.batch,
        median(&mut tb),
        median(&mut rb)
    );
    Ok(())
}
