//! The doc comments generated on a flow's `run`, `run_with`, `run_async`, `run_async_with` and
//! `plan`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::flow::ast::FlowDef;

/// The docs of `run` and `run_with`.
pub(super) fn run_docs(def: &FlowDef) -> (TokenStream, TokenStream) {
    let name = def.name.to_string();
    let run = format!(
        "Runs flow `{name}` with the default options: the `Dataflow` schedule on the current \
         rayon pool.\n\nCalled from a thread that is not a rayon pool's, the run starts on the \
         calling thread (a small flow never wakes the pool) and ready steps that have to wait \
         move to the global pool; `run_with` with a pool (or \
         `RunOptions::run_on_caller(false)`) keeps every step on pool threads.\n\n# Errors\n\nA \
         `FlowError` naming the first step that failed or panicked."
    );
    let run_with = format!(
        "Runs flow `{name}` with the given options: a `routilux::Schedule`, a \
         `&rayon::ThreadPool` or `routilux::RunOptions`.\n\n# Errors\n\nA `FlowError` naming \
         the first step that failed or panicked."
    );
    (quote!(#[doc = #run]), quote!(#[doc = #run_with]))
}

/// The doc of `plan`.
pub(super) fn plan_doc(def: &FlowDef) -> TokenStream {
    let name = def.name.to_string();
    let plan = format!(
        "The plan of flow `{name}`: its steps in topological order, grouped in layers of \
         steps that can run at the same time."
    );
    quote!(#[doc = #plan])
}

/// The docs of `run_async` and `run_async_with`.
pub(super) fn async_docs(def: &FlowDef) -> (TokenStream, TokenStream) {
    let name = def.name.to_string();
    let run_async = format!(
        "Runs flow `{name}` as a future, with the default options. It works on any executor \
         and can be spawned (`Send + 'static`): its async steps are polled by whoever polls \
         it, its other steps run on the global rayon pool, never on the polling thread. Steps \
         start as soon as their dependencies are done, whatever the schedule.\n\nDropping \
         the future cancels the run: async steps in flight are dropped, the completed \
         undoable steps are undone.\n\n# Errors\n\nA `FlowError` naming the first step \
         that failed or panicked."
    );
    let run_async_with = format!(
        "Runs flow `{name}` as a future with the given options (see `run_async`); with a \
         pool, its sync steps run there. The future lives as long as what the options \
         borrow.\n\n# Errors\n\nA `FlowError` naming the first step that failed or \
         panicked."
    );
    (
        quote!(#[doc = #run_async]),
        quote!(#[doc = #run_async_with]),
    )
}
