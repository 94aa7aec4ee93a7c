//! The contenders routilux is measured against, each running a [`Shape`] with the same step
//! bodies ([`work::trivial`](crate::work::trivial) or [`work::heavy`](crate::work::heavy)):
//! hand-written rayon in two styles, dagx (on tokio) and `dag_exec`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::shapes::Shape;

/// A step body: the values of its arguments in, its value out.
pub type Body = fn(&[u64]) -> u64;

/// A shape prepared for the hand-written contenders.
pub struct Prepared<'s> {
    shape: &'s Shape,
    layers: Vec<Vec<usize>>,
    successors: Vec<Vec<usize>>,
    roots: Vec<usize>,
    body: Body,
}

impl<'s> Prepared<'s> {
    /// Precomputes layers and successors (not part of any measured run).
    pub fn new(shape: &'s Shape, body: Body) -> Self {
        let roots = (0..shape.len())
            .filter(|&i| shape.deps[i].is_empty())
            .collect();
        Prepared {
            shape,
            layers: shape.layers(),
            successors: shape.successors(),
            roots,
            body,
        }
    }

    fn compute(&self, i: usize, values: &[AtomicU64]) -> u64 {
        let deps = &self.shape.deps[i];
        let mut args = [0u64; 4];
        for (slot, &d) in args.iter_mut().zip(deps) {
            *slot = values[d].load(Ordering::Relaxed);
        }
        (self.body)(&args[..deps.len()])
    }

    /// Hand-written rayon, style 1: each layer with `par_iter`, a barrier between layers.
    /// Returns the last step's value.
    pub fn rayon_layers(&self) -> u64 {
        use rayon::prelude::*;
        let values: Vec<AtomicU64> = (0..self.shape.len()).map(|_| AtomicU64::new(0)).collect();
        for layer in &self.layers {
            layer.par_iter().for_each(|&i| {
                values[i].store(self.compute(i, &values), Ordering::Relaxed);
            });
        }
        values[self.shape.len() - 1].load(Ordering::Relaxed)
    }

    /// Hand-written rayon, style 2: atomic pending-dependency counters, one `spawn` per step
    /// that becomes ready. Returns the last step's value.
    pub fn rayon_counters(&self) -> u64 {
        let values: Vec<AtomicU64> = (0..self.shape.len()).map(|_| AtomicU64::new(0)).collect();
        let pending: Vec<AtomicU32> = self
            .shape
            .deps
            .iter()
            .map(|d| AtomicU32::new(d.len() as u32))
            .collect();
        fn run<'a>(
            p: &'a Prepared<'_>,
            s: &rayon::Scope<'a>,
            i: usize,
            values: &'a [AtomicU64],
            pending: &'a [AtomicU32],
        ) {
            values[i].store(p.compute(i, values), Ordering::Release);
            for &next in &p.successors[i] {
                if pending[next].fetch_sub(1, Ordering::AcqRel) == 1 {
                    s.spawn(move |s| run(p, s, next, values, pending));
                }
            }
        }
        rayon::scope(|s| {
            for &root in &self.roots {
                let (values, pending) = (&values[..], &pending[..]);
                s.spawn(move |s| run(self, s, root, values, pending));
            }
        });
        values[self.shape.len() - 1].load(Ordering::Acquire)
    }

    /// The steps nobody consumes (what `dag_exec` must be asked for to run everything).
    pub fn sinks(&self) -> Vec<usize> {
        (0..self.shape.len())
            .filter(|&i| self.successors[i].is_empty())
            .collect()
    }
}

/// A `dag_exec` graph of the shape, and the outputs to request so every step runs.
pub struct DagExec {
    dag: dag_exec::Dag<usize, u64, std::convert::Infallible>,
    sinks: Vec<usize>,
    last: usize,
}

