//! [`Graph`]: a flow's static description, for pictures and tools: its inputs, its steps with
//! the routine behind each, the edges between them and the layers. Available without running
//! the flow (`Name::graph()`, [`Plan::graph`]); exported as Graphviz DOT, Mermaid, and (with
//! the `serde` feature) anything serde writes, such as JSON.
//!
//! ```
//! use routilux::{flow, routine};
//!
//! #[routine]
//! fn double(x: &u64) -> u64 { x * 2 }
//!
//! #[routine]
//! fn add(a: &u64, b: &u64) -> u64 { a + b }
//!
//! flow! {
//!     flow Sum {
//!         input x: u64;
//!         step twice = double(x);
//!         step total = add(x, twice);
//!         return total;
//!     }
//! }
//!
//! let graph = Sum::graph();
//! assert_eq!(graph.layers, [["twice"], ["total"]]);
//! assert!(graph.to_dot().contains("\"twice\" -> \"total\";"));
//! assert!(graph.to_mermaid().starts_with("flowchart TD"));
//! ```
//!
//! The step language shows: a sub-flow step carries its inner flow's graph (drawn as a
//! cluster whose nodes are named `y/...`), `after` edges are [`EdgeKind::After`] (dashed), a
//! conditional step has its [`condition`](GraphStep::condition) (its edge dotted):
//!
//! ```
//! # use routilux::{flow, routine};
//! use routilux::EdgeKind;
//! # #[routine]
//! # fn double(x: &u64) -> u64 { x * 2 }
//! # #[routine]
//! # fn add(a: &u64, b: &u64) -> u64 { a + b }
//! # flow! { flow Sum { input x: u64; step twice = double(x); step total = add(x, twice); return total; } }
//! #[routine]
//! fn is_odd(x: &u64) -> bool { x % 2 == 1 }
//!
//! flow! {
//!     flow Outer {
//!         input x: u64;
//!         step odd = is_odd(x);
//!         step sum = Sum(x);
//!         step log = double(x) after sum;
//!         step fix = double(x) if !odd;
//!         return (log, fix);
//!     }
//! }
//!
//! let graph = Outer::graph();
//! let inner = graph.step("sum").and_then(|s| s.subflow.as_deref()).unwrap();
//! assert_eq!(inner.flow, "Sum");
//! assert!(graph.edges.iter().any(|e| e.from == "sum" && e.to == "log" && e.kind == EdgeKind::After));
//! assert_eq!(graph.step("fix").unwrap().condition.as_deref(), Some("!odd"));
//! let dot = graph.to_dot();
//! assert!(dot.contains("subgraph \"cluster_sum\""));
//! assert!(dot.contains("\"sum/twice\" -> \"sum/total\";"));
//! assert!(dot.contains("\"sum\" -> \"log\" [style=dashed];"));
//! ```

mod dot;
mod mermaid;

use crate::plan::Plan;

/// The static description of a flow. Deterministic: the same flow always gives the same
/// graph, in plan order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Graph {
    /// The flow's name.
    pub flow: String,
    /// The flow's doc comment (empty when it has none); see [`Plan::doc`].
    pub doc: String,
    /// The inputs, in declaration order.
    pub inputs: Vec<GraphInput>,
    /// The steps, in topological (plan) order.
    pub steps: Vec<GraphStep>,
    /// Every dependency: `from` (an input or step) feeds `to` (a step).
    pub edges: Vec<GraphEdge>,
    /// The step names of each topological layer: a layer's steps can run at the same time.
    pub layers: Vec<Vec<String>>,
}

/// An input of a [`Graph`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GraphInput {
    /// The input's name.
    pub name: String,
    /// Whether a run returns it.
    pub returned: bool,
}

/// A step of a [`Graph`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GraphStep {
    /// The step's name.
    pub name: String,
    /// The routine (or [`Step`](crate::Step) type) it calls.
    pub routine: String,
    /// Its topological layer, from 0.
    pub layer: usize,
    /// Its doc comment in the flow (empty when it has none).
    pub doc: String,
    /// How many times a failed attempt is retried.
    pub retries: u32,
    /// Whether it is undone when a run fails after it succeeded.
    pub undoable: bool,
    /// Whether a run returns its result.
    pub returned: bool,
    /// For a conditional step, the `bool` it runs on: `"flag"`, or `"!flag"` when it runs
    /// when `flag` is false.
    pub condition: Option<String>,
    /// For a step that runs another flow (a sub-flow), that flow's graph.
    pub subflow: Option<Box<Graph>>,
}

