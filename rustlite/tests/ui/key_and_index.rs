use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    #[index(unique)]
    id: u64,
}

fn main() {}
