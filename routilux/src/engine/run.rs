//! [`Run`]: the shared state of one run, and what every schedule does with it — run a step,
//! release what it read, drop values (a panicking `Drop` fails the run), stop on the first
//! failure, and finish: drop what is left and undo.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::Exec;
use super::lane::Lane;
use super::notify::Observers;
use super::permits::Limits;
use crate::cancel::{CancelToken, Signal};
use crate::context::RunData;
use crate::error::{BoxError, ErrorKind, FlowError, StepPanicked, UndoError};
use crate::observe::RunInfo;
use crate::options::RunOptions;
use crate::plan::{Hot, Plan};
use crate::slot::Access;
use crate::subflow::{Keepsakes, Nest};

/// Run ids: unique within the process.
static RUN_IDS: AtomicU64 = AtomicU64::new(1);

/// The shared state of one run.
pub(crate) struct Run<'a, E> {
    pub(super) id: u64,
    /// The run's brand: what its slots and access tokens carry.
    pub(super) brand: u64,
    pub(super) plan: &'a Plan,
    pub(super) hot: &'a Hot,
    pub(super) exec: &'a E,
    pub(super) observers: Observers<'a>,
    /// Whether every step takes the guarded path: an observer, a deadline, a parent run or
    /// a concurrency limit (a cancel token alone does not need it: see `run_step`).
    pub(super) guarded: bool,
    pub(super) cancel: Option<&'a CancelToken>,
    pub(super) deadline: Option<Instant>,
    pub(super) undo_budget: Duration,
    pub(super) data: Option<&'a RunData>,
    pub(super) own_data: OnceLock<RunData>,
    /// Wakes steps sleeping before a retry when the run stops.
    pub(super) wake: Signal,
    /// The lane the run's counters live in and helpers join it through.
    pub(super) lane: &'static Lane,
    /// Undoable steps in the order they completed (the first `completed` entries).
    pub(super) done: &'a [AtomicU32],
    pub(super) completed: AtomicUsize,
    /// How many of the newest completed steps the run's undo has dealt with (so that an undo
    /// cut short by a dropped future goes on from there).
    pub(super) undone: AtomicUsize,
    /// With an observer: makes the completion order and the order of `step_finished` events
    /// of undoable steps the same, so observers see the order undo reverses.
    pub(super) finish_order: std::sync::Mutex<()>,
    /// Per step: dependencies not yet finished (used only for steps with two or more).
    pub(super) pending: &'a [AtomicU32],
    /// Per slot: consumers not yet finished (used only for slots with two or more).
    pub(super) remaining: &'a [AtomicU32],
    /// The queue of ready steps (Dataflow): `lane.head..lane.tail`, each entry `step + 1`.
    pub(super) ready: &'a [AtomicU32],
    pub(super) stopped: AtomicBool,
    pub(super) failure: OnceLock<FlowError>,
    /// Undo errors carried by failures that came after the first (a map step that undid its
    /// elements as the run stopped): reported with the first.
    pub(super) late_undo_errors: Mutex<Vec<UndoError>>,
    /// The options the run was called with, for the sub-flows it runs.
    pub(super) options: &'a RunOptions<'a>,
    /// For the run of a sub-flow: what it inherits from the step that runs it.
    pub(super) parent: Option<&'a Nest<'a>>,
    /// Successful runs of its sub-flow steps, kept for undo.
    pub(super) keep: Keepsakes,
    /// Async steps that became ready, for the run's owner to start (see `drive`).
    pub(super) deferred: std::sync::Mutex<Vec<u32>>,
    /// Where helpers are spawned when the owner is not a pool thread (an async run).
    pub(super) spawn_on: Option<&'a rayon::ThreadPool>,
    /// The limits its steps take permits of.
    pub(super) limits: Limits<'a>,
    /// Whether steps can be ready without a thread to run them (async steps, steps that wait
    /// for permits): then the run counts its outstanding steps in `work`.
    pub(super) tracked: bool,
    /// Steps ready, queued, waiting or running (only when `tracked`).
    pub(super) work: AtomicUsize,
    /// Whether steps that wait for permits park (a blocking run: see `parked`) rather than
    /// being deferred to the run's owner (a future: see `drive`).
    pub(super) parks: bool,
}

