//! The runtime's core and its bounded queue: submitting (and waiting for room), cancelling
//! a queued job, shutdown and metrics. The drain tasks that run the queued jobs are in
//! `worker.rs`, the per-thread batches and records of the running jobs in `shard.rs`.
//!
//! An entry of the queue is one job or a chunk of a stream's inputs (`chunk.rs`): a chunk
//! counts against the capacity by its inputs not handed out yet, and a thread working on
//! one puts an invitation (another entry of it) at the front of the queue so that idle
//! threads join it.
//!
//! Invariant: while the queue holds a job, at least one drain task is alive (spawned on the
//! pool, or running); there are at most as many drain tasks as the pool has threads. A job
//! in a thread's batch is run by that thread's drain task (which ends only with an empty
//! batch), or stolen by another thread that drains or waits.
//!
//! The queue's lock is the one lock that submitters and pool threads share, so it guards
//! nothing but the queue itself: its critical sections push or pop one job and update a
//! few counters. Everything else a job needs (its cell, its timestamps, the record of it
//! running, its latencies) is made or kept outside it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;

use rayon::ThreadPool;

use super::cell::JobCell;
use super::chunk::Chunk;
use super::shard::{Next, Shard};
use super::state::SharedState;
use crate::error::FlowError;
use crate::options::RunOptions;

