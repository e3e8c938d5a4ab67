//! Relations: users and their orders (`Order::user_id` is a foreign key, indexed), with a
//! cascade delete of a user and all their orders in one transaction.
//!
//! ```text
//! cargo run --example relational_demo
//! ```

use rustlite::{Collection, Database, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, Collection)]
#[collection(name = "users")]
struct User {
    #[key]
    id: u64,
    #[index(unique)]
    email: String,
}

#[derive(Debug, Serialize, Deserialize, Collection)]
#[collection(name = "orders")]
struct Order {
    #[key]
    id: u64,
    #[index]
    user_id: u64,
    item: String,
    cents: i64,
}

/// Inserts an order, refusing one whose user does not exist (the foreign key), atomically.
fn place_order(db: &Database, order: &Order) -> Result<(), Error> {
    db.transaction(|tx| {
        if tx.collection::<User>()?.get(&order.user_id)?.is_none() {
            return Err(Error::NotFound(format!(
                "user {} (orders.user_id)",
                order.user_id
            )));
        }
        tx.collection::<Order>()?.insert(order)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let users = db.collection::<User>()?;
    let orders = db.collection::<Order>()?;
    users.insert(&User {
        id: 1,
        email: "ada@example.org".into(),
    })?;
    users.insert(&User {
        id: 2,
        email: "bob@example.org".into(),
    })?;
    for (id, user_id, item, cents) in [
        (10, 1, "keyboard", 4900),
        (11, 1, "mouse", 1900),
        (12, 2, "cable", 500),
    ] {
        place_order(
            &db,
            &Order {
                id,
                user_id,
                item: item.into(),
                cents,
            },
        )?;
    }
    println!("2 users, {} orders", orders.count()?);
    match place_order(
        &db,
        &Order {
            id: 13,
            user_id: 9,
            item: "ghost".into(),
            cents: 1,
        },
    ) {
        Err(e) => println!("refused order 13: {e}"),
        Ok(()) => println!("unexpected: order for a missing user accepted"),
    }

    // The same collections through SQL: a hash join with GROUP BY/HAVING.
    let totals = db.query(
        "SELECT u.email, count(*) AS n, sum(o.cents) AS cents \
         FROM users u JOIN orders o ON o.user_id = u.id \
         GROUP BY u.email HAVING count(*) >= 1 ORDER BY cents DESC",
        rustlite::params![],
    )?;
    for row in &totals.rows {
        println!(
            "SQL: {}",
            row.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    for u in users.iter()? {
        let u = u?;
        let theirs = orders.find(Order::USER_ID, &u.id)?;
        let total: i64 = theirs.iter().map(|o| o.cents).sum();
        println!(
            "{}: {} orders, {:.2} total",
            u.email,
            theirs.len(),
            total as f64 / 100.0
        );
    }

    // Cascade: the user and every order of theirs go in one transaction, or nothing does.
    let removed = db.transaction(|tx| {
        let orders = tx.collection::<Order>()?;
        let theirs = orders.find(Order::USER_ID, &1)?;
        for o in &theirs {
            orders.delete(&o.id)?;
        }
        drop(orders);
        tx.collection::<User>()?.delete(&1)?;
        Ok(theirs.len())
    })?;
    println!("deleted user 1 and their {removed} orders in one transaction");
    println!("left: {} users, {} orders", users.count()?, orders.count()?);
    for o in orders.iter()? {
        let o = o?;
        println!("  order {} of user {}: {}", o.id, o.user_id, o.item);
    }
    Ok(())
}
