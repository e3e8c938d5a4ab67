use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User
where
    u64: Copy,
{
    #[key]
    id: u64,
}

fn main() {}
