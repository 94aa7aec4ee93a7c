//! [`Step`]: a step written by hand, with undo and compensation (a saga step), usable in
//! `flow!` beside `#[routine]` functions.

use std::error::Error;

use crate::context::Context;
use crate::policy::Backoff;

/// A step that knows how to put things back: implement it on your own type and call the type
/// in `flow!` like a routine (`step hotel = ReserveHotel(trip);`).
///
/// * [`run`](Self::run) does the work, with its arguments as a tuple of references;
/// * [`compensate`](Self::compensate) decides what an error of `run` means: retry, continue
///   with a replacement value, or fail;
/// * [`undo`](Self::undo) reverts a successful `run` when the flow fails later: every
///   completed step is undone, in reverse completion order. Its result is kept alive until
///   the run ends so that `undo` can see it. A result that came from
///   [`Compensation::Continue`] is not undone: nothing happened to undo.
///
/// Routilux's error strategies map onto it: *stop* is [`Compensation::Fail`], *retry* is
/// [`Compensation::Retry`] with [`RETRIES`](Self::RETRIES), *continue* and *skip* are
/// [`Compensation::Continue`] with a replacement or default value.
///
/// ```
/// use routilux::{flow, routine, Compensation, Context, Step};
///
/// struct Reserve;
///
/// #[derive(Debug)]
/// struct Full;
/// impl std::fmt::Display for Full {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("full") }
/// }
/// impl std::error::Error for Full {}
///
/// impl Step for Reserve {
///     type Args = (String, u32);
///     type Output = String;
///     type Error = Full;
///
///     fn run((hotel, nights): (&String, &u32), _: &Context) -> Result<String, Full> {
///         if hotel == "Ritz" { Err(Full) } else { Ok(format!("{hotel} x{nights}")) }
///     }
///
///     fn compensate(_: &Full, _: &Context) -> Compensation<String> {
///         Compensation::Continue("waiting list".to_owned())
///     }
/// }
///
/// #[routine]
/// fn nights() -> u32 { 2 }
///
/// flow! {
///     flow Trip {
///         input hotel: String;
///         step n = nights();
///         step booking = Reserve(hotel, n);
///         return booking;
///     }
/// }
///
/// assert_eq!(Trip::run("Inn".to_owned())?, "Inn x2");
/// assert_eq!(Trip::run("Ritz".to_owned())?, "waiting list");
/// # Ok::<(), routilux::FlowError>(())
/// ```
pub trait Step: 'static {
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
    /// The wait before each retry.
    const BACKOFF: Backoff = Backoff::NONE;
    /// How many times a failed `undo` is retried (immediately; an undo that panics is not
    /// retried).
    const UNDO_RETRIES: u32 = 0;
    /// Whether the step has something to undo. Set it to `false` for a step that only
    /// computes (or only compensates): a failed run then neither calls its
    /// [`undo`](Self::undo) nor reports undo events for it, and its result is dropped as soon
    /// as its last consumer finishes instead of being kept until the run ends.
    const UNDOABLE: bool = true;

    /// Does the work.
    ///
    /// # Errors
    /// Whatever went wrong; [`compensate`](Self::compensate) decides what follows.
    fn run(
        args: <Self::Args as Args>::Refs<'_>,
        ctx: &Context,
    ) -> Result<Self::Output, Self::Error>;

    /// Reverts a successful `run` whose result was `output`, because the flow failed. The
    /// default does nothing.
    ///
    /// # Errors
    /// The undo failed; it is retried [`UNDO_RETRIES`](Self::UNDO_RETRIES) times, then
    /// reported in the run's [`FlowError::undo_errors`](crate::FlowError::undo_errors).
    fn undo(output: &Self::Output, ctx: &Context) -> Result<(), Self::Error> {
        let _ = (output, ctx);
        Ok(())
    }

    /// Decides what a failed `run` means. The default retries while retries are left (see
    /// [`RETRIES`](Self::RETRIES)), then fails.
    fn compensate(error: &Self::Error, ctx: &Context) -> Compensation<Self::Output> {
        let _ = (error, ctx);
        Compensation::Retry
    }
}

/// What a failed step should do next: the answer of [`Step::compensate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compensation<T> {
    /// Run the step again after its backoff, if it has retries left; otherwise fail.
    Retry,
    /// Treat the step as successful, with this value as its result. A failed run never
    /// undoes it: nothing happened to undo.
    Continue(T),
    /// Fail the step (and the run) with the error.
    Fail,
}

/// The argument tuples a [`Step`] can take: `()`, `(A,)`, `(A, B)`, ... up to 12 values.
pub trait Args {
    /// The tuple of references `run` receives.
    type Refs<'a>
    where
        Self: 'a;
}

/// Turns a [`Step`] into the function pointer `flow!` calls. Not public API.
#[doc(hidden)]
pub trait Caller<S: Step<Args = Self>>: Args + Sized {
    type Call;
    const CALL: Self::Call;
}

macro_rules! tuples {
    ($(($($arg:ident $ref:ident),*))*) => {$(
        impl<$($arg),*> Args for ($($arg,)*) {
            type Refs<'a> = ($(&'a $arg,)*) where Self: 'a;
        }

        impl<S: Step<Args = ($($arg,)*)>, $($arg),*> Caller<S> for ($($arg,)*) {
            type Call = fn($(&$arg),*) -> Result<S::Output, S::Error>;
            #[allow(clippy::unused_unit)]
            const CALL: Self::Call =
                |$($ref),*| crate::context::with_current(|ctx| S::run(($($ref,)*), ctx));
        }
    )*};
}

tuples! {
    ()
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
