//! Streams of inputs through a runtime: [`Map`] (results in input order) and
//! [`MapUnordered`] (results as jobs end).
//!
//! Each keeps at most `bound` jobs in flight (queued, running, or ended with a result not
//! yet yielded), so memory follows the bound, not the stream's length.

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use super::handle::Helper;
use super::submit::InFlight;
use super::{JobError, JobHandle, Runtime};

/// How long a stream's consumer sleeps for a burst of results before it settles for one.
const BURST_WAIT: Duration = Duration::from_millis(1);

impl<I: Send + 'static, O: Send + 'static> Runtime<I, O> {
    /// Runs the flow on every input, at most `bound` jobs at a time (0 counts as 1), and
    /// yields the results in input order. Inputs are taken from `inputs` as room appears,
    /// in runs of at least half the bound, each queued as one chunk: one queue entry whose
    /// inputs the pool's threads take one at a time, or a few at a time while jobs are short
    /// (each still a job of its own: its own run, result, counts and latencies, and a place
    /// in the capacity until it starts; an input another thread took but has not started
    /// yet goes to a thread that has nothing left to take), so that a small job costs
    /// little more than its run. When the queue has room for part of a run only, that part
    /// is queued as a chunk and the rest at the next refill; with no room at all, the
    /// inputs are queued one by one, waiting for room as [`submit`](Self::submit) does.
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
            inputs: inputs.into_iter(),
            bound: bound.max(1),
            in_flight: VecDeque::new(),
            held: 0,
            pending: Vec::new(),
        }
    }

    /// As [`map`](Self::map), but yields each result as its job ends, with the input's
    /// position in the stream. Inputs are taken once half the bound is free, each run
    /// queued at once; results are taken a burst at a time.
    ///
    /// ```
    /// use routilux::{RunOptions, Runtime};
    ///
    /// let runtime = Runtime::new(|x: u64, _: RunOptions<'_>| Ok::<_, routilux::FlowError>(x + 1))?;
    /// let mut seen: Vec<(usize, u64)> = runtime
    ///     .map_unordered(10..20, 4)
    ///     .map(|(at, result)| result.map(|y| (at, y)))
    ///     .collect::<Result<_, _>>()?;
    /// seen.sort();
    /// assert_eq!(seen[3], (3, 14));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_unordered<It>(
        &self,
        inputs: It,
        bound: usize,
    ) -> MapUnordered<'_, I, O, It::IntoIter>
    where
        It: IntoIterator<Item = I>,
    {
        let bound = bound.max(1);
        let ready = Arc::new(Ready::default());
        MapUnordered {
            runtime: self,
            inputs: inputs.into_iter(),
            next_index: 0,
            slots: (0..bound).map(|_| Slot::Free).collect(),
            wakers: (0..bound)
                .map(|slot| {
                    Waker::from(Arc::new(SlotWaker {
                        slot,
                        ready: Arc::clone(&ready),
                    }))
                })
                .collect(),
            free: (0..bound).rev().collect(),
            ready,
            ended: VecDeque::new(),
            queued: VecDeque::new(),
        }
    }
}

/// The iterator of [`Runtime::map`] and [`Runtime::map_batched`]: results in input order.
pub struct Map<'r, I, O, It> {
    runtime: &'r Runtime<I, O>,
    inputs: It,
    bound: usize,
    in_flight: VecDeque<InFlight<I, O>>,
    /// Jobs in flight (a chunk counts its inputs whose results were not yielded yet).
    held: usize,
    /// Inputs taken from `inputs` that the queue had no room for yet (queued first at the
    /// next refill; they count against the bound).
    pending: Vec<I>,
}

impl<I: Send + 'static, O: Send + 'static, It: Iterator<Item = I>> Iterator for Map<'_, I, O, It> {
    type Item = Result<O, JobError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Refill in runs of half the bound, each queued as one chunk (one queue entry, one
        // allocation; still at most `bound` in flight).
        if self.held <= self.bound / 2 {
            let room = self.bound - self.held;
            let before = self.in_flight.len();
            let mut inputs = std::mem::take(&mut self.pending)
                .into_iter()
                .chain(&mut self.inputs);
            self.pending = (self.runtime.core).push_chunk(&mut inputs, room, &mut self.in_flight);
            self.held += self
                .in_flight
                .range(before..)
                .map(InFlight::len)
                .sum::<usize>();
        }
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
                sleep_for_a_burst(&self.in_flight, self.held);
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
                    sleep_for_a_burst(&self.in_flight, self.held);
                }
                match self.in_flight.pop_front() {
                    Some(InFlight::One(job)) => job.and_then(JobHandle::wait),
                    _ => unreachable!("the front was one job"),
                }
            }
        };
        self.held -= 1;
        Some(result)
    }
}

