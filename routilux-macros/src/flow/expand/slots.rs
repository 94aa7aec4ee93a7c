//! The generated `Slots` struct, where a run stores its values: a field per input, an array per
//! routine group, and per map group which elements came from compensation; how its fields are
//! cleared, and how they are made at the start of a run.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use super::Gen;
use super::shape::{shape, slot_type};
use crate::flow::validate::Source;

impl Gen<'_> {
    /// The number of steps in each routine group.
    fn group_lens(&self) -> Vec<usize> {
        (0..self.layout.groups.len())
            .map(|g| {
                self.layout
                    .step_place
                    .iter()
                    .filter(|(sg, _)| *sg == g)
                    .count()
            })
            .collect()
    }

    /// Per map group: the field `m{g}` that records which elements of each step's result came
    /// from compensation, and the group's length.
    fn map_groups(&self) -> Vec<(Ident, usize)> {
        let group_lens = self.group_lens();
        self.layout
            .groups
            .iter()
            .enumerate()
            .filter(|&(_, &d)| shape(self.def, d).map)
            .map(|(g, _)| (format_ident!("m{}", g), group_lens[g]))
            .collect()
    }

    /// `struct Slots { ... }`.
    pub(super) fn slots_struct(&self) -> TokenStream {
        let Gen {
            def,
            private,
            input_types,
            input_fields,
            group_fields,
            layout,
            ..
        } = self;
        let group_types: Vec<TokenStream> = layout
            .groups
            .iter()
            .map(|&d| slot_type(def, Source::Step(d)))
            .collect();
        let group_lens = self.group_lens();
        let kept_fields = self
            .map_groups()
            .into_iter()
            .map(|(f, len)| quote!(#f: [#private::OnceLock<::std::boxed::Box<[usize]>>; #len],));
        quote! {
            struct Slots {
                #(#input_fields: #private::Slot<#input_types>,)*
                #(#group_fields: [#private::Slot<#group_types>; #group_lens],)*
                #(#kept_fields)*
            }
        }
    }

    /// The slots of a new run: per group, the table of its rows' indices in the plan (`S{g}`),
    /// then `let mut slots = Slots { ... };`, which moves the inputs in.
    pub(super) fn slots_init(&self) -> TokenStream {
        let Gen {
            def,
            layout,
            private,
            slots,
            brand,
            input_names,
            input_fields,
            group_fields,
            ..
        } = self;
        let input_indices = (0..def.inputs.len()).map(|i| u32::try_from(i).unwrap_or(u32::MAX));
        let group_slots: Vec<Ident> = (0..layout.groups.len())
            .map(|g| format_ident!("S{}", g))
            .collect();
        let group_slot_tables = group_slots.iter().enumerate().map(|(g, table)| {
            let mut rows: Vec<(usize, u32)> = layout
                .step_place
                .iter()
                .enumerate()
                .filter(|&(_, &(sg, _))| sg == g)
                .map(|(pos, &(_, k))| {
                    (k, u32::try_from(def.inputs.len() + pos).unwrap_or(u32::MAX))
                })
                .collect();
            rows.sort_unstable();
            let indices = rows.iter().map(|&(_, slot)| slot);
            let len = rows.len();
            quote!(static #table: [u32; #len] = [#(#indices),*];)
        });
        let kept_inits = self
            .map_groups()
            .into_iter()
            .map(|(f, _)| quote!(#f: ::core::array::from_fn(|_| #private::OnceLock::new()),));
        quote! {
            // Slots know their run and their index in the plan; see `Slot`.
            #(#group_slot_tables)*
            let #brand = #private::Brand::new();
            let mut #slots = Slots {
                #(#input_fields: #private::Slot::new(&#brand, #input_indices, #input_names),)*
                #(#group_fields: ::core::array::from_fn(|k| #private::Slot::empty(&#brand, #group_slots[k])),)*
                #(#kept_inits)*
            };
        }
    }

    /// One function per input and per group, `c{n}`, that drops the value of a slot.
    pub(super) fn clear_fns(&self) -> Vec<TokenStream> {
        let Gen {
            def,
            private,
            access,
            row,
            input_fields,
            group_fields,
            ..
        } = self;
        input_fields.iter().chain(group_fields).enumerate().map(|(n, field)| {
            let function = format_ident!("c{}", n);
            if n < def.inputs.len() {
                quote!(fn #function(&self, _: u32, #access: &mut #private::Access<'_>) { self.#field.clear(#access); })
            } else {
                quote!(fn #function(&self, #row: u32, #access: &mut #private::Access<'_>) { self.#field[#row as usize].clear(#access); })
            }
        }).collect()
    }

    /// Per slot: its clear function and row, the entries of the table `CLEAR`.
    pub(super) fn clear_rows(&self) -> Vec<TokenStream> {
        let def = self.def;
        (0..def.inputs.len())
            .map(|i| (i, 0usize))
            .chain(
                self.layout
                    .step_place
                    .iter()
                    .map(|&(g, k)| (def.inputs.len() + g, k)),
            )
            .map(|(n, r)| {
                let function = format_ident!("c{}", n);
                let r = r as u32;
                quote!((Slots::#function, #r))
            })
            .collect()
    }

    /// The expression that moves an input's or step's value out of the finished run.
    pub(super) fn take(&self, source: Source) -> TokenStream {
        let Gen {
            checked,
            layout,
            slots,
            flow_name,
            input_fields,
            group_fields,
            ..
        } = self;
        match source {
            Source::Input(i) => {
                let field = &input_fields[i];
                quote!(#slots.#field.take_result(#flow_name))
            }
            Source::Step(d) => {
                let pos = checked.order.iter().position(|&o| o == d).unwrap_or(0);
                let (g, k) = layout.step_place[pos];
                let field = &group_fields[g];
                quote!(#slots.#field[#k].take_result(#flow_name))
            }
        }
    }
}
