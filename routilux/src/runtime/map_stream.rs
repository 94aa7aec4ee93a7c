//! The async forms of [`Runtime::map`] and [`Runtime::map_unordered`]: a [`Stream`] of
//! inputs in, a [`Stream`] of results out ([`MapStream`] in input order,
//! [`MapStreamUnordered`] as jobs end), at most `bound` jobs in flight.
//!
//! Neither blocks the thread that polls it: an input is queued as
//! [`submit_async`](Runtime::submit_async) queues it (when the queue is full, the task's
//! waker waits for room), and a result is awaited as a [`JobHandle`] is.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use futures_util::stream::{FuturesUnordered, Stream};

use super::queue::Core;
use super::submit::Wait;
use super::{JobError, JobHandle, Runtime, SubmitError};

impl<I: Send + 'static, O: Send + 'static> Runtime<I, O> {
    /// Runs the flow on every input of the stream `inputs`, at most `bound` jobs at a time
    /// (0 counts as 1), and yields the results in input order: the async form of
    /// [`map`](Self::map), for any executor.
    ///
    /// A job is in flight from the moment its input is taken from `inputs` until its result
    /// is yielded (queued, running, or ended and waiting for the results before it), so at
    /// most `bound` inputs and results are alive at once, whatever the stream's length.
    /// Polling never blocks the thread: inputs are taken only while there is room, and
    /// queued as [`submit_async`](Self::submit_async) queues them.
    ///
    /// The stream does not borrow the runtime (it may move into a spawned task). An input the
    /// runtime refuses, because it was shut down or dropped meanwhile, is dropped and its
    /// place gets [`JobError::NotSubmitted`]. Like `.await` on a [`JobHandle`], it does not
    /// help run queued jobs: poll it from async code, not from inside the runtime's jobs
    /// (there, use [`map`](Self::map)).
    ///
    /// A job's failure or panic is that input's result (a [`JobError`]); the stream goes on.
    ///
    /// **Dropping the stream early cancels its jobs in flight**, as
    /// [`JobHandle::cancel`] does: the queued ones leave the queue at once (their inputs are
    /// dropped), the running ones have their [`CancelToken`](crate::CancelToken) cancelled
    /// (their runs stop as cancelled runs do, undoing what they completed), and the results
    /// not yet yielded are dropped. Dropping does not wait for running jobs to stop;
    /// [`shutdown`](Self::shutdown) does.
    ///
    /// ```
    /// use futures_util::{StreamExt, stream};
    /// use routilux::{RunOptions, Runtime};
    ///
    /// let runtime = Runtime::new(|x: u64, _: RunOptions<'_>| Ok::<_, routilux::FlowError>(x * x))?;
    /// let squares = runtime.map_stream(stream::iter(0..5), 2);
    /// // Any executor: here routilux's own `block_on`, inside tokio `.await` it.
    /// let squares: Vec<u64> = routilux::block_on(squares.map(|r| r.unwrap()).collect());
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_stream<S>(&self, inputs: S, bound: usize) -> MapStream<I, O, S>
    where
        S: Stream<Item = I>,
    {
        MapStream {
            core: Arc::clone(&self.core),
            source: Source::new(inputs),
            bound: bound.max(1),
            in_flight: VecDeque::new(),
        }
    }

    /// As [`map_stream`](Self::map_stream), but yields each result as its job ends, with the
    /// input's position in the stream: the async form of [`map_unordered`](Self::map_unordered).
    /// Dropping it early cancels its jobs in flight, as for `map_stream`.
    ///
    /// ```
    /// use futures_util::{StreamExt, stream};
    /// use routilux::{RunOptions, Runtime};
    ///
    /// let runtime = Runtime::new(|x: u64, _: RunOptions<'_>| Ok::<_, routilux::FlowError>(x + 1))?;
    /// let results = runtime.map_stream_unordered(stream::iter(10..20), 4);
    /// let mut seen: Vec<(usize, u64)> = routilux::block_on(
    ///     results.map(|(at, result)| (at, result.unwrap())).collect(),
    /// );
    /// seen.sort();
    /// assert_eq!(seen[3], (3, 14));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_stream_unordered<S>(&self, inputs: S, bound: usize) -> MapStreamUnordered<I, O, S>
    where
        S: Stream<Item = I>,
    {
        MapStreamUnordered {
            core: Arc::clone(&self.core),
            source: Source::new(inputs),
            bound: bound.max(1),
            next_index: 0,
            jobs: FuturesUnordered::new(),
            refused: VecDeque::new(),
        }
    }
}

/// Where a stream's inputs come from: the input stream (until it ends) and the input taken
/// from it that the queue had no room for yet.
struct Source<I, S> {
    stream: Option<Pin<Box<S>>>,
    pending: Option<I>,
}

impl<I, S> Source<I, S> {
    fn new(stream: S) -> Self {
        Source {
            stream: Some(Box::pin(stream)),
            pending: None,
        }
    }

    /// Whether every input has been taken and submitted.
    fn is_done(&self) -> bool {
        self.stream.is_none() && self.pending.is_none()
    }
}

