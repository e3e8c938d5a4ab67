//! # RustLite
//!
//! An embedded database for Rust applications (in progress).

#![deny(missing_docs)]

pub use rustlite_engine::{Error, Result};
