//! Compile errors of `flow!` and `#[routine]`, pinned with their messages and spans: the cases
//! are `tests/ui/*.rs`, each with its `.stderr`.
//!
//! This package (`tests/ui-suite`) depends on routilux alone, because trybuild compiles the
//! cases in a project with the package's dependencies. `tests/ui-suite/tests/ui` is a symbolic
//! link to `tests/ui`, so that the cases' paths, relative to this package, read `tests/ui/...`
//! as they do from the repository root.

#[test]
fn ui() {
    assert!(
        std::path::Path::new("tests/ui/cycle.rs").exists(),
        "tests/ui-suite/tests/ui must be a symbolic link to tests/ui (git: core.symlinks)"
    );
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
