use serde::{Deserialize, Serialize};

mod as_text {
    pub fn serialize<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize, rustlite::Collection)]
struct Blob {
    #[key]
    #[serde(with = "as_text")]
    id: u64,
    #[index]
    #[serde(skip_serializing_if = "String::is_empty")]
    tag: String,
}

fn main() {}
