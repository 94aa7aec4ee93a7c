//! The engine: runs a [`Plan`] under one of the [`Schedule`]s.
//!
//! Flows from `flow!` and from the [`Builder`](crate::Builder) both reach the engine as a
//! [`Plan`] plus an [`Exec`] that runs step `i` and clears slot `s`; the schedules below are the
//! only scheduling code in routilux.
//!
//! Where a run happens follows from the call, never from earlier runs:
//! - with a pool given ([`RunOptions::pool`]), every step runs on that pool's threads (the run
//!   moves there with `install` when called from elsewhere);
//! - called from a pool's thread, the run stays on that pool;
//! - called from any other thread without a pool, [`Schedule::Sequential`] and chain-shaped
//!   flows run on the calling thread, [`Schedule::Layered`] moves to the global pool, and
//!   [`Schedule::Dataflow`] starts on the calling thread and hands ready steps to the global
//!   pool once they have waited a heartbeat (see `watcher`), unless
//!   [`RunOptions::run_on_caller`] says otherwise.

mod dataflow;
mod guarded;
mod lane;
mod layered;
mod notify;
mod sequential;
mod straight;
mod undo;
mod watcher;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::cancel::{CancelToken, Signal};
use crate::context::RunData;
use crate::error::{BoxError, ErrorKind, FlowError, StepPanicked};
use crate::observe::RunInfo;
use crate::options::{RunOptions, Schedule};
use crate::plan::{Hot, Plan};

use lane::Lane;
use notify::Observers;

/// Proof that the engine is running a step or clearing a slot under its ordering rules; only
/// the engine can create one, afresh for each call. See [`Slot`](crate::__private::Slot).
pub struct Access(());

/// A token for one call into the [`Exec`].
#[inline]
fn access() -> Access {
    Access(())
}

/// The typed half of a flow: runs its steps and clears its result slots.
pub trait Exec: Sync {
    /// Runs step `step` (plan order): reads its arguments, stores its result.
    ///
    /// # Errors
    /// The routine's error.
    fn run_step(&self, step: usize, access: &mut Access) -> Result<(), BoxError>;

    /// Drops the value in slot `slot`.
    fn clear(&self, slot: usize, access: &mut Access);

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
    fn compensate(&self, step: usize, error: &BoxError, access: &mut Access) -> Decision {
        let _ = (step, error, access);
        Decision::Retry
    }

    /// The straight-line form of the flow, if it has one: runs every step in plan order and
    /// clears each value after its last reader (as the engine's `Sequential` schedule does),
    /// keeping in `at` the plan position of the step it is running, or
    /// `CLEARING | slot` while it drops a value (`__private::CLEARING`). Only called when every step is plain
    /// (no retries, undo, compensation or context) and nothing observes the run.
    fn run_straight(
        &self,
        at: &std::cell::Cell<u32>,
        access: &mut Access,
    ) -> Option<Result<(), BoxError>> {
        let _ = (at, access);
        None
    }
}

/// In [`Exec::run_straight`]'s position: the run is dropping the value of a slot.
pub const CLEARING: u32 = 1 << 31;

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

/// Runs every step of `plan` on `exec` under `options`. Returns the first failure.
///
/// # Errors
/// The [`FlowError`] of the first step that failed or panicked.
pub fn execute<E: Exec>(plan: &Plan, exec: &E, options: &RunOptions<'_>) -> Result<(), FlowError> {
    if let Some(problem) = &plan.hot().problem {
        return Err(FlowError::new(
            ErrorKind::Internal,
            plan.flow().to_owned().into(),
            None,
            Some(format!("the flow's plan is inconsistent and was not run: {problem}").into()),
        ));
    }
    match options.get_pool() {
        Some(pool) if pool.current_thread_index().is_none() => {
            pool.install(carry_context(|| execute_here(plan, exec, options)))
        }
        None if !options.get_run_on_caller() && rayon::current_thread_index().is_none() => {
            let run = carry_context(|| execute_here(plan, exec, options));
            rayon::scope(|_| run())
        }
        _ => execute_here(plan, exec, options),
    }
}

