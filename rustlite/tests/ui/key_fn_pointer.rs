// "this type cannot be ..": types that are neither paths, tuples, arrays nor references (here
// a function pointer, which serde cannot derive for, so the case leaves serde out).
#[derive(rustlite::Collection)]
struct Hook {
    #[key]
    callback: fn(),
}

fn main() {}
