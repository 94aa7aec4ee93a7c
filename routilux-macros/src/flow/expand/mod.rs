//! Code generation for a checked flow: the flow type, its typed result slots, one set of
//! functions per kind of step and the static plan handed to the engine in `routilux`.
//!
//! [`flow`] lays the steps out ([`layout`]) and assembles the sections, each a method of
//! [`Gen`] in its own module: the run functions ([`run`]), the `Slots` type and its `Exec`
//! impl ([`slots`], [`exec`], [`kinds`], [`undo`], [`conditions`]), compile-time checks
//! ([`checks`]), the static plan ([`plan`]) and the routine impl of a sub-flow ([`subflow`]).
//! A flow with errors expands to a [`stub`] instead.

mod checks;
mod conditions;
mod docs;
mod durable;
mod exec;
mod kinds;
mod layout;
mod locals;
mod plan;
mod run;
mod shape;
mod slots;
mod stub;
mod subflow;
mod undo;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, Type};

use self::layout::{Layout, layout};
use self::shape::output_type;
pub(crate) use self::stub::stub;
use self::subflow::subflow_impl;
use super::ast::FlowDef;
use super::validate::Checked;

/// What every section of the expansion of a valid flow shares: the flow, its plan and layout,
/// and the names the generated code uses.
struct Gen<'a> {
    def: &'a FlowDef,
    checked: &'a Checked,
    layout: Layout,
    /// `::routilux::__private`.
    private: TokenStream,
    /// The flow's name, as its plan and errors spell it.
    flow_name: String,
    // Names local to the generated code (`Span::mixed_site`).
    options: Ident,
    slots: Ident,
    access: Ident,
    index: Ident,
    row: Ident,
    brand: Ident,
    nested: Ident,
    input_names: Vec<&'a Ident>,
    input_types: Vec<&'a Type>,
    /// The fields of `Slots`: `i{n}` per input, `g{n}` per routine group.
    input_fields: Vec<Ident>,
    group_fields: Vec<Ident>,
    /// The type `run` returns.
    output: TokenStream,
}

impl<'a> Gen<'a> {
    fn new(def: &'a FlowDef, checked: &'a Checked) -> Self {
        let layout = layout(def, checked);
        let input_fields = (0..def.inputs.len())
            .map(|i| format_ident!("i{}", i))
            .collect();
        let group_fields = (0..layout.groups.len())
            .map(|g| format_ident!("g{}", g))
            .collect();
        Gen {
            def,
            checked,
            layout,
            private: quote!(::routilux::__private),
            flow_name: def.name.to_string(),
            options: Ident::new("options", Span::mixed_site()),
            slots: Ident::new("slots", Span::mixed_site()),
            access: Ident::new("access", Span::mixed_site()),
            index: Ident::new("index", Span::mixed_site()),
            row: Ident::new("row", Span::mixed_site()),
            brand: Ident::new("brand", Span::mixed_site()),
            nested: Ident::new("nested", Span::mixed_site()),
            input_names: def.inputs.iter().map(|i| &i.name).collect(),
            input_types: def.inputs.iter().map(|i| &i.ty).collect(),
            input_fields,
            group_fields,
            output: output_type(def, &checked.returns),
        }
    }
}

/// The full expansion of a valid flow.
pub(crate) fn flow(def: &FlowDef, checked: &Checked) -> TokenStream {
    let cx = Gen::new(def, checked);
    let FlowDef {
        attrs, vis, name, ..
    } = def;
    let run_fns = cx.run_fns();
    let inner_run_fn = cx.inner_run_fn();
    let plan_fns = cx.plan_fns();
    // Automatic for private flows; a flow with a visibility opts in with `#[subflow]`, since
    // its routine impl must not name types less visible than the flow (E0446), and public
    // flows over private types are common in binaries.
    let subflow = (def.subflow || matches!(def.vis, syn::Visibility::Inherited))
        .then(|| subflow_impl(def, checked, &cx.output));
    let durable = def.durable.is_some().then(|| cx.durable_impl());

    quote! {
        #(#attrs)*
        #vis struct #name;

        impl #name {
            #run_fns

            #inner_run_fn

            #plan_fns
        }

        #subflow

        #durable
    }
}
