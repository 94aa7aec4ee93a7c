//! The pool's side of the runtime: drain tasks that run queued jobs, the run of one job,
//! the help a waiting pool thread gives, and the per-thread [`Shard`]s that record the
//! running jobs, the counts and the latencies without a lock shared between threads.
//!
//! A drain task runs queued jobs one after the other. When the queue is empty it lingers
//! for [`LINGER`], watching the queue's length without its lock, before it ends: a job
//! submitted meanwhile then costs no task spawn and no wake-up of a sleeping thread. After
//! [`DRAIN_SLICE`] of work it spawns its successor and ends, so that a drain task stolen by
//! a thread waiting inside a job does not hold that job up for long.

use std::any::Any;
use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::error::JobError;
use super::handle::{Helper, JobStatus};
use super::metrics::{Latencies, Timing};
use super::queue::{Core, Job};
use super::state::SharedState;
use crate::cancel::CancelToken;
use crate::error::ErrorKind;
use crate::options::RunOptions;

/// How long a drain task that found the queue empty watches it before it ends.
const LINGER: Duration = Duration::from_micros(50);

/// How long one drain task runs jobs before handing over to a fresh one.
const DRAIN_SLICE: Duration = Duration::from_micros(200);

/// Latencies a shard keeps before handing them to the runtime's statistics.
const TIMINGS_BURST: usize = 64;

/// What one pool thread records about the jobs it runs; only that thread writes it (others
/// read it for metrics and shutdown).
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Shard {
    /// Jobs this thread took from the queue and has not ended yet.
    busy: AtomicUsize,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    inner: Mutex<ShardState>,
}

#[derive(Default)]
struct ShardState {
    /// The running jobs' ids and cancel tokens (for `shutdown(Cancel)`).
    running: Vec<(u64, TokenRef)>,
    /// Latencies not yet handed over, and whether each job failed.
    timings: Vec<(Timing, bool)>,
}

/// A running job's cancel token, borrowed from its cell without touching the token's
/// reference count (an atomic on a cache line the submitter also writes).
///
/// Safety: the thread running the job keeps the job's cell alive until it has taken the
/// entry out of its shard, under the shard's lock; the pointer is only read under that
/// lock.
struct TokenRef(*const CancelToken);

