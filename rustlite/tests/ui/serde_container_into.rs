use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone)]
struct Wire {
    id: u64,
}

impl From<Wire> for User {
    fn from(w: Wire) -> User {
        User { id: w.id }
    }
}

impl From<User> for Wire {
    fn from(u: User) -> Wire {
        Wire { id: u.id }
    }
}

#[derive(Serialize, Deserialize, Clone, rustlite::Collection)]
#[serde(into = "Wire", from = "Wire")]
struct User {
    #[key]
    id: u64,
}

#[derive(Serialize, Deserialize, rustlite::Collection)]
#[serde(tag = "kind")]
struct Event {
    #[key]
    id: u64,
}

fn main() {}
