use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[serde(rename_all = "camelCase")]
struct User {
    #[key]
    user_id: u64,
}

fn main() {}
