//! Facts about one step that every part of the expansion names: its [`Shape`] (map and/or
//! conditional), the type stored for it, its policy and the span of its routine.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::flow::ast::{Arg, FlowDef};
use crate::flow::validate::Source;

/// What a step stores besides its routine's output type: a map step (`each`) stores a `Vec`
/// of outputs, a conditional step (`if`) an `Option`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub map: bool,
    pub conditional: bool,
}

pub(super) fn shape(def: &FlowDef, step: usize) -> Shape {
    let step = &def.steps[step];
    Shape {
        map: step.args.iter().any(|a| matches!(a, Arg::Each(_))),
        conditional: step.condition.is_some(),
    }
}

/// The type stored for an input or step.
pub(super) fn slot_type(def: &FlowDef, source: Source) -> TokenStream {
    match source {
        Source::Input(i) => {
            let ty = &def.inputs[i].ty;
            quote!(#ty)
        }
        Source::Step(d) => {
            let routine = &def.steps[d].routine;
            let mut ty = quote_spanned!(routine_span(def, d)=> <#routine as ::routilux::__private::Routine>::Output);
            let Shape { map, conditional } = shape(def, d);
            if map {
                ty = quote!(::std::vec::Vec<#ty>);
            }
            if conditional {
                ty = quote!(::core::option::Option<#ty>);
            }
            ty
        }
    }
}

/// The policy of step `d` in the plan: its routine's, with the step's overrides.
pub(super) fn step_policy(def: &FlowDef, d: usize) -> TokenStream {
    let step = &def.steps[d];
    let path = &step.routine;
    let retries = step.options.get("retries").map(|e| quote!(.retries(#e)));
    let backoff = step.options.get("backoff").map(|e| quote!(.backoff(#e)));
    let timeout = step.options.get("timeout").map(|e| quote!(.timeout(#e)));
    let limit = step.options.get("limit").map(|e| quote!(.limit(&#e)));
    quote_spanned!(routine_span(def, d)=>
        <#path as ::routilux::__private::Routine>::POLICY #retries #backoff #timeout #limit
    )
}

pub(super) fn routine_span(def: &FlowDef, step: usize) -> Span {
    let path = &def.steps[step].routine;
    path.segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}

/// The type `run` returns.
pub(super) fn output_type(def: &FlowDef, returns: &[Source]) -> TokenStream {
    let types = returns.iter().map(|&s| slot_type(def, s));
    match &def.ret {
        Some(ret) if !ret.tuple && returns.len() == 1 => slot_type(def, returns[0]),
        Some(ret) if ret.tuple && returns.len() == 1 => quote!((#(#types,)*)),
        _ => quote!((#(#types),*)),
    }
}

/// `a::b::c` as written, without spaces.
pub(super) fn path_string(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
