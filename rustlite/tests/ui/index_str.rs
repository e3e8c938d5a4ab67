// `str` is unsized: only a struct's last field can be one (serde cannot derive for it, so
// the case leaves serde out).
#[derive(rustlite::Collection)]
struct User {
    #[key]
    id: u64,
    #[index]
    name: str,
}

fn main() {}
