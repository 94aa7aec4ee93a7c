//! The engine: runs a [`Plan`] under one of the [`Schedule`]s.
//!
//! Flows from `flow!` and from the [`Builder`](crate::Builder) both reach the engine as a
//! [`Plan`] plus an [`Exec`] that runs step `i` and clears slot `s`; the schedules below are the
//! only scheduling code in routilux.

mod dataflow;
mod layered;
mod sequential;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use crate::error::{BoxError, ErrorKind, FlowError, StepPanicked};
use crate::observe::Observer;
use crate::options::{RunOptions, Schedule};
use crate::plan::{Hot, Plan};

/// Proof that the engine is running a step or clearing a slot under its ordering rules; only
/// the engine can create one. See [`Slot`](crate::__private::Slot).
pub struct Access(());

const ACCESS: Access = Access(());

/// The typed half of a flow: runs its steps and clears its result slots.
pub trait Exec: Sync {
    /// Runs step `step` (plan order): reads its arguments, stores its result.
    ///
    /// # Errors
    /// The routine's error.
    fn run_step(&self, step: usize, access: &Access) -> Result<(), BoxError>;

    /// Drops the value in slot `slot`.
    fn clear(&self, slot: usize, access: &Access);
}

/// Parallel schedules run a flow inline when its steps recently averaged less than this.
const INLINE_BELOW_NS: u64 = 1_000;

/// Runs every step of `plan` on `exec` under `options`. Returns the first failure.
///
/// # Errors
/// The [`FlowError`] of the first step that failed or panicked.
pub fn execute<E: Exec>(plan: &Plan, exec: &E, options: &RunOptions<'_>) -> Result<(), FlowError> {
    let observer = options.get_observer();
    if let Some(observer) = observer {
        observer.run_started(plan);
    }
    let run = Run::new(plan, exec, observer);
    let run_steps = run.hot.steps.len();
    // A plan with one step per layer is a chain: no schedule can run two of its steps at
    // once, so none pays for waking the pool.
    let chain = plan.layer_bounds().len() == run.hot.steps.len() + 1;
    let requested = options.get_schedule();
    let adaptive = options.get_inline_small() && requested != Schedule::Sequential;
    let small = adaptive && plan.step_cost().is_some_and(|ns| ns < INLINE_BELOW_NS);
    let schedule = if chain || small {
        Schedule::Sequential
    } else {
        requested
    };
    let started = adaptive.then(Instant::now);
    match schedule {
        Schedule::Sequential => run.sequential(),
        Schedule::Layered => match options.get_pool() {
            Some(pool) => pool.install(|| run.layered()),
            None => run.layered(),
        },
        Schedule::Dataflow => match options.get_pool() {
            Some(pool) => pool.install(|| run.dataflow()),
            None => run.dataflow(),
        },
    }
    let result = run.finish();
    if let (Some(started), Ok(())) = (started, &result) {
        // Cost of a step if one thread had run them all: wall time times the threads used.
        let threads = match schedule {
            Schedule::Sequential => 1,
            _ => options.get_pool().map_or_else(
                rayon::current_num_threads,
                rayon::ThreadPool::current_num_threads,
            ),
        };
        let steps = run_steps.max(1) as u128;
        let ns = started.elapsed().as_nanos() * threads as u128 / steps;
        plan.record_step_cost(u64::try_from(ns).unwrap_or(u64::MAX));
    }
    if let Some(observer) = observer {
        observer.run_finished(plan, result.as_ref().copied());
    }
    result
}

/// The shared state of one run.
pub(crate) struct Run<'a, E> {
    plan: &'a Plan,
    hot: &'a Hot,
    exec: &'a E,
    observer: Option<&'a dyn Observer>,
    /// Per step: dependencies not yet finished (used only for steps with two or more).
    pending: Box<[AtomicU32]>,
    /// Per slot: consumers not yet finished (used only for slots with two or more).
    remaining: Box<[AtomicU32]>,
    stopped: AtomicBool,
    failure: OnceLock<FlowError>,
}

impl<'a, E: Exec> Run<'a, E> {
    fn new(plan: &'a Plan, exec: &'a E, observer: Option<&'a dyn Observer>) -> Self {
        let hot = plan.hot();
        let pending = hot.steps.iter().map(|s| AtomicU32::new(s.deps)).collect();
        let remaining = hot
            .slots
            .iter()
            .map(|s| AtomicU32::new(s.consumers()))
            .collect();
        let run = Run {
            plan,
            hot,
            exec,
            observer,
            pending,
            remaining,
            stopped: AtomicBool::new(false),
            failure: OnceLock::new(),
        };
        // Inputs nobody reads are dropped up front.
        for input in 0..hot.inputs {
            run.after_produced(input);
        }
        run
    }

