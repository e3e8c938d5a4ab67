use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    #[key]
    id: u64,
}

fn main() {}
