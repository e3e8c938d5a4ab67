//! Transactions: a transfer between two accounts with `db.transaction(..)`, then two
//! transactions racing on one account: the second committer gets `Error::Conflict` and is
//! retried.
//!
//! ```text
//! cargo run --example transaction_demo
//! ```

use rustlite::{Collection, Database, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, Collection)]
struct Account {
    #[key]
    name: String,
    balance: i64,
}

fn transfer(db: &Database, from: &str, to: &str, amount: i64) -> Result<(), Error> {
    db.transaction(|tx| {
        let accounts = tx.collection::<Account>()?;
        let missing = |n: &str| Error::NotFound(format!("account {n}"));
        let mut a = accounts
            .get(&from.to_string())?
            .ok_or_else(|| missing(from))?;
        let mut b = accounts.get(&to.to_string())?.ok_or_else(|| missing(to))?;
        if a.balance < amount {
            return Err(Error::InvalidArgument(format!(
                "{from} has only {}",
                a.balance
            )));
        }
        a.balance -= amount;
        b.balance += amount;
        accounts.update(&a)?;
        accounts.update(&b)
    })
}

fn balances(db: &Database) -> Result<String, Error> {
    let all: Vec<Account> = db
        .collection::<Account>()?
        .iter()?
        .collect::<Result<_, _>>()?;
    Ok(all
        .iter()
        .map(|a| format!("{}={}", a.name, a.balance))
        .collect::<Vec<_>>()
        .join(" "))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let accounts = db.collection::<Account>()?;
    accounts.insert(&Account {
        name: "alice".into(),
        balance: 100,
    })?;
    accounts.insert(&Account {
        name: "bob".into(),
        balance: 20,
    })?;
    println!("start:            {}", balances(&db)?);

    transfer(&db, "alice", "bob", 30)?;
    println!("alice -> bob 30:  {}", balances(&db)?);
    if let Err(e) = transfer(&db, "bob", "alice", 500) {
        println!(
            "bob -> alice 500 refused ({e}); nothing changed: {}",
            balances(&db)?
        );
    }

    // Two transactions read bob's balance at the same snapshot and both add to it.
    let mut t1 = db.begin()?;
    let mut t2 = db.begin()?;
    for (tx, amount) in [(&mut t1, 5), (&mut t2, 7)] {
        let accounts = tx.collection::<Account>()?;
        let mut bob = accounts.get(&"bob".to_string())?.ok_or("no bob")?;
        bob.balance += amount;
        accounts.update(&bob)?;
    }
    t1.commit()?;
    println!("t1 (+5) committed: {}", balances(&db)?);
    match t2.commit() {
        Err(e @ Error::Conflict(_)) => {
            println!("t2 (+7) failed: {e}");
            // Retry: run it again on fresh data (db.transaction does this automatically).
            db.transaction(|tx| {
                let accounts = tx.collection::<Account>()?;
                let mut bob = accounts
                    .get(&"bob".to_string())?
                    .ok_or_else(|| Error::NotFound("bob".into()))?;
                bob.balance += 7;
                accounts.update(&bob)
            })?;
            println!("t2 retried:        {}", balances(&db)?);
        }
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