/// Jobs start in order: sleeps until the job half-way down the jobs in flight (`held` of
/// them) ends, so as to wake once per burst of results rather than once per result; for a
/// millisecond at most (that job might wait for something the consumer does after an
/// earlier result).
fn sleep_for_a_burst<I, O>(in_flight: &VecDeque<InFlight<I, O>>, held: usize) {
    let mut skip = held / 2;
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

/// A slot of [`MapUnordered`]: one job in flight.
enum Slot<O> {
    Free,
    Waiting(usize, JobHandle<O>),
    Ended(usize, Result<O, JobError>),
}

/// The slots whose jobs ended, in the order they ended.
#[derive(Default)]
struct Ready {
    slots: Mutex<ReadySlots>,
    ended: Condvar,
}

#[derive(Default)]
struct ReadySlots {
    ended: VecDeque<usize>,
    /// While the consumer sleeps: how many ended slots wake it (0: it does not sleep).
    wake_at: usize,
}

impl Ready {
    fn push(&self, slot: usize) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.ended.push_back(slot);
        let wake = slots.wake_at > 0 && slots.ended.len() >= slots.wake_at;
        if wake {
            slots.wake_at = 0;
        }
        drop(slots);
        if wake {
            self.ended.notify_one();
        }
    }

    /// Moves the ended slots into `out` (one lock for the whole burst); when there are
    /// none, sleeps until `batch` jobs (of those in flight) have ended, so as to wake once
    /// per burst rather than once per job.
    fn take(&self, mut batch: usize, out: &mut VecDeque<usize>) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if !slots.ended.is_empty() {
                out.append(&mut slots.ended);
                return;
            }
            // A job may wait for something the consumer does after an earlier result: after
            // a millisecond, settle for one ended job.
            let timed_out;
            slots.wake_at = batch.max(1);
            (slots, timed_out) = self
                .ended
                .wait_timeout(slots, BURST_WAIT)
                .map(|(slots, t)| (slots, t.timed_out()))
                .unwrap_or_else(|e| {
                    let (slots, t) = e.into_inner();
                    (slots, t.timed_out())
                });
            if timed_out {
                slots.wake_at = 1;
                batch = 1;
            }
        }
    }
}

/// Wakes [`MapUnordered`] when the job in its slot ends.
struct SlotWaker {
    slot: usize,
    ready: Arc<Ready>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.ready.push(self.slot);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.push(self.slot);
    }
}

/// The iterator of [`Runtime::map_unordered`]: `(position, result)` as jobs end.
pub struct MapUnordered<'r, I, O, It> {
    runtime: &'r Runtime<I, O>,
    inputs: It,
    next_index: usize,
    slots: Vec<Slot<O>>,
    wakers: Vec<Waker>,
    free: Vec<usize>,
    ready: Arc<Ready>,
    /// Ended slots taken from `ready`, not yielded yet.
    ended: VecDeque<usize>,
    /// Handles of the last run of jobs queued (kept for its allocation).
    queued: VecDeque<Result<JobHandle<O>, JobError>>,
}

impl<I: Send + 'static, O: Send + 'static, It: Iterator<Item = I>> Iterator
    for MapUnordered<'_, I, O, It>
{
    type Item = (usize, Result<O, JobError>);

    fn next(&mut self) -> Option<Self::Item> {
        // Refill in runs of at least half the bound, each queued under one lock (fewer lock
        // hand-overs between this thread and the pool's; still at most `bound` in flight).
        if self.free.len() * 2 >= self.slots.len() {
            let room = self.free.len();
            (self.runtime.core).push_many(&mut self.inputs, room, &mut self.queued);
            while let Some(submitted) = self.queued.pop_front() {
                let slot = self.free.pop().expect("a free slot for each input taken");
                let index = self.next_index;
                self.next_index += 1;
                self.slots[slot] = match submitted {
                    Err(e) => Slot::Ended(index, Err(e)),
                    Ok(mut handle) => {
                        let mut cx = TaskContext::from_waker(&self.wakers[slot]);
                        match Pin::new(&mut handle).poll(&mut cx) {
                            Poll::Pending => Slot::Waiting(index, handle),
                            Poll::Ready(result) => Slot::Ended(index, result),
                        }
                    }
                };
                if matches!(self.slots[slot], Slot::Ended(..)) {
                    self.ended.push_back(slot);
                }
            }
        }
        if self.free.len() == self.slots.len() {
            return None;
        }
        if self.ended.is_empty() {
            let in_flight = self.slots.len() - self.free.len();
            let batch = if self.runtime.core.on_pool() {
                1
            } else {
                in_flight / 2
            };
            self.ready.take(batch, &mut self.ended);
        }
        let slot = self
            .ended
            .pop_front()
            .expect("a burst holds one ended slot at least");
        let item = match std::mem::replace(&mut self.slots[slot], Slot::Free) {
            Slot::Ended(index, result) => (index, result),
            Slot::Waiting(index, mut handle) => {
                (index, handle.try_result().unwrap_or(Err(JobError::Taken)))
            }
            Slot::Free => unreachable!("a free slot is never ready"),
        };
        self.free.push(slot);
        Some(item)
    }
}
