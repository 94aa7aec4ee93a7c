//! The job runtime: many runs of one flow through a bounded queue on a rayon pool, with
//! backpressure, handles, per-flow state, streams, shutdown and metrics.
//!
//! Streams of inputs: [`Runtime::map`] and [`Runtime::map_unordered`] from iterators,
//! [`Runtime::map_stream`] and [`Runtime::map_stream_unordered`] from async `Stream`s.
//!
//! Built on the public API only: each job is one call of the runtime's flow closure with
//! [`RunOptions`] that carry the runtime's pool, the job's own [`CancelToken`] and (with
//! state) a [`RunData`](crate::RunData) of its own.

mod batches;
mod cell;
mod chunk;
mod error;
mod grab;
mod handle;
mod map_stream;
mod metrics;
mod queue;
mod shard;
mod shutdown;
mod state;
mod stream;
mod submit;
mod unordered;
mod worker;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use rayon::ThreadPool;

pub use batches::{Batches, ChannelBatches, batches};
pub use error::{BuildRuntimeError, JobError, ShutdownError, SubmitError};
pub use handle::{JobHandle, JobId, JobStatus};
pub use map_stream::{MapStream, MapStreamUnordered};
pub use metrics::Metrics;
pub use stream::Map;
pub use unordered::MapUnordered;

use crate::error::FlowError;
use crate::options::RunOptions;
use crate::track::Report;
use queue::Core;
use state::SharedState;
use submit::Wait;

/// The queue capacity of [`Runtime::new`].
pub const DEFAULT_CAPACITY: usize = 1024;

/// What [`Runtime::shutdown`] does with the jobs it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Queued jobs still run; every job ends as it would have.
    Drain,
    /// Queued jobs end [`Cancelled`](JobStatus::Cancelled) without running; running jobs'
    /// tokens are cancelled.
    Cancel,
}

/// Runs many jobs of one flow on a rayon pool, through a bounded queue.
///
/// A runtime knows its flow as a closure that runs it: the job's inputs and the run's
/// [`RunOptions`] in (they carry the runtime's pool and the job's cancel token: pass them
/// on), the flow's result out. [`submit`](Self::submit) queues a job and returns its
/// [`JobHandle`]; when the queue is full, `submit` blocks, [`submit_async`](Self::submit_async)
/// waits, and [`try_submit`](Self::try_submit) gives the inputs back.
///
/// ```
/// use routilux::{flow, routine, RunOptions, Runtime};
///
/// #[routine]
/// fn price(qty: &u64, unit: &u64) -> u64 { qty * unit }
///
/// flow! {
///     flow Checkout {
///         input qty: u64;
///         input unit: u64;
///         step total = price(qty, unit);
///         return total;
///     }
/// }
///
/// let runtime = Runtime::new(|(qty, unit): (u64, u64), options: RunOptions<'_>| {
///     Checkout::run_with(options, qty, unit)
/// })?;
/// let handle = runtime.submit((3, 5))?;
/// assert_eq!(handle.wait()?, 15);
///
/// // Many inputs, at most 8 jobs in flight, results in input order:
/// let totals: Vec<u64> = runtime
///     .map((1..=100).map(|q| (q, 2)), 8)
///     .collect::<Result<_, _>>()?;
/// assert_eq!(totals[99], 200);
/// println!("{}", runtime.metrics());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Jobs inside jobs
///
/// A job may submit to its own runtime and wait for the child: on the runtime's threads,
/// [`submit`](Self::submit) into a full queue and [`JobHandle::wait`] run queued jobs on the
/// waiting thread instead of blocking it, so every thread waiting never deadlocks the pool.
/// (`.await` on a handle and [`submit_async`](Self::submit_async) do not help: use them from
/// async code, not from inside jobs.)
///
/// # Shutdown and drop
///
/// [`shutdown`](Self::shutdown) stops accepting jobs (blocked submitters get
/// [`SubmitError::ShutDown`] with their inputs), drains or cancels, and returns once every
/// job has ended. Dropping a runtime stops accepting and lets the queued and running jobs
/// finish in the background: it does not block, and every handle still gets its result
/// (the pool lives until the last job has ended). Call `shutdown(Shutdown::Cancel)` first
/// to stop them instead.
pub struct Runtime<I, O> {
    pub(crate) core: Arc<Core<I, O>>,
}

