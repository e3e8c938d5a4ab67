use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[index]
    #[index(hash)]
    email: String,
}

fn main() {}
