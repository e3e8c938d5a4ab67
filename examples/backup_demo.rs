//! Online backup while four threads keep transferring money between accounts; then restore the
//! backup into a new directory, open it and compare it with the live database.
//!
//! The bank total never changes inside a transaction, so a consistent backup (one commit's
//! state) must show the same total as the live database, with fewer transfers in it.
//!
//! ```text
//! cargo run --example backup_demo
//! ```

use rustlite::{Collection, Database, Error};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACCOUNTS: u64 = 100;
const INITIAL: i64 = 1_000;
const WRITERS: u64 = 4;

#[derive(Debug, Serialize, Deserialize, Collection)]
#[collection(name = "accounts")]
struct Account {
    #[key]
    id: u64,
    balance: i64,
}

/// Sum of every balance and the number of transfers recorded, read at one snapshot.
fn audit(db: &Database) -> Result<(i64, u64), Error> {
    let mut tx = db.begin()?;
    let mut total = 0;
    for account in tx.collection::<Account>()?.iter()? {
        total += account?.balance;
    }
    let mut transfers = 0;
    for entry in tx.scan_prefix("transfers:")? {
        let (_, value) = entry?;
        transfers += String::from_utf8_lossy(&value).parse::<u64>().unwrap_or(0);
    }
    tx.rollback();
    Ok((total, transfers))
}

/// Moves a pseudo-random amount between two pseudo-random accounts until `stop`.
fn writer(
    db: Database,
    thread: u64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Result<(), Error> {
    let mut seed = thread.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let counter = format!("transfers:{thread}");
    let mut mine = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let (from, to, amount) = (next() % ACCOUNTS, next() % ACCOUNTS, (next() % 50) as i64);
        if from == to {
            continue;
        }
        let outcome = db.transaction(|tx| {
            let accounts = tx.collection::<Account>()?;
            let (Some(mut a), Some(mut b)) = (accounts.get(&from)?, accounts.get(&to)?) else {
                return Err(Error::NotFound("account".into()));
            };
            a.balance -= amount;
            b.balance += amount;
            accounts.upsert(&a)?;
            accounts.upsert(&b)?;
            tx.put(&counter, (mine + 1).to_string())
        });
        match outcome {
            Ok(()) => {
                mine += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(Error::Conflict(_)) => {} // retries exhausted under contention: try another
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let live_dir = dir.path().join("live");
    let backup_dir = dir.path().join("backup");
    let restored_dir = dir.path().join("restored");

    let db = Database::open(&live_dir)?;
    let accounts = db.collection::<Account>()?;
    for id in 0..ACCOUNTS {
        accounts.insert(&Account {
            id,
            balance: INITIAL,
        })?;
    }
    println!(
        "opened {} with {ACCOUNTS} accounts of {INITIAL} each",
        live_dir.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (db, stop, done) = (db.clone(), Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || writer(db, t, stop, done))
        })
        .collect();
    println!("{WRITERS} writer threads transferring money...");
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let before = done.load(Ordering::Relaxed);
    let info = db.backup_to(&backup_dir)?;
    let after = done.load(Ordering::Relaxed);
    println!(
        "backup taken in {:?} while writing ({} transfers committed during it): {} files, {} bytes, \
         {} hard-linked, up to seqno {}",
        started.elapsed(),
        after - before,
        info.files,
        info.bytes,
        info.linked,
        info.last_seq
    );

    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().map_err(|_| "writer panicked")??;
    }
    let (live_total, live_transfers) = audit(&db)?;
    println!("writers stopped: live database has {live_transfers} transfers, total {live_total}");

    Database::restore(&backup_dir, &restored_dir)?;
    println!(
        "restored {} into {}",
        backup_dir.display(),
        restored_dir.display()
    );
    let restored = Database::open(&restored_dir)?;
    let checked = restored.verify()?;
    let (restored_total, restored_transfers) = audit(&restored)?;
    println!(
        "restored database: {restored_transfers} transfers, total {restored_total}, {checked} entries verified"
    );

    let expected = ACCOUNTS as i64 * INITIAL;
    assert_eq!(live_total, expected, "live total changed");
    assert_eq!(
        restored_total, expected,
        "backup is not one consistent commit"
    );
    assert!(restored_transfers <= live_transfers);
    println!(
        "compare: both totals are {expected} (the backup is one consistent state); the backup holds \
         {restored_transfers} of the {live_transfers} transfers (those committed before it was taken)"
    );
    Ok(())
}
