//! `#[derive(Collection)]` for RustLite (in progress).
