use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
enum Shape {
    Circle { r: u32 },
}

fn main() {}