impl Runtime<(), ()> {
    /// A builder for the pool, the queue's capacity and the per-flow state.
    #[must_use]
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }
}

impl<I: Send + 'static, O: Send + 'static> Runtime<I, O> {
    /// A runtime for `flow` on a pool of its own (one thread per CPU), with a queue of
    /// [`DEFAULT_CAPACITY`] jobs.
    ///
    /// # Errors
    /// When the pool cannot be built.
    pub fn new<F>(flow: F) -> Result<Self, BuildRuntimeError>
    where
        F: Fn(I, RunOptions<'_>) -> Result<O, FlowError> + Send + Sync + 'static,
    {
        Runtime::builder().build(flow)
    }

    /// Queues a job, blocking while the queue is full (on one of the runtime's own threads,
    /// it runs queued jobs instead, see [Jobs inside jobs](Self#jobs-inside-jobs)). A
    /// blocked submitter resumes once the queue has drained to half its capacity, so that
    /// it wakes once per burst of jobs rather than once per job.
    ///
    /// # Errors
    /// [`SubmitError::ShutDown`], with the inputs, once the runtime stopped accepting jobs.
    pub fn submit(&self, inputs: I) -> Result<JobHandle<O>, SubmitError<I>> {
        self.core.push(inputs, &Wait::Block)
    }

    /// Queues a job if there is room now.
    ///
    /// # Errors
    /// [`SubmitError::Full`] or [`SubmitError::ShutDown`], with the inputs.
    pub fn try_submit(&self, inputs: I) -> Result<JobHandle<O>, SubmitError<I>> {
        self.core.push(inputs, &Wait::No)
    }

    /// Queues a job, waiting (without blocking the thread) while the queue is full, as
    /// [`submit`](Self::submit) does. Works on any executor; the future is `Send` when `I`
    /// is.
    pub fn submit_async(&self, inputs: I) -> Submit<'_, I, O> {
        Submit {
            core: &self.core,
            inputs: Some(inputs),
        }
    }

    /// Stops accepting jobs, drains or cancels the others as `mode` says, and returns once
    /// every job has ended (each with its status; none is lost).
    ///
    /// # Errors
    /// [`ShutdownError::InsideJob`] when called from one of the runtime's own threads: it
    /// stops accepting (and cancels) but cannot wait for the job it is called from.
    pub fn shutdown(&self, mode: Shutdown) -> Result<(), ShutdownError> {
        self.core.shutdown(mode, true)
    }

    /// Whether the runtime still accepts jobs.
    #[must_use]
    pub fn is_accepting(&self) -> bool {
        self.core.is_accepting()
    }

    /// The counters and latencies now.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.core.metrics()
    }

    /// The latency table (submit to start, run, submit to end), as a
    /// [`Tracker`](crate::Tracker)'s report prints it.
    #[must_use]
    pub fn report(&self) -> Report {
        self.metrics().report()
    }

    /// The queue's capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.core.capacity()
    }

    /// The pool the jobs run on.
    #[must_use]
    pub fn pool(&self) -> &ThreadPool {
        &self.core.pool
    }

    /// The runtime's state, if it has one of type `S` (see [`RuntimeBuilder::state`]).
    #[must_use]
    pub fn state<S: Any + Send + Sync>(&self) -> Option<Arc<S>> {
        self.core.state.as_ref().and_then(SharedState::get)
    }
}

impl<I, O> Drop for Runtime<I, O> {
    fn drop(&mut self) {
        self.core.stop_accepting();
    }
}

