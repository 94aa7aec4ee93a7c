//! The `Slots` type's methods and its `Exec` impl: how the engine in `routilux` runs, undoes,
//! compensates, starts, skips and clears each step by its index in the plan, through static
//! tables of the per-kind functions (`DISPATCH`) and of the per-slot clear functions (`CLEAR`),
//! and the straight-line form of the whole flow.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Gen;
use super::conditions::Skips;
use super::kinds::Kinds;
use super::shape::slot_type;
use crate::flow::straight::Straight;
use crate::flow::validate::Source;

impl Gen<'_> {
    /// The `Slots` struct with its methods, its tables and its `Exec` impl.
    pub(super) fn exec(&self) -> TokenStream {
        let Gen {
            def,
            private,
            access,
            index,
            ..
        } = self;
        let slots_struct = self.slots_struct();
        let Kinds {
            tables: kind_tables,
            fns: kind_fns,
        } = self.kinds();
        let Skips {
            fns: skip_fns,
            arms: skip_arms,
        } = self.skips();
        let clear_fns = self.clear_fns();
        let straight = self.straight();
        let dispatch = self.layout.dispatch.iter().map(|&(k, r)| {
            let function = format_ident!("k{}", k);
            let undo = format_ident!("u{}", k);
            let compensate = format_ident!("p{}", k);
            let start = format_ident!("f{}", k);
            let later = format_ident!("l{}", k);
            let r = r as u32;
            quote!((Slots::#function, Slots::#undo, Slots::#compensate, Slots::#start, #r, Slots::#later))
        });
        let clears = self.clear_rows();
        let n_slots = def.inputs.len() + def.steps.len();
        let n_steps = def.steps.len();
        quote! {
            #slots_struct

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
            type UndoLater = for<'s> fn(&'s Slots, u32, &'s #private::Access<'_>) -> ::core::option::Option<#private::StepFuture<'s>>;
            static DISPATCH: [(Call, Undo, Compensate, Start, u32, UndoLater); #n_steps] = [#(#dispatch),*];
            static CLEAR: [(Clear, u32); #n_slots] = [#(#clears),*];

            impl #private::Exec for Slots {
                #[inline]
                fn run_step(
                    &self,
                    #index: usize,
                    #access: &mut #private::Access<'_>,
                ) -> ::core::result::Result<(), #private::BoxError> {
                    let (call, _, _, _, row, _) = DISPATCH[#index];
                    call(self, row, #access)
                }

                fn undo_step(
                    &self,
                    #index: usize,
                    #access: &#private::Access<'_>,
                ) -> ::core::result::Result<(), #private::BoxError> {
                    let (_, undo, _, _, row, _) = DISPATCH[#index];
                    undo(self, row, #access)
                }

                fn undo_step_later<'s>(
                    &'s self,
                    #index: usize,
                    #access: &'s #private::Access<'_>,
                ) -> ::core::option::Option<#private::StepFuture<'s>> {
                    let (_, _, _, _, row, later) = DISPATCH[#index];
                    later(self, row, #access)
                }

                fn compensate(
                    &self,
                    #index: usize,
                    error: &#private::BoxError,
                    #access: &mut #private::Access<'_>,
                ) -> #private::Decision {
                    let (_, _, compensate, _, row, _) = DISPATCH[#index];
                    compensate(self, row, error, #access)
                }

                fn start_step<'s>(
                    &'s self,
                    #index: usize,
                    step: #private::StepAccess<'s>,
                    ctx: &'s #private::Context,
                ) -> #private::StepFuture<'s> {
                    let (_, _, _, start, row, _) = DISPATCH[#index];
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
        }
    }

    /// The body of `Slots::straight`: every step called in plan order, with values in locals
    /// where every step is a plain call (see `locals`), in slots otherwise (see [`Straight`]).
    fn straight(&self) -> TokenStream {
        if self.locals_fit() {
            return self.straight_locals();
        }
        let Gen {
            def,
            checked,
            layout,
            access,
            ..
        } = self;
        Straight {
            calls: layout
                .dispatch
                .iter()
                .map(|&(k, r)| (k, u32::try_from(r).unwrap_or(u32::MAX)))
                .collect(),
            clears: (0..def.inputs.len())
                .map(|i| (i, 0))
                .chain(
                    layout.step_place.iter().map(|&(g, k)| {
                        (def.inputs.len() + g, u32::try_from(k).unwrap_or(u32::MAX))
                    }),
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
        .body(access)
    }
}
