//! The engine: runs a [`Plan`] under one of the [`Schedule`]s.
//!
//! Flows from `flow!` and from the [`Builder`](crate::Builder) both reach the engine as a
//! [`Plan`] plus an [`Exec`] that runs step `i` and clears slot `s`; the schedules below are the
//! only scheduling code in routilux.

mod dataflow;
mod guarded;
mod layered;
mod sequential;
mod undo;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::cancel::{CancelToken, Signal};
use crate::context::RunData;
use crate::error::{BoxError, ErrorKind, FlowError, StepPanicked};
use crate::observe::{Both, Observer, RunInfo};
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

    /// Undoes step `step`, which succeeded (only called for undoable steps).
    ///
    /// # Errors
    /// The undo's error.
    fn undo_step(&self, step: usize, access: &Access) -> Result<(), BoxError> {
        let _ = (step, access);
        Ok(())
    }

    /// Asks step `step` what its failure `error` means (only called for steps that
    /// compensate); stores the replacement value when it continues.
    fn compensate(&self, step: usize, error: &BoxError, access: &Access) -> Decision {
        let _ = (step, error, access);
        Decision::Retry
    }
}

/// What a failed step does next, as decided by its compensation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Retry if attempts are left, else fail.
    Retry,
    /// The step's slot now holds a replacement value: it succeeded.
    Continued,
    /// Fail now.
    Fail,
}

/// Run ids: unique within the process.
static RUN_IDS: AtomicU64 = AtomicU64::new(1);

/// Parallel schedules run a flow inline when its steps recently averaged less than this.
const INLINE_BELOW_NS: u64 = 1_000;

/// Runs every step of `plan` on `exec` under `options`. Returns the first failure.
///
/// # Errors
/// The [`FlowError`] of the first step that failed or panicked.
pub fn execute<E: Exec>(plan: &Plan, exec: &E, options: &RunOptions<'_>) -> Result<(), FlowError> {
    let flow_observer = plan.flow_observer();
    let both;
    let observer: Option<&dyn Observer> = match (options.get_observer(), flow_observer.as_deref()) {
        (Some(own), Some(flow)) => {
            both = Both(own, flow);
            Some(&both)
        }
        (Some(own), None) => Some(own),
        (None, Some(flow)) => Some(flow),
        (None, None) => None,
    };
    #[cfg(feature = "tracing")]
    let with_spans;
    #[cfg(feature = "tracing")]
    let observer: Option<&dyn Observer> = match observer {
        _ if !crate::trace::enabled() => observer,
        Some(others) => {
            with_spans = Both(others, &crate::trace::SPANS);
            Some(&with_spans)
        }
        None => Some(&crate::trace::SPANS),
    };
    let deadline = options
        .get_timeout()
        .and_then(|timeout| Instant::now().checked_add(timeout));
    let run = Run::new(plan, exec, observer, options, deadline);
    if let Some(observer) = observer {
        observer.run_started(&run.info());
    }
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
    let (result, info) = run.finish();
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
        observer.run_finished(&info, result.as_ref().copied());
    }
    result
}

/// The shared state of one run.
pub(crate) struct Run<'a, E> {
    id: u64,
    plan: &'a Plan,
    hot: &'a Hot,
    exec: &'a E,
    observer: Option<&'a dyn Observer>,
    /// Whether every step takes the guarded path: an observer, a cancel token or a deadline.
    guarded: bool,
    cancel: Option<&'a CancelToken>,
    deadline: Option<Instant>,
    data: Option<&'a RunData>,
    own_data: OnceLock<RunData>,
    /// Wakes steps sleeping before a retry when the run stops.
    wake: Signal,
    /// Undoable steps in the order they completed (the first `completed` entries).
    done: Box<[AtomicU32]>,
    completed: AtomicUsize,
    /// With an observer: makes the completion order and the order of `step_finished` events
    /// of undoable steps the same, so observers see the order undo reverses.
    finish_order: std::sync::Mutex<()>,
    /// Per step: dependencies not yet finished (used only for steps with two or more).
    pending: Box<[AtomicU32]>,
    /// Per slot: consumers not yet finished (used only for slots with two or more).
    remaining: Box<[AtomicU32]>,
    stopped: AtomicBool,
    failure: OnceLock<FlowError>,
}

