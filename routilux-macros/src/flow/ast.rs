//! The typed syntax tree of `flow!`, with the spans of every name for error messages.
//!
//! ```text
//! flow! { [#[attr]...] [vis] flow Name {
//!     input NAME: TYPE;            // any number, in order: the parameters of `run`
//!     [/// docs] [#[step(retries = N, backoff = EXPR)]]
//!     step NAME = ROUTINE(ARG, ...) [after NAME, ...] [if [!]NAME];
//!         // ARG: the name of an input or step, `each NAME` (a map), a literal or `{ EXPR }`
//!     return NAME; | return (NAME, ...);  // optional, last
//! } }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Path, Token, Type, Visibility, braced, parenthesized};

use crate::options::{self, Options};

/// The options a step's `#[step(...)]` takes.
const STEP_OPTIONS: &[&str] = &["retries", "backoff", "batch", "max_concurrency", "timeout"];

mod kw {
    syn::custom_keyword!(flow);
    syn::custom_keyword!(input);
    syn::custom_keyword!(step);
    syn::custom_keyword!(after);
    syn::custom_keyword!(each);
}

/// One `flow!` invocation.
pub(crate) struct FlowDef {
    pub attrs: Vec<Attribute>,
    /// The flow's doc comment, trimmed lines joined by spaces (as a step's).
    pub doc: String,
    pub vis: Visibility,
    pub name: Ident,
    pub inputs: Vec<Input>,
    pub steps: Vec<Step>,
    pub ret: Option<Return>,
    /// `#[subflow]`: other flows may use this one as a step (automatic for private flows).
    pub subflow: bool,
}

/// `input NAME: TYPE;`
pub(crate) struct Input {
    pub name: Ident,
    pub ty: Type,
    /// Position among the flow's statements, to report errors in source order.
    pub order: usize,
}

/// One argument of a step's call.
pub(crate) enum Arg {
    /// The name of an input or step: the routine gets `&` of its value.
    Name(Ident),
    /// `each NAME`: the routine is called once per element of the value.
    Each(Ident),
    /// A literal or a `{ EXPR }` block, made where the step calls its routine.
    Const(TokenStream, Span),
}

impl Arg {
    /// Where the argument is written.
    pub(crate) fn span(&self) -> Span {
        match self {
            Arg::Name(name) | Arg::Each(name) => name.span(),
            Arg::Const(_, span) => *span,
        }
    }
}

/// `if NAME` or `if !NAME` after a step's call.
pub(crate) struct Condition {
    pub name: Ident,
    pub negated: bool,
}

/// `step NAME = ROUTINE(ARG, ...) [after NAME, ...] [if [!]NAME];`
pub(crate) struct Step {
    pub name: Ident,
    pub routine: Path,
    pub args: Vec<Arg>,
    /// Steps that must finish first, without passing their results.
    pub after: Vec<Ident>,
    /// The step runs only when this `bool` is true (false with `!`).
    pub condition: Option<Condition>,
    /// Position among the flow's statements, to report errors in source order.
    pub order: usize,
    /// `#[step(...)]` options that override the routine's.
    pub options: Options,
    /// Problems with the step's attributes, reported with the flow's other problems.
    pub errors: Vec<syn::Error>,
    /// The step's doc comment, trimmed lines joined by spaces.
    pub doc: String,
}

/// `return NAME;` or `return (NAME, ...);`
pub(crate) struct Return {
    pub names: Vec<Ident>,
    /// Written as a parenthesized tuple (even of one name).
    pub tuple: bool,
}

impl Parse for FlowDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let subflow = attrs.iter().any(|a| a.path().is_ident("subflow"));
        for attr in attrs.iter().filter(|a| a.path().is_ident("subflow")) {
            attr.meta.require_path_only()?;
        }
        attrs.retain(|a| !a.path().is_ident("subflow"));
        let vis: Visibility = input.parse()?;
        input.parse::<kw::flow>()?;
        let name: Ident = input.parse()?;
        let body;
        braced!(body in input);
        let mut def = FlowDef {
            doc: attrs
                .iter()
                .filter_map(doc_line)
                .collect::<Vec<_>>()
                .join(" "),
            attrs,
            vis,
            name,
            inputs: Vec::new(),
            steps: Vec::new(),
            ret: None,
            subflow,
        };
        let mut order = 0;
        while !body.is_empty() {
            order += 1;
            if def.ret.is_some() {
                return Err(body.error(format!(
                    "`return` must be the last statement of flow `{}`",
                    def.name
                )));
            }
            let attrs = body.call(Attribute::parse_outer)?;
            if !attrs.is_empty() && !body.peek(kw::step) {
                return Err(body.error(
                    "expected `step` after its attributes: only steps take `#[step(...)]` and doc comments",
                ));
            }
            let lookahead = body.lookahead1();
            if lookahead.peek(kw::input) {
                body.parse::<kw::input>()?;
                let name: Ident = body.parse()?;
                body.parse::<Token![:]>()?;
                let ty: Type = body.parse()?;
                body.parse::<Token![;]>()?;
                def.inputs.push(Input { name, ty, order });
            } else if lookahead.peek(kw::step) {
                body.parse::<kw::step>()?;
                let name: Ident = body.parse()?;
                body.parse::<Token![=]>()?;
                let routine = Path::parse_mod_style(&body)?;
                let args;
                parenthesized!(args in body);
                let args =
                    Punctuated::<Arg, Token![,]>::parse_terminated_with(&args, parse_call_arg)?;
                let after = parse_after(&body)?;
                let condition = if body.peek(Token![if]) {
                    body.parse::<Token![if]>()?;
                    let negated = body.parse::<Option<Token![!]>>()?.is_some();
                    let name = parse_arg(&body)?;
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
                let (options, errors, doc) = step_attributes(&attrs);
                def.steps.push(Step {
                    name,
                    routine,
                    args: args.into_iter().collect(),
                    after,
                    condition,
                    order,
                    options,
                    errors,
                    doc,
                });
            } else if lookahead.peek(Token![return]) {
                body.parse::<Token![return]>()?;
                let (names, tuple) = if body.peek(syn::token::Paren) {
                    let names;
                    parenthesized!(names in body);
                    let names =
                        Punctuated::<Ident, Token![,]>::parse_terminated_with(&names, parse_arg)?;
                    (names.into_iter().collect(), true)
                } else {
                    (vec![parse_arg(&body)?], false)
                };
                body.parse::<Token![;]>()?;
                def.ret = Some(Return { names, tuple });
            } else {
                return Err(lookahead.error());
            }
        }
        if !input.is_empty() {
            return Err(
                input.error("unexpected tokens after the flow: one `flow!` declares one flow")
            );
        }
        Ok(def)
    }
}