/// Wraps a run that moves to a pool thread so that it keeps the caller's context there: with
/// the `tracing` feature, the caller's default subscriber (a scoped one included).
fn carry_context<R>(run: impl FnOnce() -> R + Send) -> impl FnOnce() -> R + Send {
    #[cfg(feature = "tracing")]
    {
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        move || tracing::dispatcher::with_default(&dispatch, run)
    }
    #[cfg(not(feature = "tracing"))]
    run
}

/// Runs the flow from the current thread, which is a thread of the run's pool or the caller
/// that may run steps itself.
fn execute_here<E: Exec>(plan: &Plan, exec: &E, options: &RunOptions<'_>) -> Result<(), FlowError> {
    let flow_observer = plan.flow_observer();
    let hot = plan.hot();
    // One thread carries the run out anyway, and nothing needs the engine's guarded path:
    // the flow's own straight-line form runs it.
    let one_thread = options.get_schedule() == Schedule::Sequential
        || plan.layer_bounds().len() == hot.steps.len() + 1;
    let unobserved = options.get_observer().is_none() && flow_observer.is_none() && {
        #[cfg(feature = "tracing")]
        let traced = crate::trace::enabled();
        #[cfg(not(feature = "tracing"))]
        let traced = false;
        !traced
    };
    if one_thread
        && hot.all_plain
        && unobserved
        && options.get_cancel().is_none()
        && options.get_timeout().is_none()
        && let Some(result) = straight::run(plan, exec)
    {
        return result;
    }
    let mut observers = Observers::default();
    if let Some(own) = options.get_observer() {
        observers.push(own);
    }
    if let Some(flow) = flow_observer.as_deref() {
        observers.push(flow);
    }
    #[cfg(feature = "tracing")]
    if crate::trace::enabled() {
        observers.push(&crate::trace::SPANS);
    }
    let deadline = options
        .get_timeout()
        .and_then(|timeout| Instant::now().checked_add(timeout));
    let mut lane = Lane::acquire();
    let owned = lane.lane();
    let scratch = lane.scratch(Run::<E>::scratch_len(hot));
    let mut run = Run::new(plan, exec, observers, options, deadline, owned, scratch);
    run.emit(notify::RUN_STARTED, None, |o| o.run_started(&run.info()));
    // A plan with one step per layer is a chain: no schedule can run two of its steps at
    // once, so none pays for other threads.
    let chain = plan.layer_bounds().len() == hot.steps.len() + 1;
    let in_pool = rayon::current_thread_index().is_some();
    match options.get_schedule() {
        _ if chain => run.sequential(),
        Schedule::Sequential => run.sequential(),
        Schedule::Layered if in_pool => run.layered(),
        Schedule::Layered => rayon::scope(|_| run.layered()),
        Schedule::Dataflow => run.dataflow(in_pool),
    }
    let (result, info) = run.finish();
    // A panic in `run_finished` cannot change a result that is already decided.
    let heard = result.as_ref().copied();
    run.emit_after(|o| o.run_finished(&info, heard));
    result
}

/// The shared state of one run.
pub(crate) struct Run<'a, E> {
    id: u64,
    plan: &'a Plan,
    hot: &'a Hot,
    exec: &'a E,
    observers: Observers<'a>,
    /// Whether every step takes the guarded path: an observer, a cancel token or a deadline.
    guarded: bool,
    cancel: Option<&'a CancelToken>,
    deadline: Option<Instant>,
    undo_budget: Duration,
    data: Option<&'a RunData>,
    own_data: OnceLock<RunData>,
    /// Wakes steps sleeping before a retry when the run stops.
    wake: Signal,
    /// The lane the run's counters live in and helpers join it through.
    lane: &'static Lane,
    /// Undoable steps in the order they completed (the first `completed` entries).
    done: &'a [AtomicU32],
    completed: AtomicUsize,
    /// With an observer: makes the completion order and the order of `step_finished` events
    /// of undoable steps the same, so observers see the order undo reverses.
    finish_order: std::sync::Mutex<()>,
    /// Per step: dependencies not yet finished (used only for steps with two or more).
    pending: &'a [AtomicU32],
    /// Per slot: consumers not yet finished (used only for slots with two or more).
    remaining: &'a [AtomicU32],
    /// The queue of ready steps (Dataflow): `lane.head..lane.tail`, each entry `step + 1`.
    ready: &'a [AtomicU32],
    stopped: AtomicBool,
    failure: OnceLock<FlowError>,
}

