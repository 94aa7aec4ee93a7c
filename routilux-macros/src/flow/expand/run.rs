//! The flow's run functions: the public `run`, `run_with`, `run_async` and `run_async_with`,
//! and the private `__run` they all call, which makes the slots of a run, hands them to the
//! engine in `routilux` (directly, nested in another flow, or as a future) and takes the
//! returned values out.

use proc_macro2::TokenStream;
use quote::quote;

use super::Gen;
use super::docs::{async_docs, run_docs};

impl Gen<'_> {
    /// `run`, `run_with`, `run_async` and `run_async_with`.
    pub(super) fn run_fns(&self) -> TokenStream {
        let Gen {
            def,
            private,
            options,
            input_names,
            input_types,
            output,
            ..
        } = self;
        let vis = &def.vis;
        let (run_doc, run_with_doc) = run_docs(def);
        let (run_async_doc, run_async_with_doc) = async_docs(def);
        quote! {
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
        }
    }

    /// `__run`: the `Slots` type and its `Exec` impl, the checks, then the run in its mode.
    pub(super) fn inner_run_fn(&self) -> TokenStream {
        let Gen {
            private,
            options,
            nested,
            slots,
            brand,
            input_names,
            input_types,
            output,
            ..
        } = self;
        let exec = self.exec();
        let input_checks = self.input_checks();
        let step_checks = self.step_checks();
        let init = self.slots_init();
        let result = self.result();
        quote! {
            /// Runs the flow: called directly, as a step of another flow (a sub-flow, see
            /// `routilux::__private::execute_nested`), or as a future.
            #[allow(clippy::too_many_lines)]
            fn __run<'p>(
                #options: ::routilux::RunOptions<'p>,
                #nested: #private::Mode,
                #(#input_names: #input_types),*
            ) -> #private::Outcome<'p, #output> {
                #exec

                #(#input_checks)*
                #(#step_checks)*
                #init
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
        }
    }

    /// The value `__run` returns: the returned slots' values, taken out of the finished run.
    pub(super) fn result(&self) -> TokenStream {
        let Gen { def, checked, .. } = self;
        let ok = quote!(::core::result::Result::Ok);
        match &def.ret {
            Some(ret) if !ret.tuple && checked.returns.len() == 1 => self.take(checked.returns[0]),
            Some(ret) if ret.tuple && checked.returns.len() == 1 => {
                let value = self.take(checked.returns[0]);
                quote!(#ok((#value?,)))
            }
            _ => {
                let values = checked.returns.iter().map(|&s| self.take(s));
                quote!(#ok((#(#values?),*)))
            }
        }
    }
}
