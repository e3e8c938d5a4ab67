//! The machine's own ceilings, measured in the same run as the engines and on the same file
//! system: the latency of a durable 4 KiB append (the floor under a commit that grows its log
//! file), of a durable 4 KiB overwrite in place (the floor under a commit into a preallocated
//! log, such as RustLite's WAL), and the sequential write bandwidth (the ceiling under any bulk
//! load).
//!
//! ```text
//!  append + fdatasync     the file grows: each sync also commits the file system's journal
//!  overwrite + fdatasync  same blocks again, no size change: data only (RustLite's WAL case)
//! ```
//! RustLite's durable commit rates are compared with the overwrite ceiling: comparing them with
//! the (slower) append one would credit RustLite with the journal commit it never pays.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// What [`measure`] found.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ceilings {
    /// Median latency of one 4 KiB append + `fdatasync`, in seconds.
    pub fsync_median: f64,
    /// 99th percentile of the same.
    pub fsync_p99: f64,
    /// Median latency of one 4 KiB overwrite + `fdatasync` inside a preallocated file (no size
    /// change, so no file-system journal commit): the floor for a WAL that preallocates.
    pub overwrite_median: f64,
    /// 99th percentile of the same.
    pub overwrite_p99: f64,
    /// Sequential write bandwidth including the final fsync, bytes per second.
    pub seq_write_bps: f64,
}

impl Ceilings {
    /// Durable commits per second one writer can reach if each commit is one fsynced append
    /// (a log that grows: engines that append to their journal).
    pub fn append_commits_per_sec(&self) -> f64 {
        1.0 / self.fsync_median
    }

    /// Durable commits per second one writer can reach if each commit is one fsynced overwrite
    /// in place (a preallocated log: RustLite's WAL). The ceiling RustLite is measured against.
    pub fn overwrite_commits_per_sec(&self) -> f64 {
        1.0 / self.overwrite_median
    }
}

/// Measures the ceilings in directory `dir` (`appends` fsynced appends, as many fsynced
/// overwrites of the same blocks, `seq_bytes` written).
pub fn measure(dir: &Path, appends: usize, seq_bytes: usize) -> std::io::Result<Ceilings> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("fsync-probe");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let block = vec![0xA5u8; 4096];
    let lat = synced_write_latencies(&mut file, &block, appends)?;
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    let (fsync_median, fsync_p99) = (pick(0.5), pick(0.99));
    drop(file);

    // The same blocks again, overwritten in place: the file's size no longer changes.
    let mut file = OpenOptions::new().write(true).open(&path)?;
    let lat = synced_write_latencies(&mut file, &block, appends)?;
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    let (overwrite_median, overwrite_p99) = (pick(0.5), pick(0.99));
    drop(file);

    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let chunk = vec![0x5Au8; 1 << 20];
    let start = Instant::now();
    let mut written = 0;
    while written < seq_bytes {
        file.write_all(&chunk)?;
        written += chunk.len();
    }
    file.sync_all()?;
    let seq_write_bps = written as f64 / start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Ceilings {
        fsync_median,
        fsync_p99,
        overwrite_median,
        overwrite_p99,
        seq_write_bps,
    })
}

/// Seconds taken by each of `n` writes of `block` to `file`, each followed by `fdatasync`,
/// sorted ascending.
fn synced_write_latencies(
    file: &mut std::fs::File,
    block: &[u8],
    n: usize,
) -> std::io::Result<Vec<f64>> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        file.write_all(block)?;
        file.sync_data()?;
        lat.push(start.elapsed().as_secs_f64());
    }
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}
