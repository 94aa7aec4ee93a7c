//! [`MapUnordered`]: a stream's results as its jobs end, with each input's position.
//!
//! Inputs are queued as [`map`](super::Map) queues them: in runs of at least a quarter of
//! the bound, each one chunk (one queue entry whose inputs the pool's threads share; see
//! `chunk.rs`).
//! The consumer finds the inputs that ended by scanning each chunk: up to the chunk's
//! cursor (inputs past it were not handed out, so none of them ended), yielding those that
//! ended and noting those that had not (running, or waiting in a thread's grab), which it
//! looks at again once the scan has caught up. Nothing is written per job for the
//! consumer's sake (no shared count or list of ended jobs): a job's end costs its threads
//! what it costs in `map`.

use std::collections::VecDeque;
use std::sync::Arc;

use super::chunk::Chunk;
use super::handle::Helper;
use super::stream::{BURST_WAIT, Feed};
use super::submit::InFlight;
use super::{JobError, JobHandle, Runtime};

impl<I: Send + 'static, O: Send + 'static> Runtime<I, O> {
    /// As [`map`](Self::map), but yields each result once its job ended, with the input's
    /// position in the stream, so that a slow input holds up only its own result. Inputs
    /// are queued as `map` queues them (runs of at least a quarter of the bound, as
    /// chunks); the consumer wakes once per burst of results, not once per result.
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
        MapUnordered {
            runtime: self,
            feed: Feed::new(inputs.into_iter(), bound),
            queued: VecDeque::new(),
            next_index: 0,
            in_flight: VecDeque::new(),
        }
    }
}

/// The iterator of [`Runtime::map_unordered`]: `(position, result)` as jobs end.
pub struct MapUnordered<'r, I, O, It> {
    runtime: &'r Runtime<I, O>,
    feed: Feed<I, It>,
    /// What the last refill queued (kept for its allocation).
    queued: VecDeque<InFlight<I, O>>,
    /// The stream position of the next input to queue.
    next_index: usize,
    in_flight: VecDeque<Jobs<I, O>>,
}

/// A run of jobs in flight and what the consumer has looked at.
struct Jobs<I, O> {
    jobs: InFlight<I, O>,
    /// The stream position of its first input.
    base: usize,
    /// Inputs before this one were yielded or are in `passed`.
    scan: usize,
    /// Inputs the scan passed before they ended, oldest first.
    passed: Vec<usize>,
}

/// Where to sleep when no job in flight has ended.
enum Sleep<'a, I, O> {
    Chunk(&'a Chunk<I, O>, usize),
    Handle(&'a JobHandle<O>),
}

impl<I, O> Jobs<I, O> {
    /// Takes the result of an input that ended, if any (as its position in the stream).
    fn take_ended(&mut self) -> Option<(usize, Result<O, JobError>)> {
        let base = self.base;
        match &mut self.jobs {
            InFlight::One(job) => {
                if self.scan > 0 {
                    return None;
                }
                let result = match job {
                    Err(e) => Err(std::mem::replace(e, JobError::Taken)),
                    Ok(handle) if handle.is_finished() => {
                        handle.try_result().unwrap_or(Err(JobError::Taken))
                    }
                    Ok(_) => return None,
                };
                self.scan = 1;
                Some((base, result))
            }
            InFlight::Chunk { chunk, .. } => {
                let len = chunk.len();
                // New inputs first: up to the cursor, past it nothing has started.
                let mut handed_out = chunk.handed_out();
                while self.scan < len {
                    let at = self.scan;
                    if chunk.has_ended(at) {
                        self.scan += 1;
                        // SAFETY: this iterator is the chunk's one consumer; `at` ended and is
                        // read once (the scan moved past it and did not note it as passed).
                        let result = unsafe { chunk.take(at) }.unwrap_or(Err(JobError::Taken));
                        return Some((base + at, result));
                    }
                    if at >= handed_out {
                        handed_out = chunk.handed_out();
                        if at >= handed_out {
                            break;
                        }
                    }
                    self.passed.push(at);
                    self.scan += 1;
                }
                // Then the inputs passed while they ran.
                let k = self.passed.iter().position(|&at| chunk.has_ended(at))?;
                let at = self.passed.remove(k);
                // SAFETY: as above; `at` leaves `passed` as it is read.
                let result = unsafe { chunk.take(at) }.unwrap_or(Err(JobError::Taken));
                Some((base + at, result))
            }
        }
    }

    /// Whether every result of this run was yielded.
    fn is_spent(&self) -> bool {
        self.scan == self.jobs.len() && self.passed.is_empty()
    }

    /// Where the consumer should sleep for this run's next result: a job not passed yet
    /// (`ahead` inputs past the scan, so as to wake for a burst of results), or, with
    /// `passed`, its oldest input passed while running.
    fn sleep(&self, ahead: usize, passed: bool) -> Option<Sleep<'_, I, O>> {
        match &self.jobs {
            InFlight::One(Ok(handle)) if self.scan == 0 => Some(Sleep::Handle(handle)),
            InFlight::One(_) => None,
            InFlight::Chunk { chunk, .. } if self.scan < chunk.len() => {
                let at = (self.scan + ahead).min(chunk.len() - 1);
                Some(Sleep::Chunk(chunk, at))
            }
            InFlight::Chunk { chunk, .. } if passed => {
                (self.passed.first()).map(|&at| Sleep::Chunk(chunk, at))
            }
            InFlight::Chunk { .. } => None,
        }
    }
}

impl<I: Send + 'static, O: Send + 'static, It: Iterator<Item = I>> Iterator
    for MapUnordered<'_, I, O, It>
{
    type Item = (usize, Result<O, JobError>);

    fn next(&mut self) -> Option<Self::Item> {
        self.feed.top_up(&self.runtime.core, &mut self.queued);
        for jobs in self.queued.drain(..) {
            let base = self.next_index;
            self.next_index += jobs.len();
            self.in_flight.push_back(Jobs {
                jobs,
                base,
                scan: 0,
                passed: Vec::new(),
            });
        }
        if self.feed.held == 0 {
            return None;
        }
        let on_pool = self.runtime.core.on_pool();
        loop {
            for k in 0..self.in_flight.len() {
                let jobs = &mut self.in_flight[k];
                let Some(item) = jobs.take_ended() else {
                    continue;
                };
                if jobs.is_spent() {
                    self.in_flight.remove(k);
                }
                self.feed.held -= 1;
                return Some(item);
            }
            // Nothing ended: wait for a burst (a quarter of the jobs in flight).
            if on_pool && Arc::clone(&self.runtime.core).help_one() {
                // Waiting here could hold the thread that would run them: helped instead.
                continue;
            }
            // Jobs not looked at yet first: an input passed while it ran may be a slow one,
            // and the others' results (and the room they make) should not wait for it.
            let ahead = if on_pool { 0 } else { self.feed.burst() };
            let sleep = (self
                .in_flight
                .iter()
                .find_map(|jobs| jobs.sleep(ahead, false)))
            .or_else(|| self.in_flight.iter().find_map(|jobs| jobs.sleep(0, true)));
            match sleep {
                Some(Sleep::Chunk(chunk, at)) => {
                    chunk.block(at, BURST_WAIT);
                }
                Some(Sleep::Handle(handle)) => handle.block_until_ended(BURST_WAIT),
                None => {}
            }
        }
    }
}
