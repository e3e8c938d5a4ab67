use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Wrapper<T> {
    #[key]
    id: u64,
    value: T,
}

fn main() {}
