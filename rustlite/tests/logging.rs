//! `LogConfig` end to end (its own test binary: the subscriber is process-global): the engine's
//! events reach the file, slow queries carry their SQL, nothing logs keys, and the guard flushes.

#![cfg(feature = "logging")]

use rustlite::logging::{LogConfig, LogRotation};
use rustlite::{params, Database, Error, Options};
use std::time::Duration;

#[test]
fn engine_events_reach_the_log_file() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("logs").join("rustlite.log");
    let guard = LogConfig::debug()
        .with_stdout(false)
        .with_file(&log)
        .with_rotation(LogRotation::Never)
        .init()?;
    assert!(
        matches!(LogConfig::info().init(), Err(Error::InvalidArgument(_))),
        "a second global subscriber is refused"
    );

    // Every statement counts as slow with a zero threshold.
    let options = Options::default().slow_query_threshold(Some(Duration::ZERO));
    let db = Database::open_with(dir.path().join("db"), options)?;
    db.execute("CREATE TABLE t (a INTEGER)", params![])?;
    db.put("secret-key-123", "value")?;
    db.flush()?;
    db.compact()?;
    db.backup_to(dir.path().join("backup"))?;
    let mut first = db.begin()?;
    let mut second = db.begin()?;
    first.put("k", "1")?;
    second.put("k", "2")?;
    first.commit()?;
    assert!(matches!(second.commit(), Err(Error::Conflict(_))));
    drop(db);
    drop(guard); // flushes the file writer

    let text = std::fs::read_to_string(&log)?;
    for expected in [
        "recovered",
        "slow query",
        "CREATE TABLE t (a INTEGER)",
        "flushed memtable to L0",
        "compaction done",
        "bytes_in=",
        "backup written",
        "commit conflict",
    ] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the log:\n{text}"
        );
    }
    assert!(
        !text.contains("secret-key-123"),
        "a key was logged:\n{text}"
    );
    assert!(
        !text.contains("\u{1b}["),
        "ANSI colours in the file:\n{text}"
    );
    Ok(())
}
