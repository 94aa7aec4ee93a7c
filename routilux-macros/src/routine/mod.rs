//! `#[routine]`: check the function ([`attr`]) and declare its companion type ([`expand`]).

mod attr;
mod expand;

use proc_macro2::TokenStream;
use quote::ToTokens;

pub(crate) fn routine(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let mut tokens = syn::Error::new(
                error.span(),
                "`#[routine]` goes on a free function: `fn name(arg: &T, ...) -> T`",
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
