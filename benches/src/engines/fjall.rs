//! fjall (LSM): a transactional keyspace with one partition. Batches go through the plain
//! keyspace batch; the small transactions through fjall's single-writer write transactions.
//!
//! Every commit persists its journal write: `PersistMode::SyncAll` when durable, and
//! `PersistMode::Buffer` when buffered, which flushes fjall's 8 KiB user-space `BufWriter` into
//! the OS (an application crash loses nothing), as every other engine's buffered commit does.
//! Without a persist mode a buffered commit stayed in that buffer, cheaper than the others'.

use super::{BatchOp, Config, Engine, Result};
use fjall::{PartitionCreateOptions, PersistMode, TxKeyspace, TxPartitionHandle};
use std::path::Path;

pub struct Fjall {
    ks: TxKeyspace,
    part: TxPartitionHandle,
    /// `Some` always: fjall's batch takes an `Option`, `None` meaning "not even to the OS".
    persist: Option<PersistMode>,
}

impl Fjall {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let ks = fjall::Config::new(dir.join("fjall"))
            .cache_size(cfg.cache_bytes as u64)
            // We persist per commit: SyncAll (durable) or Buffer (buffered), no background fsync.
            .manual_journal_persist(true)
            .fsync_ms(None)
            .open_transactional()?;
        let part = ks.open_partition("bench", PartitionCreateOptions::default())?;
        let persist = Some(if cfg.durable {
            PersistMode::SyncAll
        } else {
            PersistMode::Buffer
        });
        Ok(Fjall { ks, part, persist })
    }
}

impl Engine for Fjall {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let mut batch = self.ks.inner().batch().durability(self.persist);
        let p = self.part.inner();
        for (k, v) in ops {
            match v {
                Some(v) => batch.insert(p, *k, *v),
                None => batch.remove(p, *k),
            }
        }
        batch.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.part.inner().get(key)?.map(|v| v.len()))
    }

    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let mut count = 0;
        for entry in self.part.inner().range(start..).take(n) {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn scan_all(&self) -> Result<usize> {
        let mut count = 0;
        for entry in self.part.inner().iter() {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        let mut tx = self.ks.write_tx().durability(self.persist);
        for k in reads {
            std::hint::black_box(tx.get(&self.part, k)?);
        }
        for (k, v) in writes {
            tx.insert(&self.part, k, v);
        }
        tx.commit()?;
        Ok(true)
    }

    fn compact(&mut self) -> Result<()> {
        self.settle()?;
        self.part.inner().major_compact()?;
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.ks.persist(PersistMode::SyncAll)?;
        self.part.inner().rotate_memtable_and_wait()?;
        Ok(())
    }
}
