//! The expansion a `#[durable]` flow adds: `Name::durable(&store)`, and the `DurableFlow` impl
//! through which `routilux::durable` runs it: its inputs and output as JSON, the types of its
//! slots (for the plan's fingerprint), and a run whose slots save and load each step's result
//! (`DurableSlots`). Every use of a stored type carries the span of the input or step that
//! declares it, so that a type without serde's traits is one error, at its name.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::Gen;
use super::shape::slot_type;
use crate::flow::validate::Source;

impl Gen<'_> {
    /// `impl Name { fn durable }` and `impl DurableFlow for Name`.
    pub(super) fn durable_impl(&self) -> TokenStream {
        let Gen {
            def,
            private,
            options,
            slots,
            brand,
            input_names,
            input_types,
            output,
            ..
        } = self;
        let name = &def.name;
        let vis = &def.vis;
        let state = Ident::new("state", Span::mixed_site());
        let inputs = Ident::new("inputs", Span::mixed_site());
        let d = quote!(#private::durable);
        let inputs_type = match input_types.as_slice() {
            [ty] => quote!(#ty),
            types => quote!((#(#types),*)),
        };
        let bind_inputs = match input_names.as_slice() {
            [one] => quote!(let #one = #inputs;),
            names => quote!(let (#(#names),*) = #inputs;),
        };
        let types = self.durable_types();
        let (encode_inputs, decode_inputs) = self.durable_inputs(&inputs);
        let (encode_output, decode_output) = self.durable_output();
        let exec = self.exec();
        let durable_slots = self.durable_slots();
        let input_checks = self.input_checks();
        let step_checks = self.step_checks();
        let init = self.slots_init();
        let result = self.result();
        let flow_name = &self.flow_name;
        let doc = format!(
            " The durable runs of `{flow_name}` in `store`: start, run and resume them, read \
             them back by id (see `routilux::durable`)."
        );
        quote! {
            impl #name {
                #[doc = #doc]
                #[allow(clippy::self_named_constructors)]
                #vis fn durable(store: &dyn #d::Store) -> #d::Durable<'_, Self> {
                    #d::Durable::new(store)
                }
            }

            impl #d::DurableFlow for #name {
                type Inputs = #inputs_type;
                type Output = #output;

                fn __plan() -> &'static #private::Plan {
                    Self::plan()
                }

                fn __types() -> ::std::vec::Vec<&'static str> {
                    ::std::vec![#(#types),*]
                }

                fn __encode_inputs(#inputs: &Self::Inputs) -> ::core::result::Result<::std::string::String, #d::Error> {
                    #encode_inputs
                }

                fn __decode_inputs(json: &str) -> ::core::result::Result<Self::Inputs, #d::Error> {
                    #decode_inputs
                }

                fn __encode_output(output: &Self::Output) -> ::core::result::Result<::std::string::String, #d::Error> {
                    #encode_output
                }

                fn __decode_output(json: &str) -> ::core::result::Result<Self::Output, #d::Error> {
                    #decode_output
                }

                #[allow(clippy::too_many_lines)]
                fn __run(
                    #state: &#d::RunState<'_>,
                    #options: ::routilux::RunOptions<'_>,
                    #inputs: Self::Inputs,
                ) -> ::core::result::Result<Self::Output, ::routilux::FlowError> {
                    #bind_inputs
                    #exec
                    #durable_slots

                    #(#input_checks)*
                    #(#step_checks)*
                    #init
                    #d::execute(Self::plan(), &#slots, #brand, &#options, #state)?;
                    #result
                }
            }
        }
    }

    /// The span where a stored type's errors are reported: its input's or step's name.
    fn stored_span(&self, source: Source) -> Span {
        match source {
            Source::Input(i) => self.def.inputs[i].name.span(),
            Source::Step(d) => self.def.steps[d].name.span(),
        }
    }

    /// `type_name` of every input's and step's type, in plan order.
    fn durable_types(&self) -> Vec<TokenStream> {
        let def = self.def;
        (0..def.inputs.len())
            .map(Source::Input)
            .chain(self.checked.order.iter().map(|&d| Source::Step(d)))
            .map(|source| {
                let ty = slot_type(def, source);
                let check = quote_spanned!(self.stored_span(source)=>
                    ::routilux::__private::durable::assert_checkpointable::<#ty>);
                quote!({ #check(); ::core::any::type_name::<#ty>() })
            })
            .collect()
    }

    /// Encoding and decoding `values` (each a JSON value of `source`'s type) as a JSON array.
    fn durable_list(
        &self,
        values: &[(TokenStream, Source)],
        whole: impl FnOnce(Vec<TokenStream>) -> TokenStream,
    ) -> (TokenStream, TokenStream) {
        let d = quote!(::routilux::__private::durable);
        let n = values.len();
        let encode = values.iter().map(|(value, source)| {
            let ty = slot_type(self.def, *source);
            quote_spanned!(self.stored_span(*source)=> (&#d::Json::<#ty>::new()).encode_value(#value)?)
        });
        let decoded = values
            .iter()
            .map(|(_, source)| {
                let ty = slot_type(self.def, *source);
                quote_spanned!(self.stored_span(*source)=>
                    (&#d::Json::<#ty>::new()).decode_value(values.next().unwrap_or(#d::Value::Null))?)
            })
            .collect();
        let whole = whole(decoded);
        (
            quote! {
                #[allow(unused_imports)]
                use #d::{NotSerde as _, ViaSerde as _};
                ::core::result::Result::Ok(#d::list_to_json(::std::vec![#(#encode),*]))
            },
            quote! {
                #[allow(unused_imports)]
                use #d::{NotSerde as _, ViaSerde as _};
                #[allow(unused_mut, unused_variables)]
                let mut values = #d::list_from_json(json, #n)?;
                ::core::result::Result::Ok(#whole)
            },
        )
    }

    /// The inputs as a JSON array, and back.
    fn durable_inputs(&self, inputs: &Ident) -> (TokenStream, TokenStream) {
        let n = self.def.inputs.len();
        let values: Vec<(TokenStream, Source)> = (0..n)
            .map(|i| {
                let index = syn::Index::from(i);
                let value = if n == 1 {
                    quote!(#inputs)
                } else {
                    quote!(&#inputs.#index)
                };
                (value, Source::Input(i))
            })
            .collect();
        self.durable_list(&values, |decoded| match decoded.as_slice() {
            [one] => one.clone(),
            all => quote!((#(#all),*)),
        })
    }

    /// The output as a JSON array of the returned values, and back.
    fn durable_output(&self) -> (TokenStream, TokenStream) {
        let returns = &self.checked.returns;
        let single = matches!(&self.def.ret, Some(ret) if !ret.tuple && returns.len() == 1);
        let values: Vec<(TokenStream, Source)> = returns
            .iter()
            .enumerate()
            .map(|(i, &source)| {
                let index = syn::Index::from(i);
                let value = if single {
                    quote!(output)
                } else {
                    quote!(&output.#index)
                };
                (value, source)
            })
            .collect();
        self.durable_list(&values, |decoded| {
            if single {
                decoded[0].clone()
            } else {
                quote!((#(#decoded,)*))
            }
        })
    }

    /// `impl DurableSlots for Slots`: each step's result as JSON, by plan index, and back.
    fn durable_slots(&self) -> TokenStream {
        let Gen {
            def,
            checked,
            layout,
            private,
            access,
            index,
            group_fields,
            ..
        } = self;
        let d = quote!(#private::durable);
        let (saves, loads): (Vec<_>, Vec<_>) = checked
            .order
            .iter()
            .enumerate()
            .map(|(pos, &step)| {
                let (g, k) = layout.step_place[pos];
                let field = &group_fields[g];
                let source = Source::Step(step);
                let ty = slot_type(def, source);
                let span = self.stored_span(source);
                let json = quote_spanned!(span=> (&#d::Json::<#ty>::new()));
                (
                    quote!(#pos => #json.encode_json(self.#field[#k].get(#access)),),
                    quote!(#pos => self.#field[#k].set(#access, #json.decode_json(json)?),),
                )
            })
            .unzip();
        let unknown = format_ident!("unknown_step");
        quote! {
            #[allow(unused_imports)]
            use #d::{NotSerde as _, ViaSerde as _};

            impl #d::DurableSlots for Slots {
                fn save(
                    &self,
                    #index: usize,
                    #access: &#private::Access<'_>,
                ) -> ::core::result::Result<::std::string::String, #d::Error> {
                    match #index {
                        #(#saves)*
                        _ => ::core::result::Result::Err(#d::#unknown(#index)),
                    }
                }

                fn load(
                    &self,
                    #index: usize,
                    json: &str,
                    #access: &mut #private::Access<'_>,
                ) -> ::core::result::Result<(), #d::Error> {
                    match #index {
                        #(#loads)*
                        _ => return ::core::result::Result::Err(#d::#unknown(#index)),
                    }
                    ::core::result::Result::Ok(())
                }
            }
        }
    }
}
