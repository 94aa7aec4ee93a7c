//! Compile-time checks emitted as items, each at the user's tokens: inputs must cross threads,
//! a `timeout` needs an async routine, and `batch` needs a sync one.
//! Items (not inline `const` blocks), so that `cargo check` evaluates them too.

use proc_macro2::TokenStream;
use quote::quote_spanned;

use super::Gen;

impl Gen<'_> {
    /// Inputs must cross threads; say so at the input's type.
    pub(super) fn input_checks(&self) -> Vec<TokenStream> {
        let private = &self.private;
        self.input_types
            .iter()
            .map(
                |ty| quote_spanned!(syn::spanned::Spanned::span(ty)=> #private::assert_shareable::<#ty>();),
            )
            .collect()
    }

    /// The checks of steps' options and routines: timeouts first, then batches (declaration
    /// order).
    pub(super) fn step_checks(&self) -> Vec<TokenStream> {
        let def = self.def;
        let private = &self.private;
        let mut checks = Vec::new();
        // A timeout can only stop an async step: evaluated by `cargo check` (an item).
        for step in &def.steps {
            if let Some((key, _)) = step.options.list.iter().find(|(k, _)| k == "timeout") {
                let routine = &step.routine;
                let message = format!(
                    "`timeout` on step `{}` needs an async routine: a plain `fn` cannot be stopped once it runs",
                    step.name
                );
                checks.push(quote_spanned! {key.span()=>
                    const _: () = ::core::assert!(
                        <#routine as #private::Routine>::POLICY.is_async(),
                        #message,
                    );
                });
            }
        }
        // An async routine's elements are futures started one by one: a batch means nothing.
        for step in &def.steps {
            if let Some((key, _)) = step.options.list.iter().find(|(k, _)| k == "batch") {
                let routine = &step.routine;
                let message = format!(
                    "`batch` on step `{}` needs a plain `fn` routine: an async routine's elements are futures, started one by one; bound them with `max_concurrency`",
                    step.name
                );
                checks.push(quote_spanned! {key.span()=>
                    const _: () = ::core::assert!(
                        !<#routine as #private::Routine>::POLICY.is_async(),
                        #message,
                    );
                });
            }
        }
        checks
    }
}
