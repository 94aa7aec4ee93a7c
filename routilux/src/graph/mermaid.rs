//! Mermaid flowchart export of a [`Graph`].

use std::collections::HashMap;
use std::fmt::Write;

use super::Graph;

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

fn write_into(out: &mut String, graph: &Graph) -> std::fmt::Result {
    // Names may hold any text (builder flows); Mermaid ids are generated.
    let mut ids: HashMap<&str, String> = HashMap::new();
    writeln!(out, "flowchart TD")?;
    for (i, input) in graph.inputs.iter().enumerate() {
        let id = format!("i{i}");
        writeln!(out, "    {id}([\"{}\"])", label(&input.name))?;
        ids.insert(&input.name, id);
    }
    for (i, step) in graph.steps.iter().enumerate() {
        let id = format!("s{i}");
        let mut text = format!("{}<br/><i>{}</i>", label(&step.name), label(&step.routine));
        if step.retries > 0 {
            let _ = write!(text, " (retries {})", step.retries);
        }
        writeln!(out, "    {id}[\"{text}\"]")?;
        ids.insert(&step.name, id);
    }
    for edge in &graph.edges {
        if let (Some(from), Some(to)) = (ids.get(edge.from.as_str()), ids.get(edge.to.as_str())) {
            writeln!(out, "    {from} --> {to}")?;
        }
    }
    let undoable: Vec<&str> = graph
        .steps
        .iter()
        .filter(|s| s.undoable)
        .filter_map(|s| ids.get(s.name.as_str()).map(String::as_str))
        .collect();
    let returned: Vec<&str> = graph
        .inputs
        .iter()
        .map(|i| (&i.name, i.returned))
        .chain(graph.steps.iter().map(|s| (&s.name, s.returned)))
        .filter(|&(_, returned)| returned)
        .filter_map(|(name, _)| ids.get(name.as_str()).map(String::as_str))
        .collect();
    if !undoable.is_empty() {
        writeln!(out, "    classDef undoable stroke-dasharray: 5 3")?;
        writeln!(out, "    class {} undoable", undoable.join(","))?;
    }
    if !returned.is_empty() {
        writeln!(out, "    classDef returned stroke-width: 3px")?;
        writeln!(out, "    class {} returned", returned.join(","))?;
    }
    Ok(())
}
