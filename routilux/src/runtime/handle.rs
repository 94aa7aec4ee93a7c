//! [`JobHandle`]: the caller's end of one submitted job, and the cell its result goes to.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use super::cell::JobCell;
use super::error::JobError;

/// How long [`JobHandle::wait`] watches a job that has not ended before it sleeps.
const WAIT_SPIN: Duration = Duration::from_micros(20);

/// A job's identity, unique within its runtime (numbered from 1 in submission order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub(crate) u64);

impl JobId {
    /// The number.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {}", self.0)
    }
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// In the queue, not started.
    Queued,
    /// Its run has started.
    Running,
    /// It produced its output.
    Done,
    /// Its run failed (a step failed or panicked, it timed out, or the flow closure
    /// panicked).
    Failed,
    /// It was cancelled: before it started, or while running.
    Cancelled,
}

impl JobStatus {
    /// Whether the job has ended (done, failed or cancelled).
    #[must_use]
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Done | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// What a handle needs from its runtime: to help run queued jobs while it waits on one of
/// the runtime's own threads, and to take a cancelled job out of the queue.
pub(crate) trait Helper: Send + Sync {
    /// Whether the calling thread is one of the runtime's pool threads.
    fn on_pool(&self) -> bool;
    /// Runs one queued job on the calling thread; `false` if the queue was empty.
    fn help_one(self: Arc<Self>) -> bool;
    /// Removes the queued job `id` from the queue (it was cancelled), if it is still there.
    fn unqueue(&self, id: u64);
}

/// The caller's end of a submitted job: its id and [`status`](Self::status), its result
/// ([`wait`](Self::wait), `.await`, [`try_result`](Self::try_result)), and
/// [`cancel`](Self::cancel).
///
/// Dropping a handle does not cancel the job: it still runs (its result is dropped), unless
/// the handle was made with [`cancel_on_drop`](Self::cancel_on_drop).
///
/// ```
/// use routilux::{JobStatus, RunOptions, Runtime};
///
/// let runtime = Runtime::new(|x: u64, _: RunOptions<'_>| Ok::<_, routilux::FlowError>(x * 2))?;
/// let handle = runtime.submit(21)?;
/// let id = handle.id();
/// assert_eq!(handle.wait()?, 42);
/// assert_eq!(id.get(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JobHandle<O> {
    cell: Arc<JobCell<O>>,
    helper: Arc<dyn Helper>,
    cancel_on_drop: bool,
    /// Whether the result was taken out of the cell.
    taken: bool,
}

impl<O> JobHandle<O> {
    pub(crate) fn new(cell: Arc<JobCell<O>>, helper: Arc<dyn Helper>) -> Self {
        JobHandle {
            cell,
            helper,
            cancel_on_drop: false,
            taken: false,
        }
    }

    /// The result if the job ended (taken out of the cell the first time).
    fn take(&mut self) -> Option<Result<O, JobError>> {
        if self.taken {
            return Some(Err(JobError::Taken));
        }
        // SAFETY: this handle is the cell's one reader, and takes only until it got one.
        let result = unsafe { self.cell.take() }?;
        self.taken = true;
        Some(result)
    }

    /// The job's id.
    #[must_use]
    pub fn id(&self) -> super::JobId {
        JobId(self.cell.id)
    }

    /// Where the job stands now.
    #[must_use]
    pub fn status(&self) -> JobStatus {
        self.cell.status()
    }

    /// Whether the job has ended (its result is ready, or was taken).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.status().is_finished()
    }

    /// Cancels the job. A queued job leaves the queue at once and ends
    /// [`Cancelled`](JobStatus::Cancelled) with [`JobError::Cancelled`]; a running job's
    /// [`CancelToken`](crate::CancelToken) is cancelled, so that its run stops as the
    /// token's documentation says (a run that finished every step anyway still returns its
    /// output). An ended job is not changed. Returns whether the job had not ended yet.
    pub fn cancel(&self) -> bool {
        if self.cell.cancel_queued() {
            self.helper.unqueue(self.cell.id);
            return true;
        }
        // Read before cancelling: a running job may end because of the cancellation before
        // a later read, and that job had not ended when it was cancelled.
        let unfinished = !self.status().is_finished();
        self.cell.cancel.cancel();
        unfinished
    }

    /// Makes dropping this handle cancel the job (as [`cancel`](Self::cancel) does).
    #[must_use]
    pub fn cancel_on_drop(mut self) -> Self {
        self.cancel_on_drop = true;
        self
    }

    /// The result, if the job has ended; it is taken out (a later call, [`wait`](Self::wait)
    /// or `.await` gives [`JobError::Taken`]).
    pub fn try_result(&mut self) -> Option<Result<O, JobError>> {
        self.take()
    }

    /// Blocks until the job has ended or `timeout` has passed, without taking its result
    /// (no help given: for the runtime's streams, which wait on a later job only to sleep
    /// less often).
    pub(crate) fn block_until_ended(&self, timeout: Duration) {
        self.cell.block(Some(timeout));
    }

    /// Blocks until the job ends and returns its result.
    ///
    /// Called on one of the runtime's own threads (from inside a job), it never deadlocks:
    /// while the job is still queued, the calling thread runs queued jobs itself (oldest
    /// first), so a job may submit children and wait for them even when every thread is
    /// waiting.
    ///
    /// # Errors
    /// The job's [`JobError`].
    pub fn wait(mut self) -> Result<O, JobError> {
        if self.helper.on_pool() {
            loop {
                if let Some(result) = self.take() {
                    return result;
                }
                if Arc::clone(&self.helper).help_one() {
                    continue;
                }
                // The queue is empty: the job is running on another thread. Look at the
                // queue again now and then, in case it fills up behind us.
                self.cell.block(Some(Duration::from_millis(1)));
            }
        }
        // A small job often ends within microseconds: watch it for a moment before sleeping.
        if !self.cell.spin(WAIT_SPIN) {
            self.cell.block(None);
        }
        self.take().unwrap_or(Err(JobError::Taken))
    }
}

impl<O> Future for JobHandle<O> {
    type Output = Result<O, JobError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(result) = this.take() {
            return Poll::Ready(result);
        }
        if this.cell.register(cx.waker()) {
            return Poll::Pending;
        }
        Poll::Ready(this.take().unwrap_or(Err(JobError::Taken)))
    }
}

impl<O> Drop for JobHandle<O> {
    fn drop(&mut self) {
        if self.cancel_on_drop {
            self.cancel();
        }
    }
}

impl<O> fmt::Debug for JobHandle<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.cell.id)
            .field("status", &self.status())
            .finish()
    }
}
