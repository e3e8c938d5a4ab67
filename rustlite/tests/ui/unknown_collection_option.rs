use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[collection(name = "users", table = "u")]
struct User {
    #[key]
    id: u64,
}

fn main() {}
