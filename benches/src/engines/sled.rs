//! sled (Bw-tree-like log-structured store). Its durable mode is `flush()` after each commit,
//! which writes sled's log and calls `sync_all` on it, but sled 0.34 gives no crash-consistency
//! guarantee of its own: its write figures are marked as weaker than fsync in the report.

use super::{BatchOp, Config, Engine, Result};
use std::path::Path;

pub struct Sled {
    db: sled::Db,
    durable: bool,
}

impl Sled {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(cfg.cache_bytes as u64)
            .flush_every_ms(if cfg.durable { None } else { Some(1000) })
            .open()?;
        Ok(Sled {
            db,
            durable: cfg.durable,
        })
    }

    fn maybe_flush(&self) -> Result<()> {
        if self.durable {
            self.db.flush()?;
        }
        Ok(())
    }
}

impl Engine for Sled {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in ops {
            match v {
                Some(v) => batch.insert(*k, *v),
                None => batch.remove(*k),
            }
        }
        self.db.apply_batch(batch)?;
        self.maybe_flush()
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let mut count = 0;
        for entry in self.db.range(start..).take(n) {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn scan_all(&self) -> Result<usize> {
        let mut count = 0;
        for entry in self.db.iter() {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        let outcome = self.db.transaction(|tx| {
            for k in reads {
                std::hint::black_box(tx.get(k)?);
            }
            for (k, v) in writes {
                tx.insert(k, v)?;
            }
            Ok::<_, ConflictableTransactionError<()>>(())
        });
        match outcome {
            Ok(()) => {}
            Err(TransactionError::Abort(())) => return Ok(false),
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        self.maybe_flush()?;
        Ok(true)
    }

    fn compact(&mut self) -> Result<()> {
        Err(Box::new(super::Unsupported(
            "sled has no manual compaction",
        )))
    }

    fn settle(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
