//! The operation subcommands: `backup`, `restore`, `check`, `stats`, `compact`, `dump`, `load`.
//!
//! Each prints one human-readable summary, or with `--json` one JSON object on stdout for a
//! script to read (`dump` always writes JSON lines). A failure exits with status 1 and the
//! message on stderr; `check --json` also prints `{"ok": false, "error": ...}` on stdout.
//! Every subcommand except `restore` and `load` refuses a DB path that is not an existing
//! database (a directory with a `CURRENT` file), so a typo never creates an empty database;
//! `load` reads and checks its dump's format line before it creates the database.

use crate::cli::Command;
use crate::error::{CliError, CliResult, Context};
use crate::format::{self, Mode};
use crate::progress::spinner;
use crate::transfer;
use rustlite::{Database, QueryResult, Stats, Value};
use serde_json::json;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// Runs one subcommand. Output goes through a locked stdout whose write errors are returned
/// (a closed pipe is an error, not a panic as in `println!`).
pub fn run(command: Command) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Backup { db, dir, json } => {
            let db = open_existing(&db)?;
            let info = spinner("backing up", || db.backup_to(&dir)).context(dir.display())?;
            if json {
                print_json(
                    &mut out,
                    json!({
                        "dir": dir, "files": info.files, "bytes": info.bytes,
                        "linked": info.linked, "last_seq": info.last_seq,
                    }),
                )?;
            } else {
                writeln!(
                    out,
                    "backed up {} files ({}, {} hard-linked) up to seqno {} into {}",
                    info.files,
                    human_bytes(info.bytes),
                    info.linked,
                    info.last_seq,
                    dir.display()
                )?;
            }
        }
        Command::Restore { backup, dir, json } => {
            spinner("restoring", || Database::restore(&backup, &dir)).context(format_args!(
                "restore {} into {}",
                backup.display(),
                dir.display()
            ))?;
            if json {
                print_json(
                    &mut out,
                    json!({ "backup": backup, "dir": dir, "ok": true }),
                )?;
            } else {
                writeln!(out, "restored {} into {}", backup.display(), dir.display())?;
            }
        }
        Command::Check { db, json } => {
            let outcome =
                open_existing(&db).and_then(|db| Ok(spinner("checking", || db.verify())?));
            match (outcome, json) {
                (Ok(entries), true) => {
                    print_json(&mut out, json!({ "ok": true, "entries": entries }))?
                }
                (Ok(entries), false) => writeln!(out, "ok: {entries} entries checked")?,
                (Err(e), true) => {
                    // The check's error is the one to report, even if printing fails.
                    let _ = print_json(&mut out, json!({ "ok": false, "error": e.to_string() }));
                    return Err(e);
                }
                (Err(e), false) => return Err(e),
            }
        }
        Command::Stats { db, json } => {
            let stats = open_existing(&db)?.stats();
            if json {
                print_json(&mut out, stats_json(&stats))?;
            } else {
                print_stats(&mut out, &stats)?;
            }
        }
        Command::Compact { db, json } => {
            let db = open_existing(&db)?;
            let before = total_bytes(&db.stats());
            spinner("compacting", || db.flush().and_then(|()| db.compact()))?;
            let stats = db.stats();
            let after = total_bytes(&stats);
            if json {
                print_json(
                    &mut out,
                    json!({ "bytes_before": before, "bytes_after": after, "stats": stats_json(&stats) }),
                )?;
            } else {
                writeln!(
                    out,
                    "compacted: {} -> {}",
                    human_bytes(before),
                    human_bytes(after)
                )?;
            }
        }
        Command::Dump { db, output } => {
            let db = open_existing(&db)?;
            match output {
                Some(path) => {
                    let file = std::fs::File::create(&path).context(path.display())?;
                    transfer::dump(&db, &mut BufWriter::new(file))?;
                }
                None => {
                    transfer::dump(&db, &mut BufWriter::new(&mut out))?;
                }
            }
        }
        Command::Load { db, file, json } => {
            // The dump is opened and its format line checked before the database is made.
            let loaded = if file.as_os_str() == "-" {
                let dump =
                    transfer::open_dump(std::io::stdin().lock()).context("standard input")?;
                let db = Database::open(&db).context(db.display())?;
                transfer::load(&db, dump, None)?
            } else {
                let f = std::fs::File::open(&file).context(file.display())?;
                let size = f.metadata().ok().map(|m| m.len());
                let dump = transfer::open_dump(BufReader::new(f)).context(file.display())?;
                let db = Database::open(&db).context(db.display())?;
                transfer::load(&db, dump, size)?
            };
            if json {
                print_json(
                    &mut out,
                    json!({
                        "tables": loaded.tables,
                        "rows": loaded.rows,
                        "keys": loaded.keys,
                        "indexes": loaded.indexes,
                        "index_entries": loaded.entries,
                    }),
                )?;
            } else {
                writeln!(
                    out,
                    "loaded {} tables, {} rows, {} raw keys, {} indexes ({} entries)",
                    loaded.tables, loaded.rows, loaded.keys, loaded.indexes, loaded.entries
                )?;
            }
        }
    }
    Ok(())
}

