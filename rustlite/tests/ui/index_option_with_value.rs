use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[index(unique = true)]
    email: String,
    #[index(hash(fast))]
    country: String,
}

fn main() {}
