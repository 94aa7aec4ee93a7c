//! What a flow with errors expands to besides its errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use super::shape::output_type;
use crate::flow::ast::FlowDef;
use crate::flow::validate::Source;

/// What a flow with errors expands to besides the errors: the type with the same `run`
/// signature, so that its uses do not add errors of their own. The output type is the real
/// one when every returned name exists, `!` otherwise: `let _ = F::run(..)`, `F::run(..)?;` and
/// `let x: T = F::run(..)?` all type-check with `!` (an inferred type parameter would leave the
/// first two ambiguous, `()` would not coerce to `T`); code after such a call is only warned
/// about as unreachable.
pub(crate) fn stub(def: &FlowDef) -> TokenStream {
    let FlowDef {
        attrs, vis, name, ..
    } = def;
    let input_types: Vec<_> = def.inputs.iter().map(|i| &i.ty).collect();
    let lookup = |wanted: &Ident| {
        let input = def
            .inputs
            .iter()
            .position(|i| i.name == *wanted)
            .map(Source::Input);
        input.or_else(|| {
            // A step that runs this very flow has no type to name.
            def.steps
                .iter()
                .position(|s| s.name == *wanted && !s.routine.is_ident(&def.name))
                .map(Source::Step)
        })
    };
    let returns: Option<Vec<Source>> = match &def.ret {
        Some(ret) => ret.names.iter().map(lookup).collect(),
        None => Some(Vec::new()),
    };
    let output = match returns {
        Some(returns) => output_type(def, &returns),
        None => quote!(::routilux::__private::Never),
    };
    quote! {
        #(#attrs)*
        #vis struct #name;

        impl #name {
            /// Not available: the flow has errors.
            #vis fn run(#(_: #input_types),*) -> ::core::result::Result<#output, ::routilux::FlowError> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #[must_use]
            #vis fn plan() -> &'static ::routilux::Plan {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #[must_use]
            #vis fn graph() -> ::routilux::Graph {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_with<'p>(
                _: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(_: #input_types),*
            ) -> ::core::result::Result<#output, ::routilux::FlowError> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_async(
                #(_: #input_types),*
            ) -> ::core::future::Ready<::core::result::Result<#output, ::routilux::FlowError>> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_async_with<'p>(
                _: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(_: #input_types),*
            ) -> ::core::future::Ready<::core::result::Result<#output, ::routilux::FlowError>> {
                ::core::unimplemented!()
            }
        }
    }
}
