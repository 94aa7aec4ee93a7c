//! The top level of `flow!`: the flow's attributes, visibility and name, and its statements
//! in order (`input`, `step` and a last `return`).

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Token, Type, Visibility, braced, parenthesized};

use super::attrs::{doc_line, flow_flags};
use super::step::parse_step;
use super::{FlowDef, Input, Return, kw};

impl Parse for FlowDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let (subflow, durable) = flow_flags(&mut attrs)?;
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
            durable,
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
                def.steps.push(parse_step(&body, &attrs, order)?);
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

/// A name of an input or step, with a message that says so when something else is written.
pub(super) fn parse_arg(input: ParseStream) -> syn::Result<Ident> {
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
    use super::super::{Arg, parse_src as parse};

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
