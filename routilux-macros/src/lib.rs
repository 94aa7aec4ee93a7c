//! Procedural macros of [routilux](https://docs.rs/routilux): `flow!` and `#[routine]`.
//!
//! Use them through the `routilux` crate, which re-exports both and documents them
//! (<https://docs.rs/routilux/latest/routilux/macro.flow.html>,
//! <https://docs.rs/routilux/latest/routilux/attr.routine.html>); the code they generate
//! refers to `::routilux` only.

mod flow;
mod options;
mod routine;
mod suggest;

use proc_macro::TokenStream;

// Documented where users read it, on the re-export in `routilux`: rustdoc appends an
// item's own docs to its re-export's, so a line here would end that page.
#[proc_macro]
pub fn flow(input: TokenStream) -> TokenStream {
    flow::flow(input.into()).into()
}

// Documented on the re-export in `routilux` (see `flow`).
#[proc_macro_attribute]
pub fn routine(args: TokenStream, item: TokenStream) -> TokenStream {
    routine::routine(args.into(), item.into()).into()
}

#[cfg(test)]
mod fuzz_tests;
