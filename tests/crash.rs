//! Process crashes: a child process commits durable transactions on 4 threads and is killed with
//! `SIGKILL` at a random moment; the parent reopens the database and checks that nothing
//! acknowledged was lost and nothing was half-applied.
//!
//! ```text
//!  parent (this test)                          child (this binary again, RUSTLITE_CRASH_CHILD_DIR)
//!  ──────────────────                          ─────────────────────────────────────────────────
//!  spawn child ───────────────────────────────► open db (tiny memtable: flushes and compactions
//!  read stdout lines ◄── "ACK t n i,j,k" ───────  run all the time), 4 threads × loop {
//!  sleep 0..200 ms                                   txn: put 1..16 keys of thread t + marker,
//!  SIGKILL ────────────────────────────────────►     commit (Durability::Immediate),
//!  reopen, check against the acks, verify()          print ACK line, flush stdout }
//!  (same directory next cycle: state accumulates)
//! ```
//!
//! Each thread `t` owns the keys `t{t}/k00..k63` and a marker key `t{t}/marker`, so its
//! transactions are ordered by their counter `n` and nothing but thread `t` overwrites them.
//! Every value names its writer (`cycle:thread:n:key`, then deterministic padding) and every
//! transaction also overwrites the marker with its id and key list. After a kill, for thread `t`
//! whose last acknowledged transaction is `A`, exactly one transaction may be in doubt: `A + 1`
//! (committed or not when the kill landed). The parent checks:
//! - every key holds the value of the last acknowledged write to it (or of an older cycle's
//!   checked state), or the in-doubt transaction's value;
//! - the marker is `A` or `A + 1`; if `A + 1`, every key it lists holds `A + 1`'s value, and no key
//!   holds `A + 1`'s value unless the marker is `A + 1` (all or nothing);
//! - every value's bytes are exactly what its writer wrote; `Database::verify` passes;
//! - the child never panicked (its stderr is scanned) and died by the signal.
//!
//! CI runs 200 cycles; `RUSTLITE_LONG=1` runs 10,000 (`RUSTLITE_CRASH_CYCLES=n` overrides both).
//! The child half is the `crash_child` test, a no-op unless the parent sets its variables.

use rustlite::{Database, Error, Options};
use rustlite_suite::{long_mode, Rng};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_DIR_ENV: &str = "RUSTLITE_CRASH_CHILD_DIR";
const CHILD_CYCLE_ENV: &str = "RUSTLITE_CRASH_CHILD_CYCLE";
const THREADS: u64 = 4;
const KEYS_PER_THREAD: u64 = 64;

/// Options that make flushes and compactions happen every few transactions.
fn options() -> Options {
    Options {
        memtable_size: 8 << 10,
        block_size: 512,
        l0_compaction_trigger: 2,
        l1_target_size: 32 << 10,
        target_file_size: 16 << 10,
        block_cache_size: 256 << 10,
        ..Options::default()
    }
}

fn key(t: u64, i: u64) -> Vec<u8> {
    format!("t{t}/k{i:02}").into_bytes()
}

fn marker_key(t: u64) -> Vec<u8> {
    format!("t{t}/marker").into_bytes()
}

/// The identity of a transaction: (cycle, thread, counter within the cycle and thread).
type TxnId = (u64, u64, u64);

/// The value transaction `id` writes to key `i`: a header naming the writer, then 0..120 bytes of
/// padding derived from it (so a value from the wrong place never passes as the right one).
fn value(id: TxnId, i: u64) -> Vec<u8> {
    let (c, t, n) = id;
    let mut rng = Rng(c.wrapping_mul(1_000_003) ^ (t << 56) ^ (n << 20) ^ i);
    let mut v = format!("{c}:{t}:{n}:{i}:").into_bytes();
    let pad = rng.below(120);
    v.extend((0..pad).map(|_| b'a' + rng.below(26) as u8));
    v
}

fn marker_value(id: TxnId, keys: &[u64]) -> Vec<u8> {
    let (c, t, n) = id;
    let list: Vec<String> = keys.iter().map(u64::to_string).collect();
    format!("{c}:{t}:{n}:{}", list.join(",")).into_bytes()
}

/// Parses the writer of a value (`c:t:n:i:..`) and checks the value's bytes.
fn parse_value(v: &[u8], t: u64, i: u64) -> Result<TxnId, String> {
    let text = String::from_utf8_lossy(v);
    let mut parts = text.splitn(5, ':');
    let mut num = || parts.next().and_then(|p| p.parse::<u64>().ok());
    let (Some(c), Some(vt), Some(n), Some(vi)) = (num(), num(), num(), num()) else {
        return Err(format!("unparsable value {text:?}"));
    };
    if (vt, vi) != (t, i) || value((c, vt, n), vi) != v {
        return Err(format!(
            "value {text:?} does not belong to key t{t}/k{i:02}"
        ));
    }
    Ok((c, t, n))
}

