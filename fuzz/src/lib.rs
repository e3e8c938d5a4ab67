//! Fuzz target bodies for RustLite, one function per target.
//!
//! Each `fuzz_targets/<name>.rs` is a one-line libFuzzer wrapper around the function of the same
//! name here, and `tests/fuzz_regressions.rs` compiles this file on stable Rust (as a module) to
//! replay every saved input under `tests/fuzz_regressions/<name>/`. A function panics when it
//! finds a bug: a decoder that panics, an error other than `Corruption`/`UnsupportedVersion` for
//! damaged bytes, a round trip that does not hold, or a reopened database that lost or
//! half-applied an acknowledged write.
//!
//! | target | feeds the bytes to |
//! |---|---|
//! | `wal_replay` | `record::read_records` and `wal::replay` of a WAL file |
//! | `sstable_read` | `Table::open`, `get`, iterators and `verify` (raw file, or a valid table with byte edits) |
//! | `manifest_decode` | `VersionEdit::decode` + apply, and `Manifest::load` of a manifest file |
//! | `document_decode` | `Value::from_msgpack` and back |
//! | `key_decode` | `Value::decode_key`, `keycode::deserialize` and back |
//! | `ops_io_errors` | an op sequence on an engine over `FaultyStorage` with an I/O error countdown, checked against a `BTreeMap` |
//! | `sql_execute` | SQL text parsed, planned and executed on an in-memory database |

use rustlite_engine::codec::{keycode, record};
use rustlite_engine::lsm::ikey::{self, Kind, MAX_SEQNO};
use rustlite_engine::lsm::iter::InternalIterator;
use rustlite_engine::lsm::manifest::{Manifest, ManifestState, VersionEdit};
use rustlite_engine::lsm::sstable::{BlockCache, Table, TableBuilder, TableOptions};
use rustlite_engine::lsm::wal;
use rustlite_engine::storage::faulty::{CrashMode, FaultyStorage};
use rustlite_engine::storage::{MemStorage, Storage};
use rustlite_engine::{Direction, Engine, Error, Options, Value, WriteBatch};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Panics unless `e` is what damaged bytes may produce.
fn expect_damage_error(e: &Error, what: &str) {
    assert!(
        matches!(
            e,
            Error::Corruption { .. } | Error::UnsupportedVersion { .. }
        ),
        "{what}: damaged input gave a non-corruption error: {e:?}"
    );
}

fn storage_with(name: &str, data: &[u8]) -> MemStorage {
    let storage = MemStorage::new();
    let mut f = storage.create(name).expect("create");
    f.append(data).expect("append");
    storage
}

/// WAL replay over arbitrary bytes.
pub fn wal_replay(data: &[u8]) {
    if let Ok(recs) = record::read_records(data, "000001.wal") {
        assert!(recs.valid_len <= data.len() as u64);
        for i in 0..recs.records.len() {
            assert!(recs.payload(data, i).is_some());
        }
    }
    let storage = storage_with("000001.wal", data);
    let mut batches = 0u64;
    match wal::replay(&storage, "000001.wal", None, |_, ops| {
        batches += 1;
        for (kind, key, value) in ops {
            assert!(*kind == Kind::Put || value.is_empty());
            assert!(key.len() + value.len() <= data.len());
        }
        Ok(())
    }) {
        Ok(stats) => {
            assert_eq!(stats.records, batches);
            assert!(stats.valid_len <= data.len() as u64);
        }
        Err(e) => expect_damage_error(&e, "wal replay"),
    }
}

/// A valid table of 60 versions over 20 keys, small blocks (several data blocks).
fn valid_table() -> Vec<u8> {
    let storage = MemStorage::new();
    let file = storage.create("t.sst").expect("create");
    let opts = TableOptions {
        block_size: 128,
        restart_interval: 4,
        bloom_bits_per_key: 10,
    };
    let mut b = TableBuilder::new(file, "t.sst".into(), opts);
    for k in 0..20u32 {
        for seq in (1..=3u64).rev() {
            let key = format!("key{k:02}");
            let kind = if seq == 2 { Kind::Delete } else { Kind::Put };
            let value = if kind == Kind::Put {
                format!("value-{k}-{seq}")
            } else {
                String::new()
            };
            b.add(&ikey::encode(key.as_bytes(), seq, kind), value.as_bytes())
                .expect("add");
        }
    }
    b.finish().expect("finish");
    storage.read_all("t.sst").expect("read")
}

