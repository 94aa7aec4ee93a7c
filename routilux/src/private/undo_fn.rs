//! What `#[routine(undo = f)]` calls: [`UndoFn`], implemented by the functions (sync or
//! `async`, with or without a `&Context`) that may undo a routine, and what they return.

use std::future::Future;

use super::{BoxError, RoutineError, StepFuture, with_current};

/// The function of `#[routine(undo = f)]`, for the routine `R` whose result is `Out`:
/// `fn(&Out) -> U` or `fn(&Out, &Context) -> U`, where `U` is an [`UndoReturn`]. `Marker`
/// tells the impls apart (and is inferred).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot undo the routine `{R}`: an undo takes `&{Out}` (and optionally `&Context`) and returns `()` or `Result<(), E>`",
    label = "not an undo for `{R}`",
    note = "`undo = ...` names a function `fn(&{Out}) -> Result<(), E>` or `fn(&{Out}, &Context) -> Result<(), E>`, or one that returns `()`, where `E` is an error type, a `Box<dyn Error + Send + Sync>` or an `anyhow::Error`; it may be an `async fn` of the same form (its future `Send`)"
)]
pub trait UndoFn<R, Out, Marker> {
    /// Calls the function on `output`, with the current context where it takes one: a sync
    /// function's outcome, or an async function's future.
    fn call_undo(self, output: &Out) -> UndoCall<'_>;
}

/// An undo called: its outcome (a sync function), or its future (an `async fn`).
pub enum UndoCall<'a> {
    /// The sync undo ran.
    Now(Result<(), BoxError>),
    /// The async undo's future, not polled yet.
    Later(StepFuture<'a>),
}

impl<'a> UndoCall<'a> {
    /// The outcome, an async undo driven to its end on this thread.
    ///
    /// # Errors
    /// The undo's error, boxed.
    pub fn now(self) -> Result<(), BoxError> {
        match self {
            UndoCall::Now(outcome) => outcome,
            UndoCall::Later(future) => crate::asynchronous::block_here(future),
        }
    }

    /// The outcome as a future (ready at once for a sync undo, which already ran).
    #[must_use]
    pub fn later(self) -> StepFuture<'a> {
        match self {
            UndoCall::Now(outcome) => Box::pin(std::future::ready(outcome)),
            UndoCall::Later(future) => future,
        }
    }
}

/// [`UndoFn`] for `async fn`s.
#[derive(Debug)]
pub enum Awaited {}

/// `async fn(&Out) -> U` (and with `&Context`): the future of a call, whatever the lifetime
/// of its arguments.
pub trait AsyncUndo<'a, Args> {
    /// What the future resolves to.
    type Ret;
    /// The call's future.
    type Fut: Future<Output = Self::Ret> + Send + 'a;
    /// Calls the function.
    fn call_async(&self, args: Args) -> Self::Fut;
}

impl<'a, Out: 'a, F, Fut> AsyncUndo<'a, (&'a Out,)> for F
where
    F: Fn(&'a Out) -> Fut,
    Fut: Future + Send + 'a,
{
    type Ret = Fut::Output;
    type Fut = Fut;
    fn call_async(&self, (output,): (&'a Out,)) -> Fut {
        self(output)
    }
}

impl<'a, Out: 'a, F, Fut> AsyncUndo<'a, (&'a Out, &'a crate::Context)> for F
where
    F: Fn(&'a Out, &'a crate::Context) -> Fut,
    Fut: Future + Send + 'a,
{
    type Ret = Fut::Output;
    type Fut = Fut;
    fn call_async(&self, (output, ctx): (&'a Out, &'a crate::Context)) -> Fut {
        self(output, ctx)
    }
}

impl<R, Out: Sync, F, U, Via> UndoFn<R, Out, (Awaited, WithoutContext, U, Via)> for F
where
    F: for<'a> AsyncUndo<'a, (&'a Out,), Ret = U> + Send + 'static,
    U: UndoReturn<Via>,
{
    fn call_undo(self, output: &Out) -> UndoCall<'_> {
        UndoCall::Later(Box::pin(async move {
            self.call_async((output,)).await.into_undo()
        }))
    }
}

impl<R, Out: Sync, F, U, Via> UndoFn<R, Out, (Awaited, WithContext, U, Via)> for F
where
    F: for<'a> AsyncUndo<'a, (&'a Out, &'a crate::Context), Ret = U> + Send + 'static,
    U: UndoReturn<Via>,
{
    fn call_undo(self, output: &Out) -> UndoCall<'_> {
        // The context is the one current when the future is polled: the engine enters the
        // undo's context around each poll (and `now` polls inside the caller's), and it
        // outlives the future.
        UndoCall::Later(Box::pin(async move {
            let ctx: &crate::Context = with_current(|ctx| {
                // SAFETY: see above.
                unsafe { &*std::ptr::from_ref(ctx) }
            });
            self.call_async((output, ctx)).await.into_undo()
        }))
    }
}

/// [`UndoFn`] for functions without a context parameter.
#[derive(Debug)]
pub enum WithoutContext {}

/// [`UndoFn`] for functions with a `&Context` parameter.
#[derive(Debug)]
pub enum WithContext {}

impl<R, Out, F, U, Via> UndoFn<R, Out, (WithoutContext, U, Via)> for F
where
    F: Fn(&Out) -> U,
    U: UndoReturn<Via>,
{
    #[inline]
    fn call_undo(self, output: &Out) -> UndoCall<'_> {
        UndoCall::Now(self(output).into_undo())
    }
}

impl<R, Out, F, U, Via> UndoFn<R, Out, (WithContext, U, Via)> for F
where
    F: Fn(&Out, &crate::Context) -> U,
    U: UndoReturn<Via>,
{
    #[inline]
    fn call_undo(self, output: &Out) -> UndoCall<'_> {
        UndoCall::Now(with_current(|ctx| self(output, ctx)).into_undo())
    }
}

/// What an undo function may return: `()` (it cannot fail) or `Result<(), E>` with `E` a
/// [`RoutineError`]. `Via` is that of the error (and is inferred).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the result of an undo: an undo returns `()` or `Result<(), E>`",
    label = "an undo has no result of its own: return `()` or `Result<(), E>`"
)]
pub trait UndoReturn<Via> {
    /// The undo's outcome, its error boxed.
    ///
    /// # Errors
    /// The error of `self`, boxed.
    fn into_undo(self) -> Result<(), BoxError>;
}

impl UndoReturn<()> for () {
    #[inline]
    fn into_undo(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: RoutineError<Via>, Via> UndoReturn<Via> for Result<(), E> {
    #[inline]
    fn into_undo(self) -> Result<(), BoxError> {
        self.map_err(RoutineError::into_box)
    }
}
