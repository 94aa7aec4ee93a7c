//! The engine: runs a [`Plan`] under one of the [`Schedule`]s.
//!
//! Flows from `flow!` and from the [`Builder`](crate::Builder) both reach the engine as a
//! [`Plan`] plus an [`Exec`] that runs step `i` and clears slot `s`; the schedules below are the
//! only scheduling code in routilux.
//!
//! Where a run happens follows from the call, never from earlier runs:
//! - with a pool given ([`RunOptions::pool`]), every step runs on that pool's threads (the run
//!   moves there with `install` when called from elsewhere; a run with limits stays instead
//!   with the calling thread as the owner of its future, see `execute`);
//! - called from a pool's thread, the run stays on that pool;
//! - called from any other thread without a pool, [`Schedule::Sequential`] and chain-shaped
//!   flows run on the calling thread, [`Schedule::Layered`] moves to the global pool, and
//!   [`Schedule::Dataflow`] starts on the calling thread and hands ready steps to the global
//!   pool once they have waited a heartbeat (see `watcher`), unless
//!   [`RunOptions::run_on_caller`] says otherwise.

mod dataflow;
mod drive;
mod finish;
mod guarded;
mod lane;
mod layered;
mod notify;
mod parked;
mod permits;
mod placed;
mod promote;
mod run;

use run::Run;
mod sequential;
mod step_async;
mod straight;
mod undo;
mod watcher;

use std::time::Instant;

use crate::error::{BoxError, ErrorKind, FlowError};
use crate::limit::Lending;
use crate::options::{RunOptions, Schedule};
use crate::plan::Plan;

use lane::Lane;
use notify::Observers;
use permits::Limits;

pub use crate::slot::{Access, Brand, StepAccess};
pub use placed::execute_nested;
use placed::{execute_placed, moves_to_a_pool};

/// The typed half of a flow: runs its steps and clears its result slots.
pub trait Exec: Sync {
    /// Runs step `step` (plan order): reads its arguments, stores its result.
    ///
    /// # Errors
    /// The routine's error.
    fn run_step(&self, step: usize, access: &mut Access<'_>) -> Result<(), BoxError>;

    /// Whether conditional step `step` is skipped (its condition is false); if so, stores
    /// its `None`. Only called for steps whose policy
    /// [is conditional](crate::Policy::is_conditional).
    fn skip(&self, step: usize, access: &mut Access<'_>) -> bool {
        let _ = (step, access);
        false
    }

    /// Starts async step `step` (plan order, only called for steps whose policy
    /// [is async](crate::Policy::is_async)): a future that runs the routine with `ctx` and
    /// stores its result.
    fn start_step<'s>(
        &'s self,
        step: usize,
        access: StepAccess<'s>,
        ctx: &'s crate::Context,
    ) -> crate::__private::StepFuture<'s> {
        let _ = (step, access, ctx);
        Box::pin(std::future::ready(Err(Box::new(crate::error::Internal(
            "this flow has no async steps",
        )) as BoxError)))
    }

    /// Drops the value in slot `slot`.
    fn clear(&self, slot: usize, access: &mut Access<'_>);

    /// Undoes step `step`, which succeeded (only called for undoable steps).
    ///
    /// # Errors
    /// The undo's error.
    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError> {
        let _ = (step, access);
        Ok(())
    }

    /// The future of step `step`'s undo if it is async (only called for undoable steps, by
    /// a run owned by a future); `None` to call [`undo_step`](Self::undo_step) instead.
    fn undo_step_later<'s>(
        &'s self,
        step: usize,
        access: &'s Access<'_>,
    ) -> Option<crate::__private::StepFuture<'s>> {
        let _ = (step, access);
        None
    }

    /// Asks step `step` what its failure `error` means (only called for steps that
    /// compensate); stores the replacement value when it continues.
    fn compensate(&self, step: usize, error: &BoxError, access: &mut Access<'_>) -> Decision {
        let _ = (step, error, access);
        Decision::Retry
    }

    /// The straight-line form of the flow, if it has one: runs every step in plan order and
    /// clears each value after its last reader (as the engine's `Sequential` schedule does),
    /// keeping `access`'s position (the step to blame for a failure, a panic or a panicking
    /// `Drop`) with [`Access::enter_step`] and [`Access::enter_clear`]. Only
    /// called when every step is plain (no retries, undo, compensation or context) and nothing
    /// observes the run.
    fn run_straight(&self, access: &mut Access<'_>) -> Option<Result<(), BoxError>> {
        let _ = access;
        None
    }
}

/// In a straight run's position: the run is dropping the value of a slot.
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

/// Runs every step of `plan` on `exec` under `options`. Returns the first failure.
///
/// # Errors
/// The [`FlowError`] of the first step that failed or panicked.
pub fn execute<E: Exec>(
    plan: &Plan,
    exec: &E,
    brand: Brand,
    options: &RunOptions<'_>,
) -> Result<(), FlowError> {
    let run = brand.run();
    check(plan)?;
    let gated = gated(plan, options);
    // A gated run that would move onto a pool (a pool in its options, or `run_on_caller`
    // off) stays with the calling thread as the owner of its future: as a job on that pool,
    // it could be taken by a pool thread that waits for a nested run further down its stack
    // (`Lane::wait_until` runs other jobs), and wait there for a permit that the step below
    // it holds.
    if (plan.hot().any_async || (gated && moves_to_a_pool(options)))
        && options.get_schedule() != Schedule::Sequential
    {
        // The calling thread owns the run, as the future of `execute_async` would.
        return lent_here(gated, |lent| {
            crate::asynchronous::block_here(execute_owned(plan, exec, run, options, lent))
        });
    }
    lent_here(gated, |lent| {
        execute_placed(plan, exec, run, options, None, lent)
    })
    .map(drop)
}

