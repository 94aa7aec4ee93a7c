//! The companion type `#[routine]` declares beside the function, in the type namespace under
//! the function's own name, so that `flow!` can name the step's result type as
//! `<name as Routine>::Output` from the path the user wrote.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use super::attr::Signature;

pub(crate) fn routine(function: &ItemFn, signature: &Signature) -> TokenStream {
    let vis = &function.vis;
    let name = &function.sig.ident;
    let name_str = name.to_string();
    let returns = &signature.returns;
    let span = match &function.sig.output {
        syn::ReturnType::Default => function.sig.ident.span(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    let (output, finish) = if signature.fallible {
        (
            quote_spanned!(span=> <#returns as ::routilux::__private::Fallible>::Ok),
            quote_spanned!(span=> ::routilux::__private::Fallible::into_flow(returned)),
        )
    } else {
        (
            quote!(#returns),
            quote!(::core::result::Result::Ok(returned)),
        )
    };
    let finish_fn = quote_spanned! {span=>
        #[inline]
        fn finish(returned: Self::Returns) -> ::core::result::Result<Self::Output, ::routilux::__private::BoxError> {
            #finish
        }
    };
    let params: Vec<_> = function
        .sig
        .inputs
        .iter()
        .enumerate()
        .filter(|(position, _)| Some(*position) != signature.context)
        .filter_map(|(_, arg)| match arg {
            syn::FnArg::Typed(arg) => Some(&arg.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let (fn_ptr, call, call_fn) = if signature.asynchronous {
        let params: Vec<&syn::Type> = params.iter().map(|ty| &***ty).collect();
        async_call(function, signature, &params)
    } else {
        let fn_ptr = quote!(fn(#(#params),*) -> #returns);
        let call = match signature.context {
            None => quote!(#name),
            Some(position) => {
                // A closure that fetches the step's context and passes it in its place.
                let names: Vec<_> = (0..params.len())
                    .map(|i| quote::format_ident!("a{}", i, span = proc_macro2::Span::mixed_site()))
                    .collect();
                let ctx = syn::Ident::new("ctx", proc_macro2::Span::mixed_site());
                let mut args: Vec<TokenStream> = names.iter().map(|n| quote!(#n)).collect();
                args.insert(position, quote!(#ctx));
                quote!(|#(#names),*| ::routilux::__private::with_current(|#ctx| #name(#(#args),*)))
            }
        };
        (fn_ptr, call, TokenStream::new())
    };
    let options = &signature.options;
    let retries = options.get("retries").map(|e| quote!(.retries(#e)));
    let backoff = options.get("backoff").map(|e| quote!(.backoff(#e)));
    let timeout = options.get("timeout").map(|e| quote!(.timeout(#e)));
    let limit = options.get("limit").map(|e| quote!(.limit(&#e)));
    let fallback = options.get("fallback");
    let compensates = fallback.is_some();
    let context = signature.context.is_some() || compensates;
    let compensate = fallback.map(|value| {
        quote! {
            fn compensate(
                _: &::routilux::__private::BoxError,
            ) -> ::routilux::Compensation<Self::Output> {
                ::routilux::__private::fallback(|| #value)
            }
        }
    });
    let undoable = options.get("undo").is_some();
    let asynchronous = signature.asynchronous.then(|| quote!(.__async()));
    let undo = options.get("undo").map(|function| {
        // Not the user's `output`, should a function of that name be the undo.
        let output = syn::Ident::new("output", proc_macro2::Span::mixed_site());
        // At the user's token: a function that cannot undo this routine is an error there.
        let call = quote_spanned! {function.span()=>
            ::routilux::__private::undo::<Self, <Self as ::routilux::__private::Routine>::Output, _, _>(#function, #output)
        };
        let in_impl = quote! {
            fn undo(
                #output: &Self::Output,
            ) -> ::core::result::Result<(), ::routilux::__private::BoxError> {
                Self::__undo(#output).now()
            }

            fn undo_later(
                #output: &Self::Output,
            ) -> ::core::option::Option<::routilux::__private::StepFuture<'_>> {
                ::core::option::Option::Some(Self::__undo(#output).later())
            }
        };
        // One call site, so that a function that cannot undo the routine is one error.
        let inherent = quote! {
            impl #name {
                #[inline]
                fn __undo(
                    #output: &<Self as ::routilux::__private::Routine>::Output,
                ) -> ::routilux::__private::UndoCall<'_> {
                    #call
                }
            }
        };
        (in_impl, inherent)
    });
    let (undo, undo_inherent) = match undo {
        Some((in_impl, inherent)) => (Some(in_impl), Some(inherent)),
        None => (None, None),
    };
    let doc = format!("The routine `{name_str}` as seen by `flow!`.");
    quote! {
        // Routines take `&T` by contract, even for small `Copy` types.
        #[allow(clippy::trivially_copy_pass_by_ref)]
        #function

        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {
            _private: (),
        }

        impl ::routilux::__private::Routine for #name {
            type Returns = #returns;
            type Output = #output;
            type Call = #fn_ptr;
            const CALL: #fn_ptr = #call;
            const POLICY: ::routilux::Policy = ::routilux::Policy::NONE
                #retries
                #backoff
                #timeout
                #limit
                .__flags(#undoable, #compensates, #context)
                #asynchronous;

            #finish_fn
            #compensate
            #undo
        }

        #undo_inherent

        #call_fn
    }
}

/// An async routine's call: a function that takes the arguments (all borrowed for one
/// lifetime) and returns a [`Later`](routilux::__private::Later) that starts the routine's
/// future with the step's context.
fn async_call(
    function: &ItemFn,
    signature: &Signature,
    params: &[&syn::Type],
) -> (TokenStream, TokenStream, TokenStream) {
    let name = &function.sig.ident;
    let returns = &signature.returns;
    let life = syn::Lifetime::new("'__routilux", proc_macro2::Span::mixed_site());
    // `&T` becomes `&'__routilux T`: the call's future borrows every argument.
    let params: Vec<syn::Type> = params
        .iter()
        .map(|ty| {
            let mut ty = (*ty).clone();
            if let syn::Type::Reference(reference) = &mut ty
                && reference.lifetime.is_none()
            {
                reference.lifetime = Some(life.clone());
            }
            ty
        })
        .collect();
    if params.is_empty() {
        // Nothing borrowed: the call is valid for any lifetime of the step's context.
        let ctx = syn::Ident::new("ctx", proc_macro2::Span::mixed_site());
        let args = signature.context.map(|_| quote!(#ctx));
        let unbound = quote!(::routilux::__private::Unbound<#returns>);
        let call_name = syn::Ident::new("__routilux_call", proc_macro2::Span::mixed_site());
        let body = quote_spanned! {name.span()=>
            ::routilux::__private::Unbound::new(|#ctx: &::routilux::Context| {
                let _ = #ctx;
                ::std::boxed::Box::pin(#name(#args))
            })
        };
        let call_fn = quote! {
            impl #name {
                #[inline]
                fn #call_name() -> #unbound {
                    #body
                }
            }
        };
        return (quote!(fn() -> #unbound), quote!(#name::#call_name), call_fn);
    }
    let later = quote!(::routilux::__private::Later<#life, #returns>);
    let fn_ptr = quote!(for<#life> fn(#(#params),*) -> #later);
    let names: Vec<_> = (0..params.len())
        .map(|i| quote::format_ident!("a{}", i, span = proc_macro2::Span::mixed_site()))
        .collect();
    let ctx = syn::Ident::new("ctx", proc_macro2::Span::mixed_site());
    let mut args: Vec<TokenStream> = names.iter().map(|n| quote!(#n)).collect();
    if let Some(position) = signature.context {
        args.insert(position, quote!(#ctx));
    }
    let call_name = syn::Ident::new("__routilux_call", proc_macro2::Span::mixed_site());
    // At the function's name: a future that is not `Send` is reported there.
    let body = if signature.context.is_some() {
        quote_spanned! {name.span()=>
            ::routilux::__private::Later::new(move |#ctx: &#life ::routilux::Context| #name(#(#args),*))
        }
    } else {
        quote_spanned! {name.span()=>
            ::routilux::__private::Later::started(#name(#(#args),*))
        }
    };
    let call_fn = quote! {
        impl #name {
            #[inline]
            #[allow(clippy::trivially_copy_pass_by_ref)]
            fn #call_name<#life>(#(#names: #params),*) -> #later {
                #body
            }
        }
    };
    (fn_ptr, quote!(#name::#call_name), call_fn)
}
