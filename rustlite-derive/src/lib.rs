//! `#[derive(Collection)]`: implements `rustlite::Collection` for a struct with named fields.
//!
//! ```ignore
//! #[derive(serde::Serialize, serde::Deserialize, rustlite::Collection)]
//! #[collection(name = "users")]         // default: the struct name in snake_case ("user")
//! struct User {
//!     #[key] id: u64,                   // several #[key] fields = composite key, a tuple in order
//!     #[index(unique)] email: String,   // B-Tree index refusing duplicate values
//!     #[index] age: u32,                // B-Tree index: equality and ranges
//!     #[index(hash)] country: String,   // hash index: equality only (`hash, unique` also works)
//!     name: String,
//!     nick: Option<String>,
//! }
//! ```
//!
//! Besides the trait impl, the derive adds one typed handle per stored field (not for fields
//! serde skips), named after the field in UPPER_SNAKE_CASE, with the struct's visibility:
//! `User::EMAIL: rustlite::Field<User, String>`.
//!
//! # Rules (each broken rule is a spanned compile error; all are reported at once)
//! - Only non-generic structs with named fields; at least one `#[key]` field.
//! - **Key types**: integers up to 64 bits, `bool`, `char`, `String`, `Vec<u8>`, tuples and
//!   arrays of those, and user types that implement `Ord` (checked by the compiler). Refused:
//!   `i128`/`u128` (stored as 16 raw bytes, which do not sort numerically), `f32`/`f64` (NaN
//!   and `-0.0` make equality unreliable), `Option` (keys are never null), references, maps,
//!   sets (`HashMap`, `BTreeMap`, `HashSet`, `BTreeSet`, `IndexMap`, `IndexSet`, by name;
//!   `serde_json::Value` by path) and `Vec<T>` other than `Vec<u8>`. These checks read the
//!   type as spelled: behind an alias, a float or `Option` key, or a map as key or index value,
//!   is not seen (a map is refused when written, with `Error::Schema`).
//! - **User types as keys or index values** are stored as serde writes them, and keys and index
//!   entries sort by that form, not by the type's `Ord`: a newtype sorts as its inner value, a
//!   tuple struct as a tuple, a unit-only enum as its variant *name* (`"High" < "Low"`). A
//!   struct with named fields or an enum variant carrying data serializes to a map, which has
//!   no key order: writing one as a key or index value fails with `Error::Schema`.
//! - **Index types**: everything a key accepts, plus floats (ordered by IEEE total order, all
//!   NaNs equal and last) and `Option<T>` of those (`None` is not indexed). A key field is not
//!   also `#[index]`ed: the primary key is its own index.
//! - `#[serde(rename)]`, `#[serde(rename_all)]` and `#[serde(flatten)]` are refused: the Rust
//!   field name is the stored field name and SQL column. `#[serde(skip..)]` is refused on key
//!   and indexed fields; other skipped fields are left out of the schema. Struct-level
//!   `#[serde(into, from, try_from, transparent, tag, content, untagged, remote)]` are refused:
//!   a document is stored as the struct's own fields. So is `#[serde(deny_unknown_fields)]`: a
//!   field removed from the type stays in the stored documents, which would then no longer read.
//! - `#[collection]` goes on the struct, `#[key]` and `#[index]` on fields; elsewhere they are
//!   errors, as are options given a value they do not take (`#[index(unique = true)]`).
//! - Collection names, given or defaulted, match `[A-Za-z_][A-Za-z0-9_]*` (index names are
//!   `"{collection}.{field}"`).
//!
//! # Columns
//! Each stored field is a column whose type (`rustlite::FieldType`) and nullability come from
//! the field's *actual* type, resolved where the expansion is compiled (the derive sees only
//! tokens): what the type's `Deserialize` impl reads. Integers up to 64 bits → `Int`; `f32`,
//! `f64` → `Float`; `bool` → `Bool`; `String`, `char` → `Text`; `Vec<u8>` (any sequence of
//! `u8`) → `Bytes`; `Option<T>` → `T`'s column, nullable; a newtype → its inner type's column;
//! a type alias → the aliased type's. A type written as nil (`()`, `PhantomData<T>`, a unit
//! struct) or that reads anything (`serde_json::Value`, an untagged enum), a type serde cannot
//! read, and a field written through `#[serde(with)]`/`serialize_with` are nullable
//! `Document`s; any other type (a struct, a map, a list, an enum, `i128`) is a `Document`.
//! So `type Price = f64` and `struct Cents(f64)` are `Float` columns (an integer SQL writes
//! into one is stored as a float, and typed lookups find it), and `type Nick = Option<String>`
//! is a nullable `Text` column.
//!
//! A field called `name` gets the handle `User::NAME`, which then shadows the trait constant in
//! that path: the collection name stays reachable as `<User as Collection>::NAME`.
//!
//! The crate is laid out like `serde_derive`: `ast` parses the input into a model (with `attr`
//! for the attributes), `check` validates it, `expand` emits the code, which refers to
//! everything through `::rustlite::__private`.

#![deny(missing_docs)]

mod ast;
mod attr;
mod check;
mod expand;

use proc_macro::TokenStream;

/// Derives `rustlite::Collection`; see the [crate documentation](crate) for the attributes.
#[proc_macro_derive(Collection, attributes(collection, key, index))]
pub fn derive_collection(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
