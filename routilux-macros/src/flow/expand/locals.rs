//! The straight-line form of a flow whose steps are all plain calls (no `each`, no `if`):
//! every step's value lives in a local (`Held`) instead of its slot, so a chain of trivial
//! steps costs about what the hand-written calls cost. Same plan, same order and same drops as
//! the slot form ([`Straight`](crate::flow::straight::Straight)): each value is dropped right
//! after its last reader, the returned ones are stored in their slots at the end for `run` to
//! take, and a failed or panicking step drops every value held (see `Held`).
//!
//! Each call is spelled with the spans of its kind's first step, as the engine's call `k{n}`
//! is, so a type mismatch gives the compiler the same diagnostic twice, which it reports once.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::Gen;
use super::shape::{routine_span, shape};
use crate::flow::ast::Arg;
use crate::flow::straight::last_readers;
use crate::flow::validate::{ArgRef, Source};

impl Gen<'_> {
    /// Whether every step is a plain call, so the straight line can keep values in locals, and
    /// few enough values are held at once: each step's call can fail or unwind, and each such
    /// exit drops every value held there, so the code grows with their sum over the steps
    /// (quadratic for a wide fan-out, which then keeps its values in slots; a chain holds one
    /// or two at a time).
    pub(super) fn locals_fit(&self) -> bool {
        /// The most values held, summed over the steps' exits.
        const BUDGET: usize = 4096;
        let checked = self.checked;
        let plain = (0..self.def.steps.len()).all(|d| {
            let s = shape(self.def, d);
            !s.map && !s.conditional
        });
        if !plain {
            return false;
        }
        let inputs = self.def.inputs.len();
        let steps = checked.order.len();
        let last_reader = last_readers(checked);
        // Per step: the last step whose exit holds its value (its last reader, itself if
        // nobody reads it, the end if it is returned).
        let until = (0..steps).map(|producer| {
            if checked.slots[inputs + producer].1 {
                steps
            } else {
                last_reader[inputs + producer].unwrap_or(producer)
            }
        });
        // A value is held at the exits of the steps after its own, up to its last reader.
        let held: usize = until
            .enumerate()
            .map(|(producer, last)| last.min(steps - 1).saturating_sub(producer))
            .sum();
        held <= BUDGET
    }

    /// The body of `Slots::straight` with values in locals.
    pub(super) fn straight_locals(&self) -> TokenStream {
        let Gen {
            def,
            checked,
            layout,
            access,
            private,
            input_fields,
            group_fields,
            ..
        } = self;
        let inputs = def.inputs.len();
        let last_reader = last_readers(checked);
        let unread = |slot: usize| checked.slots[slot].0 == 0 && !checked.slots[slot].1;
        // Named at the call site, not `mixed_site`: an argument's use of a local carries the
        // user's span (and so context) for its diagnostics, and must resolve to the same name.
        let local = |slot: usize| format_ident!("routilux_v{}", slot);
        let slot_of = |source: Source| match source {
            Source::Input(i) => i,
            Source::Step(d) => inputs + checked.order.iter().position(|&o| o == d).unwrap_or(0),
        };
        let drop_slot = |slot: usize| {
            let slot32 = u32::try_from(slot).unwrap_or(u32::MAX >> 1);
            if slot < inputs {
                let clear = format_ident!("c{}", slot);
                let ty = &def.inputs[slot].ty;
                quote! {
                    if ::core::mem::needs_drop::<#ty>() {
                        #access.enter_clear(#slot32);
                        Slots::#clear(self, 0, #access);
                    }
                }
            } else {
                let value = local(slot);
                quote! {
                    if #private::Held::needs_drop(&#value) {
                        #access.enter_clear(#slot32);
                    }
                    #private::Held::release(#value);
                }
            }
        };
        let mut body: Vec<TokenStream> =
            (0..inputs).filter(|&i| unread(i)).map(drop_slot).collect();
        for (pos, &decl) in checked.order.iter().enumerate() {
            let kind = &layout.kinds[layout.dispatch[pos].0];
            let first = &def.steps[kind.first];
            let args = checked.args[decl].iter().enumerate().map(|(a, arg)| {
                let span = first.args[a].span();
                match *arg {
                    ArgRef::Value(Source::Input(i)) => {
                        let field = &input_fields[i];
                        quote_spanned!(span=> self.#field.get(#access))
                    }
                    ArgRef::Value(source) => {
                        // At the argument, so a type mismatch is reported there alone.
                        let value = format_ident!("routilux_v{}", slot_of(source), span = span);
                        quote_spanned!(span=> #value.get())
                    }
                    ArgRef::Const(c) => match &def.steps[decl].args[c] {
                        Arg::Const(tokens, span) => quote_spanned!(*span=> &#tokens),
                        _ => unreachable!("a constant argument is written as one"),
                    },
                    ArgRef::Each(_) => unreachable!("`locals_fit` leaves out map steps"),
                }
            });
            let routine = &first.routine;
            let call = quote_spanned!(routine_span(def, kind.first)=>
                #private::settle_now(<#routine as #private::Routine>::finish, <#routine as #private::Routine>::CALL(#(#args),*))
            );
            let pos32 = u32::try_from(pos).unwrap_or(u32::MAX);
            let value = local(inputs + pos);
            body.push(quote! {
                #access.enter_step(#pos32);
                #value = #private::Held::new(#call?);
            });
            for &slot in &checked.reads[pos] {
                let slot = slot as usize;
                if last_reader[slot] == Some(pos) && !checked.slots[slot].1 {
                    body.push(drop_slot(slot));
                }
            }
            if unread(inputs + pos) {
                body.push(drop_slot(inputs + pos));
            }
        }
        for (pos, &(group, cell)) in layout.step_place.iter().enumerate() {
            if checked.slots[inputs + pos].1 {
                let field = &group_fields[group];
                let value = local(inputs + pos);
                body.push(quote! {
                    self.#field[#cell].set(#access, #private::Held::into_inner(#value));
                });
            }
        }
        // Declared together and assigned once each: a `let` per value would nest a scope per
        // step, which the debug info of a long flow cannot take (LLVM recurses per scope).
        let values = (inputs..checked.slots.len()).map(local);
        quote! {
            let (#(#values,)*);
            #(#body)*
        }
    }
}
