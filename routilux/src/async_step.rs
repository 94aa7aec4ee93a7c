//! [`AsyncStep`]: a step written by hand whose work and undo are futures, usable in `flow!`
//! beside routines once `#[routine]` is put on its impl.

use std::error::Error;
use std::future::Future;
use std::time::Duration;

use crate::asynchronous::{Later, StepFuture, Unbound};
use crate::context::{Context, with_current};
use crate::error::{BoxError, StepTimedOut};
use crate::policy::{Backoff, Policy};
use crate::step::{Args, Compensation};

/// A [`Step`](crate::Step) whose [`run`](Self::run) and [`undo`](Self::undo) are futures:
/// a saga step that does I/O. Put `#[routine]` on the impl, then call the type in `flow!`
/// like a routine; it is polled like an `async fn` routine (by the caller's executor under
/// `run_async`, by the calling thread under `run`).
///
/// [`compensate`](Self::compensate) stays a plain function: it decides from the error what
/// follows (retry, continue with a value, fail); work that needs awaiting belongs in `run`
/// (retried) or `undo`.
///
/// ```
/// use routilux::{flow, routine, AsyncStep, Compensation, Context};
///
/// struct Reserve;
///
/// #[routine]
/// impl AsyncStep for Reserve {
///     type Args = (String,);
///     type Output = String;
///     type Error = std::io::Error;
///     const RETRIES: u32 = 1;
///
///     async fn run((hotel,): (&String,), ctx: &Context) -> Result<String, std::io::Error> {
///         if hotel == "Ritz" && ctx.attempt() == 1 {
///             return Err(std::io::Error::other("busy"));
///         }
///         Ok(format!("{hotel}: room 7"))
///     }
///
///     async fn undo(_room: &String, _: &Context) -> Result<(), std::io::Error> {
///         Ok(())
///     }
///
///     fn compensate(_: &std::io::Error, _: &Context) -> Compensation<String> {
///         Compensation::Retry
///     }
/// }
///
/// flow! {
///     flow Trip {
///         input hotel: String;
///         step room = Reserve(hotel);
///         return room;
///     }
/// }
///
/// assert_eq!(routilux::block_on(Trip::run_async("Ritz".to_owned()))?, "Ritz: room 7");
/// assert_eq!(Trip::run("Inn".to_owned())?, "Inn: room 7");
/// # Ok::<(), routilux::FlowError>(())
/// ```
pub trait AsyncStep: 'static {
    /// The arguments' value types as a tuple: `()`, `(A,)`, `(A, B)`, ... up to 12. `run`
    /// receives `(&A, &B, ...)`.
    type Args: Args;
    /// The step's result.
    type Output: Send + Sync;
    /// The error of `run` and `undo`.
    type Error: Error + Send + Sync + 'static;

    /// How many times a failed `run` is retried (when [`compensate`](Self::compensate) says
    /// [`Compensation::Retry`]).
    const RETRIES: u32 = 0;
    /// The wait before each retry (on a timer: no thread waits).
    const BACKOFF: Backoff = Backoff::NONE;
    /// How many times a failed `undo` is retried.
    const UNDO_RETRIES: u32 = 0;
    /// Whether the step has something to undo (see [`Step::UNDOABLE`](crate::Step::UNDOABLE)).
    const UNDOABLE: bool = true;
    /// The longest one attempt of `run` may take: past it, its future is dropped and the
    /// attempt fails with [`StepTimedOut`] (retried while retries are left, without asking
    /// [`compensate`](Self::compensate), which judges `run`'s own errors).
    const TIMEOUT: Option<Duration> = None;

    /// Does the work.
    ///
    /// # Errors
    /// Whatever went wrong; [`compensate`](Self::compensate) decides what follows.
    fn run<'a>(
        args: <Self::Args as Args>::Refs<'a>,
        ctx: &'a Context,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send + 'a;

    /// Reverts a successful `run` whose result was `output`, because the flow failed. The
    /// default does nothing.
    ///
    /// # Errors
    /// The undo failed; it is retried [`UNDO_RETRIES`](Self::UNDO_RETRIES) times, then
    /// reported in the run's [`FlowError::undo_errors`](crate::FlowError::undo_errors).
    fn undo<'a>(
        output: &'a Self::Output,
        ctx: &'a Context,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        let _ = (output, ctx);
        std::future::ready(Ok(()))
    }

    /// Decides what a failed `run` means. The default retries while retries are left (see
    /// [`RETRIES`](Self::RETRIES)), then fails.
    fn compensate(error: &Self::Error, ctx: &Context) -> Compensation<Self::Output> {
        let _ = (error, ctx);
        Compensation::Retry
    }
}

