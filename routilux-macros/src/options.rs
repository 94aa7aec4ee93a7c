//! `key = expression` options, as written in `#[routine(...)]` and in a step's `#[step(...)]`
//! inside `flow!`.

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, Token};

use crate::suggest;

/// The options given, each once, in the order written.
#[derive(Default)]
pub(crate) struct Options {
    pub list: Vec<(Ident, Expr)>,
}

impl Options {
    /// The expression given for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Expr> {
        self.list.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }
}

/// Parses `key = expr, ...` where each key is one of `allowed`. `owner` names what takes the
/// options in messages (e.g. "`#[routine]`"). Every problem is an error; all are returned.
pub(crate) fn parse(
    tokens: TokenStream,
    allowed: &[&str],
    owner: &str,
) -> (Options, Vec<syn::Error>) {
    let mut options = Options::default();
    let mut errors = Vec::new();
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any).map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected an option of {owner}: {}", list(allowed)),
                )
            })?;
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("expected `{key} = <value>`: options of {owner} are `key = value`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            let name = key.to_string();
            if !allowed.contains(&name.as_str()) {
                let hint = match suggest::closest(&name, allowed.iter().copied()) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => format!("; {owner} takes {}", list(allowed)),
                };
                errors.push(syn::Error::new(
                    key.span(),
                    format!("unknown option `{name}` of {owner}{hint}"),
                ));
            } else if options.get(&name).is_some() {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("option `{name}` is given twice"),
                ));
            } else {
                options.list.push((key, value));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    (options, errors)
}

fn list(allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
