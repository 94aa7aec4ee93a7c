//! Mermaid flowchart export of a [`Graph`].

use std::collections::HashMap;
use std::fmt::Write;

use super::{EdgeKind, Graph};

/// `text` inside a Mermaid `"..."` label: quotes and markup characters as entities.
fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' => out.push_str("<br/>"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn write(graph: &Graph) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_into(&mut out, graph);
    out
}

/// The ids of the undoable steps and returned values, at every depth.
#[derive(Default)]
struct Classes {
    undoable: Vec<String>,
    returned: Vec<String>,
}

fn write_into(out: &mut String, graph: &Graph) -> std::fmt::Result {
    writeln!(out, "flowchart TD")?;
    let mut classes = Classes::default();
    body(out, graph, "", "    ", &mut classes)?;
    if !classes.undoable.is_empty() {
        writeln!(out, "    classDef undoable stroke-dasharray: 5 3")?;
        writeln!(out, "    class {} undoable", classes.undoable.join(","))?;
    }
    if !classes.returned.is_empty() {
        writeln!(out, "    classDef returned stroke-width: 3px")?;
        writeln!(out, "    class {} returned", classes.returned.join(","))?;
    }
    Ok(())
}

/// The nodes and edges of `graph`, each id prefixed with `prefix` (the id of sub-flow step
/// `y` and `_` inside its subgraph), each line indented with `indent`.
fn body(
    out: &mut String,
    graph: &Graph,
    prefix: &str,
    indent: &str,
    classes: &mut Classes,
) -> std::fmt::Result {
    // Names may hold any text (builder flows); Mermaid ids are generated.
    let mut ids: HashMap<&str, String> = HashMap::new();
    for (i, input) in graph.inputs.iter().enumerate() {
        let id = format!("{prefix}i{i}");
        writeln!(out, "{indent}{id}([\"{}\"])", label(&input.name))?;
        if input.returned {
            classes.returned.push(id.clone());
        }
        ids.insert(&input.name, id);
    }
    for (i, step) in graph.steps.iter().enumerate() {
        let id = format!("{prefix}s{i}");
        let mut text = format!("{}<br/><i>{}</i>", label(&step.name), label(&step.routine));
        if step.retries > 0 {
            let _ = write!(text, " (retries {})", step.retries);
        }
        if let Some(condition) = &step.condition {
            let _ = write!(text, "<br/>if {}", label(condition));
        }
        writeln!(out, "{indent}{id}[\"{text}\"]")?;
        if step.undoable {
            classes.undoable.push(id.clone());
        }
        if step.returned {
            classes.returned.push(id.clone());
        }
        ids.insert(&step.name, id);
    }
    for step in &graph.steps {
        let (Some(inner), Some(id)) = (&step.subflow, ids.get(step.name.as_str())) else {
            continue;
        };
        let title = format!("{}: {}", step.name, inner.flow);
        writeln!(out, "{indent}subgraph {id}_flow [\"{}\"]", label(&title))?;
        body(
            out,
            inner,
            &format!("{id}_"),
            &format!("{indent}    "),
            classes,
        )?;
        writeln!(out, "{indent}end")?;
        writeln!(out, "{indent}{id} -.- {id}_flow")?;
    }
    for edge in &graph.edges {
        let (Some(from), Some(to)) = (ids.get(edge.from.as_str()), ids.get(edge.to.as_str()))
        else {
            continue;
        };
        let arrow = match edge.kind {
            EdgeKind::Data => "-->",
            EdgeKind::After => "-.->",
            EdgeKind::Condition => {
                let negated = graph
                    .step(&edge.to)
                    .and_then(|s| s.condition.as_deref())
                    .is_some_and(|c| c.starts_with('!'));
                if negated { "-->|if !|" } else { "-->|if|" }
            }
        };
        writeln!(out, "{indent}{from} {arrow} {to}")?;
    }
    Ok(())
}
