//! The conditions of conditional steps (`if NAME`): one `s{pos}` function per such step, as
//! `Exec::skip` and the straight line ask it, which stores `None` for a skipped step.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::Gen;
use crate::flow::validate::Source;

/// The skip functions and the arms of `Exec::skip` that call them.
pub(super) struct Skips {
    pub fns: Vec<TokenStream>,
    pub arms: Vec<TokenStream>,
}

impl Gen<'_> {
    /// The field of `Slots` that holds an input's or step's value, at `span`.
    fn slot_field(&self, source: Source, span: Span) -> TokenStream {
        match source {
            Source::Input(i) => {
                let field = &self.input_fields[i];
                quote_spanned!(span=> self.#field)
            }
            Source::Step(d) => {
                let pos = self.checked.order.iter().position(|&o| o == d).unwrap_or(0);
                let (g, k) = self.layout.step_place[pos];
                let field = &self.group_fields[g];
                quote_spanned!(span=> self.#field[#k])
            }
        }
    }

    pub(super) fn skips(&self) -> Skips {
        let Gen {
            def,
            checked,
            private,
            access,
            ..
        } = self;
        let mut arms = Vec::new();
        let fns = checked
            .order
            .iter()
            .enumerate()
            .filter_map(|(pos, &decl)| {
                let (source, negated) = checked.conditions[decl]?;
                let condition = def.steps[decl].condition.as_ref()?;
                let function = format_ident!("s{}", pos);
                let span = condition.name.span();
                let flag = self.slot_field(source, span);
                let out = self.slot_field(Source::Step(decl), Span::call_site());
                let test = if negated {
                    quote!(*flag)
                } else {
                    quote!(!*flag)
                };
                arms.push(quote!(#pos => self.#function(#access),));
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
        Skips { fns, arms }
    }
}
