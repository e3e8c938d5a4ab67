use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[index]
    attrs: std::collections::HashMap<String, String>,
}

fn main() {}
