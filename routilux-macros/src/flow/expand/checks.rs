//! Compile-time checks emitted as items, each at the user's tokens: inputs must cross threads,
//! a `timeout` needs an async routine, and an async routine cannot be mapped with `each`.
//! Items (not inline `const` blocks), so that `cargo check` evaluates them too.

use proc_macro2::TokenStream;
use quote::quote_spanned;

use super::Gen;
use super::shape::{routine_span, shape};

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

    /// The checks of steps' options and routines: timeouts first (declaration order), then
    /// one per map kind.
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
        for kind in &self.layout.kinds {
            if !shape(def, kind.first).map {
                continue;
            }
            let routine = &def.steps[kind.first].routine;
            // Evaluated by `cargo check` too (an item, not an inline `const` block).
            checks.push(quote_spanned! {routine_span(def, kind.first)=>
                const _: () = ::core::assert!(
                    !<#routine as #private::Routine>::POLICY.is_async(),
                    "an async routine cannot be mapped with `each` yet: map inside the routine, or make it a plain `fn`",
                );
            });
        }
        checks
    }
}