impl DagExec {
    /// Builds the graph (once; `dag_exec` graphs can be run many times).
    pub fn new(prepared: &Prepared<'_>) -> Self {
        let mut b = dag_exec::DagBuilder::<usize, u64, std::convert::Infallible>::new();
        let body = prepared.body;
        for (i, deps) in prepared.shape.deps.iter().enumerate() {
            b.add_task(i, deps.clone(), move |xs: &[Arc<u64>]| {
                let mut args = [0u64; 4];
                for (slot, x) in args.iter_mut().zip(xs) {
                    *slot = **x;
                }
                Ok(body(&args[..xs.len()]))
            })
            .expect("a valid node");
        }
        DagExec {
            dag: b.build().expect("a valid graph"),
            sinks: prepared.sinks(),
            last: prepared.shape.len() - 1,
        }
    }

    /// Runs every step on `threads` workers; returns the last step's value.
    pub fn run(&self, threads: usize) -> u64 {
        let exec = dag_exec::Executor::new(dag_exec::ExecutorConfig {
            max_workers: threads,
            ..dag_exec::ExecutorConfig::default()
        });
        let out = exec
            .run_parallel(&self.dag, self.sinks.iter().copied())
            .expect("dag_exec runs");
        *out[&self.last]
    }
}

/// dagx tasks for zero to four arguments.
mod dagx_tasks {
    // dagx's macro expects `Task` and the `futures` crate in scope.
    use dagx::{Task, task};

    use crate::work::trivial;

    pub struct T0;
    #[task]
    impl T0 {
        async fn run() -> u64 {
            trivial(&[])
        }
    }

    pub struct T1;
    #[task]
    impl T1 {
        async fn run(a: &u64) -> u64 {
            trivial(&[*a])
        }
    }

    pub struct T2;
    #[task]
    impl T2 {
        async fn run(a: &u64, b: &u64) -> u64 {
            trivial(&[*a, *b])
        }
    }

    pub struct T3;
    #[task]
    impl T3 {
        async fn run(a: &u64, b: &u64, c: &u64) -> u64 {
            trivial(&[*a, *b, *c])
        }
    }

    pub struct T4;
    #[task]
    impl T4 {
        async fn run(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
            trivial(&[*a, *b, *c, *d])
        }
    }
}

/// Builds a dagx graph of the shape with trivial bodies. dagx graphs run once: build one per
/// run. Returns the runner and the last step's handle.
pub fn dagx_build(shape: &Shape) -> (dagx::DagRunner, dagx::TaskHandle<u64>) {
    use dagx_tasks::{T0, T1, T2, T3, T4};
    let dag = dagx::DagRunner::new();
    let mut handles: Vec<dagx::TaskHandle<u64>> = Vec::with_capacity(shape.len());
    for deps in &shape.deps {
        let h = |k: usize| &handles[deps[k]];
        let handle: dagx::TaskHandle<u64> = match deps.len() {
            0 => dag.add_task(T0).into(),
            1 => dag.add_task(T1).depends_on(h(0)),
            2 => dag.add_task(T2).depends_on((h(0), h(1))),
            3 => dag.add_task(T3).depends_on((h(0), h(1), h(2))),
            _ => dag.add_task(T4).depends_on((h(0), h(1), h(2), h(3))),
        };
        handles.push(handle);
    }
    let last = handles.pop().expect("a shape has steps");
    (dag, last)
}

/// Runs a dagx graph on a tokio runtime; returns the value of `last`.
pub fn dagx_run(
    rt: &tokio::runtime::Runtime,
    dag: &dagx::DagRunner,
    last: dagx::TaskHandle<u64>,
) -> u64 {
    rt.block_on(async {
        dag.run(|fut| {
            tokio::spawn(fut);
        })
        .await
        .expect("dagx runs");
    });
    dag.get(last).expect("dagx result")
}

/// A multi-thread tokio runtime with `threads` workers, as dagx is meant to run on.
pub fn tokio_runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .build()
        .expect("a tokio runtime")
}
