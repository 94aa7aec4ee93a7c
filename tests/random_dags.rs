//! Property test: random DAGs built with `routilux::Builder`, run under every schedule by the
//! same engine as `flow!` flows. Checked against a plain sequential evaluation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use routilux::{Builder, DynFlow, Handle, Observer, RunInfo, RunOptions, Schedule, StepPlan};

/// A random DAG: `deps[i]` are indices of earlier nodes (node 0 is the input).
#[derive(Clone, Debug)]
struct Dag {
    deps: Vec<Vec<usize>>,
}

fn dag(max_steps: usize) -> impl Strategy<Value = Dag> {
    (1..=max_steps)
        .prop_flat_map(|n| {
            (1..=n)
                .map(|i| proptest::collection::vec(0..i, 0..=4))
                .collect::<Vec<_>>()
        })
        .prop_map(|deps| Dag { deps })
}

/// What a node computes from its dependencies' values.
fn value(node: usize, args: &[&u64]) -> u64 {
    args.iter().fold(node as u64 * 31 + 7, |acc, v| {
        acc.wrapping_mul(17).wrapping_add(**v)
    })
}

#[derive(Debug)]
struct Injected(usize);

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "injected failure at node {}", self.0)
    }
}

impl std::error::Error for Injected {}

/// Start and finish times of every step on one logical clock, and run counts.
struct Record {
    clock: AtomicU64,
    started: Vec<AtomicU64>,
    finished: Vec<AtomicU64>,
    runs: Vec<AtomicU64>,
}

impl Record {
    fn new(n: usize) -> Arc<Self> {
        let zeros = || (0..n).map(|_| AtomicU64::new(0)).collect();
        Arc::new(Record {
            clock: AtomicU64::new(1),
            started: zeros(),
            finished: zeros(),
            runs: zeros(),
        })
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }
}

/// Builds the DAG; nodes in `failing` return an error. Node `i + 1` is step `s{i+1}`.
fn build(
    dag: &Dag,
    failing: &[usize],
    record: &Arc<Record>,
) -> (DynFlow, Handle<u64>, Vec<Handle<u64>>) {
    build_saga(dag, failing, &[], record, &Arc::default())
}

/// Like [`build`]; nodes in `undoable` get an undo that appends the node to `undone`.
fn build_saga(
    dag: &Dag,
    failing: &[usize],
    undoable: &[usize],
    record: &Arc<Record>,
    undone: &Arc<Mutex<Vec<usize>>>,
) -> (DynFlow, Handle<u64>, Vec<Handle<u64>>) {
    let mut b = Builder::new("Random");
    let input = b.input::<u64>("x").unwrap();
    let mut handles = vec![input];
    for (i, deps) in dag.deps.iter().enumerate() {
        let node = i + 1;
        let fails = failing.contains(&node);
        let record = Arc::clone(record);
        let dep_handles: Vec<Handle<u64>> = deps.iter().map(|&d| handles[d]).collect();
        let h = b
            .step(format!("s{node}"), &dep_handles, move |args: &[&u64]| {
                record.started[node].store(record.tick(), Ordering::SeqCst);
                record.runs[node].fetch_add(1, Ordering::SeqCst);
                let result = if fails {
                    Err(Injected(node))
                } else {
                    Ok(value(node, args))
                };
                record.finished[node].store(record.tick(), Ordering::SeqCst);
                result
            })
            .unwrap();
        if undoable.contains(&node) {
            let undone = Arc::clone(undone);
            b.undo(h, move |_: &u64| {
                undone.lock().unwrap().push(node);
                Ok::<(), Injected>(())
            })
            .unwrap();
        }
        handles.push(h);
    }
    for &h in &handles[1..] {
        b.output(h);
    }
    (b.build(), input, handles)
}

fn expected(dag: &Dag, x: u64) -> Vec<u64> {
    let mut values = vec![x];
    for (i, deps) in dag.deps.iter().enumerate() {
        let args: Vec<&u64> = deps.iter().map(|&d| &values[d]).collect();
        let v = value(i + 1, &args);
        values.push(v);
    }
    values
}

