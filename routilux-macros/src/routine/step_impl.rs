//! `#[routine]` on `impl AsyncStep for T`: the impl as written, and the companion impl that
//! lets `flow!` call `T` like a routine (an async one).

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;
use syn::spanned::Spanned;

pub(crate) fn step_impl(args: &TokenStream, item: &ItemImpl) -> TokenStream {
    let mut errors: Vec<syn::Error> = Vec::new();
    if !args.is_empty() {
        errors.push(syn::Error::new(
            args.span(),
            "`#[routine]` on an `AsyncStep` impl takes no options: set `RETRIES`, `BACKOFF`, `TIMEOUT`, `UNDO_RETRIES` and `UNDOABLE` in the impl",
        ));
    }
    let trait_name = item
        .trait_
        .as_ref()
        .and_then(|(path, _)| path.segments.last())
        .map(|segment| segment.ident.to_string());
    match trait_name.as_deref() {
        Some("AsyncStep") => {}
        Some("Step") => errors.push(syn::Error::new(
            item.impl_token.span,
            "`#[routine]` is not needed on a `Step` impl: every `Step` can be called in `flow!` as it is (`#[routine]` goes on `AsyncStep` impls and on functions)",
        )),
        _ => errors.push(syn::Error::new(
            item.impl_token.span,
            "`#[routine]` goes on a free function, or on an `impl AsyncStep for T` block",
        )),
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new(
            item.generics.span(),
            "an `AsyncStep` called in `flow!` cannot be generic: a flow must name each step's types; implement it for a concrete type",
        ));
    }
    if let Some(all) = errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    }) {
        let mut tokens = all.into_compile_error();
        tokens.extend(quote!(#item));
        return tokens;
    }
    let ty = &item.self_ty;
    let private = quote!(::routilux::__private);
    let step = quote!(<#ty as ::routilux::AsyncStep>);
    quote! {
        #item

        impl #private::Routine for #ty {
            type Returns = ::core::result::Result<#step::Output, #step::Error>;
            type Output = #step::Output;
            type Call = <#step::Args as #private::AsyncCaller<#ty>>::Call;
            const CALL: Self::Call = <#step::Args as #private::AsyncCaller<#ty>>::CALL;
            const POLICY: ::routilux::Policy = #private::async_step_policy::<#ty>();

            #[inline]
            fn finish(
                returned: Self::Returns,
            ) -> ::core::result::Result<Self::Output, #private::BoxError> {
                #private::async_step_finish::<#ty>(returned)
            }

            fn compensate(error: &#private::BoxError) -> ::routilux::Compensation<Self::Output> {
                #private::async_step_compensate::<#ty>(error)
            }

            fn undo(output: &Self::Output) -> ::core::result::Result<(), #private::BoxError> {
                #private::async_step_undo::<#ty>(output)
            }

            fn undo_later(
                output: &Self::Output,
            ) -> ::core::option::Option<#private::StepFuture<'_>> {
                ::core::option::Option::Some(#private::async_step_undo_later::<#ty>(output))
            }
        }
    }
}