fn parse_marker(v: &[u8], t: u64) -> Result<(TxnId, Vec<u64>), String> {
    let text = String::from_utf8_lossy(v);
    let parts: Vec<&str> = text.split(':').collect();
    let nums: Vec<u64> = parts
        .iter()
        .take(3)
        .filter_map(|p| p.parse().ok())
        .collect();
    let (Some(&c), Some(&mt), Some(&n), Some(list)) =
        (nums.first(), nums.get(1), nums.get(2), parts.get(3))
    else {
        return Err(format!("unparsable marker {text:?}"));
    };
    let keys: Vec<u64> = list.split(',').filter_map(|k| k.parse().ok()).collect();
    if mt != t || marker_value((c, t, n), &keys) != v {
        return Err(format!("marker {text:?} is not thread {t}'s"));
    }
    Ok(((c, t, n), keys))
}

// ---- child ----------------------------------------------------------------------------------

/// Child half of [`process_crash_cycles`]: a no-op unless the parent set `RUSTLITE_CRASH_CHILD_DIR`.
/// Commits transactions on 4 threads until killed, printing `ACK t n i,j,..` after each commit.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let cycle: u64 = std::env::var(CHILD_CYCLE_ENV)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let db = Database::open_with(&dir, options()).unwrap_or_else(|e| {
        eprintln!("CHILD:OPEN-FAILED {e}");
        std::process::exit(5)
    });
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let db = db.clone();
            s.spawn(move || child_thread(&db, cycle, t));
        }
    });
}

fn child_thread(db: &Database, cycle: u64, t: u64) {
    let mut rng = Rng(cycle.wrapping_mul(0x1234_5678_9ABC) ^ t);
    let stdout = std::io::stdout();
    for n in 0.. {
        let count = 1 + rng.below(16);
        let mut keys: Vec<u64> = (0..count).map(|_| rng.below(KEYS_PER_THREAD)).collect();
        keys.sort_unstable();
        keys.dedup();
        let id = (cycle, t, n);
        loop {
            let result = (|| {
                let mut tx = db.begin()?;
                for &i in &keys {
                    tx.put(key(t, i), value(id, i))?;
                }
                tx.put(marker_key(t), marker_value(id, &keys))?;
                tx.commit()
            })();
            match result {
                Ok(_) => break,
                Err(Error::Conflict(_)) => continue,
                Err(e) => {
                    eprintln!("CHILD:COMMIT-FAILED thread {t} txn {n}: {e}");
                    std::process::exit(6);
                }
            }
        }
        let list: Vec<String> = keys.iter().map(u64::to_string).collect();
        let mut out = stdout.lock();
        // One write per line, flushed: the parent sees whole lines of acknowledged commits.
        let line = format!("ACK {t} {n} {}\n", list.join(","));
        if out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(7);
        }
    }
}

// ---- parent ---------------------------------------------------------------------------------

/// The checked state of the database: per key, the transaction that wrote it; per thread, the
/// marker (last committed transaction).
#[derive(Clone, Debug, Default)]
struct Checked {
    versions: BTreeMap<(u64, u64), TxnId>,
    markers: BTreeMap<u64, TxnId>,
}

/// What one cycle observed.
#[derive(Debug, Default)]
struct Cycle {
    /// Per thread, the acknowledged transactions in order: (n, keys).
    acks: BTreeMap<u64, Vec<(u64, Vec<u64>)>>,
    stderr: String,
    killed: bool,
}

fn run_child(dir: &Path, cycle: u64, kill_after: Duration) -> Cycle {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_CYCLE_ENV, cycle.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .collect::<Vec<String>>()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    std::thread::sleep(kill_after);
    let _ = child.kill(); // SIGKILL on Unix
    let status = child.wait().expect("wait for the child");
    let lines = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    let mut out = Cycle {
        stderr,
        killed: status.code().is_none(),
        ..Cycle::default()
    };
    for line in lines {
        // The first line may follow libtest's `test crash_child ... ` on the same line.
        let Some(rest) = line.find("ACK ").and_then(|at| line.get(at + 4..)) else {
            continue;
        };
        let mut f = rest.split(' ');
        let (Some(t), Some(n), Some(list)) = (
            f.next().and_then(|x| x.parse::<u64>().ok()),
            f.next().and_then(|x| x.parse::<u64>().ok()),
            f.next(),
        ) else {
            continue; // a line cut by the kill
        };
        let keys = list.split(',').filter_map(|k| k.parse().ok()).collect();
        out.acks.entry(t).or_default().push((n, keys));
    }
    out
}

