use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[collection(name = "my users")]
struct User {
    #[key]
    id: u64,
}

fn main() {}
