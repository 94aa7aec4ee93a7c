//! Code generation for a checked flow: the flow type, its typed result slots, one dispatch
//! arm per step and the static plan handed to the engine in `routilux`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::ast::FlowDef;
use super::validate::{Checked, Source};

/// The type stored for an input or step.
fn slot_type(def: &FlowDef, source: Source) -> TokenStream {
    match source {
        Source::Input(i) => {
            let ty = &def.inputs[i].ty;
            quote!(#ty)
        }
        Source::Step(d) => {
            let routine = &def.steps[d].routine;
            quote_spanned!(routine_span(def, d)=> <#routine as ::routilux::__private::Routine>::Output)
        }
    }
}

fn routine_span(def: &FlowDef, step: usize) -> Span {
    let path = &def.steps[step].routine;
    path.segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}

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
         rayon pool.\n\n# Errors\n\nA `FlowError` naming the first step that failed or \
         panicked."
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

/// The full expansion of a valid flow.
pub(crate) fn flow(def: &FlowDef, checked: &Checked) -> TokenStream {
    let FlowDef {
        attrs, vis, name, ..
    } = def;
    let flow_name = name.to_string();
    let options = Ident::new("options", Span::mixed_site());
    let slots = Ident::new("slots", Span::mixed_site());
    let access = Ident::new("access", Span::mixed_site());
    let index = Ident::new("index", Span::mixed_site());

    let input_names: Vec<&Ident> = def.inputs.iter().map(|i| &i.name).collect();
    let input_types: Vec<_> = def.inputs.iter().map(|i| &i.ty).collect();
    let sources: Vec<Source> = (0..def.inputs.len())
        .map(Source::Input)
        .chain(checked.order.iter().map(|&d| Source::Step(d)))
        .collect();
    let fields: Vec<&Ident> = sources.iter().map(|&s| name_of(def, s)).collect();
    let field_types: Vec<TokenStream> = sources.iter().map(|&s| slot_type(def, s)).collect();
    let output = output_type(def, &checked.returns);
    let step_fields = &fields[def.inputs.len()..];

    // Inputs must cross threads; say so at the input's type.
    let input_checks = input_types.iter().map(|ty| {
        quote_spanned!(syn::spanned::Spanned::span(ty)=> ::routilux::__private::assert_shareable::<#ty>();)
    });

    // One dispatch arm per step, in plan order; arguments carry the user's spans, so type and
    // arity mismatches are reported at the user's tokens.
    let arms = checked.order.iter().enumerate().map(|(pos, &decl)| {
        let step = &def.steps[decl];
        let field = &step.name;
        let routine = &step.routine;
        let args = step.args.iter().map(|arg| {
            quote_spanned!(arg.span()=> self.#arg.get(#access))
        });
        let call = quote_spanned!(routine_span(def, decl)=>
            <#routine as ::routilux::__private::Routine>::finish(<#routine as ::routilux::__private::Routine>::CALL(#(#args),*))?
        );
        quote!(#pos => self.#field.set(#access, #call),)
    });
    let clear_arms = fields
        .iter()
        .enumerate()
        .map(|(slot, field)| quote!(#slot => self.#field.clear(#access),));

    let static_inputs = input_names.iter().map(|n| n.to_string());
    let static_steps = checked.order.iter().enumerate().map(|(pos, &decl)| {
        let step = &def.steps[decl];
        let step_name = step.name.to_string();
        let routine = path_string(&step.routine);
        let deps = checked.deps[pos];
        let reads = &checked.reads[pos];
        let succs = &checked.succs[pos];
        quote!(::routilux::__private::StepPlan::__from_static(#step_name, #routine, #deps, &[#(#reads),*], &[#(#succs),*]))
    });
    let static_slots = checked.slots.iter().map(
        |&(consumers, kept)| quote!(::routilux::__private::SlotPlan::__new(#consumers, #kept)),
    );
    let layers = &checked.layers;
    let n_inputs = def.inputs.len();
    let n_steps = def.steps.len();

    let returned = checked.returns.iter().map(|&s| name_of(def, s));
    let returned_values = checked.returns.iter().map(|&s| {
        let field = name_of(def, s);
        quote!(#field.into_result(#flow_name)?)
    });
    let ok = quote!(::core::result::Result::Ok);
    let result = match &def.ret {
        Some(ret) if !ret.tuple && checked.returns.len() == 1 => {
            let field = name_of(def, checked.returns[0]);
            quote!(#field.into_result(#flow_name))
        }
        Some(ret) if ret.tuple && checked.returns.len() == 1 => {
            quote!(#ok((#(#returned_values,)*)))
        }
        _ => quote!(#ok((#(#returned_values),*))),
    };
    let (run_doc, run_with_doc, plan_doc) = docs(def);

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
                #[allow(non_camel_case_types, non_snake_case)]
                struct Slots {
                    #(#fields: ::routilux::__private::Slot<#field_types>,)*
                }

                impl ::routilux::__private::Exec for Slots {
                    #[inline]
                    fn run_step(
                        &self,
                        #index: usize,
                        #access: &::routilux::__private::Access,
                    ) -> ::core::result::Result<(), ::routilux::__private::BoxError> {
                        match #index {
                            #(#arms)*
                            _ => {}
                        }
                        ::core::result::Result::Ok(())
                    }

                    #[inline]
                    fn clear(&self, #index: usize, #access: &::routilux::__private::Access) {
                        match #index {
                            #(#clear_arms)*
                            _ => {}
                        }
                    }
                }

                #(#input_checks)*
                let #slots = Slots {
                    #(#input_names: ::routilux::__private::Slot::new(#input_names),)*
                    #(#step_fields: ::routilux::__private::Slot::empty(),)*
                };
                ::routilux::__private::execute(Self::plan(), &#slots, &#options.into())?;
                let Slots { #(#returned,)* .. } = #slots;
                #result
            }

            #plan_doc
            #[must_use]
            #vis fn plan() -> &'static ::routilux::Plan {
                static INPUTS: [::routilux::__private::Cow<'static, str>; #n_inputs] =
                    [#(::routilux::__private::Cow::Borrowed(#static_inputs)),*];
                static STEPS: [::routilux::__private::StepPlan; #n_steps] = [#(#static_steps),*];
                static PLAN: ::routilux::Plan = ::routilux::__private::Plan::__from_static(
                    #flow_name,
                    &INPUTS,
                    &STEPS,
                    &[#(#static_slots),*],
                    &[#(#layers),*],
                );
                &PLAN
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
/// one when every returned name exists, an inferred type parameter otherwise.
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
            def.steps
                .iter()
                .position(|s| s.name == *wanted)
                .map(Source::Step)
        })
    };
    let returns: Option<Vec<Source>> = match &def.ret {
        Some(ret) => ret.names.iter().map(lookup).collect(),
        None => Some(Vec::new()),
    };
    let generic = format_ident!("Output", span = Span::mixed_site());
    let (params, output) = match returns {
        Some(returns) => (quote!(), output_type(def, &returns)),
        None => (quote!(#generic,), quote!(#generic)),
    };
    quote! {
        #(#attrs)*
        #vis struct #name;

        impl #name {
            /// Not available: the flow has errors.
            #vis fn run<#params>(#(_: #input_types),*) -> ::core::result::Result<#output, ::routilux::FlowError> {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #[must_use]
            #vis fn plan() -> &'static ::routilux::Plan {
                ::core::unimplemented!()
            }

            /// Not available: the flow has errors.
            #vis fn run_with<'p, #params>(
                _: impl ::core::convert::Into<::routilux::RunOptions<'p>>,
                #(_: #input_types),*
            ) -> ::core::result::Result<#output, ::routilux::FlowError> {
                ::core::unimplemented!()
            }
        }
    }
}
