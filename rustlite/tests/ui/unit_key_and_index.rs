use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Singleton {
    #[key]
    id: (),
}

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[index]
    nothing: (),
}

fn main() {}
