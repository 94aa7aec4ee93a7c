//! [`Shard`]: what one pool thread holds and records: the jobs it took from the queue ahead
//! of running them (its batch), the jobs it runs, its counts and its latencies, without a
//! lock shared between threads.
//!
//! A drain task takes several jobs per visit to the queue (see `Core::fill`) into its
//! thread's batch and runs them one after the other. They stay visible to everyone else:
//! `cancel` and `shutdown` find them there, an idle drain task or a waiting thread steals
//! from another thread's batch, and they count against the queue's capacity until they
//! start (see `Core::held`).
//!
//! Counting, so that `shutdown` knows when every job has ended: `claimed` (jobs taken for
//! this thread, in its batch or running) changes only under the queue's lock; `released`
//! (jobs this thread ended or skipped) only on this thread. A shard is idle when they are
//! equal; read under the queue's lock, no claim can happen meanwhile, so a shard seen idle
//! stays idle while the lock is held.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::chunk::Chunk;
use super::handle::JobStatus;
use super::metrics::{Latencies, Sum, Timing};
use super::queue::{Entry, Job};
use crate::cancel::CancelToken;

/// What one pool thread records about the jobs it takes and runs; only that thread writes
/// it, except where noted (others read it for metrics, cancel, shutdown and stealing).
#[repr(align(128))]
pub(crate) struct Shard<I, O> {
    /// Jobs taken for this thread (in its batch, running, or skipped): written only under
    /// the queue's lock, by any thread.
    claimed: AtomicUsize,
    /// Jobs this thread ended or skipped.
    released: AtomicUsize,
    /// Jobs this thread took out of its own batch to start them (see `Core::held`).
    started_ahead: AtomicUsize,
    /// Inputs this thread claimed from chunks (see `Core::chunk_waiting`).
    chunk_claimed: AtomicUsize,
    /// The batch's length as of its lock's last holder: for idle threads to skip empty
    /// batches without taking their locks.
    batched: AtomicUsize,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    inner: Mutex<ShardState<I, O>>,
}

struct ShardState<I, O> {
    /// Jobs taken from the queue for this thread, not started yet.
    batch: VecDeque<Entry<I, O>>,
    /// The running jobs' ids and cancel tokens (for `shutdown(Cancel)`).
    running: Vec<(u64, TokenRef)>,
    /// The latencies of the jobs this thread ran (merged with the others' by `metrics`).
    latencies: Latencies,
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

/// The next job of a thread's batch.
pub(crate) enum Next<I, O> {
    /// Started (marked running, its token recorded): run it.
    Run(Job<I, O>),
    /// Cancelled while queued: drop its inputs and release it.
    Skip(Job<I, O>),
    /// A chunk to work on (its token recorded as running, under the chunk's first id).
    Chunk(Arc<Chunk<I, O>>),
}

impl<I, O> Default for Shard<I, O> {
    fn default() -> Self {
        Shard {
            claimed: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
            started_ahead: AtomicUsize::new(0),
            chunk_claimed: AtomicUsize::new(0),
            batched: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            inner: Mutex::new(ShardState {
                batch: VecDeque::new(),
                running: Vec::new(),
                latencies: Latencies::default(),
            }),
        }
    }
}

/// Adds `n` to an atomic only one thread (or one lock's holder) writes, without a
/// read-modify-write.
fn bump(counter: &AtomicUsize, n: usize, order: Ordering) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), order);
}

impl<I, O> Shard<I, O> {
    fn lock(&self) -> MutexGuard<'_, ShardState<I, O>> {
        // No user code runs under this lock: inputs and results are dropped after it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends jobs taken from the queue to this thread's batch (under the queue's lock).
    pub(crate) fn take(&self, jobs: impl Iterator<Item = Entry<I, O>>) -> usize {
        let mut state = self.lock();
        let before = state.batch.len();
        state.batch.extend(jobs);
        let n = state.batch.len() - before;
        self.batched.store(state.batch.len(), Ordering::Relaxed);
        drop(state);
        bump(&self.claimed, n, Ordering::SeqCst);
        n
    }

    /// Takes the oldest job out of this shard's batch for another thread (under the
    /// queue's lock).
    pub(crate) fn steal(&self) -> Option<Entry<I, O>> {
        if self.batched.load(Ordering::Relaxed) == 0 {
            // Seen empty (a batch that fills meanwhile has its own thread to run it).
            return None;
        }
        let mut state = self.lock();
        let job = state.batch.pop_front()?;
        self.batched.store(state.batch.len(), Ordering::Relaxed);
        drop(state);
        self.claimed
            .store(self.claimed.load(Ordering::Relaxed) - 1, Ordering::SeqCst);
        Some(job)
    }

