//! `#[routine]`: check the function ([`attr`]) and declare its companion type ([`expand`]);
//! on an `impl AsyncStep` block, the companion impl ([`step_impl`]).

mod attr;
mod expand;
mod step_impl;

use proc_macro2::TokenStream;
use quote::ToTokens;

pub(crate) fn routine(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Ok(step) = syn::parse2::<syn::ItemImpl>(item.clone()) {
        return step_impl::step_impl(&args, &step);
    }
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let mut tokens = syn::Error::new(
                error.span(),
                "`#[routine]` goes on a free function (`fn name(arg: &T, ...) -> T`) or on an `impl AsyncStep for T` block",
            )
            .into_compile_error();
            tokens.extend(item);
            return tokens;
        }
    };
    let checked = attr::check(args, &function);
    match checked {
        Ok(signature) => expand::routine(&function, &signature),
        Err(error) => {
            // Keep the function, so that its own uses do not fail too.
            let mut tokens = error.into_compile_error();
            function.to_tokens(&mut tokens);
            tokens
        }
    }
}
