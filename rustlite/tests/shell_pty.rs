//! The interactive shell driven through a pseudo-terminal (rexpect): the banner, prompts,
//! a multi-line statement with the continuation prompt, an error that does not end the
//! session, a dot command, `.quit`, and the history file written on exit.

#![cfg(all(unix, feature = "cli"))]

use rexpect::session::spawn_command;
use std::process::Command;

/// Per expectation; generous for a loaded CI machine, and a passing run takes well under 1 s.
const TIMEOUT_MS: u64 = 30_000;

#[test]
fn interactive_session_over_a_pty() -> Result<(), rexpect::error::Error> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let history = dir.path().join("history");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustlite"));
    cmd.arg(&db)
        .env("RUSTLITE_HISTORY", &history)
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    let mut p = spawn_command(cmd, Some(TIMEOUT_MS))?;

    p.exp_string("Enter SQL ending with ';'")?;
    p.exp_string("rustlite> ")?;
    p.send_line("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);")?;
    p.exp_string("rustlite> ")?;
    p.send_line("INSERT INTO t VALUES (1, 'ada'),")?;
    p.exp_string("...> ")?;
    p.send_line("  (2, 'grace');")?;
    p.exp_string("2 rows affected")?;
    p.send_line("SELECT name FROM t ORDER BY id DESC;")?;
    p.exp_string("| grace |")?;
    p.exp_string("(2 rows)")?;
    p.send_line("SELECT nope FROM t;")?;
    p.exp_string("Error: ")?;
    p.send_line(".tables")?;
    p.exp_string("\nt")?;
    p.send_line(".quit")?;
    p.exp_eof()?;

    let saved = std::fs::read_to_string(&history).expect("history file written");
    assert!(
        saved.contains("SELECT name FROM t ORDER BY id DESC;"),
        "{saved}"
    );
    assert!(saved.contains(".tables"), "{saved}");
    Ok(())
}
