//! `graph()` of flows that use the step language: sub-flows drawn as clusters, `after` edges
//! marked as ordering only, conditional steps with their condition; the same for `flow!`
//! and the `Builder`.

use std::convert::Infallible;

use routilux::{Builder, EdgeKind, Graph, flow, routine};

#[routine]
fn double(x: &u64) -> u64 {
    x * 2
}

#[routine]
fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

#[routine]
fn is_big(x: &u64) -> bool {
    *x > 10
}

flow! {
    flow Inner {
        input a: u64;
        step d = double(a);
        return d;
    }
}

flow! {
    flow Shown {
        input x: u64;
        step big = is_big(x);
        step y = Inner(x);
        step z = double(x) after y;
        step w = add(x, y) after y;
        step small = double(x) if !big;
        step large = double(y) if big;
        return (z, w, small, large);
    }
}

/// The kind of the edge `from -> to`.
fn kind(graph: &Graph, from: &str, to: &str) -> Option<EdgeKind> {
    graph
        .edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .map(|e| e.kind)
}

/// What `Shown` and its builder twin have in common.
fn check_shape(graph: &Graph) {
    let y = graph.step("y").unwrap();
    let inner = y.subflow.as_deref().expect("`y` runs a flow");
    assert_eq!(inner.flow, "Inner");
    assert_eq!(inner.inputs[0].name, "a");
    assert_eq!(inner.step("d").map(|d| d.returned), Some(true));
    assert_eq!(graph.step("z").unwrap().subflow, None);

    assert_eq!(kind(graph, "x", "y"), Some(EdgeKind::Data));
    assert_eq!(kind(graph, "y", "z"), Some(EdgeKind::After));
    // `w` takes `y` as an argument: a data edge, `after` or not.
    assert_eq!(kind(graph, "y", "w"), Some(EdgeKind::Data));
    assert_eq!(kind(graph, "big", "small"), Some(EdgeKind::Condition));
    assert_eq!(kind(graph, "big", "large"), Some(EdgeKind::Condition));
    assert_eq!(kind(graph, "y", "large"), Some(EdgeKind::Data));

    assert_eq!(
        graph.step("small").unwrap().condition.as_deref(),
        Some("!big")
    );
    assert_eq!(
        graph.step("large").unwrap().condition.as_deref(),
        Some("big")
    );
    assert_eq!(graph.step("z").unwrap().condition, None);

    let dot = graph.to_dot();
    assert!(dot.contains("compound=true;"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_y\" {"), "{dot}");
    assert!(dot.contains("label=\"y: Inner\""), "{dot}");
    assert!(dot.contains("\"y/a\" [shape=ellipse"), "{dot}");
    assert!(dot.contains("\"y/d\" [label=\"d\\n"), "{dot}");
    assert!(dot.contains("\"y/a\" -> \"y/d\";"), "{dot}");
    assert!(
        dot.contains("\"y\" -> \"y/a\" [lhead=\"cluster_y\", style=dotted, arrowhead=none];"),
        "{dot}"
    );
    assert!(dot.contains("\"y\" -> \"z\" [style=dashed];"), "{dot}");
    assert!(dot.contains("\"y\" -> \"w\";"), "{dot}");
    assert!(
        dot.contains("\"big\" -> \"small\" [style=dotted, label=\"if !\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"big\" -> \"large\" [style=dotted, label=\"if\"];"),
        "{dot}"
    );
    assert!(dot.contains("\\nif !big\""), "{dot}");

    let mermaid = graph.to_mermaid();
    let id = |name: &str| {
        let i = graph.steps.iter().position(|s| s.name == name).unwrap();
        format!("s{i}")
    };
    let (y, z, small, large) = (id("y"), id("z"), id("small"), id("large"));
    assert!(
        mermaid.contains(&format!("subgraph {y}_flow [\"y: Inner\"]")),
        "{mermaid}"
    );
    assert!(mermaid.contains(&format!("{y}_i0([\"a\"])")), "{mermaid}");
    assert!(mermaid.contains(&format!("{y}_i0 --> {y}_s0")), "{mermaid}");
    assert!(mermaid.contains(&format!("{y} -.- {y}_flow")), "{mermaid}");
    assert!(mermaid.contains(&format!("{y} -.-> {z}")), "{mermaid}");
    assert!(mermaid.contains("<br/>if !big\"]"), "{mermaid}");
    let big = id("big");
    assert!(
        mermaid.contains(&format!("{big} -->|if !| {small}")),
        "{mermaid}"
    );
    assert!(
        mermaid.contains(&format!("{big} -->|if| {large}")),
        "{mermaid}"
    );
}

