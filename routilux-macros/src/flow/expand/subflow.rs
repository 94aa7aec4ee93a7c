//! The routine impl that lets a flow run as a step of other flows (a sub-flow).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

use super::shape::{Shape, shape};
use crate::flow::ast::FlowDef;
use crate::flow::validate::{Checked, Source};

/// The flow as a step of other flows (`step y = Name(a, b);`): its routine impl. It applies
/// when every input is `Clone` (the inner run gets copies); its policy is undoable when any
/// of its steps is, which also makes a flow that contains itself, directly or not, a
/// compile error (the policy constant would depend on itself).
pub(super) fn subflow_impl(def: &FlowDef, checked: &Checked, output: &TokenStream) -> TokenStream {
    let private = quote!(::routilux::__private);
    let name = &def.name;
    // Undoing a step whose result the inner run returned: the value is the outer step's now.
    let single = matches!(&def.ret, Some(ret) if !ret.tuple && checked.returns.len() == 1);
    let returned_arms = checked
        .returns
        .iter()
        .enumerate()
        .filter_map(|(k, &source)| {
            let Source::Step(d) = source else {
                return None;
            };
            let pos = u32::try_from(checked.order.iter().position(|&o| o == d)?).ok()?;
            let routine = &def.steps[d].routine;
            let index = syn::Index::from(k);
            let value = if single {
                quote!(output)
            } else {
                quote!(&output.#index)
            };
            let undo = quote!(<#routine as #private::Routine>::undo);
            let each =
                quote!(|values| #private::undo_each(values, #undo, &#private::OnceLock::new()));
            let body = match shape(def, d) {
                Shape {
                    map: false,
                    conditional: false,
                } => quote!(#undo(#value)),
                Shape {
                    map: false,
                    conditional: true,
                } => {
                    quote!((#value).as_ref().map_or(::core::result::Result::Ok(()), #undo))
                }
                Shape {
                    map: true,
                    conditional: false,
                } => quote!((#each)(#value)),
                Shape {
                    map: true,
                    conditional: true,
                } => {
                    quote!((#value).as_ref().map_or(::core::result::Result::Ok(()), #each))
                }
            };
            Some(quote!(#pos => #body,))
        });
    let input_types: Vec<_> = def.inputs.iter().map(|i| &i.ty).collect();
    let args: Vec<Ident> = (0..def.inputs.len())
        .map(|i| format_ident!("a{}", i, span = Span::mixed_site()))
        .collect();
    let undoable = def.steps.iter().map(|step| {
        let routine = &step.routine;
        quote!(|| <#routine as #private::Routine>::POLICY.is_undoable())
    });
    let doc = format!("Flow `{name}` as a step of other flows.");
    quote! {
        #[doc = #doc]
        impl #private::Routine for #name
        where
            #(for<'__routilux> #input_types: #private::SubflowInput,)*
        {
            type Returns = ::core::result::Result<#output, #private::BoxError>;
            type Output = #output;
            type Call = fn(#(&#input_types),*) -> ::core::result::Result<#output, #private::BoxError>;
            const CALL: Self::Call = |#(#args),*| {
                #private::finish_nested(#name::__run(
                    ::routilux::RunOptions::new(),
                    #private::Mode::Nested,
                    #(#private::SubflowInput::owned(#args)),*
                ).now())
            };
            const POLICY: ::routilux::Policy = ::routilux::Policy::NONE
                .__flags(false #(#undoable)*, false, true)
                .__subflow();
            const SUBFLOW: ::core::option::Option<fn() -> &'static #private::Plan> =
                ::core::option::Option::Some(#name::plan);

            #[inline]
            fn finish(returned: Self::Returns) -> ::core::result::Result<Self::Output, #private::BoxError> {
                returned
            }

            fn undo(output: &Self::Output) -> ::core::result::Result<(), #private::BoxError> {
                #[allow(unused_variables)]
                let returned = |step: u32| match step {
                    #(#returned_arms)*
                    _ => ::core::result::Result::Ok(()),
                };
                #private::undo_kept(&returned)
            }
        }
    }
}