// SAFETY: `CancelToken` is `Send + Sync`; see `TokenRef` for why the pointer stays valid
// while it is read.
unsafe impl Send for TokenRef {}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, ShardState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A job was taken from the queue for this thread (called under the queue's lock).
    pub(crate) fn claim(&self) {
        // Only this shard's thread writes `busy`: no read-modify-write needed.
        let busy = self.busy.load(Ordering::Relaxed);
        self.busy.store(busy + 1, Ordering::SeqCst);
    }

    /// The job taken has ended.
    fn release(&self) {
        let busy = self.busy.load(Ordering::Relaxed);
        self.busy.store(busy - 1, Ordering::SeqCst);
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    pub(crate) fn running(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    pub(crate) fn cancel_running(&self) {
        for (_, token) in &self.lock().running {
            // SAFETY: see `TokenRef`: read under the shard's lock, while the job's thread
            // holds its cell.
            unsafe { (*token.0).cancel() };
        }
    }

    /// Adds this shard's counts (completed, failed, cancelled: `counts[1..]`) and hands its
    /// latencies over.
    pub(crate) fn report(&self, counts: &mut [u64; 4], latencies: &mut Latencies) {
        counts[1] += self.completed.load(Ordering::Relaxed);
        counts[2] += self.failed.load(Ordering::Relaxed);
        counts[3] += self.cancelled.load(Ordering::Relaxed);
        let timings = mem::take(&mut self.lock().timings);
        for (timing, failed) in timings {
            latencies.record(timing, failed);
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Core<I, O> {
    pub(crate) fn spawn_drainer(self: &Arc<Self>) {
        let core = Arc::clone(self);
        self.pool.spawn(move || core.drain());
    }

    /// A drain task: runs queued jobs until the queue stays empty or its slice is spent.
    fn drain(self: &Arc<Self>) {
        let shard = self.shard();
        let until = Instant::now() + DRAIN_SLICE;
        loop {
            let mut queue = self.lock();
            let Some(job) = self.pop(&mut queue, shard) else {
                drop(queue);
                if self.linger() {
                    continue;
                }
                let mut queue = self.lock();
                if queue.jobs.is_empty() {
                    queue.drainers -= 1;
                    return;
                }
                continue;
            };
            drop(queue);
            if self.run(job, shard) >= until {
                // Hand over to a fresh task (the drainer count carries over).
                self.spawn_drainer();
                return;
            }
        }
    }

    /// Watches the queue's length for [`LINGER`]; whether a job came.
    fn linger(&self) -> bool {
        let since = Instant::now();
        loop {
            for _ in 0..64 {
                if self.len.load(Ordering::Relaxed) > 0 {
                    return true;
                }
                std::hint::spin_loop();
            }
            if since.elapsed() >= LINGER {
                return false;
            }
            // Let a submitter that shares this core run.
            std::thread::yield_now();
        }
    }

    /// Runs one job taken from the queue for `shard` on this thread; returns when it ended.
    fn run(&self, job: Job<I, O>, shard: &Shard) -> Instant {
        let Job {
            inputs,
            cell,
            queued,
        } = job;
        if !cell.start() {
            // Cancelled while queued (and counted then).
            quietly(inputs);
            shard.release();
            self.maybe_idle();
            return Instant::now();
        }
        shard
            .lock()
            .running
            .push((cell.id, TokenRef(&raw const cell.cancel)));
        if self.cancelling.load(Ordering::SeqCst) {
            cell.cancel.cancel();
        }
        let started = Instant::now();
        let data = self.state.as_ref().map(SharedState::run_data);
        let mut options = RunOptions::new().pool(&self.pool).cancel(&cell.cancel);
        if let Some(data) = &data {
            options = options.data(data);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.flow)(inputs, options)));
        let (status, result) = match outcome {
            Ok(Ok(output)) => (JobStatus::Done, Ok(output)),
            Ok(Err(e)) if e.kind() == ErrorKind::Cancelled => {
                (JobStatus::Cancelled, Err(JobError::Flow(e)))
            }
            Ok(Err(e)) => (JobStatus::Failed, Err(JobError::Flow(e))),
            Err(panic) => (JobStatus::Failed, Err(JobError::Panicked(message(&*panic)))),
        };
        let ended = Instant::now();
        drop(data);
        let counter = match status {
            JobStatus::Done => &shard.completed,
            JobStatus::Cancelled => &shard.cancelled,
            _ => &shard.failed,
        };
        // Only this thread writes its shard's counters.
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        cell.finish(status, result);
        let timing = Timing {
            queued,
            started,
            ended,
        };
        let mut state = shard.lock();
        if let Some(at) = state.running.iter().rposition(|(r, _)| *r == cell.id) {
            state.running.swap_remove(at);
        }
        state.timings.push((timing, status != JobStatus::Done));
        let full = (state.timings.len() >= TIMINGS_BURST).then(|| mem::take(&mut state.timings));
        drop(state);
        // The last reference when the handle is gone: the result is dropped here (after the
        // cell left the shard's list, see `TokenRef`).
        quietly(cell);
        if let Some(timings) = full {
            let mut latencies = self
                .latencies
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (timing, failed) in timings {
                latencies.record(timing, failed);
            }
        }
        shard.release();
        self.maybe_idle();
        ended
    }
}

impl<I: Send + 'static, O: Send + 'static> Helper for Core<I, O> {
    fn on_pool(&self) -> bool {
        Core::on_pool(self)
    }

    fn help_one(&self) -> bool {
        let shard = self.shard();
        let mut queue = self.lock();
        let Some(job) = self.pop(&mut queue, shard) else {
            return false;
        };
        drop(queue);
        self.run(job, shard);
        true
    }

    fn unqueue(&self, id: u64) {
        self.remove(id);
    }
}

/// Drops `value`, ignoring a panic of its destructor (a drain task must not unwind: rayon
/// would abort the process).
fn quietly<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// A panic payload's message.
fn message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
