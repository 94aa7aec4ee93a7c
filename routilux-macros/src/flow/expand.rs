//! Code generation for a checked flow: the flow type, its typed result slots, one dispatch
//! arm per step and the static plan handed to the engine in `routilux`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Ident;

use super::ast::{Arg, FlowDef};
use super::validate::{ArgRef, Checked, Source};

/// What a step stores besides its routine's output type: a map step (`each`) stores a `Vec`
/// of outputs, a conditional step (`if`) an `Option`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Shape {
    map: bool,
    conditional: bool,
}

fn shape(def: &FlowDef, step: usize) -> Shape {
    let step = &def.steps[step];
    Shape {
        map: step.args.iter().any(|a| matches!(a, Arg::Each(_))),
        conditional: step.condition.is_some(),
    }
}

/// The type stored for an input or step.
fn slot_type(def: &FlowDef, source: Source) -> TokenStream {
    match source {
        Source::Input(i) => {
            let ty = &def.inputs[i].ty;
            quote!(#ty)
        }
        Source::Step(d) => {
            let routine = &def.steps[d].routine;
            let mut ty = quote_spanned!(routine_span(def, d)=> <#routine as ::routilux::__private::Routine>::Output);
            let Shape { map, conditional } = shape(def, d);
            if map {
                ty = quote!(::std::vec::Vec<#ty>);
            }
            if conditional {
                ty = quote!(::core::option::Option<#ty>);
            }
            ty
        }
    }
}

/// The policy of step `d` in the plan: its routine's, with the step's overrides.
fn step_policy(def: &FlowDef, d: usize) -> TokenStream {
    let step = &def.steps[d];
    let path = &step.routine;
    let retries = step.options.get("retries").map(|e| quote!(.retries(#e)));
    let backoff = step.options.get("backoff").map(|e| quote!(.backoff(#e)));
    let timeout = step.options.get("timeout").map(|e| quote!(.timeout(#e)));
    quote_spanned!(routine_span(def, d)=>
        <#path as ::routilux::__private::Routine>::POLICY #retries #backoff #timeout
    )
}

fn routine_span(def: &FlowDef, step: usize) -> Span {
    let path = &def.steps[step].routine;
    path.segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}

#[allow(dead_code)]
fn name_of(def: &FlowDef, source: Source) -> &Ident {
    match source {
        Source::Input(i) => &def.inputs[i].name,
        Source::Step(d) => &def.steps[d].name,
    }
}

/// The type `run` returns.
fn output_type(def: &FlowDef, returns: &[Source]) -> TokenStream {
    let types = returns.iter().map(|&s| slot_type(def, s));
    match &def.ret {
        Some(ret) if !ret.tuple && returns.len() == 1 => slot_type(def, returns[0]),
        Some(ret) if ret.tuple && returns.len() == 1 => quote!((#(#types,)*)),
        _ => quote!((#(#types),*)),
    }
}

fn docs(def: &FlowDef) -> (TokenStream, TokenStream, TokenStream) {
    let name = def.name.to_string();
    let run = format!(
        "Runs flow `{name}` with the default options: the `Dataflow` schedule on the current \
         rayon pool.\n\nCalled from a thread that is not a rayon pool's, the run starts on the \
         calling thread (a small flow never wakes the pool) and ready steps that have to wait \
         move to the global pool; `run_with` with a pool (or \
         `RunOptions::run_on_caller(false)`) keeps every step on pool threads.\n\n# Errors\n\nA \
         `FlowError` naming the first step that failed or panicked."
    );
    let run_with = format!(
        "Runs flow `{name}` with the given options: a `routilux::Schedule`, a \
         `&rayon::ThreadPool` or `routilux::RunOptions`.\n\n# Errors\n\nA `FlowError` naming \
         the first step that failed or panicked."
    );
    let plan = format!(
        "The plan of flow `{name}`: its steps in topological order, grouped in layers of \
         steps that can run at the same time."
    );
    (
        quote!(#[doc = #run]),
        quote!(#[doc = #run_with]),
        quote!(#[doc = #plan]),
    )
}

/// The docs of `run_async` and `run_async_with`.
fn async_docs(def: &FlowDef) -> (TokenStream, TokenStream) {
    let name = def.name.to_string();
    let run_async = format!(
        "Runs flow `{name}` as a future, with the default options. It works on any executor          and can be spawned (`Send + 'static`): its async steps are polled by whoever polls          it, its other steps run on the global rayon pool, never on the polling thread. Steps          start as soon as their dependencies are done, whatever the schedule.\n\nDropping          the future cancels the run: async steps in flight are dropped, the completed          undoable steps are undone.\n\n# Errors\n\nA `FlowError` naming the first step          that failed or panicked."
    );
    let run_async_with = format!(
        "Runs flow `{name}` as a future with the given options (see `run_async`); with a          pool, its sync steps run there. The future lives as long as what the options          borrow.\n\n# Errors\n\nA `FlowError` naming the first step that failed or          panicked."
    );
    (
        quote!(#[doc = #run_async]),
        quote!(#[doc = #run_async_with]),
    )
}

/// Where a slot lives in the generated `Slots` struct: an input field, or row `k` of the array
/// of results of routine group `g` (steps calling the same routine path share one array).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Input(usize),
    Group(usize, usize),
}

/// How steps are dispatched: steps that call the same routine with arguments from the same
/// places share one generated function (a "kind"), which reads its argument rows from a static
/// table. A chain of a thousand steps is one function called a thousand times, not a thousand
/// match arms: little code, and an indirect call the CPU predicts.
struct Layout {
    /// Routine group of each step (plan order), and its row in that group.
    step_place: Vec<(usize, usize)>,
    /// First step (declaration index) of each group, for its type.
    groups: Vec<usize>,
    /// Per kind: the first step (declaration index) and its rows, one per step of the kind.
    kinds: Vec<Kind>,
    /// Per step (plan order): its kind and row in the kind's table.
    dispatch: Vec<(usize, usize)>,
}

struct Kind {
    group: usize,
    args: Vec<ArgPlace>,
    first: usize,
    rows: Vec<Vec<usize>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ArgPlace {
    Input(usize),
    Group(usize),
    /// Argument `a` of step `d` (declaration index), a constant: a kind of its own.
    Const(usize, usize),
    /// `each` of an input or a group.
    EachInput(usize),
    EachGroup(usize),
}

fn layout(def: &FlowDef, checked: &Checked) -> Layout {
    let mut group_of_path: Vec<(String, usize)> = Vec::new();
    let mut groups: Vec<usize> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut step_place = Vec::with_capacity(checked.order.len());
    let mut place_of_decl = vec![(0, 0); def.steps.len()];
    for &decl in &checked.order {
        let Shape { map, conditional } = shape(def, decl);
        // Steps share a result array when they store the same type.
        let path = format!(
            "{}{}{}",
            path_string(&def.steps[decl].routine),
            if map { "[]" } else { "" },
            if conditional { "?" } else { "" }
        );
        let g = match group_of_path.iter().find(|(p, _)| *p == path) {
            Some(&(_, g)) => g,
            None => {
                groups.push(decl);
                counts.push(0);
                group_of_path.push((path, groups.len() - 1));
                groups.len() - 1
            }
        };
        let k = counts[g];
        counts[g] += 1;
        step_place.push((g, k));
        place_of_decl[decl] = (g, k);
    }
    let place = |source: Source| match source {
        Source::Input(i) => Place::Input(i),
        Source::Step(d) => Place::Group(place_of_decl[d].0, place_of_decl[d].1),
    };
    let mut kinds: Vec<Kind> = Vec::new();
    let mut dispatch = Vec::with_capacity(checked.order.len());
    for (pos, &decl) in checked.order.iter().enumerate() {
        let mut places: Vec<Place> = Vec::new();
        let args: Vec<ArgPlace> = checked.args[decl]
            .iter()
            .map(|arg| match *arg {
                ArgRef::Const(a) => ArgPlace::Const(decl, a),
                ArgRef::Value(source) | ArgRef::Each(source) => {
                    let each = matches!(arg, ArgRef::Each(_));
                    let p = place(source);
                    places.push(p);
                    match (p, each) {
                        (Place::Input(i), false) => ArgPlace::Input(i),
                        (Place::Group(g, _), false) => ArgPlace::Group(g),
                        (Place::Input(i), true) => ArgPlace::EachInput(i),
                        (Place::Group(g, _), true) => ArgPlace::EachGroup(g),
                    }
                }
            })
            .collect();
        let (group, row) = step_place[pos];
        let mut cells: Vec<usize> = places
            .iter()
            .filter_map(|p| match *p {
                Place::Group(_, k) => Some(k),
                Place::Input(_) => None,
            })
            .collect();
        cells.push(row);
        let kind = match kinds
            .iter()
            .position(|k| k.group == group && k.args == args)
        {
            Some(kind) => kind,
            None => {
                kinds.push(Kind {
                    group,
                    args,
                    first: decl,
                    rows: Vec::new(),
                });
                kinds.len() - 1
            }
        };
        kinds[kind].rows.push(cells);
        dispatch.push((kind, kinds[kind].rows.len() - 1));
    }
    Layout {
        step_place,
        groups,
        kinds,
        dispatch,
    }
}

/// The full expansion of a valid flow.
#[allow(clippy::too_many_lines)]
pub(crate) fn flow(def: &FlowDef, checked: &Checked) -> TokenStream {
    let FlowDef {
        attrs, vis, name, ..
    } = def;
    let flow_name = name.to_string();
    let options = Ident::new("options", Span::mixed_site());
    let slots = Ident::new("slots", Span::mixed_site());
    let access = Ident::new("access", Span::mixed_site());
    let index = Ident::new("index", Span::mixed_site());
    let row = Ident::new("row", Span::mixed_site());
    let private = quote!(::routilux::__private);
    let layout = layout(def, checked);

    let input_names: Vec<&Ident> = def.inputs.iter().map(|i| &i.name).collect();
    let input_types: Vec<_> = def.inputs.iter().map(|i| &i.ty).collect();
    let input_fields: Vec<Ident> = (0..def.inputs.len())
        .map(|i| format_ident!("i{}", i))
        .collect();
    let group_fields: Vec<Ident> = (0..layout.groups.len())
        .map(|g| format_ident!("g{}", g))
        .collect();
    let group_types: Vec<TokenStream> = layout
        .groups
        .iter()
        .map(|&d| slot_type(def, Source::Step(d)))
        .collect();
    let group_lens: Vec<usize> = (0..layout.groups.len())
        .map(|g| layout.step_place.iter().filter(|(sg, _)| *sg == g).count())
        .collect();
    let output = output_type(def, &checked.returns);
    // Per map group: which elements of each step's result came from compensation.
    let map_groups: Vec<(Ident, usize)> = layout
        .groups
        .iter()
        .enumerate()
        .filter(|&(_, &d)| shape(def, d).map)
        .map(|(g, _)| (format_ident!("m{}", g), group_lens[g]))
        .collect();
    let kept_fields = map_groups
        .iter()
        .map(|(f, len)| quote!(#f: [#private::OnceLock<::std::boxed::Box<[usize]>>; #len],));
    let kept_inits = map_groups
        .iter()
        .map(|(f, _)| quote!(#f: ::core::array::from_fn(|_| #private::OnceLock::new()),));

    // Inputs must cross threads; say so at the input's type.
    let input_checks = input_types.iter().map(
        |ty| quote_spanned!(syn::spanned::Spanned::span(ty)=> #private::assert_shareable::<#ty>();),
    );

    // One function per kind. Arguments carry the spans of the kind's first step, so type and
    // arity mismatches are reported at the user's tokens (every step of a kind has the same
    // argument types, hence the same mismatch).
    let mut kind_tables = Vec::with_capacity(layout.kinds.len());
    let mut map_checks = Vec::new();
    // A timeout can only stop an async step: evaluated by `cargo check` (an item).
    for step in &def.steps {
        if let Some((key, _)) = step.options.list.iter().find(|(k, _)| k == "timeout") {
            let routine = &step.routine;
            let message = format!(
                "`timeout` on step `{}` needs an async routine: a plain `fn` cannot be stopped once it runs",
                step.name
            );
            map_checks.push(quote_spanned! {key.span()=>
                const _: () = ::core::assert!(
                    <#routine as #private::Routine>::POLICY.is_async(),
                    #message,
                );
            });
        }
    }
    let kind_fns = layout
        .kinds
        .iter()
        .enumerate()
        .map(|(k, kind)| {
            let step = &def.steps[kind.first];
            let routine = &step.routine;
            let function = format_ident!("k{}", k);
            let undo = format_ident!("u{}", k);
            let compensate = format_ident!("p{}", k);
            let table = format_ident!("K{}", k);
            let width = kind.rows[0].len();
            let count = kind.rows.len();
            let rows = kind.rows.iter().map(|r| quote!([#(#r as u32),*]));
            kind_tables.push(quote!(static #table: [[u32; #width]; #count] = [#(#rows),*];));
            let Shape { map, conditional } = shape(def, kind.first);
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
            let out_field = &group_fields[kind.group];
            let kept_field = format_ident!("m{}", kind.group);
            let out_cell = width - 1;
            let call = quote_spanned!(routine_span(def, kind.first)=>
                #private::settle_now(<#routine as #private::Routine>::finish, <#routine as #private::Routine>::CALL(#(#args),*))
            );
            // The same call in an async step's future: the routine's own future, awaited.
            let start_fn = format_ident!("f{}", k);
            let step_token = Ident::new("step", Span::mixed_site());
            let ctx = Ident::new("ctx", Span::mixed_site());
            let start = if map {
                quote! {
                    fn #start_fn<'s>(&'s self, _: u32, _: #private::StepAccess<'s>, _: &'s #private::Context) -> #private::StepFuture<'s> {
                        #private::not_async(self)
                    }
                }
            } else {
                let awaited = quote_spanned!(routine_span(def, kind.first)=>
                    #private::settle_later(<#routine as #private::Routine>::finish, <#routine as #private::Routine>::CALL(#(#args),*), #ctx).await?
                );
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
                                #awaited
                            };
                            self.#out_field[cells[#out_cell] as usize].set(#step_token.get_mut(), value);
                            ::core::result::Result::Ok(())
                        })
                    }
                }
            };
            let mut value = if map {
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
                // Evaluated by `cargo check` too (an item, not an inline `const` block).
                map_checks.push(quote_spanned! {routine_span(def, kind.first)=>
                    const _: () = ::core::assert!(
                        !<#routine as #private::Routine>::POLICY.is_async(),
                        "an async routine cannot be mapped with `each` yet: map inside the routine, or make it a plain `fn`",
                    );
                });
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
            } else {
                quote!(#call?)
            };
            if conditional {
                value = quote!(::core::option::Option::Some(#value));
            }
            let out = quote!(&self.#out_field[#table[#row as usize][#out_cell] as usize]);
            let kept = quote!(&self.#kept_field[#table[#row as usize][#out_cell] as usize]);
            let (undo_body, compensate_body) = match (map, conditional) {
                (false, false) => (
                    quote!(<#routine as #private::Routine>::undo_slot(#out, #access)),
                    quote!(<#routine as #private::Routine>::compensate_slot(error, #out, #access)),
                ),
                (false, true) => (
                    quote! {
                        match (#out).get(#access) {
                            ::core::option::Option::Some(value) => <#routine as #private::Routine>::undo(value),
                            ::core::option::Option::None => ::core::result::Result::Ok(()),
                        }
                    },
                    quote! {
                        match <#routine as #private::Routine>::compensate(error) {
                            ::routilux::Compensation::Retry => #private::Decision::Retry,
                            ::routilux::Compensation::Fail => #private::Decision::Fail,
                            ::routilux::Compensation::Continue(value) => {
                                (#out).set(#access, ::core::option::Option::Some(value));
                                #private::Decision::Continued
                            }
                        }
                    },
                ),
                (true, false) => (
                    quote!(#private::undo_each((#out).get(#access), <#routine as #private::Routine>::undo, #kept)),
                    quote!({ let _ = (error, #access); #private::Decision::Fail }),
                ),
                (true, true) => (
                    quote! {
                        match (#out).get(#access) {
                            ::core::option::Option::Some(values) => #private::undo_each(values, <#routine as #private::Routine>::undo, #kept),
                            ::core::option::Option::None => ::core::result::Result::Ok(()),
                        }
                    },
                    quote!({ let _ = (error, #access); #private::Decision::Fail }),
                ),
            };
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

                #start
            }
        })
        .collect::<Vec<_>>();
    // The condition of each conditional step, as `Exec::skip` and the straight line ask it.
    let slot_of = |source: Source, span: Span| match source {
        Source::Input(i) => {
            let field = &input_fields[i];
            quote_spanned!(span=> self.#field)
        }
        Source::Step(d) => {
            let pos = checked.order.iter().position(|&o| o == d).unwrap_or(0);
            let (g, k) = layout.step_place[pos];
            let field = &group_fields[g];
            quote_spanned!(span=> self.#field[#k])
        }
    };
    let mut skip_arms = Vec::new();
    let skip_fns = checked
        .order
        .iter()
        .enumerate()
        .filter_map(|(pos, &decl)| {
            let (source, negated) = checked.conditions[decl]?;
            let condition = def.steps[decl].condition.as_ref()?;
            let function = format_ident!("s{}", pos);
            let span = condition.name.span();
            let flag = slot_of(source, span);
            let out = slot_of(Source::Step(decl), Span::call_site());
            let test = if negated {
                quote!(*flag)
            } else {
                quote!(!*flag)
            };
            skip_arms.push(quote!(#pos => self.#function(#access),));
            let read =
                quote_spanned!(condition.name.span()=> let flag: &bool = #flag.get(#access););
            Some(quote! {
                #[inline]
                fn #function(&self, #access: &mut #private::Access<'_>) -> bool {
                    #read
                    let skip = #test;
                    if skip {
                        #out.set(#access, ::core::option::Option::None);
                    }
                    skip
                }
            })
        })
        .collect::<Vec<_>>();
    let dispatch = layout.dispatch.iter().map(|&(k, r)| {
        let function = format_ident!("k{}", k);
        let undo = format_ident!("u{}", k);
        let compensate = format_ident!("p{}", k);
        let start = format_ident!("f{}", k);
        let r = r as u32;
        quote!((Slots::#function, Slots::#undo, Slots::#compensate, Slots::#start, #r))
    });
    let clear_fns = input_fields.iter().chain(&group_fields).enumerate().map(|(n, field)| {
        let function = format_ident!("c{}", n);
        if n < def.inputs.len() {
            quote!(fn #function(&self, _: u32, #access: &mut #private::Access<'_>) { self.#field.clear(#access); })
        } else {
            quote!(fn #function(&self, #row: u32, #access: &mut #private::Access<'_>) { self.#field[#row as usize].clear(#access); })
        }
    });
    let clears = (0..def.inputs.len())
        .map(|i| (i, 0usize))
        .chain(
            layout
                .step_place
                .iter()
                .map(|&(g, k)| (def.inputs.len() + g, k)),
        )
        .map(|(n, r)| {
            let function = format_ident!("c{}", n);
            let r = r as u32;
            quote!((Slots::#function, #r))
        });
    let n_slots = def.inputs.len() + def.steps.len();
    let n_steps = def.steps.len();
    let brand = Ident::new("brand", Span::mixed_site());
    let input_indices = (0..def.inputs.len()).map(|i| u32::try_from(i).unwrap_or(u32::MAX));
    let group_slots: Vec<Ident> = (0..layout.groups.len())
        .map(|g| format_ident!("S{}", g))
        .collect();
    let group_slot_tables = group_slots.iter().enumerate().map(|(g, table)| {
        let mut rows: Vec<(usize, u32)> = layout
            .step_place
            .iter()
            .enumerate()
            .filter(|&(_, &(sg, _))| sg == g)
            .map(|(pos, &(_, k))| (k, u32::try_from(def.inputs.len() + pos).unwrap_or(u32::MAX)))
            .collect();
        rows.sort_unstable();
        let indices = rows.iter().map(|&(_, slot)| slot);
        let len = rows.len();
        quote!(static #table: [u32; #len] = [#(#indices),*];)
    });
    let straight = super::straight::Straight {
        calls: layout
            .dispatch
            .iter()
            .map(|&(k, r)| (k, u32::try_from(r).unwrap_or(u32::MAX)))
            .collect(),
        clears: (0..def.inputs.len())
            .map(|i| (i, 0))
            .chain(
                layout
                    .step_place
                    .iter()
                    .map(|&(g, k)| (def.inputs.len() + g, u32::try_from(k).unwrap_or(u32::MAX))),
            )
            .collect(),
        types: (0..def.inputs.len())
            .map(Source::Input)
            .chain(checked.order.iter().map(|&d| Source::Step(d)))
            .map(|s| slot_type(def, s))
            .collect(),
        conditional: checked
            .order
            .iter()
            .map(|&d| checked.conditions[d].is_some())
            .collect(),
        inputs: def.inputs.len(),
        checked,
    }
    .body(&access);

    let static_inputs = input_names.iter().map(|n| n.to_string());
    let static_steps = checked.order.iter().enumerate().map(|(pos, &decl)| {
        let step = &def.steps[decl];
        let step_name = step.name.to_string();
        let routine = path_string(&step.routine);
        let deps = checked.deps[pos];
        let reads = &checked.reads[pos];
        let succs = &checked.succs[pos];
        let mut policy = step_policy(def, decl);
        let Shape { map, conditional } = shape(def, decl);
        if map {
            policy = quote!(#policy.__map_step());
        }
        if conditional {
            policy = quote!(#policy.__conditional());
        }
        let doc = &step.doc;
        let routine_path = &step.routine;
        let nested = quote_spanned!(routine_span(def, decl)=>
            <#routine_path as ::routilux::__private::Routine>::SUBFLOW
        );
        let (after, condition) = plan_extras(def, checked, decl, reads);
        quote!(#private::StepPlan::__from_static(#step_name, #routine, #deps, &[#(#reads),*], &[#(#succs),*], #policy, #doc)
            .__nested(#nested)
            .__after(&[#(#after),*])
            #condition)
    });
    let slot_types = (0..def.inputs.len())
        .map(Source::Input)
        .chain(checked.order.iter().map(|&d| Source::Step(d)))
        .map(|s| slot_type(def, s));
    // An undoable step's result is kept until the run ends, for its undo.
    let undoable = (0..def.inputs.len())
        .map(|_| None)
        .chain(checked.order.iter().map(|&d| Some(&def.steps[d].routine)));
    let static_slots = checked.slots.iter().zip(slot_types).zip(undoable).map(
        |((&(consumers, kept), ty), routine)| {
            // `kept` here means returned; an undoable step's result is kept too.
            let undo = match routine {
                Some(routine) => quote!(<#routine as #private::Routine>::POLICY.is_undoable()),
                None => quote!(false),
            };
            quote!(#private::SlotPlan::__new(#consumers, #undo, ::core::mem::needs_drop::<#ty>(), #kept))
        },
    );
    let layers = &checked.layers;
    let flow_doc = &def.doc;
    let n_inputs = def.inputs.len();

    let take = |source: Source| match source {
        Source::Input(i) => {
            let field = &input_fields[i];
            quote!(#slots.#field.take_result(#flow_name))
        }
        Source::Step(d) => {
            let pos = checked.order.iter().position(|&o| o == d).unwrap_or(0);
            let (g, k) = layout.step_place[pos];
            let field = &group_fields[g];
            quote!(#slots.#field[#k].take_result(#flow_name))
        }
    };
    let ok = quote!(::core::result::Result::Ok);
    let result = match &def.ret {
        Some(ret) if !ret.tuple && checked.returns.len() == 1 => take(checked.returns[0]),
        Some(ret) if ret.tuple && checked.returns.len() == 1 => {
            let value = take(checked.returns[0]);
            quote!(#ok((#value?,)))
        }
        _ => {
            let values = checked.returns.iter().map(|&s| take(s));
            quote!(#ok((#(#values?),*)))
        }
    };
    let (run_doc, run_with_doc, plan_doc) = docs(def);
    let (run_async_doc, run_async_with_doc) = async_docs(def);
    let nested = Ident::new("nested", Span::mixed_site());
    // Automatic for private flows; a flow with a visibility opts in with `#[subflow]`, since
    // its routine impl must not name types less visible than the flow (E0446), and public
    // flows over private types are common in binaries.
    let subflow = (def.subflow || matches!(def.vis, syn::Visibility::Inherited))
        .then(|| subflow_impl(def, checked, &output));

    quote! {
        #(#attrs)*
        #vis struct #name;

        impl #name {
            #run_doc
            #vis fn run(#(#input_names: #input_types),*) -> ::core::result::Result<#output, ::routilux::FlowError> {
                Self::run_with(::routilux::RunOptions::new(), #(#input_names),*)
            }

            #run_with_doc
            #vis fn run_with<'p>(
                #options: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(#input_names: #input_types),*
            ) -> ::core::result::Result<#output, ::routilux::FlowError> {
                Self::__run(#options.into(), #private::Mode::Direct, #(#input_names),*).now()
            }

            #run_async_doc
            #vis fn run_async(
                #(#input_names: #input_types),*
            ) -> impl ::core::future::Future<Output = ::core::result::Result<#output, ::routilux::FlowError>> + ::core::marker::Send + 'static {
                Self::__run(::routilux::RunOptions::new(), #private::Mode::Async, #(#input_names),*).later()
            }

            #run_async_with_doc
            #vis fn run_async_with<'p>(
                #options: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(#input_names: #input_types),*
            ) -> impl ::core::future::Future<Output = ::core::result::Result<#output, ::routilux::FlowError>> + ::core::marker::Send + 'p {
                Self::__run(#options.into(), #private::Mode::Async, #(#input_names),*).later()
            }

            /// Runs the flow: called directly, as a step of another flow (a sub-flow, see
            /// `routilux::__private::execute_nested`), or as a future.
            #[allow(clippy::too_many_lines)]
            fn __run<'p>(
                #options: ::routilux::RunOptions<'p>,
                #nested: #private::Mode,
                #(#input_names: #input_types),*
            ) -> #private::Outcome<'p, #output> {
                struct Slots {
                    #(#input_fields: #private::Slot<#input_types>,)*
                    #(#group_fields: [#private::Slot<#group_types>; #group_lens],)*
                    #(#kept_fields)*
                }

                #(#kind_tables)*

                impl Slots {
                    #(#kind_fns)*
                    #(#skip_fns)*
                    #(#clear_fns)*

                    #[allow(clippy::too_many_lines)]
                    fn straight(
                        &self,
                        #access: &mut #private::Access<'_>,
                    ) -> ::core::result::Result<(), #private::BoxError> {
                        #straight
                        ::core::result::Result::Ok(())
                    }
                }

                type Call = fn(&Slots, u32, &mut #private::Access<'_>) -> ::core::result::Result<(), #private::BoxError>;
                type Undo = fn(&Slots, u32, &#private::Access<'_>) -> ::core::result::Result<(), #private::BoxError>;
                type Compensate = fn(&Slots, u32, &#private::BoxError, &mut #private::Access<'_>) -> #private::Decision;
                type Clear = fn(&Slots, u32, &mut #private::Access<'_>);
                type Start = for<'s> fn(&'s Slots, u32, #private::StepAccess<'s>, &'s #private::Context) -> #private::StepFuture<'s>;
                static DISPATCH: [(Call, Undo, Compensate, Start, u32); #n_steps] = [#(#dispatch),*];
                static CLEAR: [(Clear, u32); #n_slots] = [#(#clears),*];

                impl #private::Exec for Slots {
                    #[inline]
                    fn run_step(
                        &self,
                        #index: usize,
                        #access: &mut #private::Access<'_>,
                    ) -> ::core::result::Result<(), #private::BoxError> {
                        let (call, _, _, _, row) = DISPATCH[#index];
                        call(self, row, #access)
                    }

                    fn undo_step(
                        &self,
                        #index: usize,
                        #access: &#private::Access<'_>,
                    ) -> ::core::result::Result<(), #private::BoxError> {
                        let (_, undo, _, _, row) = DISPATCH[#index];
                        undo(self, row, #access)
                    }

                    fn compensate(
                        &self,
                        #index: usize,
                        error: &#private::BoxError,
                        #access: &mut #private::Access<'_>,
                    ) -> #private::Decision {
                        let (_, _, compensate, _, row) = DISPATCH[#index];
                        compensate(self, row, error, #access)
                    }

                    fn start_step<'s>(
                        &'s self,
                        #index: usize,
                        step: #private::StepAccess<'s>,
                        ctx: &'s #private::Context,
                    ) -> #private::StepFuture<'s> {
                        let (_, _, _, start, row) = DISPATCH[#index];
                        start(self, row, step, ctx)
                    }

                    fn skip(&self, #index: usize, #access: &mut #private::Access<'_>) -> bool {
                        match #index {
                            #(#skip_arms)*
                            _ => false,
                        }
                    }

                    #[inline]
                    fn clear(&self, #index: usize, #access: &mut #private::Access<'_>) {
                        let (clear, row) = CLEAR[#index];
                        clear(self, row, #access);
                    }

                    fn run_straight(
                        &self,
                        #access: &mut #private::Access<'_>,
                    ) -> ::core::option::Option<::core::result::Result<(), #private::BoxError>> {
                        ::core::option::Option::Some(self.straight(#access))
                    }
                }

                #(#input_checks)*
                #(#map_checks)*
                // Slots know their run and their index in the plan; see `Slot`.
                #(#group_slot_tables)*
                let #brand = #private::Brand::new();
                let mut #slots = Slots {
                    #(#input_fields: #private::Slot::new(&#brand, #input_indices, #input_names),)*
                    #(#group_fields: ::core::array::from_fn(|k| #private::Slot::empty(&#brand, #group_slots[k])),)*
                    #(#kept_inits)*
                };
                match #nested {
                    #private::Mode::Nested => #private::Outcome::Done(#private::call(move || {
                        let kept = #private::execute_nested(Self::plan(), &#slots, #brand)?;
                        let result = #result;
                        if let ::core::option::Option::Some(kept) = kept {
                            #private::keep(Self::plan(), #slots, kept);
                        }
                        result
                    })),
                    #private::Mode::Direct => #private::Outcome::Done(#private::call(move || {
                        #private::execute(Self::plan(), &#slots, #brand, &#options)?;
                        #result
                    })),
                    #private::Mode::Async => #private::Outcome::Later(::std::boxed::Box::pin(async move {
                        #private::execute_async(Self::plan(), &#slots, #brand, &#options).await?;
                        #result
                    })),
                }
            }

            #plan_doc
            #[must_use]
            #vis fn plan() -> &'static ::routilux::Plan {
                static INPUTS: [#private::Cow<'static, str>; #n_inputs] =
                    [#(#private::Cow::Borrowed(#static_inputs)),*];
                static STEPS: [#private::StepPlan; #n_steps] = [#(#static_steps),*];
                static PLAN: ::routilux::Plan = #private::Plan::__from_static(
                    #flow_name,
                    &INPUTS,
                    &STEPS,
                    &[#(#static_slots),*],
                    &[#(#layers),*],
                    #flow_doc,
                );
                &PLAN
            }

            /// The flow's static description, for pictures (DOT, Mermaid) and tools.
            #[must_use]
            #vis fn graph() -> ::routilux::Graph {
                Self::plan().graph()
            }
        }

        #subflow
    }
}

/// What the graph of a step needs besides its reads: the slots it only waits for (`after`,
/// not also an argument or its condition), and its condition (`.__condition(slot, negated)`).
fn plan_extras(
    def: &FlowDef,
    checked: &Checked,
    decl: usize,
    reads: &[u32],
) -> (Vec<u32>, TokenStream) {
    let slot_of = |source: Source| match source {
        Source::Input(i) => u32::try_from(i).unwrap_or(u32::MAX),
        Source::Step(d) => {
            let pos = checked.order.iter().position(|&o| o == d).unwrap_or(0);
            u32::try_from(def.inputs.len() + pos).unwrap_or(u32::MAX)
        }
    };
    let condition = checked.conditions[decl].map(|(source, negated)| (slot_of(source), negated));
    let args: Vec<u32> = checked.args[decl]
        .iter()
        .filter_map(|arg| match *arg {
            ArgRef::Value(s) | ArgRef::Each(s) => Some(slot_of(s)),
            ArgRef::Const(_) => None,
        })
        .chain(condition.map(|(slot, _)| slot))
        .collect();
    let after = reads
        .iter()
        .copied()
        .filter(|r| !args.contains(r))
        .collect();
    let condition = condition.map(|(slot, negated)| quote!(.__condition(#slot, #negated)));
    (after, condition.unwrap_or_default())
}

/// The flow as a step of other flows (`step y = Name(a, b);`): its routine impl. It applies
/// when every input is `Clone` (the inner run gets copies); its policy is undoable when any
/// of its steps is, which also makes a flow that contains itself, directly or not, a
/// compile error (the policy constant would depend on itself).
fn subflow_impl(def: &FlowDef, checked: &Checked, output: &TokenStream) -> TokenStream {
    let private = quote!(::routilux::__private);
    let name = &def.name;
    // Undoing a step whose result the inner run returned: the value is the outer step's now.
    let single = matches!(&def.ret, Some(ret) if !ret.tuple && checked.returns.len() == 1);
    let returned_arms = checked
        .returns
        .iter()
        .enumerate()
        .filter_map(|(k, &source)| {
            let Source::Step(d) = source else {
                return None;
            };
            let pos = u32::try_from(checked.order.iter().position(|&o| o == d)?).ok()?;
            let routine = &def.steps[d].routine;
            let index = syn::Index::from(k);
            let value = if single {
                quote!(output)
            } else {
                quote!(&output.#index)
            };
            let undo = quote!(<#routine as #private::Routine>::undo);
            let each =
                quote!(|values| #private::undo_each(values, #undo, &#private::OnceLock::new()));
            let body = match shape(def, d) {
                Shape {
                    map: false,
                    conditional: false,
                } => quote!(#undo(#value)),
                Shape {
                    map: false,
                    conditional: true,
                } => {
                    quote!((#value).as_ref().map_or(::core::result::Result::Ok(()), #undo))
                }
                Shape {
                    map: true,
                    conditional: false,
                } => quote!((#each)(#value)),
                Shape {
                    map: true,
                    conditional: true,
                } => {
                    quote!((#value).as_ref().map_or(::core::result::Result::Ok(()), #each))
                }
            };
            Some(quote!(#pos => #body,))
        });
    let input_types: Vec<_> = def.inputs.iter().map(|i| &i.ty).collect();
    let args: Vec<Ident> = (0..def.inputs.len())
        .map(|i| format_ident!("a{}", i, span = Span::mixed_site()))
        .collect();
    let undoable = def.steps.iter().map(|step| {
        let routine = &step.routine;
        quote!(|| <#routine as #private::Routine>::POLICY.is_undoable())
    });
    let doc = format!("Flow `{name}` as a step of other flows.");
    quote! {
        #[doc = #doc]
        impl #private::Routine for #name
        where
            #(for<'__routilux> #input_types: #private::SubflowInput,)*
        {
            type Returns = ::core::result::Result<#output, #private::BoxError>;
            type Output = #output;
            type Call = fn(#(&#input_types),*) -> ::core::result::Result<#output, #private::BoxError>;
            const CALL: Self::Call = |#(#args),*| {
                #private::finish_nested(#name::__run(
                    ::routilux::RunOptions::new(),
                    #private::Mode::Nested,
                    #(#private::SubflowInput::owned(#args)),*
                ).now())
            };
            const POLICY: ::routilux::Policy = ::routilux::Policy::NONE
                .__flags(false #(#undoable)*, false, true)
                .__subflow();
            const SUBFLOW: ::core::option::Option<fn() -> &'static #private::Plan> =
                ::core::option::Option::Some(#name::plan);

            #[inline]
            fn finish(returned: Self::Returns) -> ::core::result::Result<Self::Output, #private::BoxError> {
                returned
            }

            fn undo(output: &Self::Output) -> ::core::result::Result<(), #private::BoxError> {
                #[allow(unused_variables)]
                let returned = |step: u32| match step {
                    #(#returned_arms)*
                    _ => ::core::result::Result::Ok(()),
                };
                #private::undo_kept(&returned)
            }
        }
    }
}

/// `a::b::c` as written, without spaces.
fn path_string(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// What a flow with errors expands to besides the errors: the type with the same `run`
/// signature, so that its uses do not add errors of their own. The output type is the real
/// one when every returned name exists, `!` otherwise: `let _ = F::run(..)`, `F::run(..)?;` and
/// `let x: T = F::run(..)?` all type-check with `!` (an inferred type parameter would leave the
/// first two ambiguous, `()` would not coerce to `T`); code after such a call is only warned
/// about as unreachable.
pub(crate) fn stub(def: &FlowDef) -> TokenStream {
    let FlowDef {
        attrs, vis, name, ..
    } = def;
    let input_types: Vec<_> = def.inputs.iter().map(|i| &i.ty).collect();
    let lookup = |wanted: &Ident| {
        let input = def
            .inputs
            .iter()
            .position(|i| i.name == *wanted)
            .map(Source::Input);
        input.or_else(|| {
            // A step that runs this very flow has no type to name.
            def.steps
                .iter()
                .position(|s| s.name == *wanted && !s.routine.is_ident(&def.name))
                .map(Source::Step)
        })
    };
    let returns: Option<Vec<Source>> = match &def.ret {
        Some(ret) => ret.names.iter().map(lookup).collect(),
        None => Some(Vec::new()),
    };
    let output = match returns {
        Some(returns) => output_type(def, &returns),
        None => quote!(::routilux::__private::Never),
    };
    quote! {
        #(#attrs)*
        #vis struct #name;

        impl #name {
            /// Not available: the flow has errors.
            #vis fn run(#(_: #input_types),*) -> ::core::result::Result<#output, ::routilux::FlowError> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #[must_use]
            #vis fn plan() -> &'static ::routilux::Plan {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #[must_use]
            #vis fn graph() -> ::routilux::Graph {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_with<'p>(
                _: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(_: #input_types),*
            ) -> ::core::result::Result<#output, ::routilux::FlowError> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_async(
                #(_: #input_types),*
            ) -> ::core::future::Ready<::core::result::Result<#output, ::routilux::FlowError>> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_async_with<'p>(
                _: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(_: #input_types),*
            ) -> ::core::future::Ready<::core::result::Result<#output, ::routilux::FlowError>> {
                ::core::unimplemented!()
            }
        }
    }
}
