//! Procedural macros of [routilux](https://docs.rs/routilux): `flow!` and `#[routine]`.
//!
//! Use them through the `routilux` crate, which re-exports both and documents them; the code
//! they generate refers to `::routilux` only.

mod flow;
mod options;
mod routine;
mod suggest;

use proc_macro::TokenStream;

/// Declares a flow. See the `routilux` crate documentation.
#[proc_macro]
pub fn flow(input: TokenStream) -> TokenStream {
    flow::flow(input.into()).into()
}

/// Marks a function as a step routine. See the `routilux` crate documentation.
#[proc_macro_attribute]
pub fn routine(args: TokenStream, item: TokenStream) -> TokenStream {
    routine::routine(args.into(), item.into()).into()
}

#[cfg(test)]
mod fuzz_tests;
