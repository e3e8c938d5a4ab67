//! Production logging: `LogConfig` writes RustLite's events (open and recovery, flush,
//! compaction, backup, slow queries) to a daily-rotated file in a temporary directory, then the
//! demo prints the lines that were written.
//!
//! ```text
//! cargo run --example logging_demo
//! RUST_LOG=debug cargo run --example logging_demo   # LogConfig::from_env honours RUST_LOG
//! ```

use rustlite::logging::LogConfig;
use rustlite::{params, Database, Options};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let log_path = dir.path().join("logs").join("rustlite.log");
    let config = if std::env::var_os("RUST_LOG").is_some() {
        LogConfig::from_env()
    } else {
        LogConfig::info()
    };
    let guard = config.with_stdout(false).with_file(&log_path).init()?;
    println!("logging at info to {} (rotated daily)", log_path.display());

    // A 0 ms threshold makes every SQL statement a "slow query", to show the warning.
    let options = Options::default().slow_query_threshold(Some(Duration::ZERO));
    let db = Database::open_with(dir.path().join("db"), options)?;
    db.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        params![],
    )?;
    for i in 0..100 {
        db.put(format!("key:{i:03}"), "value")?;
    }
    db.execute(
        "INSERT INTO notes VALUES (1, 'hello'), (2, 'world')",
        params![],
    )?;
    db.flush()?;
    db.compact()?;
    db.backup_to(dir.path().join("backup"))?;
    tracing::info!(target: "logging_demo", "application event through the same subscriber");
    drop(db);
    drop(guard); // flushes the file writer

    for entry in std::fs::read_dir(log_path.parent().ok_or("no log dir")?)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        println!("\n{} ({} lines):", path.display(), text.lines().count());
        for line in text.lines() {
            println!("  {line}");
        }
    }
    println!("\n(no line names a key: per-key detail is never logged above trace)");
    Ok(())
}