/// SSTable open and reads. First byte even: the rest is the whole file. Odd: the rest is a list
/// of `(offset u16 LE, xor u8)` edits applied to a valid table.
pub fn sstable_read(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut t = valid_table();
        for edit in rest.chunks_exact(3) {
            let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % t.len();
            t[at] ^= edit[2];
        }
        t
    };
    let storage = storage_with("000001.sst", &bytes);
    let file = storage.open_read("000001.sst").expect("open_read");
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table = match Table::open(file, 1, "000001.sst".into(), cache) {
        Ok(t) => t,
        Err(e) => return expect_damage_error(&e, "table open"),
    };
    for k in 0..21u32 {
        for snap in [MAX_SEQNO, 2, 0] {
            if let Err(e) = table.get(format!("key{k:02}").as_bytes(), snap) {
                expect_damage_error(&e, "table get");
            }
        }
    }
    for dir in [Direction::Forward, Direction::Reverse] {
        match table.iter(dir, None) {
            Ok(mut it) => {
                for _ in 0..100_000 {
                    if !it.valid() {
                        break;
                    }
                    if let Err(e) = it.advance() {
                        expect_damage_error(&e, "table iter");
                        break;
                    }
                }
            }
            Err(e) => expect_damage_error(&e, "table iter"),
        }
    }
    if let Err(e) = table.verify() {
        expect_damage_error(&e, "table verify");
    }
}

/// Manifest edit decoding and manifest loading.
pub fn manifest_decode(data: &[u8]) {
    match VersionEdit::decode(data, "MANIFEST-000001", 0) {
        Ok(edit) => {
            let again = VersionEdit::decode(&edit.encode(), "MANIFEST-000001", 0)
                .expect("re-encoded edit decodes");
            assert_eq!(again, edit);
            let mut state = ManifestState::new(7);
            if let Err(e) = state.apply(&edit, 7) {
                expect_damage_error(&e, "manifest apply");
            }
        }
        Err(e) => expect_damage_error(&e, "manifest decode"),
    }
    let storage = storage_with("MANIFEST-000001", data);
    storage
        .create("CURRENT")
        .expect("create")
        .append(b"MANIFEST-000001\n")
        .expect("append");
    if let Err(e) = Manifest::load(&storage, 7) {
        expect_damage_error(&e, "manifest load");
    }
}

/// Document (MessagePack) decoding.
pub fn document_decode(data: &[u8]) {
    if let Ok(v) = Value::from_msgpack(data) {
        if let Ok(bytes) = v.to_msgpack() {
            Value::from_msgpack(&bytes).expect("a re-encoded document decodes");
        }
        let _ = v.to_key();
    }
}

