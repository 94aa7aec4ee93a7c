//! Checks a parsed flow and computes its plan: names resolve, no duplicates, no cycles.
//!
//! Every problem is collected (not just the first), sorted by its position in the source and
//! combined into one `syn::Error`, one message per problem, each at the offending token.

use std::collections::{BTreeMap, VecDeque};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use syn::Ident;

use super::ast::FlowDef;
use crate::suggest::closest;

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The input with this declaration index.
    Input(usize),
    /// The step with this declaration index.
    Step(usize),
}

/// A valid flow's plan. Steps are numbered in plan order (by layer, then declaration); slots
/// are the inputs, then the steps in plan order.
#[derive(Debug)]
pub(crate) struct Checked {
    /// Declaration index of the step at each plan position.
    pub order: Vec<usize>,
    /// Arguments of each step (declaration index), resolved, in call order.
    pub args: Vec<Vec<Source>>,
    /// Per plan position: distinct step dependencies.
    pub deps: Vec<u32>,
    /// Per plan position: distinct slots read, ascending.
    pub reads: Vec<Vec<u32>>,
    /// Per plan position: distinct successor positions, ascending.
    pub succs: Vec<Vec<u32>>,
    /// Per slot: distinct consuming steps, and whether `run` returns it.
    pub slots: Vec<(u32, bool)>,
    /// Start of each layer, then the number of steps.
    pub layers: Vec<u32>,
    /// The returned names, resolved.
    pub returns: Vec<Source>,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Problems keyed by position: (statement, token within the statement).
struct Problems(Vec<((usize, usize), syn::Error)>);

impl Problems {
    fn add(&mut self, key: (usize, usize), token: &Ident, message: String) {
        self.0.push((key, syn::Error::new(token.span(), message)));
    }
}

/// Checks `def`; on success returns its plan, otherwise every problem found.
pub(crate) fn check(def: &FlowDef) -> Result<Checked, syn::Error> {
    let mut problems = Problems(Vec::new());
    let flow = &def.name;
    for step in &def.steps {
        for error in &step.errors {
            problems.0.push(((step.order, 0), error.clone()));
        }
    }

    // Names, in statement order; the first declaration of a name wins.
    let mut declared: Vec<(usize, &Ident, Source)> = def
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| (input.order, &input.name, Source::Input(i)))
        .chain(
            def.steps
                .iter()
                .enumerate()
                .map(|(i, step)| (step.order, &step.name, Source::Step(i))),
        )
        .collect();
    declared.sort_by_key(|(order, _, _)| *order);
    let mut names: BTreeMap<String, Source> = BTreeMap::new();
    for &(order, ident, source) in &declared {
        let name = ident.to_string();
        match (names.get(&name), source) {
            (None, _) => {
                names.insert(name, source);
            }
            (Some(Source::Input(_)), Source::Input(_)) => problems.add(
                (order, 0),
                ident,
                format!("duplicate input `{name}`: an input with this name is already declared"),
            ),
            (Some(Source::Step(_)), Source::Step(_)) => problems.add(
                (order, 0),
                ident,
                format!("duplicate step `{name}`: a step with this name is already declared"),
            ),
            (Some(Source::Input(_)), Source::Step(_)) => problems.add(
                (order, 0),
                ident,
                format!("step `{name}` has the same name as input `{name}`"),
            ),
            (Some(Source::Step(_)), Source::Input(_)) => problems.add(
                (order, 0),
                ident,
                format!("input `{name}` has the same name as step `{name}`"),
            ),
        }
    }
    let all_names: Vec<String> = declared.iter().map(|(_, i, _)| i.to_string()).collect();
    let unknown = |what: &str, name: &str| {
        let mut message =
            format!("unknown {what} `{name}`: no input or step of flow `{flow}` has this name");
        if let Some(close) = closest(name, all_names.iter().map(String::as_str)) {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        message
    };

    // Arguments.
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..def.steps.len()).map(|i| graph.add_node(i)).collect();
    let mut args = Vec::with_capacity(def.steps.len());
    // For each edge (producer, consumer): the argument that made it, for cycle messages.
    let mut edge_arg: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (consumer, step) in def.steps.iter().enumerate() {
        let mut resolved = Vec::with_capacity(step.args.len());
        for (a, arg) in step.args.iter().enumerate() {
            let name = arg.to_string();
            match names.get(&name) {
                None => problems.add((step.order, a + 1), arg, unknown("dependency", &name)),
                Some(&Source::Step(producer)) if def.steps[producer].name == step.name => {
                    problems.add(
                        (step.order, a + 1),
                        arg,
                        format!("step `{name}` depends on itself"),
                    );
                }
                Some(&source) => {
                    resolved.push(source);
                    if let Source::Step(producer) = source
                        && edge_arg.insert((producer, consumer), a).is_none()
                    {
                        graph.add_edge(nodes[producer], nodes[consumer], ());
                    }
                }
            }
        }
        args.push(resolved);
    }

