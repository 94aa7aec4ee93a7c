//! Streams of inputs through a runtime: [`Map`] (results in input order) and
//! [`MapUnordered`](super::MapUnordered) (results as jobs end, in `unordered.rs`).
//!
//! Each keeps at most `bound` jobs in flight (queued, running, or ended with a result not
//! yet yielded), so memory follows the bound, not the stream's length.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::handle::Helper;
use super::queue::Core;
use super::submit::InFlight;
use super::{JobError, JobHandle, Runtime};

/// How long a stream's consumer sleeps for a burst of results before it settles for one.
pub(super) const BURST_WAIT: Duration = Duration::from_millis(1);

impl<I: Send + 'static, O: Send + 'static> Runtime<I, O> {
    /// Runs the flow on every input, at most `bound` jobs at a time (0 counts as 1), and
    /// yields the results in input order. Inputs are taken from `inputs` as room appears,
    /// in runs of at least a quarter of the bound, each queued as one chunk: one queue
    /// entry whose inputs the pool's threads take one at a time, or a few at a time while
    /// jobs are short (each still a job of its own: its own run, result, counts and
    /// latencies, and a place in the capacity until it starts; an input another thread
    /// took but has not started yet goes to a thread that has nothing left to take), so
    /// that a small job costs little more than its run. When the queue has room for part
    /// of a run only, that part is queued as a chunk and the rest at the next refill; with
    /// no room at all, the inputs are queued one by one, waiting for room as
    /// [`submit`](Self::submit) does.
    ///
    /// Jobs that ended count against the bound until their results are yielded: while a
    /// slow job at the head of the stream runs, the other threads stop once they are
    /// `bound` inputs ahead of it. With slow inputs among quick ones, a larger bound (or
    /// [`map_unordered`](Self::map_unordered)) keeps the threads busy.
    ///
    /// ```
    /// use routilux::{RunOptions, Runtime};
    ///
    /// let runtime = Runtime::new(|x: u64, _: RunOptions<'_>| Ok::<_, routilux::FlowError>(x * x))?;
    /// let squares: Vec<u64> = runtime.map(0..5, 2).collect::<Result<_, _>>()?;
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<It>(&self, inputs: It, bound: usize) -> Map<'_, I, O, It::IntoIter>
    where
        It: IntoIterator<Item = I>,
    {
        Map {
            runtime: self,
            feed: Feed::new(inputs.into_iter(), bound),
            in_flight: VecDeque::new(),
        }
    }
}

/// The iterator of [`Runtime::map`] and [`Runtime::map_batched`]: results in input order.
pub struct Map<'r, I, O, It> {
    runtime: &'r Runtime<I, O>,
    feed: Feed<I, It>,
    in_flight: VecDeque<InFlight<I, O>>,
}

/// Where a stream takes its inputs from, and how many of its jobs are in flight.
pub(super) struct Feed<I, It> {
    inputs: It,
    bound: usize,
    /// Jobs in flight whose results were not yielded yet (a chunk counts its inputs).
    pub(super) held: usize,
    /// Inputs taken from `inputs` that the queue had no room for yet (queued first at the
    /// next refill).
    pending: Vec<I>,
}

impl<I: Send + 'static, It: Iterator<Item = I>> Feed<I, It> {
    /// A feed of at most `bound` jobs in flight (0 counts as 1).
    pub(super) fn new(inputs: It, bound: usize) -> Self {
        Feed {
            inputs,
            bound: bound.max(1),
            held: 0,
            pending: Vec::new(),
        }
    }

    /// Once a quarter of the bound is free (so that the pool's threads do not run dry
    /// while the consumer wakes and yields a burst), queues as many inputs as the bound
    /// has room for, `pending` first, in runs queued as chunks (see `Core::push_chunk`),
    /// appending them to `out`; what the queue has no room for yet waits in `pending`.
    pub(super) fn top_up<O: Send + 'static>(
        &mut self,
        core: &Arc<Core<I, O>>,
        out: &mut VecDeque<InFlight<I, O>>,
    ) {
        if self.held > self.bound - self.bound / 4 {
            return;
        }
        let room = self.bound - self.held;
        let before = out.len();
        let mut inputs = std::mem::take(&mut self.pending)
            .into_iter()
            .chain(&mut self.inputs);
        self.pending = core.push_chunk(&mut inputs, room, out);
        self.held += out.range(before..).map(InFlight::len).sum::<usize>();
    }

    /// How many of the jobs in flight the consumer lets end before it wakes for them.
    pub(super) fn burst(&self) -> usize {
        self.held / 4
    }
}

impl<I: Send + 'static, O: Send + 'static, It: Iterator<Item = I>> Iterator for Map<'_, I, O, It> {
    type Item = Result<O, JobError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Refill in runs of a quarter of the bound or more, each queued as one chunk (one
        // queue entry, one allocation; still at most `bound` in flight).
        self.feed.top_up(&self.runtime.core, &mut self.in_flight);
        let on_pool = self.runtime.core.on_pool();
        if let Some(InFlight::Chunk { chunk, next }) = self.in_flight.front()
            && !chunk.has_ended(*next)
        {
            if on_pool {
                // Waiting here could hold the thread that would run it: help instead.
                while !chunk.has_ended(*next) {
                    if !Arc::clone(&self.runtime.core).help_one() {
                        chunk.block(*next, BURST_WAIT);
                    }
                }
            } else {
                sleep_for_a_burst(&self.in_flight, self.feed.burst());
                while !chunk.block(*next, Duration::from_secs(1)) {}
            }
        }
        let result = match self.in_flight.front_mut()? {
            InFlight::Chunk { chunk, next } => {
                let at = *next;
                *next += 1;
                // SAFETY: this iterator is the chunk's one consumer; `at` ended (waited
                // for above) and is read once (`next` moved past it).
                let result = unsafe { chunk.take(at) }.unwrap_or(Err(JobError::Taken));
                if *next == chunk.len() {
                    self.in_flight.pop_front();
                }
                result
            }
            InFlight::One(_) => {
                if let Some(InFlight::One(Ok(handle))) = self.in_flight.front()
                    && !handle.is_finished()
                    && !on_pool
                {
                    sleep_for_a_burst(&self.in_flight, self.feed.burst());
                }
                match self.in_flight.pop_front() {
                    Some(InFlight::One(job)) => job.and_then(JobHandle::wait),
                    _ => unreachable!("the front was one job"),
                }
            }
        };
        self.feed.held -= 1;
        Some(result)
    }
}

/// Jobs start in order: sleeps until the job `skip` places down the jobs in flight ends
/// (see [`Feed::burst`]), so as to wake once per burst of results rather than once per
/// result; for a millisecond at most (that job might wait for something the consumer does
/// after an earlier result).
fn sleep_for_a_burst<I, O>(in_flight: &VecDeque<InFlight<I, O>>, mut skip: usize) {
    for jobs in in_flight {
        let n = jobs.len();
        if skip >= n {
            skip -= n;
            continue;
        }
        match jobs {
            InFlight::Chunk { chunk, next } => {
                chunk.block(next + skip, BURST_WAIT);
            }
            InFlight::One(Ok(handle)) => handle.block_until_ended(BURST_WAIT),
            InFlight::One(Err(_)) => {}
        }
        return;
    }
}
