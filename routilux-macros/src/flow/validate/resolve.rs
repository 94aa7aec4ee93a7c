//! The names each step reads resolved (its call's arguments, its `after` names and its
//! condition), and the graph of the steps they make: an edge from each step read to the step
//! that reads it, with the token that made it.

use std::collections::BTreeMap;

use petgraph::graph::{DiGraph, NodeIndex};
use syn::Ident;

use super::names::Names;
use super::{ArgRef, Problems, Source};
use crate::flow::ast::{Arg, FlowDef, Step};

/// The steps' reads, resolved, and their graph.
pub(super) struct Resolved<'a> {
    /// Nodes are declaration indices of steps; an edge goes from producer to consumer.
    pub graph: DiGraph<usize, ()>,
    /// The node of each step (declaration index).
    pub nodes: Vec<NodeIndex>,
    /// Per step: the arguments of its call.
    pub args: Vec<Vec<ArgRef>>,
    /// Per step: the steps of its `after`.
    pub afters: Vec<Vec<Source>>,
    /// Per step: its condition and whether it is negated.
    pub conditions: Vec<Option<(Source, bool)>>,
    /// For each edge (producer, consumer): the token that made it, for cycle messages.
    pub edge_token: BTreeMap<(usize, usize), (usize, &'a Ident)>,
}

/// What one step reads, resolved.
struct Reads<'a> {
    args: Vec<ArgRef>,
    after: Vec<Source>,
    condition: Option<(Source, bool)>,
    /// Each name read, with its position among the step's tokens and the token that reads it.
    tokens: Vec<(usize, &'a Ident, Source)>,
}

/// Arguments, `after` names and conditions: each name read, with the token that reads it.
pub(super) fn steps<'a>(def: &'a FlowDef, names: &Names, problems: &mut Problems) -> Resolved<'a> {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..def.steps.len()).map(|i| graph.add_node(i)).collect();
    let mut args = Vec::with_capacity(def.steps.len());
    let mut afters = Vec::with_capacity(def.steps.len());
    let mut conditions = Vec::with_capacity(def.steps.len());
    let mut edge_token: BTreeMap<(usize, usize), (usize, &Ident)> = BTreeMap::new();
    for (consumer, step) in def.steps.iter().enumerate() {
        let Reads {
            args: resolved,
            after,
            condition,
            tokens,
        } = reads(def, names, step, problems);
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
    Resolved {
        graph,
        nodes,
        args,
        afters,
        conditions,
        edge_token,
    }
}

/// The names `step` reads, resolved; a call takes one `each`, and `after` takes steps.
fn reads<'a>(def: &FlowDef, names: &Names, step: &'a Step, problems: &mut Problems) -> Reads<'a> {
    let resolve = |problems: &mut Problems, position: usize, ident: &Ident, what: &str| {
        names.resolve(def, step, problems, position, ident, what)
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
                if let Some(source) = resolve(problems, a + 1, ident, "dependency") {
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
        if let Some(source) = resolve(problems, base + a, ident, "step") {
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
        let source = resolve(problems, position, &condition.name, "condition")?;
        tokens.push((position, &condition.name, source));
        Some((source, condition.negated))
    });
    Reads {
        args: resolved,
        after,
        condition,
        tokens,
    }
}
