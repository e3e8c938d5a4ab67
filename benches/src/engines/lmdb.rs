//! LMDB through heed: one named database in a memory-mapped file. Reads go through the OS page
//! cache (LMDB has no cache of its own, so the cache size does not apply).

use super::{BatchOp, Config, Engine, Result};
use heed::types::Bytes;
use heed::{Database, Env, EnvFlags, EnvOpenOptions};
use std::ops::Bound;
use std::path::Path;

pub struct Lmdb {
    /// `None` only while dropping.
    env: Option<Env>,
    db: Database<Bytes, Bytes>,
}

impl Drop for Lmdb {
    fn drop(&mut self) {
        // heed keeps one `Env` per path per process: close it fully so the next phase can
        // reopen the same directory with other flags.
        if let Some(env) = self.env.take() {
            env.prepare_for_closing().wait();
        }
    }
}

impl Lmdb {
    pub fn open(dir: &Path, cfg: Config) -> Result<Self> {
        let path = dir.join("lmdb");
        std::fs::create_dir_all(&path)?;
        let mut options = EnvOpenOptions::new();
        options.map_size(32 << 30).max_dbs(1);
        if !cfg.durable {
            // SAFETY: NO_SYNC only drops the fsync at commit (the buffered mode under test).
            unsafe {
                options.flags(EnvFlags::NO_SYNC);
            }
        }
        // SAFETY: the directory is opened once per process and never modified by others.
        let env = unsafe { options.open(&path)? };
        let mut wtxn = env.write_txn()?;
        let db = env.create_database(&mut wtxn, Some("bench"))?;
        wtxn.commit()?;
        Ok(Lmdb { env: Some(env), db })
    }
}

impl Lmdb {
    fn env(&self) -> &Env {
        self.env
            .as_ref()
            .expect("the environment is open until drop")
    }
}

impl Engine for Lmdb {
    fn write_batch(&self, ops: &[BatchOp<'_>]) -> Result<()> {
        let mut wtxn = self.env().write_txn()?;
        for (k, v) in ops {
            match v {
                Some(v) => self.db.put(&mut wtxn, k, v)?,
                None => {
                    self.db.delete(&mut wtxn, k)?;
                }
            }
        }
        wtxn.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let rtxn = self.env().read_txn()?;
        Ok(self.db.get(&rtxn, key)?.map(|v| v.len()))
    }

    fn range(&self, start: &[u8], n: usize) -> Result<usize> {
        let rtxn = self.env().read_txn()?;
        let bounds: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Included(start), Bound::Unbounded);
        let mut count = 0;
        for entry in self.db.range(&rtxn, &bounds)?.take(n) {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn scan_all(&self) -> Result<usize> {
        let rtxn = self.env().read_txn()?;
        let mut count = 0;
        for entry in self.db.iter(&rtxn)? {
            std::hint::black_box(entry?);
            count += 1;
        }
        Ok(count)
    }

    fn txn(&self, reads: [&[u8]; 2], writes: [(&[u8], &[u8]); 2]) -> Result<bool> {
        let mut wtxn = self.env().write_txn()?;
        for k in reads {
            std::hint::black_box(self.db.get(&wtxn, k)?);
        }
        for (k, v) in writes {
            self.db.put(&mut wtxn, k, v)?;
        }
        wtxn.commit()?;
        Ok(true)
    }

    fn compact(&mut self) -> Result<()> {
        Err(Box::new(super::Unsupported(
            "LMDB reuses free pages; no compaction",
        )))
    }

    fn settle(&self) -> Result<()> {
        self.env().force_sync()?;
        Ok(())
    }
}
