//! The plan of a valid flow: its steps in layers (each step one layer after the last of the
//! steps it waits for), numbered in plan order (by layer, then declaration), with each step's
//! reads, dependencies and successors and each slot's consumers.

use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use super::{ArgRef, Checked, Source};
use crate::flow::ast::FlowDef;

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Layers and plan order of a valid flow.
pub(super) fn plan(
    def: &FlowDef,
    graph: &DiGraph<usize, ()>,
    args: Vec<Vec<ArgRef>>,
    afters: &[Vec<Source>],
    conditions: Vec<Option<(Source, bool)>>,
    returns: &[Source],
) -> Checked {
    let n = def.steps.len();
    let n_inputs = def.inputs.len();
    let mut layer = vec![0u32; n];
    let topo = toposort(graph, None).unwrap_or_default();
    for node in topo {
        let step = graph[node];
        for next in graph.neighbors(node) {
            let consumer = graph[next];
            layer[consumer] = layer[consumer].max(layer[step] + 1);
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&d| (layer[d], d));
    let mut position = vec![0usize; n];
    for (pos, &decl) in order.iter().enumerate() {
        position[decl] = pos;
    }
    let slot_of = |source: Source| match source {
        Source::Input(i) => to_u32(i),
        Source::Step(d) => to_u32(n_inputs + position[d]),
    };
    let mut slots = vec![(0u32, false); n_inputs + n];
    let mut deps = vec![0u32; n];
    let mut reads = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for (decl, step_args) in args.iter().enumerate() {
        let pos = position[decl];
        // Everything the step waits for: its arguments, its `after` steps and its condition.
        // An `after` step's value is read by no one but counts as read, so it is kept until
        // the step that waits for it has finished.
        let mut distinct: Vec<u32> = step_args
            .iter()
            .filter_map(|arg| match *arg {
                ArgRef::Value(s) | ArgRef::Each(s) => Some(slot_of(s)),
                ArgRef::Const(_) => None,
            })
            .chain(afters[decl].iter().map(|&s| slot_of(s)))
            .chain(conditions[decl].iter().map(|&(s, _)| slot_of(s)))
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        for &slot in &distinct {
            slots[slot as usize].0 += 1;
            if slot as usize >= n_inputs {
                deps[pos] += 1;
                succs[slot as usize - n_inputs].push(to_u32(pos));
            }
        }
        reads[pos] = distinct;
    }
    for list in &mut succs {
        list.sort_unstable();
    }
    for &source in returns {
        slots[slot_of(source) as usize].1 = true;
    }
    let mut layers = vec![0u32];
    for pos in 1..n {
        if layer[order[pos]] != layer[order[pos - 1]] {
            layers.push(to_u32(pos));
        }
    }
    if n > 0 {
        layers.push(to_u32(n));
    }
    Checked {
        order,
        args,
        conditions,
        deps,
        reads,
        succs,
        slots,
        layers,
        returns: returns.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ArgRef, Source, check_src};

    #[test]
    fn plans_layers_in_declaration_order_within_a_layer() {
        let checked = check_src(
            "flow F { input x: u64; step d = f(b, c); step c = f(a); step b = f(a); step a = f(x); return d; }",
        )
        .unwrap();
        // Declaration indices: d=0, c=1, b=2, a=3. Layers: [a], [c, b], [d].
        assert_eq!(checked.order, [3, 1, 2, 0]);
        assert_eq!(checked.layers, [0, 1, 3, 4]);
        assert_eq!(checked.deps, [0, 1, 1, 2]);
        // Slots: x=0, a=1, c=2, b=3, d=4.
        assert_eq!(checked.reads, [vec![0], vec![1], vec![1], vec![2, 3]]);
        assert_eq!(checked.succs, [vec![1, 2], vec![3], vec![3], vec![]]);
        assert_eq!(
            checked.slots,
            [(1, false), (2, false), (1, false), (1, false), (0, true)]
        );
    }

    #[test]
    fn after_edges_and_conditions_are_dependencies_constants_are_not() {
        let checked = check_src(
            "flow F { input x: u64; input ok: bool; step a = f(x); step b = f(x, 5) after a; step c = f({ 1 }) if ok; }",
        )
        .unwrap();
        // Slots: x=0, ok=1, a=2, b=3, c=4. `b` waits for `a` without an argument from it.
        assert_eq!(checked.order, [0, 2, 1]);
        assert_eq!(checked.deps, [0, 0, 1]);
        assert_eq!(checked.reads, [vec![0], vec![1], vec![0, 2]]);
        assert_eq!(
            checked.args[1],
            [ArgRef::Value(Source::Input(0)), ArgRef::Const(1)]
        );
        assert_eq!(checked.conditions[2], Some((Source::Input(1), false)));
    }

    #[test]
    fn repeated_arguments_count_once() {
        let checked =
            check_src("flow F { input x: u64; step a = f(x, x); step b = g(a, a, x); }").unwrap();
        assert_eq!(checked.deps, [0, 1]);
        assert_eq!(checked.reads[1], [0, 1]);
        assert_eq!(checked.slots[0], (2, false));
        assert_eq!(checked.slots[1], (1, false));
    }

    #[test]
    fn a_thousand_step_chain_plans_one_step_per_layer() {
        let mut src = String::from("flow F { input x: u64; step s0 = f(x);");
        for i in 1..1000 {
            src.push_str(&format!(" step s{i} = f(s{});", i - 1));
        }
        src.push_str(" return s999; }");
        let checked = check_src(&src).unwrap();
        assert_eq!(checked.layers.len(), 1001);
        assert!(checked.order.iter().copied().eq(0..1000));
    }
}
