//! A step's statement: `step NAME = ROUTINE(ARG, ...) [after NAME, ...] [if [!]NAME];`, its
//! call's arguments (names, `each NAME`, literals and blocks) and its `after` names.

use quote::ToTokens;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Path, Token, parenthesized};

use super::attrs::step_attributes;
use super::parse::parse_arg;
use super::{Arg, Condition, Step, kw};

/// A step's statement after its attributes, the `order`-th of the flow.
pub(super) fn parse_step(
    body: ParseStream,
    attrs: &[Attribute],
    order: usize,
) -> syn::Result<Step> {
    body.parse::<kw::step>()?;
    let name: Ident = body.parse()?;
    body.parse::<Token![=]>()?;
    let routine = Path::parse_mod_style(body)?;
    let args;
    parenthesized!(args in body);
    let args = Punctuated::<Arg, Token![,]>::parse_terminated_with(&args, parse_call_arg)?;
    let after = parse_after(body)?;
    let condition = if body.peek(Token![if]) {
        body.parse::<Token![if]>()?;
        let negated = body.parse::<Option<Token![!]>>()?.is_some();
        let name = parse_arg(body)?;
        Some(Condition { name, negated })
    } else {
        None
    };
    if !body.peek(Token![;]) {
        return Err(body.error(
            "expected `;`, `after NAME, ...` or `if NAME` after the step's call (in this order)",
        ));
    }
    body.parse::<Token![;]>()?;
    let (options, errors, doc) = step_attributes(attrs);
    Ok(Step {
        name,
        routine,
        args: args.into_iter().collect(),
        after,
        condition,
        order,
        options,
        errors,
        doc,
    })
}

/// One argument of a call: `NAME`, `each NAME`, a literal (`5`, `-1`, `"eur"`, `true`) or a
/// block `{ EXPR }`.
fn parse_call_arg(input: ParseStream) -> syn::Result<Arg> {
    if input.peek(kw::each) && input.peek2(Ident) {
        input.parse::<kw::each>()?;
        return parse_arg(input).map(Arg::Each);
    }
    let constant = if input.peek(syn::token::Brace) {
        let block: syn::Block = input.parse()?;
        let span = block.brace_token.span.join();
        Some((block.to_token_stream(), span))
    } else if input.peek(syn::Lit) || (input.peek(Token![-]) && input.peek2(syn::Lit)) {
        let literal: syn::Expr = if input.peek(Token![-]) {
            syn::Expr::Unary(input.parse()?)
        } else {
            syn::Expr::Lit(input.parse()?)
        };
        let span = syn::spanned::Spanned::span(&literal);
        Some((literal.to_token_stream(), span))
    } else {
        None
    };
    match constant {
        Some((tokens, span)) => {
            if !input.is_empty() && !input.peek(Token![,]) {
                return Err(input.error(
                    "expected `,` or `)` after a constant: write an expression as a block `{ EXPR }`",
                ));
            }
            Ok(Arg::Const(tokens, span))
        }
        None => parse_arg(input).map(Arg::Name),
    }
}

/// `after NAME, ...`, if present.
fn parse_after(input: ParseStream) -> syn::Result<Vec<Ident>> {
    let mut after = Vec::new();
    if input.peek(kw::after) {
        input.parse::<kw::after>()?;
        loop {
            after.push(parse_arg(input)?);
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else {
                break;
            }
        }
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::super::{Arg, parse_src as parse};

    #[test]
    fn parses_constants_each_after_and_conditions() {
        let def = parse(
            "flow F { input xs: Vec<u64>; input ok: bool;
              step a = f(each xs, 5, -1, \"eur\", true, { MAX }) after b, c if !ok; }",
        )
        .unwrap();
        let step = &def.steps[0];
        assert!(matches!(&step.args[0], Arg::Each(name) if name == "xs"));
        let constants: Vec<String> = step.args[1..]
            .iter()
            .map(|a| match a {
                Arg::Const(tokens, _) => tokens.to_string(),
                _ => panic!("not a constant"),
            })
            .collect();
        assert_eq!(constants, ["5", "- 1", "\"eur\"", "true", "{ MAX }"]);
        assert_eq!(step.after, ["b", "c"]);
        let condition = step.condition.as_ref().unwrap();
        assert!(condition.negated && condition.name == "ok");
    }
}
