//! What a routine call returns, sync or async, and how generated code turns either into the
//! step's result: [`settle_now`] on the engine's threads, [`settle_later`] in a step's future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::context::Context;
use crate::error::{BoxError, Internal};

/// The future of one async step: runs the routine and stores its result.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>;

/// The future a routine's async body returns, boxed.
type Body<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What calling an async routine returns: its future, or (for a routine that takes the
/// step's [`Context`]) the call's arguments waiting for the context to start it.
pub struct Later<'a, T>(Start<'a, T>);

enum Start<'a, T> {
    Started(Body<'a, T>),
    WithContext(Box<dyn FnOnce(&'a Context) -> Body<'a, T> + Send + 'a>),
}

impl<'a, T> Later<'a, T> {
    /// A call that starts `body` with the step's context.
    pub fn new<F>(body: impl FnOnce(&'a Context) -> F + Send + 'a) -> Self
    where
        F: Future<Output = T> + Send + 'a,
    {
        Later(Start::WithContext(Box::new(move |ctx| {
            Box::pin(body(ctx)) as Body<'a, T>
        })))
    }

    /// The call of a routine that does not take the step's context: its future, as is.
    pub fn started(body: impl Future<Output = T> + Send + 'a) -> Self {
        Later(Start::Started(Box::pin(body)))
    }

    fn start(self, ctx: &'a Context) -> Body<'a, T> {
        match self.0 {
            Start::Started(body) => body,
            Start::WithContext(start) => start(ctx),
        }
    }
}

/// What calling an async routine without arguments returns: as [`Later`], for any lifetime
/// of the step's context.
pub struct Unbound<T>(Box<dyn Starter<T>>);

/// Starts an async routine without arguments with the step's context.
trait Starter<T>: for<'c> FnOnce(&'c Context) -> Body<'c, T> + Send {}

impl<T, F: for<'c> FnOnce(&'c Context) -> Body<'c, T> + Send> Starter<T> for F {}

impl<T> Unbound<T> {
    /// A call that starts `body` with the step's context.
    pub fn new(body: impl for<'c> FnOnce(&'c Context) -> Body<'c, T> + Send + 'static) -> Self {
        Unbound(Box::new(body))
    }
}

impl<'a, T: 'a> Settle<'a, T> for Unbound<T> {
    #[inline]
    fn settle(self) -> Settled<'a, T> {
        Settled::Later(Later(Start::WithContext(Box::new(
            move |ctx: &'a Context| (self.0)(ctx),
        ))))
    }
}

/// Either what a sync routine returned, or an async routine's call.
pub enum Settled<'a, T> {
    /// A sync routine's return value.
    Now(T),
    /// An async routine's call, not started yet.
    Later(Later<'a, T>),
}

/// What a routine call returns: its value (a sync routine) or a [`Later`] (an async one).
pub trait Settle<'a, T> {
    /// Which of the two it is.
    fn settle(self) -> Settled<'a, T>;
}

impl<'a, T> Settle<'a, T> for T {
    #[inline]
    fn settle(self) -> Settled<'a, T> {
        Settled::Now(self)
    }
}

impl<'a, T> Settle<'a, T> for Later<'a, T> {
    #[inline]
    fn settle(self) -> Settled<'a, T> {
        Settled::Later(self)
    }
}

/// The result of a routine call made on one of the engine's threads, turned into the step's
/// result by the routine's `finish`. An async routine is never called there (the engine polls
/// it instead); if it were, this is an internal error rather than a blocked thread.
///
/// # Errors
/// The routine's error, boxed.
#[inline]
pub fn settle_now<'a, T, O>(
    finish: fn(T) -> Result<O, BoxError>,
    returned: impl Settle<'a, T>,
) -> Result<O, BoxError> {
    match returned.settle() {
        Settled::Now(value) => finish(value),
        Settled::Later(_) => Err(Box::new(Internal(
            "an async routine was called outside its step's future",
        ))),
    }
}

/// The result of a routine call made in a step's future: ready at once for a sync routine,
/// the routine's own future for an async one.
pub fn settle_later<'a, T, O>(
    finish: fn(T) -> Result<O, BoxError>,
    returned: impl Settle<'a, T>,
    ctx: &'a Context,
) -> Pending<'a, T, O> {
    match returned.settle() {
        Settled::Now(value) => Pending::Ready(Some(finish(value))),
        Settled::Later(later) => Pending::Running(later.start(ctx), finish),
    }
}

/// The future of [`settle_later`].
pub enum Pending<'a, T, O> {
    /// A sync routine's result, until it is taken.
    Ready(Option<Result<O, BoxError>>),
    /// An async routine's future, and the routine's `finish`.
    Running(Body<'a, T>, fn(T) -> Result<O, BoxError>),
}

impl<T, O> Unpin for Pending<'_, T, O> {}

impl<T, O> Future for Pending<'_, T, O> {
    type Output = Result<O, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Pending::Ready(value) => Poll::Ready(value.take().unwrap_or_else(|| {
                Err(Box::new(Internal(
                    "a step's future was polled after it finished",
                )))
            })),
            Pending::Running(body, finish) => body.as_mut().poll(cx).map(*finish),
        }
    }
}
