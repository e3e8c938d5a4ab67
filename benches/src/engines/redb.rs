//! redb (copy-on-write B-tree): one table, every operation in its own transaction.

use super::{BatchOp, Config, Engine, Result};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use std::path::Path;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

pub struct Redb {
    db: Database,
    durability: Durability,
}

impl Redb {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let db = Database::builder()
            .set_cache_size(cfg.cache_bytes)
            .create(dir.join("redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        // `None` is redb's no-fsync mode: commits are visible but persisted only by a later
        // durable commit.
        let durability = if cfg.durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        Ok(Redb { db, durability })
    }

    fn write_tx(&self) -> Result<redb::WriteTransaction> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.durability);
        Ok(tx)
    }
}

impl Engine for Redb {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut t = tx.open_table(TABLE)?;
            for (k, v) in ops {
                match v {
                    Some(v) => {
                        t.insert(*k, *v)?;
                    }
                    None => {
                        t.remove(*k)?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TABLE)?;
        Ok(t.get(key)?.map(|v| v.value().len()))
    }

    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TABLE)?;
        let mut count = 0;
        for entry in t.range(start..)?.take(n) {
            let (k, v) = entry?;
            std::hint::black_box((k.value().len(), v.value().len()));
            count += 1;
        }
        Ok(count)
    }

    fn scan_all(&self) -> Result<usize> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TABLE)?;
        let mut count = 0;
        for entry in t.iter()? {
            let (k, v) = entry?;
            std::hint::black_box((k.value().len(), v.value().len()));
            count += 1;
        }
        Ok(count)
    }

    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        let tx = self.write_tx()?;
        {
            let mut t = tx.open_table(TABLE)?;
            for k in reads {
                std::hint::black_box(t.get(k)?.map(|v| v.value().len()));
            }
            for (k, v) in writes {
                t.insert(k, v)?;
            }
        }
        tx.commit()?;
        Ok(true)
    }

    fn compact(&mut self) -> Result<()> {
        self.settle()?;
        self.db.compact()?;
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        tx.commit()?;
        Ok(())
    }
}
