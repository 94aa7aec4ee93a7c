//! `flow!`: parse ([`ast`]) → check and plan ([`validate`]) → generate ([`expand`]).

mod ast;
mod expand;
mod straight;
mod validate;

use proc_macro2::TokenStream;

pub(crate) fn flow(input: TokenStream) -> TokenStream {
    let def: ast::FlowDef = match syn::parse2(input) {
        Ok(def) => def,
        Err(error) => return error.into_compile_error(),
    };
    match validate::check(&def) {
        Ok(checked) => expand::flow(&def, &checked),
        Err(error) => {
            let mut tokens = error.into_compile_error();
            tokens.extend(expand::stub(&def));
            tokens
        }
    }
}