/// What an edge of a [`Graph`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum EdgeKind {
    /// The step takes the value as an argument.
    Data,
    /// The step only waits for it (`after` in `flow!`,
    /// [`Builder::after`](crate::Builder::after)).
    After,
    /// The step's condition (`if flag`): the step runs depending on the value.
    Condition,
}

/// A dependency edge of a [`Graph`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GraphEdge {
    /// The input or step whose value is read.
    pub from: String,
    /// The step that reads it.
    pub to: String,
    /// Whether `to` takes the value, only waits for it, or depends on it as its condition.
    pub kind: EdgeKind,
}

impl Plan {
    /// The flow's static description (see [`Graph`]).
    #[must_use]
    pub fn graph(&self) -> Graph {
        let inputs: Vec<&str> = self.inputs().collect();
        let slot_name = |slot: u32| -> String {
            let slot = slot as usize;
            match inputs.get(slot) {
                Some(name) => (*name).to_owned(),
                None => self.steps()[slot - inputs.len()].name().to_owned(),
            }
        };
        let mut steps = Vec::with_capacity(self.steps().len());
        let mut layers = Vec::new();
        for (layer, members) in self.layers().enumerate() {
            layers.push(members.iter().map(|s| s.name().to_owned()).collect());
            for step in members {
                let slot = inputs.len() + steps.len();
                let condition = step.condition().map(|(flag, negated)| {
                    format!("{}{}", if negated { "!" } else { "" }, slot_name(flag))
                });
                steps.push(GraphStep {
                    name: step.name().to_owned(),
                    routine: step.routine().to_owned(),
                    layer,
                    doc: step.doc().to_owned(),
                    retries: step.policy().get_retries(),
                    undoable: step.policy().is_undoable(),
                    returned: self.slot_returned(slot),
                    condition,
                    subflow: step.subflow().map(|inner| Box::new(inner.graph())),
                });
            }
        }
        let edges = self
            .steps()
            .iter()
            .flat_map(|step| step.reads().iter().map(move |&slot| (slot, step)))
            .map(|(slot, to)| GraphEdge {
                from: slot_name(slot),
                to: to.name().to_owned(),
                kind: if to.after().contains(&slot) {
                    EdgeKind::After
                } else if to.condition().is_some_and(|(flag, _)| flag == slot) {
                    EdgeKind::Condition
                } else {
                    EdgeKind::Data
                },
            })
            .collect();
        Graph {
            flow: self.flow().to_owned(),
            doc: self.doc().to_owned(),
            inputs: inputs
                .iter()
                .enumerate()
                .map(|(slot, name)| GraphInput {
                    name: (*name).to_owned(),
                    returned: self.slot_returned(slot),
                })
                .collect(),
            steps,
            edges,
            layers,
        }
    }
}

impl Graph {
    /// The graph in Graphviz DOT: inputs as ellipses, steps as boxes labelled with their
    /// routine (and condition), one rank per layer; undoable steps dashed, returned results
    /// doubly outlined; `after` edges dashed, condition edges dotted and labelled `if` (or
    /// `if !`). The inner flow of a sub-flow step `y` is drawn as a cluster `cluster_y` beside
    /// it, its nodes named `y/a`, `y/b`, ... Render with `dot -Tsvg`.
    #[must_use]
    pub fn to_dot(&self) -> String {
        dot::write(self)
    }

    /// The graph as a Mermaid flowchart (renders in GitHub and GitLab Markdown inside a
    /// ```` ```mermaid ```` block): `after` edges dotted, condition edges labelled `if` (or
    /// `if !`), the inner flow of a sub-flow step as a `subgraph` linked to the step.
    #[must_use]
    pub fn to_mermaid(&self) -> String {
        mermaid::write(self)
    }

    /// The step called `name`.
    #[must_use]
    pub fn step(&self, name: &str) -> Option<&GraphStep> {
        self.steps.iter().find(|s| s.name == name)
    }
}
