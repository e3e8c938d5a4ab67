//! SQLite (bundled) in WAL mode: `kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`. A
//! `Connection` is not `Sync`, so the adapter keeps a small pool and gives each thread its own.

use super::{BatchOp, Config, Engine, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const POOL: usize = 8;

pub struct Sqlite {
    pool: Vec<Mutex<Connection>>,
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn slot() -> usize {
    SLOT.with(|s| match s.get() {
        Some(i) => i,
        None => {
            let i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % POOL;
            s.set(Some(i));
            i
        }
    })
}

impl Sqlite {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let path = dir.join("sqlite.db");
        let sync = if cfg.durable { "FULL" } else { "OFF" };
        let mut pool = Vec::with_capacity(POOL);
        for i in 0..POOL {
            let conn = Connection::open(&path)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", sync)?;
            // Negative cache_size is KiB; split the cache between the pooled connections.
            conn.pragma_update(
                None,
                "cache_size",
                -((cfg.cache_bytes / 1024 / POOL) as i64),
            )?;
            if i == 0 {
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
                    [],
                )?;
            }
            pool.push(Mutex::new(conn));
        }
        Ok(Sqlite { pool })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.pool[slot()].lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Engine for Sqlite {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")?;
            let mut del = tx.prepare_cached("DELETE FROM kv WHERE k = ?1")?;
            for (k, v) in ops {
                match v {
                    Some(v) => put.execute(params![k, v])?,
                    None => del.execute(params![k])?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
        Ok(stmt
            .query_row(params![key], |row| {
                row.get_ref(0).map(|v| v.as_bytes().map(<[u8]>::len))
            })
            .optional()?
            .transpose()?)
    }

    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")?;
        let rows = stmt.query(params![start, n as i64])?;
        count_kv_rows(rows)
    }

    fn scan_all(&self) -> Result<usize> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT k, v FROM kv ORDER BY k")?;
        let rows = stmt.query([])?;
        count_kv_rows(rows)
    }

    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut get = tx.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
            for k in reads {
                let v: Option<Vec<u8>> = get.query_row(params![k], |r| r.get(0)).optional()?;
                std::hint::black_box(v);
            }
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")?;
            for (k, v) in writes {
                put.execute(params![k, v])?;
            }
        }
        tx.commit()?;
        Ok(true)
    }

    fn compact(&mut self) -> Result<()> {
        let conn = self.conn();
        conn.execute_batch(
            "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        let conn = self.conn();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

/// Reads every `(k, v)` row of `rows` (touching both values) and counts them.
fn count_kv_rows(mut rows: rusqlite::Rows<'_>) -> Result<usize> {
    let mut count = 0;
    while let Some(row) = rows.next()? {
        std::hint::black_box((
            row.get_ref(0)?.as_bytes()?.len(),
            row.get_ref(1)?.as_bytes()?.len(),
        ));
        count += 1;
    }
    Ok(count)
}