#[test]
fn a_flow_macro_graph_draws_sub_flows_after_edges_and_conditions() {
    let graph = Shown::graph();
    check_shape(&graph);
    assert_eq!(graph.step("y").unwrap().routine, "Inner");
    let plan = Shown::plan();
    let z = plan.steps().iter().find(|s| s.name() == "z").unwrap();
    assert_eq!(z.after().len(), 1);
    assert!(z.subflow().is_none());
    let y = plan.steps().iter().find(|s| s.name() == "y").unwrap();
    assert_eq!(y.subflow().map(|p| p.flow()), Some("Inner"));
}

#[test]
fn a_builder_graph_draws_the_same() {
    let mut b = Builder::new("Shown");
    let x = b.input::<u64>("x").unwrap();
    let big = b
        .step("big", x, |x: &u64| Ok::<_, Infallible>(*x > 10))
        .unwrap();
    let y = b.subflow("y", x, Inner).unwrap();
    let twice = |x: &u64| Ok::<_, Infallible>(x * 2);
    let z = b.step("z", x, twice).unwrap();
    b.after(z, y).unwrap();
    let w = b
        .step("w", (x, y), |(x, y): (&u64, &u64)| {
            Ok::<_, Infallible>(x + y)
        })
        .unwrap();
    b.after(w, y).unwrap();
    let small = b.when(!big).step("small", x, twice).unwrap();
    let large = b.when(big).step("large", y, twice).unwrap();
    for out in [z, w] {
        b.output(out);
    }
    b.output(small);
    b.output(large);
    let flow = b.build();
    check_shape(&flow.plan().graph());
}

#[test]
fn a_built_flow_run_as_a_step_is_drawn_as_a_cluster_too() {
    let mut i = Builder::new("Built");
    let a = i.input::<u64>("a").unwrap();
    let inner_y = i.subflow("y", a, Inner).unwrap();
    i.output(inner_y);
    let inner = i.build();

    let mut b = Builder::new("Outer");
    let x = b.input::<u64>("x").unwrap();
    let step = b
        .dyn_subflow("m", inner)
        .input(a, x)
        .returning(inner_y)
        .unwrap();
    b.output(step);
    let graph = b.build().plan().graph();
    let m = graph.step("m").unwrap();
    assert_eq!(m.routine, "Built");
    let built = m.subflow.as_deref().unwrap();
    let nested = built.step("y").unwrap().subflow.as_deref().unwrap();
    assert_eq!(
        (built.flow.as_str(), nested.flow.as_str()),
        ("Built", "Inner")
    );
    let dot = graph.to_dot();
    // Clusters nest; node names are qualified by every step on the way.
    assert!(dot.contains("subgraph \"cluster_m\" {"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_m/y\" {"), "{dot}");
    assert!(dot.contains("\"m/y/a\" -> \"m/y/d\";"), "{dot}");
    assert!(dot.contains("\"m/a\" -> \"m/y\";"), "{dot}");
    let mermaid = graph.to_mermaid();
    assert!(
        mermaid.contains("subgraph s0_flow [\"m: Built\"]"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("subgraph s0_s0_flow [\"y: Inner\"]"),
        "{mermaid}"
    );
    assert!(mermaid.contains("s0_s0_i0 --> s0_s0_s0"), "{mermaid}");
}
