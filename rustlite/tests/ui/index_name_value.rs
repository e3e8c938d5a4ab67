use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[index = "unique"]
    email: String,
}

fn main() {}
