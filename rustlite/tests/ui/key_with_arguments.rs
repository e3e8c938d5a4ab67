use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key(auto)]
    id: u64,
}

fn main() {}
