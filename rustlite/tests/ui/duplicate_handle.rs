use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[allow(non_snake_case)]
struct User {
    #[key]
    user_id: u64,
    userId: u64,
}

fn main() {}
