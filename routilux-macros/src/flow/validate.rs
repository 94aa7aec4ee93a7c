//! Checks a parsed flow and computes its plan: names resolve, no duplicates, no cycles.
//!
//! Every problem is collected (not just the first), sorted by its position in the source and
//! combined into one `syn::Error`, one message per problem, each at the offending token.

use std::collections::{BTreeMap, VecDeque};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use syn::Ident;

use super::ast::{Arg, FlowDef};
use crate::suggest::closest;

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The input with this declaration index.
    Input(usize),
    /// The step with this declaration index.
    Step(usize),
}

/// One argument of a step's call, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgRef {
    /// `&` of this input's or step's value.
    Value(Source),
    /// One element of this input's or step's value per call (a map step).
    Each(Source),
    /// The constant written as the call's argument with this index.
    Const(usize),
}

/// A valid flow's plan. Steps are numbered in plan order (by layer, then declaration); slots
/// are the inputs, then the steps in plan order.
#[derive(Debug)]
pub(crate) struct Checked {
    /// Declaration index of the step at each plan position.
    pub order: Vec<usize>,
    /// Arguments of each step (declaration index), resolved, in call order.
    pub args: Vec<Vec<ArgRef>>,
    /// The condition of each step (declaration index): the `bool` and whether it is negated.
    pub conditions: Vec<Option<(Source, bool)>>,
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
        if step.routine.is_ident(flow) {
            let token = &step.routine.segments[0].ident;
            problems.add(
                (step.order, 0),
                token,
                format!(
                    "flow `{flow}` contains itself: step `{}` runs flow `{flow}`, which would run it again",
                    step.name
                ),
            );
        }
        if !step.args.iter().any(|a| matches!(a, Arg::Each(_))) {
            for (key, _) in &step.options.list {
                if key == "batch" || key == "max_concurrency" {
                    problems.add(
                        (step.order, 0),
                        key,
                        format!(
                            "`{key}` applies to map steps, and step `{}` maps over nothing: write `each NAME` for the argument to map over",
                            step.name
                        ),
                    );
                }
            }
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

    // Arguments, `after` names and conditions: each name read, with the token that reads it.
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..def.steps.len()).map(|i| graph.add_node(i)).collect();
    let mut args = Vec::with_capacity(def.steps.len());
    let mut afters = Vec::with_capacity(def.steps.len());
    let mut conditions = Vec::with_capacity(def.steps.len());
    // For each edge (producer, consumer): the token that made it, for cycle messages.
    let mut edge_token: BTreeMap<(usize, usize), (usize, &Ident)> = BTreeMap::new();
    for (consumer, step) in def.steps.iter().enumerate() {
        let resolve = |problems: &mut Problems,
                       position: usize,
                       ident: &'_ Ident,
                       what: &str|
         -> Option<Source> {
            let name = ident.to_string();
            match names.get(&name) {
                None => {
                    let mut message = unknown(what, &name);
                    if what == "step" {
                        message = message.replacen(
                            &format!("unknown step `{name}`"),
                            &format!("unknown step `{name}` in `after`"),
                            1,
                        );
                    }
                    if looks_like_a_constant(&name) {
                        message.push_str(&format!(
                            "; if `{name}` is a constant, write it as a block: `{{ {name} }}`"
                        ));
                    }
                    problems.add((step.order, position), ident, message);
                    None
                }
                Some(&Source::Step(producer)) if def.steps[producer].name == step.name => {
                    problems.add(
                        (step.order, position),
                        ident,
                        format!("step `{name}` depends on itself"),
                    );
                    None
                }
                Some(&source) => Some(source),
            }
        };
        let mut resolved = Vec::with_capacity(step.args.len());
        let mut tokens: Vec<(usize, &Ident, Source)> = Vec::new();
        let mut first_each: Option<&Ident> = None;
        for (a, arg) in step.args.iter().enumerate() {
            match arg {
                Arg::Const(..) => resolved.push(ArgRef::Const(a)),
                Arg::Name(ident) | Arg::Each(ident) => {
                    if let Arg::Each(_) = arg {
                        if let Some(first) = first_each {
                            problems.add(
                                (step.order, a + 1),
                                ident,
                                format!(
                                    "step `{}` maps over `{first}` already: a call takes one `each`",
                                    step.name
                                ),
                            );
                            continue;
                        }
                        first_each = Some(ident);
                    }
                    if let Some(source) = resolve(&mut problems, a + 1, ident, "dependency") {
                        tokens.push((a + 1, ident, source));
                        resolved.push(match arg {
                            Arg::Each(_) => ArgRef::Each(source),
                            _ => ArgRef::Value(source),
                        });
                    }
                }
            }
        }
        let base = step.args.len() + 1;
        let mut after = Vec::with_capacity(step.after.len());
        for (a, ident) in step.after.iter().enumerate() {
            if let Some(source) = resolve(&mut problems, base + a, ident, "step") {
                match source {
                    Source::Step(_) => {
                        tokens.push((base + a, ident, source));
                        after.push(source);
                    }
                    Source::Input(_) => problems.add(
                        (step.order, base + a),
                        ident,
                        format!(
                            "`after {ident}` names an input: inputs are there before any step starts; `after` takes steps"
                        ),
                    ),
                }
            }
        }
        let condition = step.condition.as_ref().and_then(|condition| {
            let position = base + step.after.len();
            let source = resolve(&mut problems, position, &condition.name, "condition")?;
            tokens.push((position, &condition.name, source));
            Some((source, condition.negated))
        });
        for (position, ident, source) in tokens {
            if let Source::Step(producer) = source
                && !edge_token.contains_key(&(producer, consumer))
            {
                edge_token.insert((producer, consumer), (position, ident));
                graph.add_edge(nodes[producer], nodes[consumer], ());
            }
        }
        args.push(resolved);
        afters.push(after);
        conditions.push(condition);
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
        let (position, token) = edge_token[&(last, start)];
        let path: Vec<String> = cycle
            .iter()
            .map(|&s| def.steps[s].name.to_string())
            .collect();
        let step = &def.steps[start];
        problems.add(
            (step.order, position),
            token,
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
    Ok(plan(def, &graph, args, &afters, conditions, &returns))
}

/// Whether `name` is written like a constant (`MAX`, `RATE_2`): upper case, at least two
/// characters.
fn looks_like_a_constant(name: &str) -> bool {
    name.len() > 1
        && name.chars().any(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
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
