//! `routilux-suite`: the unpublished package that owns the repository's `examples/`, `tests/`
//! and `benches/`. It has no code of its own; see the `routilux` crate.
