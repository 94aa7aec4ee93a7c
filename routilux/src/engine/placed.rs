//! Where a blocking run happens, and running it there: on the caller's thread or moved onto
//! a pool (see the engine's module docs), with the schedule that its options and its shape
//! call for; and runs of sub-flows, which inherit from the step that runs them.

use std::time::Instant;

use super::lane::Lane;
use super::notify;
use super::permits::{self, Limits};
use super::{Brand, Exec, Run, check, observers, straight};
use crate::error::FlowError;
use crate::limit::Lending;
use crate::options::{RunOptions, Schedule};
use crate::plan::Plan;
use crate::subflow::{KeptLog, Nest};

/// Whether a run under `options` called from this thread moves to a pool (see
/// `execute_placed`).
pub(super) fn moves_to_a_pool(options: &RunOptions<'_>) -> bool {
    match options.get_pool() {
        Some(pool) => pool.current_thread_index().is_none(),
        None => !options.get_run_on_caller() && rayon::current_thread_index().is_none(),
    }
}

/// Runs `plan` as a sub-flow: as a step of the run whose context is current, with what that
/// run passes on (see `routilux/src/subflow.rs`); returns what a successful run keeps for undo.
/// Called outside any run, it runs as [`execute`](super::execute) with the default options.
///
/// # Errors
/// The [`FlowError`] of the inner run.
pub fn execute_nested<E: Exec>(
    plan: &Plan,
    exec: &E,
    brand: Brand,
) -> Result<Option<KeptLog>, FlowError> {
    check(plan)?;
    let run = brand.run();
    crate::context::with_current(|ctx| match ctx.nest() {
        Some(nest) => execute_placed(plan, exec, run, &nest.options, Some(nest), ctx.lent()),
        None => execute_placed(plan, exec, run, &RunOptions::new(), None, ctx.lent()),
    })
}

/// Moves the run where its options say, then runs it.
pub(super) fn execute_placed<E: Exec>(
    plan: &Plan,
    exec: &E,
    run: u64,
    options: &RunOptions<'_>,
    parent: Option<&Nest<'_>>,
    lent: Option<&Lending<'_>>,
) -> Result<Option<KeptLog>, FlowError> {
    match options.get_pool() {
        Some(pool) if pool.current_thread_index().is_none() => pool.install(carry_context(|| {
            execute_here(plan, exec, run, options, (parent, lent), true)
        })),
        None if !options.get_run_on_caller() && rayon::current_thread_index().is_none() => {
            let moved =
                carry_context(|| execute_here(plan, exec, run, options, (parent, lent), true));
            rayon::scope(|_| moved())
        }
        _ => execute_here(plan, exec, run, options, (parent, lent), false),
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
/// that may run steps itself; `moved` when the run was moved there from another thread.
fn execute_here<E: Exec>(
    plan: &Plan,
    exec: &E,
    brand: u64,
    options: &RunOptions<'_>,
    (parent, lent): (Option<&Nest<'_>>, Option<&Lending<'_>>),
    moved: bool,
) -> Result<Option<KeptLog>, FlowError> {
    let flow_observer = plan.flow_observer();
    let hot = plan.hot();
    let own_limit = permits::own_limit(options, parent);
    let limits = Limits::new(hot, options, parent, own_limit.as_ref(), lent);
    let gated = limits.gated;
    let observers = observers(options, flow_observer.as_deref());
    // A plan with one step per layer is a chain: no schedule can run two of its steps at
    // once, so none pays for other threads.
    let chain = plan.layer_bounds().len() == hot.steps.len() + 1;
    let one_thread = chain || options.get_schedule() == Schedule::Sequential;
    // One thread carries the run out anyway, and nothing needs the engine's guarded path:
    // the flow's own straight-line form runs it.
    if one_thread
        && hot.all_plain
        && observers.is_empty()
        && options.get_cancel().is_none()
        && options.get_timeout().is_none()
        && parent.is_none()
        && !gated
        && let Some(result) = straight::run(plan, exec, brand)
    {
        return result.map(|()| None);
    }
    let own_deadline = options
        .get_timeout()
        .and_then(|timeout| Instant::now().checked_add(timeout));
    // A sub-flow's run ends by its parent's deadline too.
    let deadline = match (own_deadline, parent.and_then(|p| p.deadline)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut lane = Lane::acquire();
    let owned = lane.lane();
    let scratch = lane.scratch(Run::<E>::scratch_len(hot));
    let mut run = Run::new(
        plan, exec, brand, observers, options, deadline, owned, scratch, parent, limits,
    );
    run.drop_unread_inputs();
    run.emit(notify::RUN_STARTED, None, |o| o.run_started(&run.info()));
    let in_pool = rayon::current_thread_index().is_some();
    match options.get_schedule() {
        // A sub-flow with async steps: this thread owns it as a future would.
        _ if hot.any_async && !one_thread => {
            run.spawn_on = options.get_pool();
            crate::asynchronous::block_here(run.drive());
        }
        // Steps that wait for permits park, whatever the schedule (see `parked`).
        _ if gated && !one_thread => {
            run.spawn_on = options.get_pool();
            run.parks = true;
            run.dataflow(in_pool);
        }
        Schedule::Layered if !one_thread && in_pool => run.layered(),
        Schedule::Layered if !one_thread => rayon::scope(|_| run.layered()),
        Schedule::Dataflow if !one_thread => {
            // A run started on a thread of the pool it names calls helpers lazily, as a plain
            // thread's does (see `dataflow`). One moved there from another thread asks for
            // them at once: its caller waits anyway, and a large flow's first run would wait
            // for promotions.
            if !moved {
                run.spawn_on = options.get_pool();
            }
            run.dataflow(in_pool);
        }
        _ => run.sequential(),
    }
    let (result, info) = run.finish();
    // A panic in `run_finished` cannot change a result that is already decided.
    let heard = result.as_ref().map(drop);
    run.emit_after(|o| o.run_finished(&info, heard));
    result
}
