//! The directory lock: one open handle per database directory, in this process or any other.
//!
//! The cross-process test re-runs this test binary as a child (`std::env::current_exe()`),
//! selecting the `child_opens_database` test with the `RUSTLITE_LOCK_CHILD_DIR` variable; the
//! child tries `Database::open` on that directory and reports the outcome on stdout and in its
//! exit status. Run by hand it does nothing.

use rustlite::{Database, Error};
use std::path::Path;
use std::process::Command;

const CHILD_ENV: &str = "RUSTLITE_LOCK_CHILD_DIR";

#[test]
fn second_open_in_the_same_process_is_locked_until_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("first open");
    db.put(b"k", b"v").expect("put");
    for _ in 0..2 {
        match Database::open(dir.path()) {
            Err(Error::Locked(path)) => assert_eq!(path, dir.path()),
            other => panic!("expected Error::Locked, got {other:?}"),
        }
    }
    // A clone shares the one handle; it is not a second open.
    let clone = db.clone();
    drop(db);
    assert!(matches!(Database::open(dir.path()), Err(Error::Locked(_))));
    drop(clone);
    let db = Database::open(dir.path()).expect("open after the last handle is dropped");
    assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
}

#[test]
fn lock_is_held_while_snapshots_or_iterators_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    db.put(b"a", b"1").expect("put");
    let snap = db.snapshot();
    let iter = db.scan::<&[u8]>(..).expect("scan");
    drop(db);
    assert!(matches!(Database::open(dir.path()), Err(Error::Locked(_))));
    drop(iter);
    assert_eq!(snap.get(b"a").expect("snapshot get"), Some(b"1".to_vec()));
    assert!(matches!(Database::open(dir.path()), Err(Error::Locked(_))));
    drop(snap);
    Database::open(dir.path()).expect("open after everything is dropped");
}

#[test]
fn failed_open_does_not_release_the_holders_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    let _ = Database::open(dir.path()).expect_err("locked");
    // The failed attempt must not have released the lock the first handle holds.
    assert!(matches!(Database::open(dir.path()), Err(Error::Locked(_))));
    db.put(b"still", b"writable").expect("holder keeps working");
}

#[test]
fn in_memory_databases_never_conflict() {
    let a = Database::in_memory().expect("a");
    let b = Database::in_memory().expect("b");
    a.put(b"k", b"a").expect("put a");
    b.put(b"k", b"b").expect("put b");
    assert_eq!(a.get(b"k").expect("get"), Some(b"a".to_vec()));
    assert_eq!(b.get(b"k").expect("get"), Some(b"b".to_vec()));
    // Many at once, and an in-memory database beside an on-disk one.
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = Database::open(dir.path()).expect("disk");
    let many: Vec<Database> = (0..8)
        .map(|_| Database::in_memory().expect("in memory"))
        .collect();
    for (i, db) in many.iter().enumerate() {
        db.put(b"i", [i as u8]).expect("put");
    }
    for (i, db) in many.iter().enumerate() {
        assert_eq!(db.get(b"i").expect("get"), Some(vec![i as u8]));
    }
    disk.put(b"k", b"disk").expect("disk put");
}

/// Child half of [`other_process_gets_locked_until_the_holder_drops`]; a no-op unless the
/// parent set `RUSTLITE_LOCK_CHILD_DIR`. Prints `CHILD:OPENED`, `CHILD:LOCKED` or
/// `CHILD:ERROR ..`, and exits with status 0, 3 or 4 respectively.
#[test]
fn child_opens_database() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let code = match Database::open(&dir) {
        Ok(db) => {
            db.put(b"child", b"was here").expect("child put");
            println!("CHILD:OPENED");
            0
        }
        Err(Error::Locked(_)) => {
            println!("CHILD:LOCKED");
            3
        }
        Err(e) => {
            println!("CHILD:ERROR {e}");
            4
        }
    };
    std::process::exit(code);
}

fn run_child(dir: &Path) -> (Option<i32>, String) {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_opens_database",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .output()
        .expect("spawn the child test process");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn other_process_gets_locked_until_the_holder_drops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("parent open");
    db.put(b"parent", b"1").expect("put");

    let (code, out) = run_child(dir.path());
    assert!(out.contains("CHILD:LOCKED"), "child output: {out}");
    assert_eq!(code, Some(3), "child output: {out}");

    drop(db);
    let (code, out) = run_child(dir.path());
    assert!(out.contains("CHILD:OPENED"), "child output: {out}");
    assert_eq!(code, Some(0), "child output: {out}");

    // The child's write is durable and the child released the lock when it exited.
    let db = Database::open(dir.path()).expect("parent reopen");
    assert_eq!(db.get(b"child").expect("get"), Some(b"was here".to_vec()));
    assert_eq!(db.get(b"parent").expect("get"), Some(b"1".to_vec()));
}

/// A process this one forks (a `Command` between `fork` and `exec`) must not hold the lock:
/// closing and reopening the database while a child is in that window succeeds. With `flock`
/// locks the child shared the lock and the reopen failed with `Locked` (a CI flake of
/// `lock_is_held_while_snapshots_or_iterators_live`, which races `run_child` of the test above).
#[test]
fn a_forked_child_does_not_hold_the_lock() {
    use std::os::unix::process::CommandExt;
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open");
    db.put(b"k", b"v").expect("put");

    let (forked_tx, forked_rx) = mpsc::channel();
    let spawner = std::thread::spawn(move || {
        let mut cmd = Command::new("true");
        // SAFETY: the hook runs in the forked child before `exec`; it only sleeps, which is
        // async-signal-safe, and touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(|| {
                std::thread::sleep(Duration::from_millis(1500));
                Ok(())
            });
        }
        forked_tx.send(()).expect("send");
        cmd.status().expect("spawn a child")
    });
    forked_rx.recv().expect("spawner started");
    // Give the spawner time to fork; the child then sleeps in its pre-exec window, holding
    // copies of every descriptor this process had open, the lock file's included.
    std::thread::sleep(Duration::from_millis(300));
    drop(db);
    let db = Database::open(dir.path()).expect("reopen while a forked child is before exec");
    assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
    assert!(spawner.join().expect("spawner").success());
}
