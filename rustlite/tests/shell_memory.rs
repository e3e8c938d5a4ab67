//! The shell streams large data. `.import` of ~120 MB of JSON lines peaks far below the file's
//! size (one batch of 1,000 rows is in memory at a time, beside the engine's memtables), where
//! holding the parsed rows took ~200 MB. The CSV (and JSON) output modes print a query's rows as
//! they are produced: selecting the whole table back as CSV holds the engine's cache and
//! memtables, not the result (which the previous, collecting output added on top: 266 MB
//! against 93–125 MB).
//!
//! Each child's peak resident size comes from `wait4`.

#![cfg(all(feature = "cli", target_os = "linux"))]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const ROWS: usize = 120_000;
const BODY: usize = 1000;

/// Runs `cmd` with stdout into `out` (or discarded) and returns whether it succeeded and its
/// peak resident size in bytes.
fn run_measured(cmd: &mut Command, out: Option<&Path>) -> (bool, u64) {
    let stdout = match out {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("output file")),
        None => Stdio::null(),
    };
    // Reaped by the `wait4` below, which also reports its peak resident size.
    #[allow(clippy::zombie_processes)]
    let child = cmd.stdout(stdout).spawn().expect("spawn the shell");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (never waited for through `child`); `status` and
    // `usage` are live, writable values of the types `wait4` writes.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let peak = u64::try_from(usage.ru_maxrss).expect("ru_maxrss") * 1024;
    (ok, peak)
}

#[test]
fn importing_and_printing_a_large_table_hold_a_batch_not_the_table() {
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
    let imported = dir.path().join("imported.txt");
    let (ok, import_peak) = run_measured(
        shell().arg(format!(".import {} big", file.display())),
        Some(&imported),
    );
    assert!(ok);
    assert_eq!(
        std::fs::read_to_string(&imported).unwrap(),
        format!("imported {ROWS} rows into big\n")
    );
    assert!(
        import_peak < file_bytes * 3 / 4,
        "importing {file_bytes} bytes peaked at {import_peak} bytes resident"
    );

    // The first open after the import replays its log into memtables.
    let counted = dir.path().join("counted.txt");
    let (ok, _) = run_measured(
        shell().arg("SELECT COUNT(*), SUM(id) FROM big;"),
        Some(&counted),
    );
    assert!(ok);
    let counted = std::fs::read_to_string(&counted).unwrap();
    assert!(counted.contains("|   120000 | 7199940000 |"), "{counted}");

    let csv = dir.path().join("out.csv");
    let (ok, csv_peak) = run_measured(
        shell().args(["--mode", "csv", "SELECT id, body FROM big"]),
        Some(&csv),
    );
    assert!(ok);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), ROWS + 1);
    assert!(text.starts_with("id,body\n0,yyy"), "{}", &text[..40]);
    drop(text);

    // Streamed, the run holds what the engine may hold (the default 64 MiB block cache and up
    // to three 16 MiB memtables) and little more; collected, the rows would add ~140 MB.
    let engine_budget = (64 + 3 * 16 + 16) << 20;
    assert!(
        csv_peak < engine_budget + file_bytes / 2,
        "printing {file_bytes} bytes of rows as CSV peaked at {csv_peak} bytes resident"
    );
}
