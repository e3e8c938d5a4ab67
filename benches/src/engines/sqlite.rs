//! SQLite (bundled) in WAL mode: `kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`. A
//! `Connection` is not `Sync`, so the adapter keeps a small pool and gives each thread its own.
//!
//! SQLite's page cache belongs to a connection, not to the database: every pooled connection
//! gets the whole configured cache (splitting it would run the single-thread rows with a
//! fraction of it), and [`Engine::warm_up`] scans through every connection, so the threads of
//! the timed reads find their own connection's cache warm.
//!
//! ```text
//!  slot 0          the harness's main thread (load, 1-thread rows), held until exit
//!  slots 1..=4     the 4 worker threads of a 4-thread row, lowest free slot first; a thread
//!                  gives its slot back when it exits, so every 4-thread row reuses slots 1..=4
//! ```
//! A commit through one connection empties every other connection's cache (SQLite notices the
//! changed WAL at that connection's next transaction): SQLite's multi-threaded write rows read
//! through the OS page cache more than through its own, as an application's pool would.

use super::{BatchOp, Config, Engine, Result};
use crate::workloads::THREADS;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::cell::Cell;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// One connection for the main thread and one for each worker of a 4-thread row.
const POOL: usize = THREADS as usize + 1;

pub struct Sqlite {
    pool: Vec<Mutex<Connection>>,
}

/// Which slots a live thread holds.
static TAKEN: Mutex<[bool; POOL]> = Mutex::new([false; POOL]);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This thread's slot, and whether it holds it alone (`false`: all were taken, it shares one).
struct Slot(Cell<Option<(usize, bool)>>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((i, true)) = self.0.get() {
            lock(&TAKEN)[i] = false;
        }
    }
}

thread_local! {
    static SLOT: Slot = const { Slot(Cell::new(None)) };
}

fn slot() -> usize {
    SLOT.with(|s| {
        if let Some((i, _)) = s.0.get() {
            return i;
        }
        let mut taken = lock(&TAKEN);
        let mine = match taken.iter().position(|t| !t) {
            Some(i) => {
                taken[i] = true;
                (i, true)
            }
            None => {
                // More live threads than the harness ever runs: share (correct, but serialized
                // on the connection's mutex), and say so.
                eprintln!(
                    "  sqlite: more than {POOL} threads; sharing connection {}",
                    POOL - 1
                );
                (POOL - 1, false)
            }
        };
        s.0.set(Some(mine));
        mine.0
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
            // Negative cache_size is KiB. Per connection: each gets the whole cache.
            conn.pragma_update(None, "cache_size", -((cfg.cache_bytes / 1024) as i64))?;
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

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.pool[slot()])
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
        scan(&self.conn())
    }

    fn warm_up(&self) -> Result<usize> {
        let mut seen = None;
        for conn in &self.pool {
            let count = scan(&lock(conn))?;
            if seen.is_some_and(|s| s != count) {
                return Err(format!("sqlite: connections saw {seen:?} and {count} entries").into());
            }
            seen = Some(count);
        }
        Ok(seen.unwrap_or(0))
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

/// Reads every entry through `conn`, in key order; returns the count.
fn scan(conn: &Connection) -> Result<usize> {
    let mut stmt = conn.prepare_cached("SELECT k, v FROM kv ORDER BY k")?;
    let rows = stmt.query([])?;
    count_kv_rows(rows)
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
