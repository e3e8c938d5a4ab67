use serde::{Deserialize, Serialize};

// A field removed from the type stays in the stored documents: with `deny_unknown_fields`
// every read of them would fail.
#[derive(Serialize, Deserialize, rustlite::Collection)]
#[serde(deny_unknown_fields)]
struct User {
    #[key]
    id: u64,
    name: String,
}

fn main() {}