    /// Runs step `i` unless the run has stopped; then releases what it read. Returns whether
    /// the step ran and succeeded.
    #[inline]
    fn run_step(&self, i: u32) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        if let Some(observer) = self.observer {
            observer.step_started(&self.plan.steps()[i as usize]);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| self.exec.run_step(i as usize, &ACCESS)));
        let drops = self.hot.steps[i as usize].drops;
        if drops {
            for &slot in self.hot.reads(i) {
                self.release(slot);
            }
        }
        let (kind, error): (ErrorKind, BoxError) = match outcome {
            Ok(Ok(())) => {
                if drops {
                    self.after_produced(self.hot.inputs + i);
                }
                if let Some(observer) = self.observer {
                    observer.step_finished(&self.plan.steps()[i as usize]);
                }
                return true;
            }
            Ok(Err(error)) => (ErrorKind::Failed, error),
            Err(payload) => (
                ErrorKind::Panicked,
                Box::new(StepPanicked::from_payload(&*payload)),
            ),
        };
        if let Some(observer) = self.observer {
            observer.step_failed(&self.plan.steps()[i as usize], &*error);
        }
        self.fail(i, kind, error);
        false
    }

    /// A value was just produced: drop it at once if nobody will read it.
    #[inline]
    fn after_produced(&self, slot: u32) {
        let plan = self.hot.slots[slot as usize];
        if plan.consumers() == 0 && !plan.kept() && plan.needs_drop() {
            self.exec.clear(slot as usize, &ACCESS);
        }
    }

    /// A consumer of `slot` finished: the last one drops the value.
    #[inline]
    fn release(&self, slot: u32) {
        let plan = self.hot.slots[slot as usize];
        if plan.kept() || !plan.needs_drop() {
            return;
        }
        // Acquire-release, as in `Arc::drop`: every reader's use of the value happens before
        // the last reader drops it.
        if plan.consumers() == 1
            || self.remaining[slot as usize].fetch_sub(1, Ordering::AcqRel) == 1
        {
            self.exec.clear(slot as usize, &ACCESS);
        }
    }

    /// One dependency of step `i` finished; returns whether `i` is now ready.
    #[inline]
    fn dependency_done(&self, i: u32) -> bool {
        // A step with one dependency is released by that one finishing: no counter needed.
        // Otherwise acquire-release orders every producer's write before the step's reads.
        self.hot.steps[i as usize].deps == 1
            || self.pending[i as usize].fetch_sub(1, Ordering::AcqRel) == 1
    }

    #[cold]
    fn fail(&self, i: u32, kind: ErrorKind, source: BoxError) {
        self.stopped.store(true, Ordering::Relaxed);
        let step = self.plan.steps()[i as usize].name_cow();
        let flow = self.plan.flow().to_owned().into();
        // Only the first failure is kept; later ones are consequences of the same stop.
        let _ = self
            .failure
            .set(FlowError::new(kind, flow, Some(step), Some(source)));
    }

    fn finish(self) -> Result<(), FlowError> {
        match self.failure.into_inner() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use crate::{Builder, DynFlow, RunOptions, Schedule};

    type Threads = Arc<Mutex<Vec<Option<usize>>>>;

    /// Two independent steps that record which rayon thread ran them.
    fn flow(threads: &Threads) -> DynFlow {
        let mut b = Builder::new("Where");
        let x = b.input::<u64>("x").unwrap();
        for name in ["a", "b"] {
            let threads = Arc::clone(threads);
            b.step(name, &[x], move |_: &[&u64]| {
                threads.lock().unwrap().push(rayon::current_thread_index());
                Ok::<u64, std::convert::Infallible>(1)
            })
            .unwrap();
        }
        b.build()
    }

    fn run(flow: &DynFlow, options: RunOptions<'_>) {
        let mut inputs = flow.inputs();
        let x = crate::builder::first_input_handle(flow);
        inputs.set(x, 1);
        flow.run(inputs, options).unwrap();
    }

    #[test]
    fn small_flows_run_inline_and_heavier_ones_go_parallel_again() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let threads = Threads::default();
        let flow = flow(&threads);
        let options = RunOptions::from(Schedule::Dataflow).pool(&pool);

        // Cheap steps: the run stays on the calling thread (not a pool thread).
        flow.plan().record_step_cost(10);
        run(&flow, options.inline_small(true));
        assert_eq!(*threads.lock().unwrap(), [None, None]);

        // Unless inlining is switched off.
        threads.lock().unwrap().clear();
        flow.plan().record_step_cost(10);
        run(&flow, options.inline_small(false));
        assert!(threads.lock().unwrap().iter().all(Option::is_some));

        // Expensive steps: on the pool.
        threads.lock().unwrap().clear();
        for _ in 0..8 {
            flow.plan().record_step_cost(1_000_000);
        }
        let before = flow.plan().step_cost().unwrap();
        assert!(before > super::INLINE_BELOW_NS, "{before}");
        flow.plan().record_step_cost(before);
        run(&flow, options.inline_small(true));
        assert!(threads.lock().unwrap().iter().all(Option::is_some));
    }
}