    // Cycles: one message per strongly connected component, naming one whole cycle in it.
    for component in tarjan_scc(&graph) {
        if component.len() < 2 {
            continue;
        }
        let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
        members.sort_unstable();
        let cycle = shortest_cycle(&graph, &nodes, &members);
        let start = cycle[0];
        let last = cycle[cycle.len() - 2];
        let arg_index = edge_arg[&(last, start)];
        let path: Vec<String> = cycle
            .iter()
            .map(|&s| def.steps[s].name.to_string())
            .collect();
        let step = &def.steps[start];
        problems.add(
            (step.order, arg_index + 1),
            &step.args[arg_index],
            format!("cycle: {}", path.join(" -> ")),
        );
    }

    // Returned names.
    let mut returns = Vec::new();
    if let Some(ret) = &def.ret {
        let order = usize::MAX;
        for (i, ident) in ret.names.iter().enumerate() {
            let name = ident.to_string();
            if ret.names[..i].contains(ident) {
                problems.add((order, i), ident, format!("`{name}` is returned twice"));
            } else if let Some(&source) = names.get(&name) {
                returns.push(source);
            } else {
                problems.add(
                    (order, i),
                    ident,
                    unknown("name", &name).replacen("unknown name", "`return` of unknown name", 1),
                );
            }
        }
    }

    if !problems.0.is_empty() {
        problems.0.sort_by_key(|(key, _)| *key);
        let mut errors = problems.0.into_iter().map(|(_, e)| e);
        let mut combined = errors.next().expect("at least one problem");
        for error in errors {
            combined.combine(error);
        }
        return Err(combined);
    }
    Ok(plan(def, &graph, &args, &returns))
}

/// The shortest cycle through the first-declared member of a strongly connected component,
/// as step indices from that member back to it.
fn shortest_cycle(
    graph: &DiGraph<usize, ()>,
    nodes: &[NodeIndex],
    members: &[usize],
) -> Vec<usize> {
    let start = members[0];
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        let mut next: Vec<usize> = graph.neighbors(nodes[current]).map(|n| graph[n]).collect();
        next.sort_unstable();
        for n in next {
            if n == start {
                let mut cycle = vec![current];
                while let Some(&p) = parent.get(cycle.last().expect("not empty")) {
                    cycle.push(p);
                }
                if *cycle.last().expect("not empty") != start {
                    cycle.push(start);
                }
                cycle.reverse();
                cycle.push(start);
                return cycle;
            }
            if members.binary_search(&n).is_ok() && !parent.contains_key(&n) && n != start {
                parent.insert(n, current);
                queue.push_back(n);
            }
        }
    }
    unreachable!("a strongly connected component of two or more steps has a cycle")
}

/// Layers and plan order of a valid flow.
fn plan(
    def: &FlowDef,
    graph: &DiGraph<usize, ()>,
    args: &[Vec<Source>],
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
        let mut distinct: Vec<u32> = step_args.iter().map(|&s| slot_of(s)).collect();
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
        args: args.to_vec(),
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
    use super::*;

    fn check_src(src: &str) -> Result<Checked, Vec<String>> {
        let def: FlowDef = syn::parse_str(src).expect("parses");
        check(&def).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

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
    fn repeated_arguments_count_once() {
        let checked =
            check_src("flow F { input x: u64; step a = f(x, x); step b = g(a, a, x); }").unwrap();
        assert_eq!(checked.deps, [0, 1]);
        assert_eq!(checked.reads[1], [0, 1]);
        assert_eq!(checked.slots[0], (2, false));
        assert_eq!(checked.slots[1], (1, false));
    }

    #[test]
    fn reports_every_problem_in_source_order() {
        let errors = check_src(
            "flow F { input x: u64; step a = f(y); step b = f(c); step c = f(b); step a = f(x); step s = f(s); return (zz, x); }",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "unknown dependency `y`: no input or step of flow `F` has this name",
                "cycle: b -> c -> b",
                "duplicate step `a`: a step with this name is already declared",
                "step `s` depends on itself",
                "`return` of unknown name `zz`: no input or step of flow `F` has this name",
            ]
        );
    }

    #[test]
    fn names_the_shortest_cycle_through_the_first_step_of_a_component() {
        // Two cycles share `a`: a -> b -> a and a -> c -> d -> a.
        let errors =
            check_src("flow F { step a = f(b, d); step b = f(a); step c = f(a); step d = f(c); }")
                .unwrap_err();
        assert_eq!(errors, ["cycle: a -> b -> a"]);
    }

    #[test]
    fn suggests_close_names_among_inputs_and_steps() {
        let errors =
            check_src("flow F { input values: u64; step total = f(valeus); return totl; }")
                .unwrap_err();
        assert!(
            errors[0].ends_with("did you mean `values`?"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].ends_with("did you mean `total`?"),
            "{}",
            errors[1]
        );
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
