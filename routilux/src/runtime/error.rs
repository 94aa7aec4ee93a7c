//! The errors of the job runtime: [`SubmitError`], [`JobError`], [`ShutdownError`].

use std::error::Error;
use std::fmt;

use crate::error::FlowError;

/// Why a job was not accepted. The inputs come back inside: nothing is dropped silently.
///
/// ```
/// use routilux::{Runtime, RunOptions, SubmitError};
///
/// let runtime = Runtime::builder().threads(1).capacity(1).build(
///     |x: u64, _options: RunOptions<'_>| Ok::<_, routilux::FlowError>(x),
/// )?;
/// runtime.shutdown(routilux::Shutdown::Drain)?;
/// match runtime.try_submit(7) {
///     Err(SubmitError::ShutDown(inputs)) => assert_eq!(inputs, 7),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum SubmitError<I> {
    /// The queue is full ([`Runtime::try_submit`](crate::Runtime::try_submit) only, or a
    /// submit from inside a job that could not make room).
    Full(I),
    /// The runtime was shut down; it takes no new jobs.
    ShutDown(I),
}

impl<I> SubmitError<I> {
    /// The inputs that were not submitted.
    pub fn into_inputs(self) -> I {
        match self {
            SubmitError::Full(inputs) | SubmitError::ShutDown(inputs) => inputs,
        }
    }

    /// Whether the queue was full (rather than the runtime shut down).
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, SubmitError::Full(_))
    }
}

impl<I> fmt::Debug for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<I> fmt::Display for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("the runtime's queue is full"),
            SubmitError::ShutDown(_) => f.write_str("the runtime is shut down"),
        }
    }
}

impl<I> Error for SubmitError<I> {}

/// Why a job produced no output.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobError {
    /// The run failed, was cancelled while running, or timed out: the flow's own error
    /// (see [`FlowError::kind`]).
    Flow(FlowError),
    /// The job was cancelled (by [`JobHandle::cancel`](crate::JobHandle::cancel) or
    /// [`Shutdown::Cancel`](crate::Shutdown::Cancel)) before it started.
    Cancelled,
    /// The runtime's flow closure itself panicked (outside any step); the message.
    Panicked(String),
    /// A stream's input was not submitted: the runtime was shut down (the input was
    /// dropped).
    NotSubmitted,
    /// The result was already taken by [`JobHandle::try_result`](crate::JobHandle::try_result).
    Taken,
}

impl JobError {
    /// Whether the job was cancelled: before it started, or while running.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        match self {
            JobError::Cancelled => true,
            JobError::Flow(e) => e.kind() == crate::ErrorKind::Cancelled,
            _ => false,
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Flow(e) => fmt::Display::fmt(e, f),
            JobError::Cancelled => f.write_str("the job was cancelled before it started"),
            JobError::Panicked(message) => write!(f, "the job panicked: {message}"),
            JobError::NotSubmitted => {
                f.write_str("the input was not submitted: the runtime was shut down")
            }
            JobError::Taken => f.write_str("the job's result was already taken"),
        }
    }
}

impl Error for JobError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            JobError::Flow(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a runtime could not be built, or could not wait for its jobs.
#[derive(Debug)]
#[non_exhaustive]
pub enum ShutdownError {
    /// [`Runtime::shutdown`](crate::Runtime::shutdown) was called from inside one of the
    /// runtime's own jobs, which would wait for itself. The runtime stopped accepting jobs
    /// (and cancelled them, as asked) but did not wait.
    InsideJob,
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownError::InsideJob => f.write_str(
                "shutdown called from inside one of the runtime's jobs: it cannot wait for \
                 itself (no new jobs are accepted)",
            ),
        }
    }
}

impl Error for ShutdownError {}

/// Why a [`RuntimeBuilder`](crate::RuntimeBuilder) could not build a runtime.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildRuntimeError {
    /// The thread pool could not be built.
    Pool(rayon::ThreadPoolBuildError),
}

impl fmt::Display for BuildRuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildRuntimeError::Pool(_) => f.write_str("could not build the runtime's thread pool"),
        }
    }
}

impl Error for BuildRuntimeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BuildRuntimeError::Pool(e) => Some(e),
        }
    }
}
