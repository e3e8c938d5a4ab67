//! The example from the design: must compile, with its handles typed as documented.

use rustlite::{Collection, Field};

#[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
#[collection(name = "users")]
struct User {
    #[key]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    age: u32,
    #[index(hash)]
    country: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    nick: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
pub struct Event {
    #[key]
    pub day: u32,
    #[key]
    pub seq: u64,
    #[index(hash, unique)]
    pub token: Option<Vec<u8>>,
    #[index]
    pub score: Option<f32>,
}

// User code may shadow the names the expansion uses.
#[allow(dead_code)]
mod shadowed {
    type Result = ();
    struct Vec;
    struct String;
    struct Option;
    trait Clone {}

    #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
    struct Row {
        #[key]
        id: (u8, i64),
        #[index]
        n: ::std::option::Option<u32>,
    }
}

fn main() {
    let email: Field<User, std::string::String> = User::EMAIL;
    let _: Field<User, u32> = User::AGE;
    let _: Field<User, std::vec::Vec<std::string::String>> = User::TAGS;
    let _: Field<User, Option<std::string::String>> = User::NICK;
    assert_eq!(email.index, Some(0));
    assert_eq!(<User as Collection>::NAME, "users");
    let _: (u32, u64) = Event { day: 1, seq: 2, token: None, score: None }.key();
    let _: Field<Event, Option<f32>> = Event::SCORE;
}
