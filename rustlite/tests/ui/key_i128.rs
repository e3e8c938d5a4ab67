use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Account {
    #[key]
    id: u32,
    #[index]
    balance: i128,
}

fn main() {}
