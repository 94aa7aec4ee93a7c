//! Streams of inputs through a runtime: [`Map`] (results in input order), [`MapUnordered`]
//! (results as jobs end) and [`Batches`] (inputs grouped into `Vec`s for batched flows).
//!
//! Each keeps at most `bound` jobs in flight (queued, running, or ended with a result not
//! yet yielded), so memory follows the bound, not the stream's length.

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::{JobError, JobHandle, Runtime};

/// How long a stream's consumer sleeps for a burst of results before it settles for one.
const BURST_WAIT: Duration = Duration::from_millis(1);

impl<I: Send + 'static, O: Send + 'static> Runtime<I, O> {
    /// Runs the flow on every input, at most `bound` jobs at a time (0 counts as 1), and
    /// yields the results in input order. Inputs are taken from `inputs` as room appears,
    /// in runs of up to half the bound (each run queued at once).
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

impl<T: Send + 'static, O: Send + 'static> Runtime<Vec<T>, O> {
    /// Runs a batched flow (one whose inputs are a `Vec`) over `inputs` grouped into batches
    /// of `size` (the last one may be smaller), at most `bound` batches in flight; results in
    /// order, one per batch. For batches that must not wait long for stragglers, see
    /// [`Batches::from_channel`].
    pub fn map_batched<It>(
        &self,
        inputs: It,
        size: usize,
        bound: usize,
    ) -> Map<'_, Vec<T>, O, Batches<It::IntoIter>>
    where
        It: IntoIterator<Item = T>,
    {
        self.map(batches(inputs, size), bound)
    }
}

/// The iterator of [`Runtime::map`] and [`Runtime::map_batched`]: results in input order.
pub struct Map<'r, I, O, It> {
    runtime: &'r Runtime<I, O>,
    inputs: It,
    bound: usize,
    in_flight: VecDeque<Result<JobHandle<O>, JobError>>,
}

impl<I: Send + 'static, O: Send + 'static, It: Iterator<Item = I>> Iterator for Map<'_, I, O, It> {
    type Item = Result<O, JobError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Refill in runs of half the bound, each queued under one lock (fewer lock hand-overs
        // between this thread and the pool's; still at most `bound` in flight).
        if self.in_flight.len() <= self.bound / 2 {
            let room = self.bound - self.in_flight.len();
            (self.runtime.core).push_many(&mut self.inputs, room, &mut self.in_flight);
        }
        let front = self.in_flight.front()?;
        if let Ok(handle) = front
            && !handle.is_finished()
            && !self.runtime.core.on_pool()
        {
            // Jobs start in order: sleep until one half-way down the window ends, so as to
            // wake once per burst of results rather than once per result.
            // (For a millisecond at most: that job might wait for something the consumer does
            // after an earlier result.)
            if let Some(Ok(later)) = self.in_flight.get(self.in_flight.len() / 2) {
                later.block_until_ended(BURST_WAIT);
            }
        }
        Some(self.in_flight.pop_front()?.and_then(JobHandle::wait))
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

/// Groups a stream of inputs into `Vec`s of up to `size` (0 counts as 1), for a runtime
/// whose flow takes a batch. From an iterator ([`batches`]) a batch is full unless the
/// iterator ended; from a channel ([`Batches::from_channel`]) a partial batch also goes once
/// its first input has waited `max_wait`.
///
/// ```
/// use routilux::batches;
///
/// let groups: Vec<Vec<u32>> = batches(1..=7, 3).collect();
/// assert_eq!(groups, [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
/// ```
pub struct Batches<S> {
    source: S,
    size: usize,
}

/// Groups `inputs` into batches of `size`; see [`Batches`].
pub fn batches<It: IntoIterator>(inputs: It, size: usize) -> Batches<It::IntoIter> {
    Batches {
        source: inputs.into_iter(),
        size: size.max(1),
    }
}

/// Batches of what arrives on a channel: see [`Batches::from_channel`].
pub struct ChannelBatches<'c, T> {
    channel: &'c Receiver<T>,
    size: usize,
    max_wait: Duration,
}

impl Batches<()> {
    /// Groups what arrives on `channel` into batches of up to `size`; a partial batch goes
    /// once its first input has waited `max_wait`. Ends when every sender is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use routilux::Batches;
    ///
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// for x in 0..5 { tx.send(x).unwrap(); }
    /// drop(tx);
    /// let groups: Vec<Vec<u32>> = Batches::from_channel(&rx, 2, Duration::from_millis(5)).collect();
    /// assert_eq!(groups, [vec![0, 1], vec![2, 3], vec![4]]);
    /// ```
    pub fn from_channel<T>(
        channel: &Receiver<T>,
        size: usize,
        max_wait: Duration,
    ) -> ChannelBatches<'_, T> {
        ChannelBatches {
            channel,
            size: size.max(1),
            max_wait,
        }
    }
}

impl<It: Iterator> Iterator for Batches<It> {
    type Item = Vec<It::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch: Vec<It::Item> = self.source.by_ref().take(self.size).collect();
        (!batch.is_empty()).then_some(batch)
    }
}

impl<T> Iterator for ChannelBatches<'_, T> {
    type Item = Vec<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.channel.recv().ok()?;
        let mut batch = Vec::with_capacity(self.size.min(1024));
        batch.push(first);
        let deadline = Instant::now().checked_add(self.max_wait);
        while batch.len() < self.size {
            let next = match deadline {
                None => self
                    .channel
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => self
                    .channel
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
            match next {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        Some(batch)
    }
}