impl<'a, E: Exec> Run<'a, E> {
    /// Counters a run of `hot` needs: pending, remaining, the ready queue and the undo log.
    fn scratch_len(hot: &Hot) -> usize {
        hot.steps.len() * 2 + hot.slots.len() + hot.undoable
    }

    fn new(
        plan: &'a Plan,
        exec: &'a E,
        observers: Observers<'a>,
        options: &RunOptions<'a>,
        deadline: Option<Instant>,
        lane: &'static Lane,
        scratch: &'a [AtomicU32],
    ) -> Self {
        let hot = plan.hot();
        let cancel = options.get_cancel();
        let (pending, rest) = scratch.split_at(hot.steps.len());
        let (remaining, rest) = rest.split_at(hot.slots.len());
        let (ready, done) = rest.split_at(hot.steps.len());
        for (counter, step) in pending.iter().zip(&hot.steps) {
            if step.deps > 1 {
                counter.store(step.deps, Ordering::Relaxed);
            }
        }
        for (counter, slot) in remaining.iter().zip(&hot.slots) {
            if slot.consumers() > 1 {
                counter.store(slot.consumers(), Ordering::Relaxed);
            }
        }
        let guarded = !observers.is_empty() || cancel.is_some() || deadline.is_some();
        let run = Run {
            // Only observers and contexts see the id: runs of plain steps nobody observes
            // skip the shared counter.
            id: if guarded || !hot.all_plain {
                RUN_IDS.fetch_add(1, Ordering::Relaxed)
            } else {
                0
            },
            plan,
            hot,
            exec,
            guarded,
            observers,
            cancel,
            deadline,
            undo_budget: options.get_undo_timeout(),
            data: options.get_data(),
            own_data: OnceLock::new(),
            wake: Signal::new(),
            lane,
            done,
            completed: AtomicUsize::new(0),
            finish_order: std::sync::Mutex::new(()),
            pending,
            remaining,
            ready,
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
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.exec.run_step(i as usize, &mut access())
        }));
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
            self.clear(slot);
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
            self.clear(slot);
        }
    }

    /// Drops the value in `slot`. A `Drop` that panics fails the run (as a panic of the step
    /// or input the value came from) instead of unwinding through the engine.
    #[inline]
    fn clear(&self, slot: u32) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
            self.exec.clear(slot as usize, &mut access())
        })) {
            self.drop_panicked(slot, &*payload);
        }
    }

    #[cold]
    fn drop_panicked(&self, slot: u32, payload: &(dyn std::any::Any + Send)) {
        let inputs = self.hot.inputs;
        let (what, name) = if slot < inputs {
            let name = self.plan.input_name(slot as usize);
            ("input", name)
        } else {
            (
                "result of step",
                self.plan.steps()[(slot - inputs) as usize].name_cow(),
            )
        };
        let message = format!(
            "dropping the {what} `{name}` panicked: {}",
            StepPanicked::from_payload(payload).message()
        );
        self.stop(FlowError::new(
            ErrorKind::Panicked,
            self.flow_name(),
            Some(name),
            Some(Box::new(StepPanicked::new(message))),
        ));
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

    /// After the schedule: drops what is left, undoes completed steps if the run failed, and
    /// hands back the result. Afterwards only the returned values of a successful run remain.
    fn finish(&mut self) -> (Result<(), FlowError>, RunInfo<'a>) {
        let info = self.info();
        let slots = self.hot.slots.len() as u32;
        let leftover = |slot: u32| {
            let plan = self.hot.slots[slot as usize];
            plan.needs_drop() && !plan.kept()
        };
        // Values of a stopped run that their consumers never released.
        if self.failure.get().is_some() {
            (0..slots)
                .filter(|&s| leftover(s))
                .for_each(|s| self.clear(s));
        }
        let undo_errors = if self.failure.get().is_some() {
            self.undo_completed()
        } else {
            Vec::new()
        };
        // Values kept for undo, and on failure the values that were to be returned.
        let failed = self.failure.get().is_some();
        for slot in 0..slots {
            let plan = self.hot.slots[slot as usize];
            if plan.needs_drop() && plan.kept() && (failed || !plan.returned()) {
                self.clear(slot);
            }
        }
        let result = match self.failure.take() {
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
