//! Persistence: write, close, reopen, read back, both raw key-value data and a typed collection.
//!
//! ```text
//! cargo run --example persistent_demo
//! ```

use rustlite::{Collection, Database, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, Collection)]
struct Note {
    #[key]
    id: u32,
    #[index]
    topic: String,
    text: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    println!("database directory: {}", dir.path().display());
    {
        let db = Database::open(dir.path())?;
        db.put("config:theme", "dark")?;
        let notes = db.collection::<Note>()?;
        for (id, topic, text) in [
            (1, "db", "LSM trees"),
            (2, "rust", "traits"),
            (3, "db", "MVCC"),
        ] {
            notes.insert(&Note {
                id,
                topic: topic.into(),
                text: text.into(),
            })?;
        }
        println!("wrote 1 raw key and {} notes; closing", notes.count()?);
    }
    let db = Database::open(dir.path())?;
    let theme = db
        .get("config:theme")?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    println!("reopened: config:theme = {theme:?}");
    let notes = db.collection::<Note>()?;
    for n in notes.find(Note::TOPIC, "db")? {
        println!("note #{} [{}]: {}", n.id, n.topic, n.text);
    }
    let first = notes
        .get(&2)?
        .ok_or_else(|| Error::NotFound("note 2".into()))?;
    println!("note 2 read back: {}", first.text);
    Ok(())
}
