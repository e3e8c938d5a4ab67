use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    #[collection(name = "users")]
    id: u64,
}

fn main() {}
