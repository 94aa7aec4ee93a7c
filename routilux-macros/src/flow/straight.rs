//! The straight-line form of a flow: every step called in plan order, each value dropped right
//! after its last reader, generated from the same checked plan as the engine's tables. The
//! engine uses it for runs that one thread carries out anyway (`Schedule::Sequential`, chains)
//! when no step needs the engine's guarded path; it has the engine's semantics by
//! construction, and the property tests compare the two on random flows. This is the form
//! with values in slots; a flow of plain calls keeps them in locals instead
//! (`expand/locals.rs`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::validate::Checked;

/// Per slot: the plan position of the last step that reads it, if any.
pub(super) fn last_readers(checked: &Checked) -> Vec<Option<usize>> {
    let mut last = vec![None; checked.slots.len()];
    for (pos, reads) in checked.reads.iter().enumerate() {
        for &slot in reads {
            last[slot as usize] = Some(pos);
        }
    }
    last
}

/// What the straight-line body needs from the expansion.
pub(super) struct Straight<'a> {
    /// Per plan position: the step's kind function and its row.
    pub calls: Vec<(usize, u32)>,
    /// Per slot: the clear function and its row.
    pub clears: Vec<(usize, u32)>,
    /// Per slot: its value type.
    pub types: Vec<TokenStream>,
    /// Per plan position: whether the step has a condition (asked first, `s{pos}`).
    pub conditional: Vec<bool>,
    pub inputs: usize,
    pub checked: &'a Checked,
}

impl Straight<'_> {
    /// The body of `Exec::run_straight` for the generated `Slots`.
    pub(super) fn body(&self, access: &syn::Ident) -> TokenStream {
        let checked = self.checked;
        let last_reader = last_readers(checked);
        let clear = |slot: usize| {
            let (function, row) = self.clears[slot];
            let function = format_ident!("c{}", function);
            let ty = &self.types[slot];
            let slot = u32::try_from(slot).unwrap_or(u32::MAX >> 1);
            quote! {
                if ::core::mem::needs_drop::<#ty>() {
                    #access.enter_clear(#slot);
                    Slots::#function(self, #row, #access);
                }
            }
        };
        let unread = |slot: usize| checked.slots[slot].0 == 0 && !checked.slots[slot].1;
        let mut body = Vec::new();
        for input in 0..self.inputs {
            if unread(input) {
                body.push(clear(input));
            }
        }
        for (pos, &(kind, row)) in self.calls.iter().enumerate() {
            let function = format_ident!("k{}", kind);
            let pos32 = u32::try_from(pos).unwrap_or(u32::MAX);
            if self.conditional[pos] {
                let skip = format_ident!("s{}", pos);
                body.push(quote! {
                    #access.enter_step(#pos32);
                    if !Slots::#skip(self, #access) {
                        Slots::#function(self, #row, #access)?;
                    }
                });
            } else {
                body.push(quote! {
                    #access.enter_step(#pos32);
                    Slots::#function(self, #row, #access)?;
                });
            }
            for &slot in &checked.reads[pos] {
                let slot = slot as usize;
                if last_reader[slot] == Some(pos) && !checked.slots[slot].1 {
                    body.push(clear(slot));
                }
            }
            if unread(self.inputs + pos) {
                body.push(clear(self.inputs + pos));
            }
        }
        quote!(#(#body)*)
    }
}
