//! Replays every saved fuzz input on stable Rust: `tests/fuzz_regressions/<target>/*` through
//! the target bodies in `fuzz/src/lib.rs` (compiled here as a module, so the fuzzers and this
//! test run the very same checks). Inputs that once crashed a target stay here for good; a few
//! seed inputs per target keep each path exercised. Add a file to add a case.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs for {target}");
    for path in inputs {
        let data = std::fs::read(&path).expect("read input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", path.display());
    }
}

#[test]
fn wal_replay() {
    replay("wal_replay", targets::wal_replay);
}

#[test]
fn sstable_read() {
    replay("sstable_read", targets::sstable_read);
}

#[test]
fn manifest_decode() {
    replay("manifest_decode", targets::manifest_decode);
}

#[test]
fn document_decode() {
    replay("document_decode", targets::document_decode);
}

#[test]
fn key_decode() {
    replay("key_decode", targets::key_decode);
}

#[test]
fn ops_io_errors() {
    replay("ops_io_errors", targets::ops_io_errors);
}

#[test]
fn sql_execute() {
    replay("sql_execute", targets::sql_execute);
}
