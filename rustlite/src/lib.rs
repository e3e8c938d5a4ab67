//! # RustLite
//!
//! An embedded database for Rust applications (in progress).

#![deny(missing_docs)]

pub mod collection;

pub use collection::{
    encode_key, Collection, Field, FieldDef, FieldType, IndexDef, IndexKind, Schema,
};
pub use rustlite_derive::Collection;
pub use rustlite_engine::{Error, Result};

/// What `#[derive(Collection)]` expands to refers to, by absolute path. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::collection::{
        encode_key, Collection, Field, FieldDef, FieldType, IndexDef, IndexKind, Schema,
    };
    pub use crate::{Error, Result};
    pub use rustlite_engine::codec::keycode;
    pub use serde;
    pub use std::clone::Clone;
    pub use std::option::Option::{self, None, Some};
    pub use std::result::Result::Ok;
    pub use std::string::String;
    pub use std::vec::Vec;

    /// Compile-time check emitted for each key field type: keys must be totally ordered.
    pub const fn assert_key<T: ?Sized + std::cmp::Ord>() {}
}
