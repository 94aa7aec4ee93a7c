//! Cycles among a flow's steps: one message per strongly connected component of the graph,
//! naming one whole cycle in it (the shortest through its first-declared step).

use std::collections::{BTreeMap, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Problems;
use super::resolve::Resolved;
use crate::flow::ast::FlowDef;

/// Cycles: one message per strongly connected component, naming one whole cycle in it.
pub(super) fn report(def: &FlowDef, resolved: &Resolved<'_>, problems: &mut Problems) {
    let Resolved {
        graph,
        nodes,
        edge_token,
        ..
    } = resolved;
    for component in tarjan_scc(graph) {
        if component.len() < 2 {
            continue;
        }
        let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
        members.sort_unstable();
        let cycle = shortest_cycle(graph, nodes, &members);
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

#[cfg(test)]
mod tests {
    use super::super::check_src;

    #[test]
    fn names_the_shortest_cycle_through_the_first_step_of_a_component() {
        // Two cycles share `a`: a -> b -> a and a -> c -> d -> a.
        let errors =
            check_src("flow F { step a = f(b, d); step b = f(a); step c = f(a); step d = f(c); }")
                .unwrap_err();
        assert_eq!(errors, ["cycle: a -> b -> a"]);
    }
}
