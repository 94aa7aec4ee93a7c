//! One set of generated functions per kind (see [`Layout`](super::layout::Layout)): the sync
//! call `k{n}`, the async start `f{n}`, the undo `u{n}` and the compensation `p{n}`, with the
//! kind's static table of argument and result rows `K{n}`. Arguments carry the spans of the
//! kind's first step, so type and arity mismatches are reported at the user's tokens (every
//! step of a kind has the same argument types, hence the same mismatch).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Ident;

use super::Gen;
use super::layout::{ArgPlace, Kind};
use super::shape::{Shape, routine_span, shape, step_policy};
use crate::flow::ast::Arg;

/// The functions of every kind, and their tables.
pub(super) struct Kinds {
    /// `static K{n}: [[u32; WIDTH]; COUNT]`: per step of the kind, its argument cells, then its
    /// result's.
    pub tables: Vec<TokenStream>,
    /// The methods of `Slots` per kind.
    pub fns: Vec<TokenStream>,
}

/// A kind's call, its arguments read from the kind's table.
struct Call {
    /// Arguments read before the call: a map's elements, and a map's other arguments.
    reads: Vec<TokenStream>,
    /// The arguments of the call.
    args: Vec<TokenStream>,
}

impl Gen<'_> {
    pub(super) fn kinds(&self) -> Kinds {
        let mut tables = Vec::with_capacity(self.layout.kinds.len());
        let fns = self
            .layout
            .kinds
            .iter()
            .enumerate()
            .map(|(k, kind)| {
                let table = format_ident!("K{}", k);
                let width = kind.rows[0].len();
                let count = kind.rows.len();
                let rows = kind.rows.iter().map(|r| quote!([#(#r as u32),*]));
                tables.push(quote!(static #table: [[u32; #width]; #count] = [#(#rows),*];));
                self.kind_fns(k, kind)
            })
            .collect();
        Kinds { tables, fns }
    }

    /// The call, start, undo and compensate functions of kind `k`.
    fn kind_fns(&self, k: usize, kind: &Kind) -> TokenStream {
        let Gen {
            def,
            private,
            access,
            row,
            group_fields,
            ..
        } = self;
        let routine = &def.steps[kind.first].routine;
        let function = format_ident!("k{}", k);
        let undo = format_ident!("u{}", k);
        let compensate = format_ident!("p{}", k);
        let undo_later = format_ident!("l{}", k);
        let table = format_ident!("K{}", k);
        let width = kind.rows[0].len();
        let Shape { map, conditional } = shape(def, kind.first);
        let Call { reads, args } = self.call_args(kind, map);
        let out_field = &group_fields[kind.group];
        let out_cell = width - 1;
        let call = quote_spanned!(routine_span(def, kind.first)=>
            #private::settle_now(<#routine as #private::Routine>::finish, <#routine as #private::Routine>::CALL(#(#args),*))
        );
        let start = self.start_fn(k, kind, &args);
        let mut value = if map {
            self.map_value(kind, &call)
        } else {
            quote!(#call?)
        };
        if conditional {
            value = quote!(::core::option::Option::Some(#value));
        }
        let (undo_body, compensate_body, later_body) = self.recovery(kind, &table, out_cell);
        quote! {
            // Always inlined: the straight-line form calls it with a constant row, which folds
            // the table lookups and bounds checks away.
            #[allow(clippy::inline_always)]
            #[inline(always)]
            fn #function(&self, #row: u32, #access: &mut #private::Access<'_>) -> ::core::result::Result<(), #private::BoxError> {
                let cells = &#table[#row as usize];
                #(#reads)*
                let value = #value;
                self.#out_field[cells[#out_cell] as usize].set(#access, value);
                ::core::result::Result::Ok(())
            }

            fn #undo(&self, #row: u32, #access: &#private::Access<'_>) -> ::core::result::Result<(), #private::BoxError> {
                #undo_body
            }

            fn #compensate(&self, #row: u32, error: &#private::BoxError, #access: &mut #private::Access<'_>) -> #private::Decision {
                #compensate_body
            }

            fn #undo_later<'s>(&'s self, #row: u32, #access: &'s #private::Access<'_>) -> ::core::option::Option<#private::StepFuture<'s>> {
                #later_body
            }

            #start
        }
    }

    /// The arguments of a kind's call, each read from its input field or its cell of a group.
    fn call_args(&self, kind: &Kind, map: bool) -> Call {
        let Gen {
            def,
            private,
            access,
            input_fields,
            group_fields,
            ..
        } = self;
        let step = &def.steps[kind.first];
        let mut cell = 0usize;
        let mut reads = Vec::new();
        let args = kind
            .args
            .iter()
            .zip(&step.args)
            .enumerate()
            .map(|(a, (place, arg))| {
                let value = format_ident!("a{}", a, span = Span::mixed_site());
                let mut group_cell = |g: usize| {
                    let field = &group_fields[g];
                    let c = cell;
                    cell += 1;
                    quote_spanned!(arg.span()=> self.#field[cells[#c] as usize].get(#access))
                };
                let read = match *place {
                    ArgPlace::Input(i) | ArgPlace::EachInput(i) => {
                        let field = &input_fields[i];
                        Some(quote_spanned!(arg.span()=> self.#field.get(#access)))
                    }
                    ArgPlace::Group(g) | ArgPlace::EachGroup(g) => Some(group_cell(g)),
                    ArgPlace::Const(..) => None,
                };
                match (place, arg, read) {
                    (_, Arg::Const(tokens, span), _) => quote_spanned!(*span=> &#tokens),
                    (ArgPlace::EachInput(_) | ArgPlace::EachGroup(_), _, Some(read)) => {
                        reads.push(quote_spanned!(arg.span()=>
                            let #value = #private::Elements::elements(#read);
                        ));
                        // The element carries the user's span, so that a type mismatch
                        // is reported at `each NAME`.
                        Ident::new("__routilux_item", arg.span()).into_token_stream()
                    }
                    // A map's calls run on other threads, which cannot use the
                    // step's access token: its other arguments are read before.
                    (_, _, Some(read)) if map => {
                        reads.push(quote!(let #value = #read;));
                        quote_spanned!(arg.span()=> ::core::convert::identity(#value))
                    }
                    (_, _, Some(read)) => read,
                    (_, _, None) => unreachable!("only constants have no place"),
                }
            })
            .collect::<Vec<_>>();
        Call { reads, args }
    }

    /// `f{k}`: the same call in an async step's future, the routine's own future awaited (a
    /// map step's elements awaited by `map_later`).
    fn start_fn(&self, k: usize, kind: &Kind, args: &[TokenStream]) -> TokenStream {
        let Gen {
            def,
            private,
            access,
            row,
            group_fields,
            ..
        } = self;
        let routine = &def.steps[kind.first].routine;
        let Shape { map, conditional } = shape(def, kind.first);
        let table = format_ident!("K{}", k);
        let width = kind.rows[0].len();
        let start_fn = format_ident!("f{}", k);
        let step_token = Ident::new("step", Span::mixed_site());
        let ctx = Ident::new("ctx", Span::mixed_site());
        let awaited = if map {
            self.map_later_value(kind, args, &ctx)
        } else {
            quote_spanned!(routine_span(def, kind.first)=>
                #private::settle_later(<#routine as #private::Routine>::finish, <#routine as #private::Routine>::CALL(#(#args),*), #ctx).await?
            )
        };
        let reads = if map {
            self.call_args(kind, map).reads
        } else {
            Vec::new()
        };
        let awaited = if conditional {
            quote!(::core::option::Option::Some(#awaited))
        } else {
            awaited
        };
        let out_field = &group_fields[kind.group];
        let out_cell = width - 1;
        quote! {
            fn #start_fn<'s>(&'s self, #row: u32, mut #step_token: #private::StepAccess<'s>, #ctx: &'s #private::Context) -> #private::StepFuture<'s> {
                ::std::boxed::Box::pin(async move {
                    let cells = &#table[#row as usize];
                    let value = {
                        let #access = #step_token.get();
                        #(#reads)*
                        #awaited
                    };
                    self.#out_field[cells[#out_cell] as usize].set(#step_token.get_mut(), value);
                    ::core::result::Result::Ok(())
                })
            }
        }
    }

    /// The value of an async map step, awaited in its future: the routine's future once per
    /// element, each attempt with a context of its own.
    fn map_later_value(&self, kind: &Kind, args: &[TokenStream], ctx: &Ident) -> TokenStream {
        let private = &self.private;
        let def = self.def;
        let step = &def.steps[kind.first];
        let routine = &step.routine;
        let kept_field = format_ident!("m{}", kind.group);
        let out_cell = kind.rows[0].len() - 1;
        let each = kind
            .args
            .iter()
            .position(|p| matches!(p, ArgPlace::EachInput(_) | ArgPlace::EachGroup(_)));
        let items = each.map(|a| format_ident!("a{}", a, span = Span::mixed_site()));
        let item = Ident::new(
            "__routilux_item",
            each.map_or_else(Span::call_site, |a| step.args[a].span()),
        );
        let element = Ident::new("element", Span::mixed_site());
        let policy = step_policy(def, kind.first);
        let limit = step.options.get("max_concurrency").map_or_else(
            || quote!(::core::option::Option::None),
            |e| quote!(::core::option::Option::Some(#e)),
        );
        let call = quote_spanned!(routine_span(def, kind.first)=>
            #private::settle_later(<#routine as #private::Routine>::finish, <#routine as #private::Routine>::CALL(#(#args),*), &#element).await
        );
        quote! {
            #private::map_later(
                #items,
                #private::MapOptions::new(#policy, ::core::option::Option::None, #limit),
                #ctx,
                &move |#item, #element: #private::Context| -> #private::ElementFuture<'_, _> {
                    ::std::boxed::Box::pin(async move {
                        let #element = #element;
                        #call
                    })
                },
                <#routine as #private::Routine>::compensate,
                <#routine as #private::Routine>::undo_later,
                <#routine as #private::Routine>::undo,
                &self.#kept_field[cells[#out_cell] as usize],
            ).await?
        }
    }

    /// The value of a map step: `call` once per element of its `each` argument, under the
    /// step's policy, batch size and concurrency limit.
    fn map_value(&self, kind: &Kind, call: &TokenStream) -> TokenStream {
        let private = &self.private;
        let def = self.def;
        let step = &def.steps[kind.first];
        let routine = &step.routine;
        let kept_field = format_ident!("m{}", kind.group);
        let out_cell = kind.rows[0].len() - 1;
        let items = kind
            .args
            .iter()
            .position(|p| matches!(p, ArgPlace::EachInput(_) | ArgPlace::EachGroup(_)))
            .map(|a| format_ident!("a{}", a, span = Span::mixed_site()));
        let each = kind
            .args
            .iter()
            .position(|p| matches!(p, ArgPlace::EachInput(_) | ArgPlace::EachGroup(_)))
            .map_or_else(Span::call_site, |a| step.args[a].span());
        let item = Ident::new("__routilux_item", each);
        let policy = step_policy(def, kind.first);
        let batch = step.options.get("batch").map_or_else(
            || quote!(::core::option::Option::None),
            |e| quote!(::core::option::Option::Some(#e)),
        );
        let limit = step.options.get("max_concurrency").map_or_else(
            || quote!(::core::option::Option::None),
            |e| quote!(::core::option::Option::Some(#e)),
        );
        quote! {{
            #private::map(
                #items,
                #private::MapOptions::new(#policy, #batch, #limit),
                &|#item| #call,
                <#routine as #private::Routine>::compensate,
                <#routine as #private::Routine>::undo,
                &self.#kept_field[cells[#out_cell] as usize],
            )?
        }}
    }
}
