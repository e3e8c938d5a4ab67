use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[serde(rename = "mail")]
    email: String,
}

fn main() {}
