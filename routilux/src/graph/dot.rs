//! Graphviz DOT export of a [`Graph`].

use std::fmt::Write;

use super::{EdgeKind, Graph, GraphStep};

/// `text` as a DOT string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn write(graph: &Graph) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_into(&mut out, graph);
    out
}

fn write_into(out: &mut String, graph: &Graph) -> std::fmt::Result {
    writeln!(out, "digraph {} {{", quoted(&graph.flow))?;
    writeln!(out, "    rankdir=TB;")?;
    if graph.steps.iter().any(|s| s.subflow.is_some()) {
        // Lets the edge from a sub-flow step end at its cluster's border.
        writeln!(out, "    compound=true;")?;
    }
    writeln!(
        out,
        "    node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];"
    )?;
    writeln!(out, "    edge [color=\"#555555\"];")?;
    body(out, graph, "", "    ")?;
    writeln!(out, "}}")
}

/// The nodes and edges of `graph`, each name prefixed with `prefix` (`y/` inside the
/// cluster of sub-flow step `y`), each line indented with `indent`.
fn body(out: &mut String, graph: &Graph, prefix: &str, indent: &str) -> std::fmt::Result {
    let name = |n: &str| quoted(&format!("{prefix}{n}"));
    if !graph.inputs.is_empty() {
        // Inside a cluster, inputs share a rank; the top-level inputs come first.
        let rank = if prefix.is_empty() { "source" } else { "same" };
        writeln!(out, "{indent}{{ rank={rank};")?;
        for input in &graph.inputs {
            let peripheries = if input.returned {
                ", peripheries=2"
            } else {
                ""
            };
            writeln!(
                out,
                "{indent}    {} [shape=ellipse, style=filled, fillcolor=\"#eef3fb\"{peripheries}];",
                name(&input.name)
            )?;
        }
        writeln!(out, "{indent}}}")?;
    }
    // Steps come in plan order, layer by layer: one rank per layer.
    let mut layer = None;
    for step in &graph.steps {
        if layer != Some(step.layer) {
            if layer.is_some() {
                writeln!(out, "{indent}}}")?;
            }
            writeln!(out, "{indent}{{ rank=same;")?;
            layer = Some(step.layer);
        }
        writeln!(
            out,
            "{indent}    {} [{}];",
            name(&step.name),
            attributes(step)
        )?;
    }
    if layer.is_some() {
        writeln!(out, "{indent}}}")?;
    }
    for step in &graph.steps {
        if let Some(inner) = &step.subflow {
            cluster(out, step, inner, prefix, indent)?;
        }
    }
    for edge in &graph.edges {
        let style = match edge.kind {
            EdgeKind::Data => String::new(),
            EdgeKind::After => " [style=dashed]".to_owned(),
            EdgeKind::Condition => {
                let negated = graph
                    .step(&edge.to)
                    .and_then(|s| s.condition.as_deref())
                    .is_some_and(|c| c.starts_with('!'));
                let label = if negated { "if !" } else { "if" };
                format!(" [style=dotted, label={}]", quoted(label))
            }
        };
        writeln!(
            out,
            "{indent}{} -> {}{style};",
            name(&edge.from),
            name(&edge.to)
        )?;
    }
    Ok(())
}

/// A step's node attributes.
fn attributes(step: &GraphStep) -> String {
    let mut label = format!("{}\n{}", step.name, step.routine);
    if step.retries > 0 {
        let _ = write!(label, " (retries {})", step.retries);
    }
    if let Some(condition) = &step.condition {
        let _ = write!(label, "\nif {condition}");
    }
    let mut style = String::from("rounded");
    if step.undoable {
        style.push_str(",dashed");
    }
    let peripheries = if step.returned { ", peripheries=2" } else { "" };
    let tooltip = if step.doc.is_empty() {
        String::new()
    } else {
        format!(", tooltip={}", quoted(&step.doc))
    };
    format!(
        "label={}, style={}{peripheries}{tooltip}",
        quoted(&label),
        quoted(&style)
    )
}

/// The inner flow of sub-flow step `step` as a cluster, joined to the step by a dotted
/// line that ends at the cluster's border.
fn cluster(
    out: &mut String,
    step: &GraphStep,
    inner: &Graph,
    prefix: &str,
    indent: &str,
) -> std::fmt::Result {
    let qualified = format!("{prefix}{}/", step.name);
    let id = format!("cluster_{prefix}{}", step.name);
    writeln!(out, "{indent}subgraph {} {{", quoted(&id))?;
    let label = format!("{}: {}", step.name, inner.flow);
    writeln!(
        out,
        "{indent}    label={}; style=\"rounded,dashed\"; color=\"#888888\";",
        quoted(&label)
    )?;
    body(out, inner, &qualified, &format!("{indent}    "))?;
    writeln!(out, "{indent}}}")?;
    let anchor = inner
        .inputs
        .first()
        .map(|i| &i.name)
        .or_else(|| inner.steps.first().map(|s| &s.name));
    if let Some(anchor) = anchor {
        writeln!(
            out,
            "{indent}{} -> {} [lhead={}, style=dotted, arrowhead=none];",
            quoted(&format!("{prefix}{}", step.name)),
            quoted(&format!("{qualified}{anchor}")),
            quoted(&id)
        )?;
    }
    Ok(())
}