/// Key decoding: `Value`'s key encoding and typed keycode.
pub fn key_decode(data: &[u8]) {
    if let Ok((v, rest)) = Value::decode_key(data) {
        assert!(rest.len() < data.len());
        if let Ok(key) = v.to_key() {
            let (again, rest) = Value::decode_key(&key).expect("a re-encoded key decodes");
            assert!(rest.is_empty());
            assert_eq!(again.to_key().ok(), Some(key));
        }
    }
    type Typed = (i64, String, Vec<u8>, bool, Option<u32>, f64, (u8, i16));
    if let Ok(t) = keycode::deserialize::<Typed>(data) {
        let bytes = keycode::serialize(&t).expect("a decoded key re-encodes");
        let back: Typed = keycode::deserialize(&bytes).expect("a re-encoded key decodes");
        assert_eq!(keycode::serialize(&back).ok(), Some(bytes));
    }
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// The writes of one commit: `None` deletes.
type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn ops_options() -> Options {
    Options {
        memtable_size: 2 << 10,
        block_size: 256,
        l0_compaction_trigger: 2,
        l1_target_size: 8 << 10,
        target_file_size: 4 << 10,
        block_cache_size: 64 << 10,
        background_compaction: false,
        ..Options::default()
    }
}

fn scan_all(engine: &Engine) -> rustlite_engine::Result<Model> {
    engine
        .scan(Bound::Unbounded, Bound::Unbounded, Direction::Forward)?
        .collect()
}

/// An op sequence on an engine over [`FaultyStorage`]: bytes 0..2 pick the storage op to fail
/// (0 = none), byte 2 whether the failure persists; then one op per byte (put, delete, 2-key
/// batch, flush, compaction, reopen), the key and value size drawn from the next byte. Reads are
/// checked against a `BTreeMap` as the ops run; after the first error, the files as a process
/// crash and as a power loss leave them must reopen to the model, with the failed write in or
/// out as a whole.
pub fn ops_io_errors(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let fail_at = u64::from(u16::from_le_bytes([data[0], data[1]])) % 512;
    let fs = FaultyStorage::new();
    if fail_at > 0 {
        fs.fail_at(fail_at, data[2] & 1 == 1);
    }
    let mut model = Model::new();
    let mut in_doubt: Option<Writes> = None;
    let mut engine = Engine::open_with_storage(Arc::new(fs.clone()), ops_options()).ok();
    let mut ops = data[3..].chunks(2);
    while let (Some(chunk), Some(db)) = (ops.next(), engine.as_ref()) {
        let op = chunk[0];
        let arg = chunk.get(1).copied().unwrap_or(0);
        let key = |a: u8| format!("k{:02}", a % 24).into_bytes();
        let value = |a: u8| vec![b'a' + a % 26; usize::from(a) * 3];
        let writes: Writes = match op % 8 {
            0 | 1 => vec![(key(arg), Some(value(arg)))],
            2 => vec![(key(arg), None)],
            3 => vec![
                (key(arg), Some(value(arg))),
                (key(arg.wrapping_add(7)), Some(value(arg ^ 0x55))),
            ],
            _ => Vec::new(),
        };
        let result = match op % 8 {
            0..=3 => {
                let mut batch = WriteBatch::new();
                for (k, v) in &writes {
                    match v {
                        Some(v) => batch.put(k, v),
                        None => batch.delete(k),
                    };
                }
                db.write(batch).map(|_| ())
            }
            4 => db.flush(),
            5 => db.compact(arg % 2 == 0),
            6 => {
                let got = db.get(&key(arg)).expect("reads never fail here");
                assert_eq!(
                    got.as_ref(),
                    model.get(&key(arg)),
                    "get returned a wrong value"
                );
                Ok(())
            }
            _ => {
                engine = None; // close, then reopen below
                match Engine::open_with_storage(Arc::new(fs.clone()), ops_options()) {
                    Ok(e) => {
                        assert_eq!(scan_all(&e).expect("scan"), model, "reopen lost data");
                        engine = Some(e);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(()) => {
                for (k, v) in writes {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Err(_) => {
                assert!(
                    fs.first_failure().is_some(),
                    "an op failed with no fault injected"
                );
                if !writes.is_empty() {
                    in_doubt = Some(writes);
                }
                break;
            }
        }
    }
    drop(engine);
    fs.clear_fault();
    let mut with_doubt = model.clone();
    for (k, v) in in_doubt.iter().flatten() {
        match v {
            Some(v) => with_doubt.insert(k.clone(), v.clone()),
            None => with_doubt.remove(k),
        };
    }
    for (view, image) in [
        ("process crash", fs.live()),
        ("power loss", fs.crash(CrashMode::DropUnsynced)),
    ] {
        let engine = Engine::open_with_storage(Arc::new(image), ops_options())
            .unwrap_or_else(|e| panic!("{view}: reopen failed: {e}"));
        let got = scan_all(&engine).unwrap_or_else(|e| panic!("{view}: scan: {e}"));
        assert!(
            got == model || got == with_doubt,
            "{view}: reopened state is neither the acknowledged writes nor those plus the \
             failed one"
        );
        engine
            .verify()
            .unwrap_or_else(|e| panic!("{view}: verify: {e}"));
    }
}

/// `sql_execute`: the input as SQL text (lossy UTF-8), split at `;`, each statement parsed,
/// planned and executed in its own transaction on a small in-memory database with an indexed
/// table. Any `Err` is fine; a panic or a hang is a bug.
pub fn sql_execute(data: &[u8]) {
    let opts = Options {
        background_compaction: false,
        ..Options::default()
    };
    let Ok(engine) = Engine::open_in_memory(opts) else {
        panic!("in-memory engine failed to open");
    };
    let setup = [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BOOLEAN)",
        "CREATE INDEX t_a ON t (a)",
        "CREATE TABLE u (k INTEGER PRIMARY KEY, id INTEGER, note TEXT UNIQUE)",
        "INSERT INTO t VALUES (1, 'x', 1.5, true), (2, 'y', NULL, false), (3, NULL, -2.0, NULL)",
        "INSERT INTO u VALUES (10, 1, 'p'), (11, 3, NULL), (12, 7, 'q')",
    ];
    for sql in setup {
        let mut tx = engine.begin(rustlite_engine::IsolationLevel::RepeatableRead);
        if let Err(e) = rustlite_engine::sql::execute(&mut tx, sql, &[]) {
            panic!("setup statement {sql:?} failed: {e}");
        }
        if let Err(e) = tx.commit() {
            panic!("setup commit failed: {e}");
        }
    }
    let text = String::from_utf8_lossy(data);
    let params = [Value::Int(1), Value::Text("x".into()), Value::Null];
    for statement in text.split(';').take(8) {
        let mut tx = engine.begin(rustlite_engine::IsolationLevel::RepeatableRead);
        let _ = rustlite_engine::sql::execute(&mut tx, statement, &params);
        let _ = tx.commit();
    }
}
