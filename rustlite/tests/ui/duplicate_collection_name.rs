use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[collection(name = "users", name = "people")]
struct User {
    #[key]
    id: u64,
}

fn main() {}
