//! The static plan handed to the engine in `routilux`: the `StepPlan` and `SlotPlan` tables,
//! the layers, and the flow's `plan()` and `graph()`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::Gen;
use super::docs::plan_doc;
use super::shape::{Shape, path_string, routine_span, shape, slot_type, step_policy};
use crate::flow::ast::FlowDef;
use crate::flow::validate::{ArgRef, Checked, Source};

impl Gen<'_> {
    /// `plan()` and `graph()`.
    pub(super) fn plan_fns(&self) -> TokenStream {
        let Gen {
            def,
            checked,
            private,
            flow_name,
            input_names,
            ..
        } = self;
        let vis = &def.vis;
        let plan_doc = plan_doc(def);
        let n_steps = def.steps.len();
        let static_inputs = input_names.iter().map(|n| n.to_string());
        let static_steps = checked.order.iter().enumerate().map(|(pos, &decl)| {
            let step = &def.steps[decl];
            let step_name = step.name.to_string();
            let routine = path_string(&step.routine);
            let deps = checked.deps[pos];
            let reads = &checked.reads[pos];
            let succs = &checked.succs[pos];
            let mut policy = step_policy(def, decl);
            let Shape { map, conditional } = shape(def, decl);
            if map {
                policy = quote!(#policy.__map_step());
            }
            if conditional {
                policy = quote!(#policy.__conditional());
            }
            let doc = &step.doc;
            let routine_path = &step.routine;
            let nested = quote_spanned!(routine_span(def, decl)=>
                <#routine_path as ::routilux::__private::Routine>::SUBFLOW
            );
            let (after, condition) = plan_extras(def, checked, decl, reads);
            quote!(#private::StepPlan::__from_static(#step_name, #routine, #deps, &[#(#reads),*], &[#(#succs),*], #policy, #doc)
                .__nested(#nested)
                .__after(&[#(#after),*])
                #condition)
        });
        let slot_types = (0..def.inputs.len())
            .map(Source::Input)
            .chain(checked.order.iter().map(|&d| Source::Step(d)))
            .map(|s| slot_type(def, s));
        // An undoable step's result is kept until the run ends, for its undo.
        let undoable = (0..def.inputs.len())
            .map(|_| None)
            .chain(checked.order.iter().map(|&d| Some(&def.steps[d].routine)));
        let static_slots = checked.slots.iter().zip(slot_types).zip(undoable).map(
            |((&(consumers, kept), ty), routine)| {
                // `kept` here means returned; an undoable step's result is kept too.
                let undo = match routine {
                    Some(routine) => quote!(<#routine as #private::Routine>::POLICY.is_undoable()),
                    None => quote!(false),
                };
                quote!(#private::SlotPlan::__new(#consumers, #undo, ::core::mem::needs_drop::<#ty>(), #kept))
            },
        );
        let layers = &checked.layers;
        let flow_doc = &def.doc;
        let n_inputs = def.inputs.len();

        quote! {
            #plan_doc
            #[must_use]
            #vis fn plan() -> &'static ::routilux::Plan {
                static INPUTS: [#private::Cow<'static, str>; #n_inputs] =
                    [#(#private::Cow::Borrowed(#static_inputs)),*];
                static STEPS: [#private::StepPlan; #n_steps] = [#(#static_steps),*];
                static PLAN: ::routilux::Plan = #private::Plan::__from_static(
                    #flow_name,
                    &INPUTS,
                    &STEPS,
                    &[#(#static_slots),*],
                    &[#(#layers),*],
                    #flow_doc,
                );
                &PLAN
            }

            /// The flow's static description, for pictures (DOT, Mermaid) and tools.
            #[must_use]
            #vis fn graph() -> ::routilux::Graph {
                Self::plan().graph()
            }
        }
    }
}

/// What the graph of a step needs besides its reads: the slots it only waits for (`after`,
/// not also an argument or its condition), and its condition (`.__condition(slot, negated)`).
fn plan_extras(
    def: &FlowDef,
    checked: &Checked,
    decl: usize,
    reads: &[u32],
) -> (Vec<u32>, TokenStream) {
    let slot_of = |source: Source| match source {
        Source::Input(i) => u32::try_from(i).unwrap_or(u32::MAX),
        Source::Step(d) => {
            let pos = checked.order.iter().position(|&o| o == d).unwrap_or(0);
            u32::try_from(def.inputs.len() + pos).unwrap_or(u32::MAX)
        }
    };
    let condition = checked.conditions[decl].map(|(source, negated)| (slot_of(source), negated));
    let args: Vec<u32> = checked.args[decl]
        .iter()
        .filter_map(|arg| match *arg {
            ArgRef::Value(s) | ArgRef::Each(s) => Some(slot_of(s)),
            ArgRef::Const(_) => None,
        })
        .chain(condition.map(|(slot, _)| slot))
        .collect();
    let after = reads
        .iter()
        .copied()
        .filter(|r| !args.contains(r))
        .collect();
    let condition = condition.map(|(slot, negated)| quote!(.__condition(#slot, #negated)));
    (after, condition.unwrap_or_default())
}