    /// Takes the job `id` out of this shard's batch, if it is there (under the queue's
    /// lock).
    pub(crate) fn remove(&self, id: u64) -> Option<Job<I, O>> {
        let mut state = self.lock();
        let at = (state.batch.iter())
            .position(|entry| matches!(entry, Entry::One(job) if job.cell.id == id))?;
        let job = match state.batch.remove(at) {
            Some(Entry::One(job)) => Some(job),
            _ => None,
        };
        self.batched.store(state.batch.len(), Ordering::Relaxed);
        drop(state);
        self.claimed
            .store(self.claimed.load(Ordering::Relaxed) - 1, Ordering::SeqCst);
        job
    }

    /// Empties this shard's batch (under the queue's lock).
    pub(crate) fn remove_all(&self) -> Vec<Entry<I, O>> {
        let mut state = self.lock();
        let jobs: Vec<Entry<I, O>> = state.batch.drain(..).collect();
        self.batched.store(0, Ordering::Relaxed);
        drop(state);
        let claimed = self.claimed.load(Ordering::Relaxed);
        self.claimed.store(claimed - jobs.len(), Ordering::SeqCst);
        jobs
    }

    /// The next job of this thread's batch (called on this shard's thread): started and
    /// recorded as running, or to be skipped if it was cancelled while queued.
    pub(crate) fn next(&self) -> Option<Next<I, O>> {
        let mut state = self.lock();
        let entry = state.batch.pop_front()?;
        self.batched.store(state.batch.len(), Ordering::Relaxed);
        bump(&self.started_ahead, 1, Ordering::SeqCst);
        let job = match entry {
            Entry::One(job) => job,
            Entry::Chunk(chunk) => {
                state
                    .running
                    .push((chunk.id, TokenRef(&raw const chunk.cancel)));
                return Some(Next::Chunk(chunk));
            }
        };
        if !job.cell.start() {
            return Some(Next::Skip(job));
        }
        state
            .running
            .push((job.cell.id, TokenRef(&raw const job.cell.cancel)));
        Some(Next::Run(job))
    }

    /// Whether this thread's batch is empty.
    pub(crate) fn batch_is_empty(&self) -> bool {
        self.lock().batch.is_empty()
    }

    /// Whether this thread's batch held jobs when last changed (a hint: read without the
    /// shard's lock).
    pub(crate) fn has_batch(&self) -> bool {
        self.batched.load(Ordering::Relaxed) > 0
    }

    /// The job `id`, or this thread's work on the chunk `id`, ended (called on this
    /// shard's thread, before its cell or chunk may be freed): records the latencies of
    /// the runs.
    pub(crate) fn ended(&self, id: u64, timings: impl IntoIterator<Item = (Timing, bool)>) {
        let mut state = self.lock();
        if let Some(at) = state.running.iter().rposition(|(r, _)| *r == id) {
            state.running.swap_remove(at);
        }
        for (timing, failed) in timings {
            state.latencies.record(timing, failed);
        }
    }

    /// Counts a job that ended with `status` (called on this shard's thread: only it
    /// writes these counters).
    pub(crate) fn count(&self, status: JobStatus) {
        let counter = match status {
            JobStatus::Done => &self.completed,
            JobStatus::Cancelled => &self.cancelled,
            _ => &self.failed,
        };
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// This thread claimed an input of a chunk (called on this shard's thread).
    pub(crate) fn claimed_from_chunk(&self) {
        bump(&self.chunk_claimed, 1, Ordering::Release);
    }

    /// Inputs this thread claimed from chunks so far.
    pub(crate) fn chunk_claimed(&self) -> usize {
        self.chunk_claimed.load(Ordering::SeqCst)
    }

    /// A job taken for this thread has ended or was skipped (called on this shard's thread).
    pub(crate) fn release(&self) {
        bump(&self.released, 1, Ordering::SeqCst);
    }

    /// How many jobs this thread took out of its own batch so far.
    pub(crate) fn started_ahead(&self) -> usize {
        self.started_ahead.load(Ordering::SeqCst)
    }

    /// Whether no job taken for this thread is left (exact under the queue's lock).
    pub(crate) fn is_idle(&self) -> bool {
        self.busy() == 0
    }

    /// Jobs taken for this thread that have not ended (in its batch or running).
    pub(crate) fn busy(&self) -> usize {
        let claimed = self.claimed.load(Ordering::SeqCst);
        claimed.saturating_sub(self.released.load(Ordering::SeqCst))
    }

    pub(crate) fn cancel_running(&self) {
        for (_, token) in &self.lock().running {
            // SAFETY: see `TokenRef`: read under the shard's lock, while the job's thread
            // holds its cell.
            unsafe { (*token.0).cancel() };
        }
    }

    /// Adds this shard's counts (completed, failed, cancelled: `counts[1..]`) and its
    /// latencies (see [`Latencies::report`]).
    pub(crate) fn report(
        &self,
        counts: &mut [u64; 4],
        sums: &mut [Sum; 3],
        recent: &mut Vec<Timing>,
    ) {
        counts[1] += self.completed.load(Ordering::Relaxed);
        counts[2] += self.failed.load(Ordering::Relaxed);
        counts[3] += self.cancelled.load(Ordering::Relaxed);
        self.lock().latencies.report(sums, recent);
    }
}
