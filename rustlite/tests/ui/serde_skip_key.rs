use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    #[serde(skip)]
    id: u64,
}

fn main() {}
