//! Quickstart: typed collections with secondary indexes.
//!
//! Opens `./quickstart-data` (or the directory given as the first argument), stores a few
//! users, finds one through a unique index, runs a range query on an ordinary index, updates
//! and deletes, then queries the same collection with SQL. Running it again on the same directory works: it starts by clearing what the
//! previous run left.
//!
//! ```text
//! cargo run --example quickstart [DIR]
//! ```

use rustlite::{params, Collection, Database, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Collection)]
#[collection(name = "users")]
struct User {
    #[key]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    age: u32,
    #[index(hash)]
    country: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
}

fn user(id: u64, name: &str, age: u32, country: &str) -> User {
    User {
        id,
        email: format!("{}@example.org", name.to_lowercase()),
        age,
        country: country.into(),
        name: name.into(),
        tags: vec![],
    }
}

fn main() -> Result<(), Error> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "./quickstart-data".into());
    let db = Database::open(&dir)?;
    println!("opened {dir}");
    let users = db.collection::<User>()?;

    // A second run finds the first run's users: start from an empty collection.
    let old: Vec<User> = users.iter()?.collect::<Result<_, _>>()?;
    for u in &old {
        users.delete(&u.id)?;
    }
    if !old.is_empty() {
        println!("removed {} users left by a previous run", old.len());
    }

    for u in [
        user(1, "Ada", 36, "UK"),
        user(2, "Linus", 17, "FI"),
        user(3, "Grace", 45, "US"),
        user(4, "Alan", 41, "UK"),
    ] {
        users.insert(&u)?;
        println!("inserted {} ({}, {})", u.name, u.age, u.country);
    }

    match users.insert(&user(5, "Ada", 20, "FR")) {
        Err(Error::UniqueViolation { index, value }) => {
            println!("refused a second {value}: unique index {index}")
        }
        other => println!("unexpected: {other:?}"),
    }

    let found = users.find(User::EMAIL, "grace@example.org")?;
    println!(
        "find by email: {:?}",
        found.iter().map(|u| &u.name).collect::<Vec<_>>()
    );

    let adults: Vec<User> = users.range(User::AGE, 18..65)?.collect::<Result<_, _>>()?;
    println!(
        "ages 18..65 in age order: {:?}",
        adults.iter().map(|u| (&u.name, u.age)).collect::<Vec<_>>()
    );

    let uk = users.find(User::COUNTRY, "UK")?;
    println!(
        "country UK (hash index): {:?}",
        uk.iter().map(|u| &u.name).collect::<Vec<_>>()
    );

    let mut linus = users
        .get(&2)?
        .ok_or_else(|| Error::NotFound("user 2".into()))?;
    linus.age = 18;
    linus.tags.push("kernel".into());
    users.update(&linus)?;
    println!("updated Linus: age {} tags {:?}", linus.age, linus.tags);
    println!(
        "ages 18..65 now: {}",
        users.range(User::AGE, 18..65)?.count()
    );

    users.delete(&4)?;
    println!("deleted Alan; {} users left:", users.count()?);
    for u in users.iter()? {
        let u = u?;
        println!("  #{} {} <{}>", u.id, u.name, u.email);
    }

    // The same collection through SQL: the table is the collection, the columns its fields.
    let by_country = db.query(
        "SELECT country, COUNT(*) AS n, AVG(age) AS avg_age FROM users \
         WHERE age >= ? GROUP BY country ORDER BY country",
        params![18],
    )?;
    println!("SQL {:?}:", by_country.columns);
    for row in &by_country.rows {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        println!("  {}", cells.join(" | "));
    }
    println!(
        "{}",
        db.explain("SELECT name FROM users WHERE email = 'ada@example.org'")?
    );
    Ok(())
}
