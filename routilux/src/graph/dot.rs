//! Graphviz DOT export of a [`Graph`].

use std::fmt::Write;

use super::Graph;

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
    writeln!(
        out,
        "    node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];"
    )?;
    writeln!(out, "    edge [color=\"#555555\"];")?;
    if !graph.inputs.is_empty() {
        writeln!(out, "    {{ rank=source;")?;
        for input in &graph.inputs {
            let peripheries = if input.returned {
                ", peripheries=2"
            } else {
                ""
            };
            writeln!(
                out,
                "        {} [shape=ellipse, style=filled, fillcolor=\"#eef3fb\"{peripheries}];",
                quoted(&input.name)
            )?;
        }
        writeln!(out, "    }}")?;
    }
    // Steps come in plan order, layer by layer: one rank per layer.
    let mut layer = None;
    for step in &graph.steps {
        if layer != Some(step.layer) {
            if layer.is_some() {
                writeln!(out, "    }}")?;
            }
            writeln!(out, "    {{ rank=same;")?;
            layer = Some(step.layer);
        }
        let mut label = format!("{}\n{}", step.name, step.routine);
        if step.retries > 0 {
            let _ = write!(label, " (retries {})", step.retries);
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
        writeln!(
            out,
            "        {} [label={}, style={}{peripheries}{tooltip}];",
            quoted(&step.name),
            quoted(&label),
            quoted(&style)
        )?;
    }
    if layer.is_some() {
        writeln!(out, "    }}")?;
    }
    for edge in &graph.edges {
        writeln!(out, "    {} -> {};", quoted(&edge.from), quoted(&edge.to))?;
    }
    writeln!(out, "}}")
}
