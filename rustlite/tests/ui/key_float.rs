use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Reading {
    #[key]
    value: f64,
}

fn main() {}
