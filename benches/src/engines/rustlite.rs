//! RustLite through its public facade (`rustlite::Database`), as an application uses it.

use super::{BatchOp, Config, Engine, Result};
use rustlite::{Database, Durability, Error, IsolationLevel, Options, WriteBatch};
use std::path::Path;

pub struct RustLite {
    db: Database,
}

impl RustLite {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let durability = if cfg.durable {
            Durability::Immediate
        } else {
            Durability::Buffered
        };
        let opts = Options::default()
            .durability(durability)
            .block_cache_size(cfg.cache_bytes);
        Ok(RustLite {
            db: Database::open_with(dir, opts)?,
        })
    }
}

impl Engine for RustLite {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (k, v) in ops {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            };
        }
        self.db.write_batch(batch)?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        // Borrowed, as the B-trees' adapters read it (no copy of the value).
        Ok(self.db.get_with(key, <[u8]>::len)?)
    }

    // Scans borrow each pair (`next_ref`), as the B-trees' adapters do (LMDB, redb hand out
    // slices): no copy or allocation per entry.
    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let mut it = self.db.scan(start..)?;
        let mut count = 0;
        while count < n {
            let Some(entry) = it.next_ref() else { break };
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn scan_all(&self) -> Result<usize> {
        let mut it = self.db.scan::<&[u8]>(..)?;
        let mut count = 0;
        while let Some(entry) = it.next_ref() {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        let mut tx = self.db.begin_with(IsolationLevel::RepeatableRead)?;
        for k in reads {
            tx.get(k)?;
        }
        for (k, v) in writes {
            tx.put(k, v)?;
        }
        match tx.commit() {
            Ok(_) => Ok(true),
            Err(Error::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn compact(&mut self) -> Result<()> {
        self.db.flush()?;
        self.db.compact()?;
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.db.sync()?;
        self.db.flush()?;
        Ok(())
    }

    fn commit_stats(&self) -> Option<(u64, u64)> {
        let c = self.db.stats().commits;
        Some((c.wal_syncs, c.synced_commits))
    }
}