impl<I, O> fmt::Debug for Runtime<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("capacity", &self.core.capacity())
            .field("threads", &self.core.pool.current_num_threads())
            .finish_non_exhaustive()
    }
}

/// The future of [`Runtime::submit_async`]: resolves to the job's handle once it is queued.
#[must_use = "futures do nothing unless polled"]
pub struct Submit<'r, I, O> {
    core: &'r Arc<Core<I, O>>,
    inputs: Option<I>,
}

impl<I, O> Unpin for Submit<'_, I, O> {}

impl<I: Send + 'static, O: Send + 'static> Future for Submit<'_, I, O> {
    type Output = Result<JobHandle<O>, SubmitError<I>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let Some(inputs) = self.inputs.take() else {
            panic!("`Submit` polled after it completed");
        };
        match self.core.push(inputs, &Wait::Wake(cx.waker())) {
            Err(SubmitError::Full(inputs)) => {
                self.inputs = Some(inputs);
                Poll::Pending
            }
            done => Poll::Ready(done),
        }
    }
}

/// Configures a [`Runtime`]: its pool, queue capacity, per-flow state and per-job timeout.
///
/// ```
/// use std::sync::Arc;
/// use routilux::{RunOptions, Runtime};
///
/// let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build()?);
/// let runtime = Runtime::builder()
///     .pool(Arc::clone(&pool))
///     .capacity(64)
///     .build(|x: u32, _: RunOptions<'_>| Ok::<_, routilux::FlowError>(x + 1))?;
/// assert_eq!(runtime.capacity(), 64);
/// assert_eq!(runtime.submit(1)?.wait()?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct RuntimeBuilder {
    pool: Option<Arc<ThreadPool>>,
    threads: usize,
    capacity: Option<usize>,
    state: Option<SharedState>,
    timeout: Option<Duration>,
}

impl RuntimeBuilder {
    /// Runs the jobs on `pool`, shared with its other users (the runtime keeps it alive).
    #[must_use]
    pub fn pool(mut self, pool: Arc<ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Builds a pool of `threads` threads for the runtime (0: one per CPU, the default).
    /// Ignored with [`pool`](Self::pool).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// How many jobs may wait in the queue ([`DEFAULT_CAPACITY`] by default); 0 counts as 1.
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity.max(1));
        self
    }

    /// The per-flow state: one value every job's steps see through
    /// [`Context::state`](crate::Context::state) (and the caller through
    /// [`Runtime::state`]). Each job then gets a [`RunData`](crate::RunData) of its own,
    /// holding it ([`RunOptions::get_data`]).
    #[must_use]
    pub fn state<S: Any + Send + Sync>(mut self, state: S) -> Self {
        self.state = Some(SharedState(Arc::new(state)));
        self
    }

    /// Gives every job's run a deadline (see [`RunOptions::timeout`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The runtime for `flow` (see [`Runtime`] for what the closure does).
    ///
    /// # Errors
    /// When the pool cannot be built.
    pub fn build<I, O, F>(self, flow: F) -> Result<Runtime<I, O>, BuildRuntimeError>
    where
        I: Send + 'static,
        O: Send + 'static,
        F: Fn(I, RunOptions<'_>) -> Result<O, FlowError> + Send + Sync + 'static,
    {
        let pool = match self.pool {
            Some(pool) => pool,
            None => Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .thread_name(|i| format!("routilux-runtime-{i}"))
                    .build()
                    .map_err(BuildRuntimeError::Pool)?,
            ),
        };
        let capacity = self.capacity.unwrap_or(DEFAULT_CAPACITY);
        let timeout = self.timeout;
        let flow: Box<queue::FlowFn<I, O>> = match timeout {
            None => Box::new(flow),
            Some(timeout) => Box::new(move |inputs, options: RunOptions<'_>| {
                flow(inputs, options.timeout(timeout))
            }),
        };
        Ok(Runtime {
            core: Arc::new(Core::new(flow, pool, self.state, capacity)),
        })
    }
}

impl fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .field("state", &self.state.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
