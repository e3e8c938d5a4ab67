use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[key]
struct User {
    #[key]
    id: u64,
}

fn main() {}