/// The flow a runtime runs: inputs and the run's options in, output out.
pub(crate) type FlowFn<I, O> = dyn Fn(I, RunOptions<'_>) -> Result<O, FlowError> + Send + Sync;

/// A queued job.
pub(crate) struct Job<I, O> {
    pub(crate) inputs: I,
    pub(crate) cell: Arc<JobCell<O>>,
    pub(crate) queued: Instant,
}

/// An entry of the queue or of a thread's batch: one job, or a run of a stream's inputs
/// (the chunk itself, or an invitation to work on it: see `chunk.rs`).
pub(crate) enum Entry<I, O> {
    One(Job<I, O>),
    Chunk(Arc<Chunk<I, O>>),
}

impl<I, O> Entry<I, O> {
    fn is_chunk(&self) -> bool {
        matches!(self, Entry::Chunk(_))
    }
}

pub(crate) struct Queue<I, O> {
    pub(crate) jobs: VecDeque<Entry<I, O>>,
    /// The entries of `jobs` that are chunks (they count against the capacity by their
    /// inputs not handed out yet, not as entries).
    pub(super) chunk_entries: usize,
    /// Inputs queued in chunks so far.
    pub(super) chunk_items: usize,
    /// Drain tasks alive (spawned, running or lingering).
    pub(crate) drainers: usize,
    pub(super) accepting: bool,
    /// Threads blocked in `submit`, waiting for room.
    pub(super) blocked: usize,
    /// Futures of `submit_async`, waiting for room.
    pub(super) wakers: Vec<Waker>,
    /// The next job's id.
    pub(super) next_id: u64,
    /// Jobs accepted so far.
    pub(super) submitted: u64,
    /// Jobs moved into the threads' batches so far, less those taken out by other threads
    /// than their owner (`Core::held`).
    pub(super) ahead: usize,
    /// The sum of the shards' `started_ahead` when last read (it only grows).
    pub(super) started_seen: usize,
}

/// Keeps what it holds on cache lines of its own, so that threads writing it do not slow
/// down threads writing its neighbours.
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

pub(crate) struct Core<I, O> {
    pub(crate) flow: Box<FlowFn<I, O>>,
    pub(crate) pool: Arc<ThreadPool>,
    pub(crate) state: Option<SharedState>,
    pub(super) capacity: usize,
    pub(super) workers: usize,
    pub(crate) queue: Padded<Mutex<Queue<I, O>>>,
    /// The queue's length, as of its lock's last holder: for lingering drain tasks to
    /// watch without taking the lock.
    pub(crate) len: Padded<AtomicUsize>,
    /// Drain tasks watching the queue for a job (at most `Core::max_lingering`): a job
    /// pushed while one watches needs no new drain task.
    pub(crate) lingering: Padded<AtomicUsize>,
    /// Whether an idle drain task is looking for work under the queue's lock (one at a
    /// time: see `Core::search`).
    pub(crate) searching: Padded<AtomicBool>,
    /// One per pool thread: the jobs it runs and what they counted.
    pub(crate) shards: Box<[Shard<I, O>]>,
    /// Signalled when a job leaves the queue or the runtime stops accepting.
    pub(super) room: Condvar,
    /// Signalled when a job ends while someone waits for every job to end.
    pub(crate) idle: Condvar,
    /// Threads in `shutdown`, waiting for every job to end.
    pub(crate) draining: Padded<AtomicUsize>,
    /// Set by `shutdown(Cancel)`: a job that starts from now on has its token cancelled.
    pub(crate) cancelling: AtomicBool,
    /// Set (before it looks at the batches) by a future that waits for room: a job that
    /// starts from a thread's batch makes room without a visit to the queue, and wakes it.
    pub(super) waiting_for_room: AtomicBool,
    /// Jobs cancelled while queued.
    pub(super) cancelled_queued: AtomicU64,
    /// Inputs of chunks cancelled before they were handed out.
    pub(super) chunk_cancelled: AtomicUsize,
}

impl<I, O> Core<I, O> {
    pub(crate) fn new(
        flow: Box<FlowFn<I, O>>,
        pool: Arc<ThreadPool>,
        state: Option<SharedState>,
        capacity: usize,
    ) -> Self {
        let workers = pool.current_num_threads().max(1);
        Core {
            flow,
            pool,
            state,
            capacity: capacity.max(1),
            workers,
            queue: Padded(Mutex::new(Queue {
                jobs: VecDeque::with_capacity(capacity.clamp(1, 1024)),
                chunk_entries: 0,
                chunk_items: 0,
                drainers: 0,
                accepting: true,
                blocked: 0,
                wakers: Vec::new(),
                next_id: 1,
                submitted: 0,
                ahead: 0,
                started_seen: 0,
            })),
            len: Padded(AtomicUsize::new(0)),
            lingering: Padded(AtomicUsize::new(0)),
            searching: Padded(AtomicBool::new(false)),
            shards: (0..workers).map(|_| Shard::default()).collect(),
            room: Condvar::new(),
            idle: Condvar::new(),
            draining: Padded(AtomicUsize::new(0)),
            cancelling: AtomicBool::new(false),
            waiting_for_room: AtomicBool::new(false),
            cancelled_queued: AtomicU64::new(0),
            chunk_cancelled: AtomicUsize::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Queue<I, O>> {
        // No user code runs under this lock: inputs and results are dropped after it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives the calling thread (whose shard is `shard`) work: moves up to `batch` of the
    /// oldest queued jobs into its batch (fewer when the queue is short, so that every
    /// thread gets some, and with a small capacity, so that jobs waiting in batches never
    /// hold up submitters for long: they count against it until they start), or else steals
    /// the oldest job of another thread's batch. They count as `shard`'s jobs until they have
    /// ended (`shutdown` waits for them). Returns whether it found any.
    pub(crate) fn fill(&self, queue: &mut Queue<I, O>, shard: &Shard<I, O>, batch: usize) -> bool {
        let len = queue.jobs.len();
        if len > 0 {
            let n = (len / self.workers)
                .min(self.capacity / (4 * self.workers))
                .clamp(1, batch.max(1));
            let mut chunks = 0;
            let took = shard.take(
                queue
                    .jobs
                    .drain(..n)
                    .inspect(|e| chunks += usize::from(e.is_chunk())),
            );
            queue.chunk_entries -= chunks;
            queue.ahead += took;
            self.len.store(queue.jobs.len(), Ordering::Relaxed);
            self.made_room(queue);
            return true;
        }
        for other in &*self.shards {
            if std::ptr::eq(other, shard) {
                continue;
            }
            if let Some(job) = other.steal() {
                shard.take(std::iter::once(job));
                return true;
            }
        }
        false
    }

    /// How many drain tasks to spawn for jobs just queued: as many as are missing (fewer
    /// than the pool's threads are alive), but none for the jobs that the tasks watching the
    /// queue will take without a wake-up. With the queue's lock held (a watching task stops
    /// counting before it takes the lock for its last look).
    pub(super) fn drainers_to_spawn(&self, queue: &Queue<I, O>) -> usize {
        let watching = self.lingering.load(Ordering::SeqCst);
        self.workers
            .saturating_sub(queue.drainers)
            .min(queue.jobs.len().saturating_sub(watching))
    }

    /// Whether there may be work for an idle thread: queued jobs, or jobs in another
    /// thread's batch (hints, read without a lock).
    pub(crate) fn may_have_work(&self, shard: &Shard<I, O>) -> bool {
        self.len.load(Ordering::Relaxed) > 0
            || self
                .shards
                .iter()
                .any(|other| !std::ptr::eq(other, shard) && other.has_batch())
    }

    /// Jobs in the threads' batches, not started yet: at least as many as there are (a
    /// thread's count of jobs started may be read late), exactly as many at rest.
    fn held(&self, queue: &mut Queue<I, O>) -> usize {
        queue.started_seen = self.shards.iter().map(Shard::started_ahead).sum();
        queue.ahead.saturating_sub(queue.started_seen)
    }

    /// Inputs of queued chunks not handed out yet: at least as many as there are (a
    /// thread's count of inputs claimed may be read late).
    fn chunk_waiting(&self, queue: &Queue<I, O>) -> usize {
        if queue.chunk_items == 0 {
            return 0;
        }
        let gone = self.chunk_cancelled.load(Ordering::SeqCst)
            + self.shards.iter().map(Shard::chunk_claimed).sum::<usize>();
        queue.chunk_items.saturating_sub(gone)
    }

    /// The places of the capacity taken: queued jobs, jobs in the threads' batches and
    /// inputs of chunks not handed out yet (a chunk's entry in a batch counts as one job
    /// until its thread starts on it). With `exact`, the batches are counted exactly.
    pub(super) fn used(&self, queue: &mut Queue<I, O>, exact: bool) -> usize {
        let held = if exact {
            self.held(queue)
        } else {
            queue.ahead.saturating_sub(queue.started_seen)
        };
        queue.jobs.len() - queue.chunk_entries + held + self.chunk_waiting(queue)
    }

    /// Whether the queue and the batches hold `capacity` jobs (looking at the threads'
    /// counts only when the queue alone is close to it).
    pub(super) fn is_full(&self, queue: &mut Queue<I, O>) -> bool {
        self.used(queue, false) >= self.capacity && self.used(queue, true) >= self.capacity
    }

    /// Takes the next job of this thread's batch. Starting it makes room (it no longer
    /// counts against the capacity): futures waiting for room are woken.
    pub(crate) fn next_job(&self, shard: &Shard<I, O>) -> Option<Next<I, O>> {
        let next = shard.next()?;
        // SeqCst, with the waiting future's store before its look at the batches: one of
        // the two sees the other (no wake-up is lost).
        if self.waiting_for_room.load(Ordering::SeqCst) {
            let mut queue = self.lock();
            self.waiting_for_room.store(false, Ordering::SeqCst);
            for waker in queue.wakers.drain(..) {
                waker.wake();
            }
        }
        Some(next)
    }

    /// Wakes the blocked submitters and waiting futures once the queue has drained to half
    /// its capacity (so that they wake once per burst of jobs, not once per job).
    pub(super) fn made_room(&self, queue: &mut Queue<I, O>) {
        if queue.jobs.len() > self.capacity / 2 {
            return;
        }
        if queue.blocked > 0 {
            self.room.notify_all();
        }
        for waker in queue.wakers.drain(..) {
            waker.wake();
        }
    }

    /// Whether no job is queued and none runs (with the queue's lock held).
    pub(super) fn is_idle(&self, queue: &Queue<I, O>) -> bool {
        queue.jobs.is_empty() && self.shards.iter().all(Shard::is_idle)
    }

    /// Wakes the threads waiting in `shutdown` if every job has ended (called after a job
    /// ended or left the queue).
    pub(crate) fn maybe_idle(&self) {
        if self.draining.load(Ordering::SeqCst) > 0 {
            let queue = self.lock();
            if self.is_idle(&queue) {
                self.idle.notify_all();
            }
        }
    }

    /// Whether the calling thread is one of the pool's.
    pub(crate) fn on_pool(&self) -> bool {
        self.pool.current_thread_index().is_some()
    }

    /// The calling pool thread's shard.
    pub(crate) fn shard(&self) -> &Shard<I, O> {
        let index = self.pool.current_thread_index().unwrap_or(0);
        &self.shards[index % self.shards.len()]
    }
}
