//! The bodies of a kind's undo (`u{n}`) and compensation (`p{n}`) functions: what a step's
//! stored result takes to be undone, and what the routine's `Compensation` does to it, per
//! [`Shape`].

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use super::Gen;
use super::layout::Kind;
use super::shape::{Shape, shape};

impl Gen<'_> {
    /// The undo and compensate bodies of `kind`, whose rows are in `table`, the result's cell
    /// last (`out_cell`).
    pub(super) fn recovery(
        &self,
        kind: &Kind,
        table: &Ident,
        out_cell: usize,
    ) -> (TokenStream, TokenStream, TokenStream) {
        let Gen {
            def,
            private,
            access,
            row,
            group_fields,
            ..
        } = self;
        let routine = &def.steps[kind.first].routine;
        let Shape { map, conditional } = shape(def, kind.first);
        let out_field = &group_fields[kind.group];
        let kept_field = format_ident!("m{}", kind.group);
        let out = quote!(&self.#out_field[#table[#row as usize][#out_cell] as usize]);
        let kept = quote!(&self.#kept_field[#table[#row as usize][#out_cell] as usize]);
        // An async undo's future (for a run owned by a future); map steps await their
        // elements' undos one by one.
        let later = match (map, conditional) {
            (false, false) => {
                quote!(<#routine as #private::Routine>::undo_slot_later(#out, #access))
            }
            (false, true) => quote! {
                match (#out).get(#access) {
                    ::core::option::Option::Some(value) => <#routine as #private::Routine>::undo_later(value),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            },
            (true, false) => quote! {
                #private::undo_each_later((#out).get(#access), <#routine as #private::Routine>::undo_later, <#routine as #private::Routine>::undo, #kept)
            },
            (true, true) => quote! {
                match (#out).get(#access) {
                    ::core::option::Option::Some(values) => #private::undo_each_later(values, <#routine as #private::Routine>::undo_later, <#routine as #private::Routine>::undo, #kept),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            },
        };
        let (undo, compensate) = match (map, conditional) {
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
        (undo, compensate, later)
    }
}
