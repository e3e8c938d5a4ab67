use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Café {
    #[key]
    id: u64,
}

fn main() {}