/// Opens the database in `path`, which must exist: a directory with a `CURRENT` file (which
/// every database has from its first open on). Any other directory is refused rather than
/// made into a new, empty database.
fn open_existing(path: &Path) -> CliResult<Database> {
    if !path.is_dir() {
        return Err(CliError::msg(format!(
            "no database directory at {}",
            path.display()
        )));
    }
    if !path.join("CURRENT").is_file() {
        return Err(CliError::msg(format!(
            "no database in {} (no CURRENT file): give the directory of an existing database",
            path.display()
        )));
    }
    Database::open(path).context(path.display())
}

fn print_json(out: &mut dyn Write, value: serde_json::Value) -> std::io::Result<()> {
    writeln!(out, "{value}")
}

fn total_bytes(stats: &Stats) -> u64 {
    stats.levels.iter().map(|l| l.bytes).sum::<u64>() + stats.wal_bytes
}

fn hit_rate(stats: &Stats) -> Option<f64> {
    let lookups = stats.cache.hits + stats.cache.misses;
    (lookups > 0).then(|| stats.cache.hits as f64 / lookups as f64)
}

/// `stats --json`.
pub fn stats_json(stats: &Stats) -> serde_json::Value {
    let levels: Vec<_> = stats
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({ "level": i, "files": l.files, "bytes": l.bytes }))
        .collect();
    json!({
        "levels": levels,
        "files": stats.levels.iter().map(|l| l.files).sum::<usize>(),
        "table_bytes": stats.levels.iter().map(|l| l.bytes).sum::<u64>(),
        "memtable_bytes": stats.memtable_bytes,
        "immutable_memtables": stats.immutable_memtables,
        "wal_bytes": stats.wal_bytes,
        "cache_hits": stats.cache.hits,
        "cache_misses": stats.cache.misses,
        "cache_hit_rate": hit_rate(stats),
        "cache_bytes": stats.cache.size_bytes,
        "last_seq": stats.last_seq,
        "live_snapshots": stats.live_snapshots,
        "wal_syncs": stats.commits.wal_syncs,
        "synced_commits": stats.commits.synced_commits,
    })
}

/// `stats` and `.stats`: a table of non-empty levels, then one line per figure.
pub fn print_stats(out: &mut dyn Write, stats: &Stats) -> CliResult<()> {
    let rows: Vec<Vec<Value>> = stats
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.files > 0)
        .map(|(i, l)| {
            vec![
                Value::Text(format!("L{i}")),
                Value::Int(l.files as i64),
                Value::Text(human_bytes(l.bytes)),
            ]
        })
        .collect();
    if rows.is_empty() {
        writeln!(out, "levels: no tables yet")?;
    } else {
        let result = QueryResult {
            columns: vec!["level".into(), "files".into(), "size".into()].into(),
            rows,
            rows_affected: 0,
        };
        format::print_result(out, Mode::Table, &result)?;
    }
    let files: usize = stats.levels.iter().map(|l| l.files).sum();
    let bytes: u64 = stats.levels.iter().map(|l| l.bytes).sum();
    writeln!(out, "tables:       {files} files, {}", human_bytes(bytes))?;
    writeln!(
        out,
        "memtable:     {} ({} immutable waiting for flush)",
        human_bytes(stats.memtable_bytes as u64),
        stats.immutable_memtables
    )?;
    writeln!(out, "WAL:          {}", human_bytes(stats.wal_bytes))?;
    let rate = hit_rate(stats).map_or("n/a".to_owned(), |r| format!("{:.1}%", r * 100.0));
    writeln!(
        out,
        "block cache:  {rate} hit rate ({} hits, {} misses), {} held",
        stats.cache.hits,
        stats.cache.misses,
        human_bytes(stats.cache.size_bytes)
    )?;
    writeln!(
        out,
        "last seqno:   {} ({} live snapshots)",
        stats.last_seq, stats.live_snapshots
    )?;
    Ok(())
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B")),
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn byte_sizes() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