impl<'a, E: Exec> Run<'a, E> {
    fn new(
        plan: &'a Plan,
        exec: &'a E,
        observer: Option<&'a dyn Observer>,
        options: &RunOptions<'a>,
        deadline: Option<Instant>,
    ) -> Self {
        let hot = plan.hot();
        let cancel = options.get_cancel();
        let pending = hot.steps.iter().map(|s| AtomicU32::new(s.deps)).collect();
        let remaining = hot
            .slots
            .iter()
            .map(|s| AtomicU32::new(s.consumers()))
            .collect();
        let run = Run {
            id: RUN_IDS.fetch_add(1, Ordering::Relaxed),
            plan,
            hot,
            exec,
            observer,
            guarded: observer.is_some() || cancel.is_some() || deadline.is_some(),
            cancel,
            deadline,
            data: options.get_data(),
            own_data: OnceLock::new(),
            wake: Signal::new(),
            done: (0..hot.undoable).map(|_| AtomicU32::new(0)).collect(),
            completed: AtomicUsize::new(0),
            finish_order: std::sync::Mutex::new(()),
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
        let step = self.hot.steps[i as usize];
        if self.guarded || !step.plain {
            return self.run_step_guarded(i);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| self.exec.run_step(i as usize, &ACCESS)));
        if step.drops {
            for &slot in self.hot.reads(i) {
                self.release(slot);
            }
        }
        let (kind, error): (ErrorKind, BoxError) = match outcome {
            Ok(Ok(())) => {
                if step.drops {
                    self.after_produced(self.hot.inputs + i);
                }
                return true;
            }
            Ok(Err(error)) => (ErrorKind::Failed, error),
            Err(payload) => (
                ErrorKind::Panicked,
                Box::new(StepPanicked::from_payload(&*payload)),
            ),
        };
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

    /// Step `i` failed for good: stop the run. Returns whether this was the run's first
    /// failure (later ones are consequences of the same stop and are not kept).
    #[cold]
    fn fail(&self, i: u32, kind: ErrorKind, source: BoxError) -> bool {
        let step = self.plan.steps()[i as usize].name_cow();
        self.stop(FlowError::new(
            kind,
            self.flow_name(),
            Some(step),
            Some(source),
        ))
    }

    #[cold]
    fn stop(&self, error: FlowError) -> bool {
        self.stopped.store(true, Ordering::Relaxed);
        let first = self.failure.set(error).is_ok();
        // Wake steps sleeping before a retry: the run is over for them.
        self.wake.notify();
        if let Some(token) = self.cancel {
            token.signal().notify();
        }
        first
    }

    fn flow_name(&self) -> std::borrow::Cow<'static, str> {
        self.plan.flow().to_owned().into()
    }

    pub(crate) fn info(&self) -> RunInfo<'a> {
        RunInfo::new(self.id, self.plan)
    }

    /// The run's key/value data.
    fn data(&self) -> &RunData {
        match self.data {
            Some(data) => data,
            None => self.own_data.get_or_init(RunData::new),
        }
    }

    /// After the schedule: undoes completed steps if the run failed, and hands back the
    /// result.
    fn finish(self) -> (Result<(), FlowError>, RunInfo<'a>) {
        let info = self.info();
        let undo_errors = if self.failure.get().is_some() {
            self.undo_completed()
        } else {
            Vec::new()
        };
        let result = match self.failure.into_inner() {
            Some(mut error) => {
                if !undo_errors.is_empty() {
                    error.set_undo_errors(undo_errors);
                }
                Err(error)
            }
            None => Ok(()),
        };
        (result, info)
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
