//! `.import` streams its file: importing ~120 MB of JSON lines keeps the shell's peak resident
//! size far below the file's size (one batch of 1,000 rows is in memory at a time), where
//! holding the parsed rows would take more than the file.
//!
//! One test per file: the peak is read with `getrusage(RUSAGE_CHILDREN)`, the largest of every
//! child this process has waited for.

#![cfg(all(feature = "cli", target_os = "linux"))]

use assert_cmd::Command;
use std::io::Write;

const ROWS: usize = 120_000;
const BODY: usize = 1000;

/// The largest peak resident size, in bytes, of the children this process has waited for.
fn children_peak_rss() -> u64 {
    // SAFETY: `usage` is a plain C struct for which all-zero bytes are a valid value, and
    // `getrusage` writes only into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a pointer to a live, writable `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    u64::try_from(usage.ru_maxrss).expect("ru_maxrss") * 1024
}

#[test]
fn importing_a_large_file_holds_one_batch_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let body = "y".repeat(BODY);
    for i in 0..ROWS {
        writeln!(out, "{{\"id\": {i}, \"body\": \"{body}\"}}").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let file_bytes = std::fs::metadata(&file).unwrap().len();

    let db = dir.path().join("db");
    let shell = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustlite"));
        cmd.env_remove("RUST_LOG").arg(&db);
        cmd
    };
    let output = shell()
        .arg(format!(".import {} big", file.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout, format!("imported {ROWS} rows into big\n"));
    // Measured before the check below, whose scan fills the block cache (64 MiB).
    let peak = children_peak_rss();

    let output = shell()
        .arg("SELECT COUNT(*), SUM(id) FROM big;")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("|   120000 | 7199940000 |"), "{stdout}");
    assert!(
        peak < file_bytes * 3 / 4,
        "importing {file_bytes} bytes peaked at {peak} bytes resident"
    );
}
