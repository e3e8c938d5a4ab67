//! A user type named `Value` (an ordered newtype) is indexable: only maps and sets, and
//! `serde_json::Value` by its path, are refused by name.

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Value(i64);

#[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
struct Reading {
    #[key]
    id: Value,
    #[index]
    value: Value,
    #[index]
    maybe: Option<Value>,
}

fn main() {
    let _ = Reading::VALUE;
}
