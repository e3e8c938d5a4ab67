//! Typed field handles: `User::EMAIL: Field<User, String>` names a field of a collection and
//! carries its value type, so queries such as `users.find(User::EMAIL, ..)` or
//! `users.range(User::AGE, 18..65)` are checked by the compiler.
//!
//! `#[derive(Collection)]` emits one handle per field as an inherent associated constant, named
//! after the field in UPPER_SNAKE_CASE. A handle is two words and `Copy`.
//!
//! ```
//! # use rustlite::{Collection, Database};
//! # use serde::{Deserialize, Serialize};
//! #[derive(Serialize, Deserialize, Collection)]
//! struct User { #[key] id: u32, #[index] email: String, nick: String }
//! let email: rustlite::Field<User, String> = User::EMAIL;
//! assert_eq!((email.name, email.is_indexed()), ("email", true));
//! assert!(!User::NICK.is_indexed());
//! let db = Database::in_memory()?;
//! assert!(db.collection::<User>()?.find(User::EMAIL, "ada@x.org")?.is_empty());
//! # Ok::<(), rustlite::Error>(())
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;

use crate::Result;

/// A typed handle on field `name` of collection `C`, whose values are of type `V`.
///
/// ```
/// use rustlite::Field;
///
/// struct User;
/// const AGE: Field<User, u32> = Field::new("age", Some(1));
/// assert_eq!(AGE.name, "age");
/// assert_eq!(AGE.index, Some(1));
/// assert_eq!(AGE.encode(&18).unwrap(), rustlite::encode_key(&18i64).unwrap());
/// ```
pub struct Field<C, V> {
    /// The field's name (its document key and SQL column).
    pub name: &'static str,
    /// Position of the field's index in [`Schema::indexes`](crate::Schema::indexes), or
    /// `None` when the field is not indexed.
    pub index: Option<usize>,
    _marker: PhantomData<fn() -> (C, V)>,
}

impl<C, V> Field<C, V> {
    /// A handle on field `name`, indexed by `schema().indexes[index]` when `index` is `Some`.
    ///
    /// ```
    /// let f: rustlite::Field<(), String> = rustlite::Field::new("email", None);
    /// assert!(!f.is_indexed());
    /// ```
    pub const fn new(name: &'static str, index: Option<usize>) -> Self {
        Field {
            name,
            index,
            _marker: PhantomData,
        }
    }

    /// Whether the field has a secondary index.
    ///
    /// ```
    /// let f: rustlite::Field<(), u32> = rustlite::Field::new("age", Some(0));
    /// assert!(f.is_indexed());
    /// ```
    pub const fn is_indexed(&self) -> bool {
        self.index.is_some()
    }
}

impl<C, V: Serialize> Field<C, V> {
    /// Encodes a value of this field as its index entries hold it (the key encoding of its
    /// [`Value`](rustlite_engine::Value); `Some(x)` encodes as `x`). One exception: a `Vec<u8>`
    /// field's entries hold its bytes as a BLOB (`FieldType::normalized`), while this encodes
    /// serde's array of integers; encode `rustlite::Value::Bytes(v)` with
    /// [`Value::to_key`](rustlite_engine::Value::to_key) for those.
    ///
    /// ```
    /// let f: rustlite::Field<(), Option<u8>> = rustlite::Field::new("n", Some(0));
    /// assert_eq!(f.encode(&Some(5)).unwrap(), rustlite::encode_key(&5u8).unwrap());
    /// ```
    ///
    /// # Errors
    /// As [`encode_key`](crate::encode_key).
    pub fn encode(&self, value: &V) -> Result<Vec<u8>> {
        super::encode_key(value)
    }
}

// Manual impls: derives would require `C: Clone` etc., but a handle is copyable whatever `C`
// and `V` are.
impl<C, V> Clone for Field<C, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C, V> Copy for Field<C, V> {}

impl<C, V> PartialEq for Field<C, V> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.index == other.index
    }
}

impl<C, V> Eq for Field<C, V> {}

impl<C, V> fmt::Debug for Field<C, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name)
            .field("index", &self.index)
            .finish()
    }
}