/// A step's doc comment and `#[step(...)]` options; anything else is an error.
fn step_attributes(attrs: &[Attribute]) -> (Options, Vec<syn::Error>, String) {
    let mut options = Options::default();
    let mut errors = Vec::new();
    let mut doc = Vec::new();
    let mut seen_step = false;
    for attr in attrs {
        if attr.path().is_ident("doc") {
            doc.extend(doc_line(attr));
        } else if attr.path().is_ident("step") {
            if seen_step {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "a step takes one `#[step(...)]`; put all its options in it",
                ));
                continue;
            }
            seen_step = true;
            match attr.meta.require_list() {
                Ok(list) => {
                    let (parsed, problems) =
                        options::parse(list.tokens.clone(), STEP_OPTIONS, "`#[step]`");
                    options = parsed;
                    errors.extend(problems);
                }
                Err(error) => errors.push(error),
            }
        } else {
            errors.push(syn::Error::new_spanned(
                attr.path(),
                "unknown attribute on a step: steps take doc comments and `#[step(retries = N, backoff = EXPR)]`",
            ));
        }
    }
    (options, errors, doc.join(" ").trim().to_owned())
}

/// The text of a `#[doc = "..."]` attribute (a `///` line), trimmed; `None` when blank.
fn doc_line(attr: &Attribute) -> Option<String> {
    if !attr.path().is_ident("doc") {
        return None;
    }
    match &attr.meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value:
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }),
            ..
        }) => Some(text.value().trim().to_owned()).filter(|line| !line.is_empty()),
        _ => None,
    }
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

/// A name of an input or step, with a message that says so when something else is written.
fn parse_arg(input: ParseStream) -> syn::Result<Ident> {
    if !input.peek(Ident) || input.peek(Token![self]) {
        return Err(input.error(
            "expected the name of an input or step (or, in a call, `each NAME`, a literal or a block `{ EXPR }`)",
        ));
    }
    let name: Ident = input.parse()?;
    if !input.is_empty()
        && !input.peek(Token![,])
        && !input.peek(Token![;])
        && !input.peek(Token![if])
        && !input.peek(kw::after)
    {
        return Err(input.error(format!(
            "expected `,` or `)` after `{name}`: arguments are names of inputs or steps, literals or blocks `{{ EXPR }}`, not expressions"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> syn::Result<FlowDef> {
        syn::parse_str(src)
    }

    #[test]
    fn parses_the_contract_example() {
        let def = parse(
            "/// Docs.
            pub flow Summary {
                input raw: String;
                step values = parse(raw);
                step sum = total(values);
                step max = largest(values);
                step report = render(sum, max);
                return report;
            }",
        )
        .unwrap();
        assert_eq!(def.name, "Summary");
        assert_eq!(def.attrs.len(), 1);
        assert_eq!(def.inputs.len(), 1);
        assert_eq!(def.steps.len(), 4);
        let args: Vec<String> = def.steps[3]
            .args
            .iter()
            .map(|a| match a {
                Arg::Name(name) => name.to_string(),
                _ => panic!("not a name"),
            })
            .collect();
        assert_eq!(args, ["sum", "max"]);
        let ret = def.ret.unwrap();
        assert_eq!(ret.names, ["report"]);
        assert!(!ret.tuple);
    }

    #[test]
    fn parses_paths_tuples_and_empty_argument_lists() {
        let def = parse("flow F { step a = m::seed(); step b = other::m::f(a,); return (a, b); }")
            .unwrap();
        assert!(def.steps[0].args.is_empty());
        assert_eq!(def.steps[1].routine.segments.len(), 3);
        let ret = def.ret.unwrap();
        assert!(ret.tuple);
        assert_eq!(ret.names.len(), 2);
    }

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

    #[test]
    fn rejects_malformed_text_with_expected_messages() {
        let cases = [
            (
                "flow F { stp a = f(); }",
                "expected one of: `input`, `step`, `return`",
            ),
            (
                "flow F { step a = f(1 + 1); }",
                "write an expression as a block",
            ),
            (
                "flow F { step a = f(b) if; }",
                "expected the name of an input or step",
            ),
            ("flow F { step a f(); }", "expected `=`"),
            ("flow F { input x String; }", "expected `:`"),
            (
                "flow F { return a; step b = f(); }",
                "`return` must be the last statement",
            ),
            ("F { }", "expected `flow`"),
            ("flow F { } flow G { }", "one `flow!` declares one flow"),
        ];
        for (src, expected) in cases {
            let message = match parse(src) {
                Ok(_) => panic!("{src} parsed"),
                Err(e) => e.to_string(),
            };
            assert!(message.contains(expected), "{src}: {message}");
        }
    }
}