fn options(pool: &rayon::ThreadPool) -> Vec<RunOptions<'_>> {
    let mut all = Vec::new();
    for s in [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow] {
        all.push(RunOptions::from(s));
        all.push(RunOptions::from(s).pool(pool));
    }
    all
}

fn pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
    })
}

/// The order of `step_finished` and `undo_started` events, as node numbers.
#[derive(Default)]
struct Order {
    finished: Mutex<Vec<usize>>,
    undo_started: Mutex<Vec<usize>>,
}

fn node_of(step: &StepPlan) -> usize {
    step.name()[1..].parse().unwrap()
}

impl Observer for Order {
    fn step_finished(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.finished.lock().unwrap().push(node_of(step));
    }
    fn undo_started(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.undo_started.lock().unwrap().push(node_of(step));
    }
}

/// Nodes that (transitively) depend on `node`.
fn descendants(dag: &Dag, node: usize) -> Vec<bool> {
    let mut hit = vec![false; dag.deps.len() + 1];
    hit[node] = true;
    for (i, deps) in dag.deps.iter().enumerate() {
        if deps.iter().any(|&d| hit[d]) {
            hit[i + 1] = true;
        }
    }
    hit[node] = false;
    hit
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_schedule_matches_sequential_evaluation(dag in dag(300), x in any::<u64>()) {
        let want = expected(&dag, x);
        for options in options(pool()) {
            let record = Record::new(dag.deps.len() + 1);
            let (flow, input, handles) = build(&dag, &[], &record);
            let mut inputs = flow.inputs();
            inputs.set(input, x);
            let mut outputs = flow.run(inputs, options).expect("no step fails");
            for (node, &h) in handles.iter().enumerate().skip(1) {
                prop_assert_eq!(outputs.take(h), Some(want[node]));
                prop_assert_eq!(record.runs[node].load(Ordering::SeqCst), 1, "node {} ran once", node);
                for &d in &dag.deps[node - 1] {
                    if d > 0 {
                        prop_assert!(
                            record.finished[d].load(Ordering::SeqCst) < record.started[node].load(Ordering::SeqCst),
                            "node {} started before its dependency {} finished", node, d
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn injected_failures_are_reported_and_stop_dependents(
        dag in dag(200),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..=2),
    ) {
        let n = dag.deps.len();
        let failing: Vec<usize> = picks.iter().map(|p| p.index(n) + 1).collect();
        for options in options(pool()) {
            let record = Record::new(n + 1);
            let (flow, input, _) = build(&dag, &failing, &record);
            let mut inputs = flow.inputs();
            inputs.set(input, 1);
            let err = flow.run(inputs, options).expect_err("a step fails");
            let step = err.step().expect("a failing step").to_owned();
            let node: usize = step[1..].parse().unwrap();
            prop_assert!(failing.contains(&node), "reported {} of {:?}", step, failing);
            prop_assert_eq!(record.runs[node].load(Ordering::SeqCst), 1);
            let cause = std::error::Error::source(&err).unwrap().downcast_ref::<Injected>().unwrap();
            prop_assert_eq!(cause.0, node);
            for &f in &failing {
                if record.runs[f].load(Ordering::SeqCst) == 0 {
                    continue;
                }
                for (d, is_descendant) in descendants(&dag, f).into_iter().enumerate() {
                    if is_descendant {
                        prop_assert_eq!(record.runs[d].load(Ordering::SeqCst), 0,
                            "node {} ran although it depends on failed node {}", d, f);
                    }
                }
            }
            for count in &record.runs {
                prop_assert!(count.load(Ordering::SeqCst) <= 1);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// Sagas on random DAGs: whatever completed and is undoable is undone, newest first; nothing
    /// else is undone; a run without failures undoes nothing.
    #[test]
    fn failed_runs_undo_every_completed_undoable_step_in_reverse_completion_order(
        dag in dag(120),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..=2),
        undoable_mask in proptest::collection::vec(any::<bool>(), 120),
    ) {
        let n = dag.deps.len();
        let failing: Vec<usize> = picks.iter().map(|p| p.index(n) + 1).collect();
        let undoable: Vec<usize> = (1..=n).filter(|&node| undoable_mask[node - 1]).collect();
        for options in options(pool()) {
            let record = Record::new(n + 1);
            let undone = Arc::new(Mutex::new(Vec::new()));
            let order = Order::default();
            let (flow, input, _) = build_saga(&dag, &failing, &undoable, &record, &undone);
            let mut inputs = flow.inputs();
            inputs.set(input, 1);
            let result = flow.run(inputs, options.observer(&order));
            let undone = undone.lock().unwrap().clone();
            if failing.is_empty() {
                prop_assert!(result.is_ok());
                prop_assert!(undone.is_empty(), "a successful run undid {:?}", undone);
                continue;
            }
            let err = result.expect_err("a step fails");
            prop_assert!(err.undo_errors().is_empty());
            let mut want: Vec<usize> = order
                .finished
                .lock()
                .unwrap()
                .iter()
                .copied()
                .filter(|node| undoable.contains(node))
                .collect();
            want.reverse();
            prop_assert_eq!(&undone, &want, "undo order vs reverse completion order");
            prop_assert_eq!(&*order.undo_started.lock().unwrap(), &want);
            // Independent steps may complete in either order, but a step is always undone
            // before the steps it depends on.
            for (i, &first) in undone.iter().enumerate() {
                let descendants = descendants(&dag, first);
                for &then in &undone[i + 1..] {
                    prop_assert!(
                        !descendants[then],
                        "node {} was undone before node {}, which depends on it",
                        first, then
                    );
                }
            }
        }
    }
}

/// A node of a random flow in the step language: its arguments, the steps it waits for
/// without reading them (`after`), and what kind of step it is.
#[derive(Clone, Debug)]
struct Node {
    deps: Vec<usize>,
    after: Vec<usize>,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Plain,
    /// Runs only when node `flag`'s value is even (odd when `negated`).
    When {
        flag: usize,
        negated: bool,
    },
    /// Maps its arguments' values, element by element.
    Map,
}

fn language_dag(max_steps: usize) -> impl Strategy<Value = Vec<Node>> {
    (1..=max_steps).prop_flat_map(|n| {
        (1..=n)
            .map(|i| {
                (
                    proptest::collection::vec(0..i, 0..=4),
                    proptest::collection::vec(0..i, 0..=2),
                    0..3u8,
                    0..i,
                    any::<bool>(),
                )
                    .prop_map(|(deps, after, kind, flag, negated)| Node {
                        deps,
                        // `after` takes steps, not the input.
                        after: after.into_iter().filter(|&a| a > 0).collect(),
                        kind: match kind {
                            0 => Kind::Plain,
                            1 => Kind::When { flag, negated },
                            _ => Kind::Map,
                        },
                    })
            })
            .collect::<Vec<_>>()
    })
}

/// The value of a skipped node.
const SKIPPED: u64 = 0xdead;

fn mapped(node: usize, x: u64) -> u64 {
    x.wrapping_mul(3).wrapping_add(node as u64)
}

fn language_expected(nodes: &[Node], x: u64) -> Vec<u64> {
    let mut values = vec![x];
    for (i, node) in nodes.iter().enumerate() {
        let k = i + 1;
        let args: Vec<&u64> = node.deps.iter().map(|&d| &values[d]).collect();
        let v = match node.kind {
            Kind::Plain => value(k, &args),
            Kind::When { flag, negated } if (values[flag] % 2 == 0) != negated => value(k, &args),
            Kind::When { .. } => SKIPPED,
            Kind::Map => {
                let elements: Vec<u64> = args.iter().map(|a| mapped(k, **a)).collect();
                value(k, &elements.iter().collect::<Vec<_>>())
            }
        };
        values.push(v);
    }
    values
}

/// Records the start of node `k`'s last step now and its finish when dropped.
struct Timed(Arc<Record>, usize);

impl Timed {
    fn start(record: &Arc<Record>, k: usize) -> Self {
        record.started[k].store(record.tick(), Ordering::SeqCst);
        record.runs[k].fetch_add(1, Ordering::SeqCst);
        Timed(Arc::clone(record), k)
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        self.0.finished[self.1].store(self.0.tick(), Ordering::SeqCst);
    }
}

type Ok64 = Result<u64, Injected>;

/// Builds a flow of `nodes`: node `k`'s value is the result of step `s{k}`; a conditional node
/// is a flag step `f{k}`, the conditional step `c{k}` and `s{k}` unwrapping its `Option`; a map
/// node collects its arguments (`v{k}`), maps them (`m{k}`) and folds the results (`s{k}`).
fn build_language(
    nodes: &[Node],
    record: &Arc<Record>,
) -> (DynFlow, Handle<u64>, Vec<Handle<u64>>) {
    let mut b = Builder::new("Language");
    let input = b.input::<u64>("x").unwrap();
    let mut handles = vec![input];
    for (i, node) in nodes.iter().enumerate() {
        let k = i + 1;
        let r = Arc::clone(record);
        let deps: Vec<Handle<u64>> = node.deps.iter().map(|&d| handles[d]).collect();
        let h = match node.kind {
            Kind::Plain => b.step(format!("s{k}"), &deps, move |args: &[&u64]| -> Ok64 {
                let _timed = Timed::start(&r, k);
                Ok(value(k, args))
            }),
            Kind::When { flag, negated } => {
                let f = b
                    .step(format!("f{k}"), handles[flag], |v: &u64| {
                        Ok::<_, Injected>(v.is_multiple_of(2))
                    })
                    .unwrap();
                let condition = if negated { !f } else { f.into() };
                let c = b
                    .when(condition)
                    .step(format!("c{k}"), &deps, move |args: &[&u64]| -> Ok64 {
                        Ok(value(k, args))
                    })
                    .unwrap();
                b.step(format!("s{k}"), c, move |c: &Option<u64>| -> Ok64 {
                    let _timed = Timed::start(&r, k);
                    Ok(c.unwrap_or(SKIPPED))
                })
            }
            Kind::Map => {
                let v = b
                    .step(format!("v{k}"), &deps, |args: &[&u64]| {
                        Ok::<_, Injected>(args.iter().map(|a| **a).collect::<Vec<u64>>())
                    })
                    .unwrap();
                let m = b
                    .map(format!("m{k}"), v, move |x: &u64| -> Ok64 {
                        Ok(mapped(k, *x))
                    })
                    .unwrap();
                b.step(format!("s{k}"), m, move |m: &Vec<u64>| -> Ok64 {
                    let _timed = Timed::start(&r, k);
                    Ok(value(k, &m.iter().collect::<Vec<_>>()))
                })
            }
        }
        .unwrap();
        let after: Vec<Handle<u64>> = node.after.iter().map(|&a| handles[a]).collect();
        b.after(h, &after).unwrap();
        b.output(h);
        handles.push(h);
    }
    (b.build(), input, handles)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// Random flows with `after` edges, conditional steps (negated or not) and map steps:
    /// every schedule computes what a sequential evaluation does, runs each step once, and
    /// starts a step only after its arguments and its `after` steps have finished.
    #[test]
    fn the_step_language_matches_sequential_evaluation(
        nodes in language_dag(60),
        x in any::<u64>(),
    ) {
        let want = language_expected(&nodes, x);
        for options in options(pool()) {
            let record = Record::new(nodes.len() + 1);
            let (flow, input, handles) = build_language(&nodes, &record);
            let mut inputs = flow.inputs();
            inputs.set(input, x);
            let mut outputs = flow.run(inputs, options).expect("no step fails");
            for (k, &h) in handles.iter().enumerate().skip(1) {
                prop_assert_eq!(outputs.take(h), Some(want[k]), "node {}", k);
                prop_assert_eq!(record.runs[k].load(Ordering::SeqCst), 1, "node {} ran once", k);
                let node = &nodes[k - 1];
                for &d in node.deps.iter().chain(&node.after).filter(|&&d| d > 0) {
                    prop_assert!(
                        record.finished[d].load(Ordering::SeqCst)
                            < record.started[k].load(Ordering::SeqCst),
                        "node {} started before node {} finished", k, d
                    );
                }
            }
        }
    }
}
