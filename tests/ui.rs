//! Compile errors of `flow!` and `#[routine]`, pinned with their messages and spans.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
