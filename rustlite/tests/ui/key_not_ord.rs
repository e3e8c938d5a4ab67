use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Place {
    #[key]
    at: Point,
}

fn main() {}