/// Turns an [`AsyncStep`] into the function pointer `flow!` calls. Not public API.
#[doc(hidden)]
pub trait AsyncCaller<S: AsyncStep<Args = Self>>: Args + Sized {
    type Call;
    const CALL: Self::Call;
}

impl<S: AsyncStep<Args = ()>> AsyncCaller<S> for () {
    type Call = fn() -> Unbound<Result<S::Output, S::Error>>;
    const CALL: Self::Call = || Unbound::new(|ctx| Box::pin(S::run((), ctx)));
}

macro_rules! tuples {
    ($(($($arg:ident $ref:ident),*))*) => {$(
        impl<S: AsyncStep<Args = ($($arg,)*)>, $($arg: Sync),*> AsyncCaller<S> for ($($arg,)*) {
            type Call = for<'l> fn($(&'l $arg),*) -> Later<'l, Result<S::Output, S::Error>>;
            const CALL: Self::Call =
                |$($ref),*| Later::new(move |ctx| S::run(($($ref,)*), ctx));
        }
    )*};
}

tuples! {
    (A a)
    (A a, B b)
    (A a, B b, C c)
    (A a, B b, C c, D d)
    (A a, B b, C c, D d, E e)
    (A a, B b, C c, D d, E e, F f)
    (A a, B b, C c, D d, E e, F f, G g)
    (A a, B b, C c, D d, E e, F f, G g, H h)
    (A a, B b, C c, D d, E e, F f, G g, H h, I i)
    (A a, B b, C c, D d, E e, F f, G g, H h, I i, J j)
    (A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k)
    (A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l)
}

/// The policy of an [`AsyncStep`]'s steps.
#[must_use]
pub const fn policy<S: AsyncStep>() -> Policy {
    let policy = Policy::NONE
        .retries(S::RETRIES)
        .backoff(S::BACKOFF)
        .undo_retries(S::UNDO_RETRIES)
        .__flags(S::UNDOABLE, true, true)
        .__async();
    match S::TIMEOUT {
        Some(timeout) => policy.timeout(timeout),
        None => policy,
    }
}

/// What `compensate` decides for an error of `run`; an attempt past the step's `TIMEOUT` is
/// retried while retries are left; any other error fails the step.
pub fn compensate<S: AsyncStep>(error: &BoxError) -> Compensation<S::Output> {
    match error.downcast_ref::<S::Error>() {
        Some(error) => with_current(|ctx| S::compensate(error, ctx)),
        None if error.is::<StepTimedOut>() => Compensation::Retry,
        None => Compensation::Fail,
    }
}

/// The undo's future, with the context current when it is polled (the engine enters the
/// undo's context around each poll, and it outlives the future).
pub fn undo_later<S: AsyncStep>(output: &S::Output) -> StepFuture<'_> {
    Box::pin(async move {
        let ctx: &Context = with_current(|ctx| {
            // SAFETY: see above.
            unsafe { &*std::ptr::from_ref(ctx) }
        });
        S::undo(output, ctx)
            .await
            .map_err(|e| Box::new(e) as BoxError)
    })
}

/// The step's result or its error, boxed.
///
/// # Errors
/// The error of `run`, boxed.
#[inline]
pub fn finish<S: AsyncStep>(returned: Result<S::Output, S::Error>) -> Result<S::Output, BoxError> {
    returned.map_err(|e| Box::new(e) as BoxError)
}

/// The undo, driven to its end on this thread (for runs that undo without a future).
///
/// # Errors
/// The error of `undo`, boxed.
pub fn undo<S: AsyncStep>(output: &S::Output) -> Result<(), BoxError> {
    crate::asynchronous::block_here(undo_later::<S>(output))
}