impl<'a, E: Exec> Run<'a, E> {
    /// Counters a run of `hot` needs: pending, remaining, the ready queue and the undo log.
    pub(super) fn scratch_len(hot: &Hot) -> usize {
        hot.steps.len() * 2 + hot.slots.len() + hot.undoable
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn new(
        plan: &'a Plan,
        exec: &'a E,
        brand: u64,
        observers: Observers<'a>,
        options: &'a RunOptions<'a>,
        deadline: Option<Instant>,
        lane: &'static Lane,
        scratch: &'a [AtomicU32],
        parent: Option<&'a Nest<'a>>,
        limits: Limits<'a>,
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
        // A cancel token alone does not need it: plain steps check the token before they
        // start (see `run_step`).
        let guarded =
            !observers.is_empty() || deadline.is_some() || parent.is_some() || limits.gated;
        // Built in place: the caller's `let` receives it without a copy (a named local returned
        // after use was copied, about 7% of a small flow's run).
        Run {
            // Only observers and contexts see the id: runs of plain steps nobody observes
            // skip the shared counter.
            id: if guarded || !hot.all_plain {
                RUN_IDS.fetch_add(1, Ordering::Relaxed)
            } else {
                0
            },
            brand,
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
            undone: AtomicUsize::new(0),
            finish_order: std::sync::Mutex::new(()),
            pending,
            remaining,
            ready,
            stopped: AtomicBool::new(false),
            failure: OnceLock::new(),
            late_undo_errors: Mutex::new(Vec::new()),
            options,
            parent,
            keep: Keepsakes::default(),
            deferred: std::sync::Mutex::new(Vec::new()),
            spawn_on: None,
            tracked: limits.gated || hot.any_async,
            limits,
            work: AtomicUsize::new(0),
            parks: false,
        }
    }

    /// Drops the inputs nobody reads: called once, right after [`new`](Self::new).
    pub(super) fn drop_unread_inputs(&self) {
        for input in 0..self.hot.inputs {
            self.after_produced(input);
        }
    }

    /// Runs step `i` unless the run has stopped; then releases what it read. Returns whether
    /// the step ran and succeeded.
    #[inline]
    pub(super) fn run_step(&self, i: u32) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let step = self.hot.steps[i as usize];
        if self.guarded || !step.plain {
            return self.run_step_guarded(i);
        }
        // What the guarded path would do first for a plain step of a run that can be
        // cancelled: stop, as cancelled, before starting it.
        if self.cancel.is_some() && self.interrupted() {
            return false;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.exec
                .run_step(i as usize, &mut Access::step(self.brand, self.hot, i))
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
    pub(super) fn after_produced(&self, slot: u32) {
        let plan = self.hot.slots[slot as usize];
        if plan.consumers() == 0 && !plan.kept() && plan.needs_drop() {
            self.clear(slot);
        }
    }

    /// A consumer of `slot` finished: the last one drops the value.
    #[inline]
    pub(super) fn release(&self, slot: u32) {
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
    pub(super) fn clear(&self, slot: u32) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
            self.exec.clear(
                slot as usize,
                &mut Access::clear(self.brand, self.hot, slot),
            )
        })) {
            self.drop_panicked(slot, &*payload);
        }
    }

    #[cold]
    pub(super) fn drop_panicked(&self, slot: u32, payload: &(dyn std::any::Any + Send)) {
        let message = StepPanicked::from_payload(payload);
        self.stop(drop_error(self.plan, slot as usize, message.message()));
    }

    /// One dependency of step `i` finished; returns whether `i` is now ready.
    #[inline]
    pub(super) fn dependency_done(&self, i: u32) -> bool {
        // A step with one dependency is released by that one finishing: no counter needed.
        // Otherwise acquire-release orders every producer's write before the step's reads.
        self.hot.steps[i as usize].deps == 1
            || self.pending[i as usize].fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Step `i` failed for good: stop the run. Returns whether this was the run's first
    /// failure (later ones are consequences of the same stop and are not kept).
    #[cold]
    pub(super) fn fail(&self, i: u32, kind: ErrorKind, source: BoxError) -> bool {
        let step = self.plan.steps()[i as usize].name_cow();
        self.stop(FlowError::step_failed(kind, self.flow_name(), step, source))
    }

    #[cold]
    pub(super) fn stop(&self, error: FlowError) -> bool {
        self.stopped.store(true, Ordering::Relaxed);
        let first = match self.failure.set(error) {
            Ok(()) => true,
            Err(mut late) => {
                let undo_errors = late.take_undo_errors();
                if !undo_errors.is_empty() {
                    self.late_undo_errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend(undo_errors);
                }
                false
            }
        };
        // Wake steps sleeping before a retry: the run is over for them.
        self.wake.notify();
        if let Some(token) = self.cancel {
            token.signal().notify();
        }
        first
    }

    pub(super) fn flow_name(&self) -> std::borrow::Cow<'static, str> {
        self.plan.flow().to_owned().into()
    }

    pub(crate) fn info(&self) -> RunInfo<'a> {
        RunInfo::new(
            self.id,
            self.plan,
            self.parent.map_or("", |p| p.prefix.as_str()),
        )
    }

    /// The run's key/value data.
    pub(super) fn data(&self) -> &RunData {
        match self.data {
            Some(data) => data,
            None => self.own_data.get_or_init(RunData::new),
        }
    }
}

/// The error of a run whose value in `slot` panicked when dropped: named after the input or
/// step the value came from.
pub(super) fn drop_error(plan: &Plan, slot: usize, message: &str) -> FlowError {
    let inputs = plan.input_count();
    let (what, name) = if slot < inputs {
        ("input", plan.input_name(slot))
    } else {
        ("result of step", plan.steps()[slot - inputs].name_cow())
    };
    FlowError::new(
        ErrorKind::Panicked,
        plan.flow().to_owned().into(),
        Some(name.clone()),
        Some(Box::new(StepPanicked::new(format!(
            "dropping the {what} `{name}` panicked: {message}"
        )))),
    )
}