/// Reads the whole database and checks it against the previous checked state and this cycle's
/// acknowledgements; returns the new checked state and how many in-doubt transactions survived.
fn check(
    db: &Database,
    prev: &Checked,
    cycle: u64,
    seen: &Cycle,
) -> Result<(Checked, u64), String> {
    let mut now = Checked::default();
    let mut raw_markers = BTreeMap::new();
    for item in db.scan::<&[u8]>(..).map_err(|e| format!("scan: {e}"))? {
        let (k, v) = item.map_err(|e| format!("scan: {e}"))?;
        let text = String::from_utf8_lossy(&k).into_owned();
        let Some((t, rest)) = text
            .strip_prefix('t')
            .and_then(|r| r.split_once('/'))
            .and_then(|(t, rest)| Some((t.parse::<u64>().ok()?, rest)))
        else {
            return Err(format!("unexpected key {text:?}"));
        };
        if rest == "marker" {
            let (id, keys) = parse_marker(&v, t)?;
            now.markers.insert(t, id);
            raw_markers.insert(t, keys);
        } else {
            let i = rest
                .strip_prefix('k')
                .and_then(|i| i.parse::<u64>().ok())
                .ok_or_else(|| format!("unexpected key {text:?}"))?;
            now.versions.insert((t, i), parse_value(&v, t, i)?);
        }
    }
    let mut survived = 0;
    for t in 0..THREADS {
        let acks = seen.acks.get(&t).map(Vec::as_slice).unwrap_or(&[]);
        for (j, (n, _)) in acks.iter().enumerate() {
            if *n != j as u64 {
                return Err(format!("thread {t}: acks out of order: {acks:?}"));
            }
        }
        let doubt = (cycle, t, acks.len() as u64);
        let last_acked = acks
            .last()
            .map(|(n, _)| (cycle, t, *n))
            .or(prev.markers.get(&t).copied());
        let marker = now.markers.get(&t).copied();
        let doubt_keys: &[u64] = if marker == Some(doubt) {
            survived += 1;
            raw_markers.get(&t).map(Vec::as_slice).unwrap_or(&[])
        } else if marker == last_acked {
            &[]
        } else {
            return Err(format!(
                "thread {t}: marker is {marker:?}, expected the last acknowledged {last_acked:?} \
                 or the in-doubt {doubt:?}"
            ));
        };
        let mut expected: BTreeMap<u64, TxnId> = prev
            .versions
            .iter()
            .filter(|((kt, _), _)| *kt == t)
            .map(|((_, i), id)| (*i, *id))
            .collect();
        for (n, keys) in acks {
            for &i in keys {
                expected.insert(i, (cycle, t, *n));
            }
        }
        for i in 0..KEYS_PER_THREAD {
            let got = now.versions.get(&(t, i)).copied();
            let want = if doubt_keys.contains(&i) {
                Some(doubt)
            } else {
                expected.get(&i).copied()
            };
            if got != want {
                return Err(format!(
                    "thread {t} key {i}: holds the write of {got:?}, expected {want:?} (last \
                     acknowledged {last_acked:?}, in doubt {doubt:?}, marker {marker:?})"
                ));
            }
        }
    }
    Ok((now, survived))
}

#[test]
fn process_crash_cycles() {
    let cycles: u64 = std::env::var("RUSTLITE_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(if long_mode() { 10_000 } else { 200 });
    let seed = std::env::var("RUSTLITE_CRASH_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0x5EED);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut prev = Checked::default();
    let (mut acked, mut in_doubt_survived, mut killed_mid_run) = (0u64, 0u64, 0u64);
    for cycle in 0..cycles {
        let kill_after = Duration::from_millis(rng.below(201));
        let seen = run_child(dir.path(), cycle, kill_after);
        let what = format!("cycle {cycle} (seed {seed}, killed after {kill_after:?})");
        assert!(
            !seen.stderr.contains("panicked") && !seen.stderr.contains("CHILD:"),
            "{what}: the child failed:\n{}",
            seen.stderr
        );
        assert!(seen.killed, "{what}: the child exited on its own");
        if !seen.acks.is_empty() {
            killed_mid_run += 1;
        }
        acked += seen.acks.values().map(|a| a.len() as u64).sum::<u64>();
        let db = Database::open_with(dir.path(), options())
            .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
        let (now, survived) =
            check(&db, &prev, cycle, &seen).unwrap_or_else(|e| panic!("{what}: {e}"));
        db.verify()
            .unwrap_or_else(|e| panic!("{what}: verify failed: {e}"));
        in_doubt_survived += survived;
        prev = now;
    }
    eprintln!(
        "process crashes: {cycles} cycles ({killed_mid_run} with commits acknowledged), \
         {acked} acknowledged transactions all present, {in_doubt_survived} in-doubt \
         transactions survived whole, 0 partial, 0 panics, in {:.1?}",
        started.elapsed()
    );
    assert!(
        killed_mid_run > cycles / 4,
        "too few cycles got as far as a commit"
    );
}