/// Whether some step of a run of `plan` under `options` takes permits of a [`Limit`](crate::Limit).
fn gated(plan: &Plan, options: &RunOptions<'_>) -> bool {
    plan.hot().any_limited
        || options.get_limit().is_some()
        || options.get_max_concurrency().is_some()
}

/// Calls `f` with the permits the step running on this thread lends (a run started inside a
/// step takes turns on them: see [`Limit`](crate::Limit)); only looked up for runs that
/// take permits.
fn lent_here<R>(gated: bool, f: impl FnOnce(Option<&Lending<'_>>) -> R) -> R {
    if gated {
        crate::context::with_current(|ctx| f(ctx.lent()))
    } else {
        f(None)
    }
}

/// Runs every step of `plan` on `exec` under `options`, as a future: its async steps are
/// polled by whoever polls it, its other steps run on the pool (`options`' or the global one),
/// never on the polling thread. Every schedule but `Sequential`'s order applies: steps start
/// as soon as their dependencies are done.
///
/// Dropping the future before it is ready cancels the run: the steps in flight are dropped
/// (async) or waited for (sync, on the pool), and the completed undoable steps are undone.
///
/// # Errors
/// The [`FlowError`] of the first step that failed or panicked.
pub async fn execute_async<E: Exec>(
    plan: &Plan,
    exec: &E,
    brand: Brand,
    options: &RunOptions<'_>,
) -> Result<(), FlowError> {
    check(plan)?;
    // No lending: the future may outlive the step that made it (it is `'static` for
    // `run_async`).
    execute_owned(plan, exec, brand.run(), options, None).await
}

/// Refuses a plan that is inconsistent.
#[inline]
fn check(plan: &Plan) -> Result<(), FlowError> {
    match &plan.hot().problem {
        Some(problem) => Err(inconsistent(plan, problem)),
        None => Ok(()),
    }
}

#[cold]
fn inconsistent(plan: &Plan, problem: &str) -> FlowError {
    FlowError::new(
        ErrorKind::Internal,
        plan.flow().to_owned().into(),
        None,
        Some(format!("the flow's plan is inconsistent and was not run: {problem}").into()),
    )
}

/// A run owned by a future (see `drive`).
async fn execute_owned<E: Exec>(
    plan: &Plan,
    exec: &E,
    brand: u64,
    options: &RunOptions<'_>,
    lent: Option<&Lending<'_>>,
) -> Result<(), FlowError> {
    let own_limit = permits::own_limit(options, None);
    let limits = Limits::new(plan.hot(), options, None, own_limit.as_ref(), lent);
    let flow_observer = plan.flow_observer();
    let observers = observers(options, flow_observer.as_deref());
    let deadline = options
        .get_timeout()
        .and_then(|timeout| Instant::now().checked_add(timeout));
    let mut lane = Lane::acquire();
    let owned = lane.lane();
    let scratch = lane.scratch(Run::<E>::scratch_len(plan.hot()));
    let mut run = Run::new(
        plan, exec, brand, observers, options, deadline, owned, scratch, None, limits,
    );
    run.drop_unread_inputs();
    run.spawn_on = options.get_pool();
    // Its owner, a future, never runs a sync step: every step is work no thread holds.
    run.tracked = true;
    run.emit(notify::RUN_STARTED, None, |o| o.run_started(&run.info()));
    let undone = {
        let abandoned = Abandoned(Some(&run));
        run.drive().await;
        std::mem::forget(abandoned);
        if run.failure.get().is_some() {
            // Async undos are awaited here, polled by the caller's executor; if this future
            // is dropped meanwhile, the rest of the undo runs in the drop.
            let cut_short = UndoRest(Some(&run));
            let errors = run.undo_completed_later().await;
            std::mem::forget(cut_short);
            Some(errors)
        } else {
            None
        }
    };
    let (result, info) = run.finish_undone(undone);
    let heard = result.as_ref().map(drop);
    run.emit_after(|o| o.run_finished(&info, heard));
    result.map(drop)
}

/// Stops and settles a run whose owning future is dropped before the run settled.
struct Abandoned<'r, 'a, E: Exec>(Option<&'r Run<'a, E>>);

impl<E: Exec> Drop for Abandoned<'_, '_, E> {
    fn drop(&mut self) {
        if let Some(run) = self.0.take() {
            run.abandon();
        }
    }
}

/// Finishes the undo of a run whose owning future is dropped while it undoes.
struct UndoRest<'r, 'a, E: Exec>(Option<&'r Run<'a, E>>);

impl<E: Exec> Drop for UndoRest<'_, '_, E> {
    fn drop(&mut self) {
        if let Some(run) = self.0.take() {
            let _undo_errors = run.undo_completed();
        }
    }
}

/// The observers of a run: the caller's, the flow's, and with `tracing` the spans.
#[inline]
fn observers<'a>(
    options: &RunOptions<'a>,
    flow: Option<&'a (dyn crate::Observer + Send + Sync)>,
) -> Observers<'a> {
    #[cfg(feature = "tracing")]
    let spans = crate::trace::enabled().then_some(&crate::trace::SPANS as &dyn crate::Observer);
    #[cfg(not(feature = "tracing"))]
    let spans = None;
    Observers::of(
        options.get_observer(),
        flow.map(|f| f as &dyn crate::Observer),
        spans,
    )
}
