//! How a flow's generated `__run` is called ([`Mode`]) and what it returns ([`Outcome`]).

use std::future::Future;
use std::pin::Pin;

use super::block_on;

/// How a flow's generated `__run` is called.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// `run` and `run_with`: blocking, on the caller's thread.
    Direct,
    /// As a step of another flow.
    Nested,
    /// `run_async` and `run_async_with`.
    Async,
}

/// What a flow's generated `__run` returns: the result, or the future of an async run.
pub enum Outcome<'p, T> {
    /// A blocking run's result.
    Done(Result<T, crate::FlowError>),
    /// An async run.
    Later(Pin<Box<dyn Future<Output = Result<T, crate::FlowError>> + Send + 'p>>),
}

impl<'p, T: Send + 'p> Outcome<'p, T> {
    /// The result (an async run is driven on this thread).
    ///
    /// # Errors
    /// The run's error.
    #[inline]
    pub fn now(self) -> Result<T, crate::FlowError> {
        match self {
            Outcome::Done(result) => result,
            Outcome::Later(future) => block_on(future),
        }
    }

    /// The future of the result.
    #[must_use]
    pub fn later(self) -> Pin<Box<dyn Future<Output = Result<T, crate::FlowError>> + Send + 'p>> {
        match self {
            Outcome::Done(result) => Box::pin(std::future::ready(result)),
            Outcome::Later(future) => future,
        }
    }
}
