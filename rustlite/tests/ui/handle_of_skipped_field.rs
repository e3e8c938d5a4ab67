use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[serde(skip)]
    cache: u32,
}

fn main() {
    let _stored = User::ID;
    let _not_stored = User::CACHE;
}
