use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[index(unique)]
struct User {
    #[key]
    id: u64,
    email: String,
}

fn main() {}
