//! Compile-time diagnostics of `#[derive(Collection)]`: one `tests/ui/*.rs` case per error,
//! checked against its `.stderr`, plus passing cases in `tests/ui/pass/`.
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p rustlite --test derive_ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
