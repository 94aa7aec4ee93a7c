//! [`Context`]: what a step may ask about the run it belongs to, and [`RunData`], the run's
//! shared key/value store.

mod data;

use std::cell::Cell;
use std::fmt;
use std::ptr;

pub use data::RunData;

use crate::limit::Lending;
use crate::subflow::Nest;

/// The run a step belongs to: its id, the step's attempt number, cancellation, and the run's
/// [`RunData`].
///
/// A `#[routine]` receives it by declaring a parameter of type `&Context` (anywhere in its
/// parameter list; `flow!` does not pass it as an argument). [`Step`](crate::Step)
/// implementations always receive it.
///
/// ```
/// use routilux::{flow, routine, Context};
///
/// #[routine(retries = 2)]
/// fn flaky(ctx: &Context) -> Result<u32, std::fmt::Error> {
///     // Fails on the first two attempts.
///     if ctx.attempt() < 3 { Err(std::fmt::Error) } else { Ok(ctx.attempt()) }
/// }
///
/// flow! { flow Flaky { step value = flaky(); return value; } }
///
/// assert_eq!(Flaky::run()?, 3);
/// # Ok::<(), routilux::FlowError>(())
/// ```
pub struct Context {
    run_id: u64,
    flow: *const str,
    step: *const str,
    attempt: u32,
    attempts: u32,
    stopped: *const (dyn Fn() -> bool + Sync),
    data: *const RunData,
    /// For a step that runs a sub-flow (or undoes one): what the inner run inherits.
    nest: *const Nest<'static>,
    /// For a step that holds permits of limits: what runs nested in it may use.
    lending: *const Lending<'static>,
}

// SAFETY: a `Context` only lives while the engine runs the step it describes, and everything
// it points to (names, the run's stop check, the run's data) is `Sync` and outlives that.
unsafe impl Sync for Context {}
// SAFETY: as above; sending `&Context` to a scoped thread inside the step is fine.
unsafe impl Send for Context {}

impl Context {
    pub(crate) fn new(
        run_id: u64,
        names: (&str, &str),
        attempt: (u32, u32),
        stopped: &(dyn Fn() -> bool + Sync),
        data: &RunData,
    ) -> Self {
        // The lifetimes are erased here; `enter` hands the context out only for the duration
        // of a call that borrows all of it.
        let stopped: *const (dyn Fn() -> bool + Sync + '_) = stopped;
        // SAFETY: only the trait object's lifetime bound changes; the layout is the same.
        let stopped = unsafe {
            std::mem::transmute::<
                *const (dyn Fn() -> bool + Sync + '_),
                *const (dyn Fn() -> bool + Sync + 'static),
            >(stopped)
        };
        Context {
            run_id,
            flow: names.0,
            step: names.1,
            attempt: attempt.0,
            attempts: attempt.1,
            stopped,
            data,
            nest: ptr::null(),
            lending: ptr::null(),
        }
    }

    /// The context of a step that holds permits: runs started inside it take turns on them.
    pub(crate) fn lending(mut self, lending: &Lending<'_>) -> Self {
        // Lifetime erased as for the other pointers.
        self.lending = ptr::from_ref(lending).cast::<Lending<'static>>();
        self
    }

    /// The permits the step lends to the runs started inside it, if it holds any.
    pub(crate) fn lent(&self) -> Option<&Lending<'_>> {
        // SAFETY: as for `nest`: the lending outlives the context.
        unsafe { self.lending.as_ref() }
    }

    /// The context of a step that runs (or undoes) a sub-flow.
    pub(crate) fn nested(mut self, nest: &Nest<'_>) -> Self {
        // Lifetime erased as for the other pointers: `enter` lends the context only while
        // everything it points to lives.
        self.nest = ptr::from_ref(nest).cast::<Nest<'static>>();
        self
    }

    /// What an inner run started by this step inherits, if the step runs a sub-flow.
    pub(crate) fn nest(&self) -> Option<&Nest<'_>> {
        // SAFETY: as for `flow`: the nest outlives the context.
        unsafe { self.nest.as_ref() }
    }

    /// A number identifying the run, unique within the process.
    #[must_use]
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// The name of the flow.
    #[must_use]
    pub fn flow(&self) -> &str {
        // SAFETY: see the type's Send/Sync note: the name outlives the context.
        unsafe { &*self.flow }
    }

    /// The name of the step, as declared in the flow.
    #[must_use]
    pub fn step(&self) -> &str {
        // SAFETY: as for `flow`.
        unsafe { &*self.step }
    }

    /// Which attempt this is: 1 for the first run of the step, 2 for its first retry, ...
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How many attempts the step gets in all (its retries plus one).
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether this is the step's last attempt: if it fails, it is not retried.
    #[must_use]
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.attempts
    }

    /// Whether the run is stopping: cancelled, past its deadline, or failed elsewhere. A long
    /// step should check it now and then and give up early.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        // SAFETY: as for `flow`.
        unsafe { (*self.stopped)() }
    }

    /// `Err(Cancelled)` when [`is_cancelled`](Self::is_cancelled), for use with `?`.
    ///
    /// # Errors
    /// [`Cancelled`] when the run is stopping.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// The run's key/value data, shared by all its steps (and the caller, see
    /// [`RunOptions::data`](crate::RunOptions::data)).
    #[must_use]
    pub fn data(&self) -> &RunData {
        // SAFETY: as for `flow`.
        unsafe { &*self.data }
    }

    /// Makes this the current context for the duration of `f`.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(*const Context);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(ptr::from_ref(self))));
        f()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("run_id", &self.run_id)
            .field("flow", &self.flow())
            .field("step", &self.step())
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
}

/// Calls `f` with the context of the step running on this thread (a detached context with
/// run id 0 outside any run).
#[doc(hidden)]
pub fn with_current<R>(f: impl FnOnce(&Context) -> R) -> R {
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        let data = RunData::new();
        let never = || false;
        let detached = Context::new(0, ("", ""), (1, 1), &never, &data);
        f(&detached)
    } else {
        // SAFETY: `enter` set the pointer for the duration of a call that borrows the context,
        // and we are inside that call on the same thread.
        f(unsafe { &*current })
    }
}

/// The error of [`Context::check`]: the run is stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the run was cancelled")
    }
}

impl std::error::Error for Cancelled {}
