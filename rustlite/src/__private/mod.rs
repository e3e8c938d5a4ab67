//! What `#[derive(Collection)]` expands to refers to, by absolute path. Not public API.
//!
//! | item | used for |
//! |---|---|
//! | re-exports of `collection`, `std` and `serde` items | names the expansion spells out, so user code cannot shadow them |
//! | [`assert_key`] | the compile-time check that key types are `Ord` |
//! | `field_type` (private) | a field's `FieldType` and nullability, from its actual type (aliases and newtypes seen through) |

mod field_type;

pub use crate::collection::{
    encode_key, Collection, Field, FieldDef, FieldType, IndexDef, IndexKind, Schema,
};
pub use crate::{Error, Result};
pub use field_type::{field_def, Column, Of, Opaque, ViaSerde};
pub use rustlite_engine::codec::keycode;
pub use serde;
pub use std::clone::Clone;
pub use std::option::Option::{self, None, Some};
pub use std::result::Result::Ok;
pub use std::string::String;
pub use std::vec::Vec;

/// Compile-time check emitted for each key field type: keys must be totally ordered.
pub const fn assert_key<T: ?Sized + std::cmp::Ord>() {}
