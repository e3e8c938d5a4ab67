use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[collection(nme = "users")]
struct User {
    id: f64,
    #[index(sorted)]
    email: String,
    #[index]
    tags: Vec<String>,
}

fn main() {}
