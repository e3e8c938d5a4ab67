//! RocksDB (`--features rocksdb`, needs libclang-dev and ~10 minutes of C++ to build). A plain
//! `DB` with an LRU block cache and 10-bit bloom filters; durable = `WriteOptions::set_sync(true)`.
//! The small-transaction workloads are not run for it (they would need `TransactionDB`).

use super::{BatchOp, Config, Engine, Result};
use rocksdb::{BlockBasedOptions, Cache, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::path::Path;

pub struct Rocks {
    db: DB,
    durable: bool,
}

impl Rocks {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(cfg.cache_bytes));
        table.set_bloom_filter(10.0, false);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_block_based_table_factory(&table);
        opts.increase_parallelism(2);
        let db = DB::open(&opts, dir.join("rocksdb"))?;
        Ok(Rocks {
            db,
            durable: cfg.durable,
        })
    }

    fn write_options(&self) -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.durable);
        wo
    }
}

impl Engine for Rocks {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (k, v) in ops {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            }
        }
        self.db.write_opt(batch, &self.write_options())?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get_pinned(key)?.map(|v| v.len()))
    }

    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let mode = IteratorMode::From(start, rocksdb::Direction::Forward);
        let mut count = 0;
        for entry in self.db.iterator(mode).take(n) {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn scan_all(&self) -> Result<usize> {
        let mut count = 0;
        for entry in self.db.iterator(IteratorMode::Start) {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn txn(&self, _reads: [&[u8]; 2], _writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        Err(Box::new(super::Unsupported(
            "rocksdb adapter uses a plain DB, not TransactionDB",
        )))
    }

    fn compact(&mut self) -> Result<()> {
        self.db.flush()?;
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