impl<I: Send + 'static, S: Stream<Item = I>> Source<I, S> {
    /// Submits the next input. `Ready(None)`: the input stream has ended. `Pending`: it has
    /// no input yet, or the queue has no room; either wakes the task when that changes.
    fn submit_next<O: Send + 'static>(
        &mut self,
        core: &Arc<Core<I, O>>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<JobHandle<O>, JobError>>> {
        let inputs = match self.pending.take() {
            Some(inputs) => inputs,
            None => {
                let Some(stream) = self.stream.as_mut() else {
                    return Poll::Ready(None);
                };
                match ready!(stream.as_mut().poll_next(cx)) {
                    Some(inputs) => inputs,
                    None => {
                        // Ended: drop the source now rather than with the stream.
                        self.stream = None;
                        return Poll::Ready(None);
                    }
                }
            }
        };
        match core.push(inputs, &Wait::Wake(cx.waker())) {
            Ok(handle) => Poll::Ready(Some(Ok(handle))),
            Err(SubmitError::Full(inputs)) => {
                self.pending = Some(inputs);
                Poll::Pending
            }
            Err(SubmitError::ShutDown(_)) => Poll::Ready(Some(Err(JobError::NotSubmitted))),
        }
    }
}

/// The stream of [`Runtime::map_stream`]: results in input order.
#[must_use = "streams do nothing unless polled"]
pub struct MapStream<I, O, S> {
    core: Arc<Core<I, O>>,
    source: Source<I, S>,
    bound: usize,
    /// The jobs in flight, oldest first (an input the runtime refused holds its error).
    in_flight: VecDeque<Result<JobHandle<O>, JobError>>,
}

// Nothing in it is ever pinned but the input stream, which is boxed.
impl<I, O, S> Unpin for MapStream<I, O, S> {}

impl<I: Send + 'static, O: Send + 'static, S: Stream<Item = I>> Stream for MapStream<I, O, S> {
    type Item = Result<O, JobError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while this.in_flight.len() < this.bound {
            match this.source.submit_next(&this.core, cx) {
                Poll::Ready(Some(job)) => this.in_flight.push_back(job),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        match this.in_flight.front_mut() {
            // Nothing in flight: done, or waiting for an input (or room) with the waker set.
            None if this.source.is_done() => Poll::Ready(None),
            None => Poll::Pending,
            Some(Ok(handle)) => {
                let result = ready!(Pin::new(handle).poll(cx));
                this.in_flight.pop_front();
                Poll::Ready(Some(result))
            }
            Some(Err(_)) => {
                let refused = this.in_flight.pop_front().and_then(Result::err);
                Poll::Ready(refused.map(Err))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.in_flight.len();
        (n, self.source.is_done().then_some(n))
    }
}

impl<I, O, S> Drop for MapStream<I, O, S> {
    fn drop(&mut self) {
        // Newest first, so that the oldest queued jobs are not started meanwhile.
        for handle in self.in_flight.iter().rev().flatten() {
            handle.cancel();
        }
    }
}

impl<I, O, S> fmt::Debug for MapStream<I, O, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapStream")
            .field("bound", &self.bound)
            .field("in_flight", &self.in_flight.len())
            .field("inputs_done", &self.source.is_done())
            .finish_non_exhaustive()
    }
}

/// A job of [`MapStreamUnordered`] with its input's position.
struct Indexed<O> {
    index: usize,
    handle: JobHandle<O>,
}

impl<O> Future for Indexed<O> {
    type Output = (usize, Result<O, JobError>);

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = ready!(Pin::new(&mut this.handle).poll(cx));
        Poll::Ready((this.index, result))
    }
}

/// The stream of [`Runtime::map_stream_unordered`]: `(position, result)` as jobs end.
#[must_use = "streams do nothing unless polled"]
pub struct MapStreamUnordered<I, O, S> {
    core: Arc<Core<I, O>>,
    source: Source<I, S>,
    bound: usize,
    next_index: usize,
    jobs: FuturesUnordered<Indexed<O>>,
    /// Inputs the runtime refused, not yet yielded.
    refused: VecDeque<(usize, JobError)>,
}

// Nothing in it is ever pinned but the input stream, which is boxed, and the jobs, which
// `FuturesUnordered` pins on the heap itself.
impl<I, O, S> Unpin for MapStreamUnordered<I, O, S> {}

impl<I: Send + 'static, O: Send + 'static, S: Stream<Item = I>> Stream
    for MapStreamUnordered<I, O, S>
{
    type Item = (usize, Result<O, JobError>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while this.jobs.len() + this.refused.len() < this.bound {
            let job = match this.source.submit_next(&this.core, cx) {
                Poll::Ready(Some(job)) => job,
                Poll::Ready(None) | Poll::Pending => break,
            };
            let index = this.next_index;
            this.next_index += 1;
            match job {
                Ok(handle) => this.jobs.push(Indexed { index, handle }),
                Err(refused) => this.refused.push_back((index, refused)),
            }
        }
        if let Some((index, refused)) = this.refused.pop_front() {
            return Poll::Ready(Some((index, Err(refused))));
        }
        match ready!(Pin::new(&mut this.jobs).poll_next(cx)) {
            Some(item) => Poll::Ready(Some(item)),
            None if this.source.is_done() => Poll::Ready(None),
            // No job in flight: waiting for an input (or room) with the waker set.
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.jobs.len() + self.refused.len();
        (n, self.source.is_done().then_some(n))
    }
}

impl<I, O, S> Drop for MapStreamUnordered<I, O, S> {
    fn drop(&mut self) {
        for job in &self.jobs {
            job.handle.cancel();
        }
    }
}

impl<I, O, S> fmt::Debug for MapStreamUnordered<I, O, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapStreamUnordered")
            .field("bound", &self.bound)
            .field("in_flight", &(self.jobs.len() + self.refused.len()))
            .field("inputs_done", &self.source.is_done())
            .finish_non_exhaustive()
    }
}
