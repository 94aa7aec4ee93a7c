//! The runtime's core: the bounded queue, the drain tasks that run queued jobs on the pool,
//! and the help a waiting pool thread gives.
//!
//! Invariant: while the queue holds a job, at least one drain task is alive (spawned on the
//! pool, or running); there are at most as many drain tasks as the pool has threads. A
//! drain task runs queued jobs one after the other and ends when the queue is empty (after
//! [`DRAIN_BUDGET`] jobs it spawns its successor and ends, so that a drain task stolen by a
//! thread waiting inside a job does not hold that job up for long).

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use rayon::ThreadPool;

use super::Shutdown;
use super::error::{JobError, ShutdownError, SubmitError};
use super::handle::{Helper, JobCell, JobHandle, JobStatus};
use super::metrics::{Counts, Latencies, Metrics, Timing};
use super::state::SharedState;
use crate::cancel::CancelToken;
use crate::error::{ErrorKind, FlowError};
use crate::options::RunOptions;

/// How long a blocked submitter sleeps before it looks at the queue again.
const ROOM_WAIT: Duration = Duration::from_millis(1);

/// Jobs one drain task runs before handing over to a fresh one.
const DRAIN_BUDGET: u32 = 64;

/// The flow a runtime runs: inputs and the run's options in, output out.
pub(crate) type FlowFn<I, O> = dyn Fn(I, RunOptions<'_>) -> Result<O, FlowError> + Send + Sync;

/// A queued job.
struct Job<I, O> {
    inputs: I,
    cell: Arc<JobCell<O>>,
    queued: Instant,
}

struct Queue<I, O> {
    jobs: VecDeque<Job<I, O>>,
    /// The running jobs' ids and cancel tokens.
    running: Vec<(u64, CancelToken)>,
    drainers: usize,
    accepting: bool,
    /// Threads blocked in `submit`, waiting for room.
    blocked: usize,
    /// Futures of `submit_async`, waiting for room.
    wakers: Vec<Waker>,
    /// Threads blocked in `shutdown`, waiting for every job to end.
    draining: usize,
    latencies: Latencies,
}

pub(crate) struct Core<I, O> {
    flow: Box<FlowFn<I, O>>,
    pub(crate) pool: Arc<ThreadPool>,
    pub(crate) state: Option<SharedState>,
    capacity: usize,
    workers: usize,
    queue: Mutex<Queue<I, O>>,
    /// Signalled when a job leaves the queue or the runtime stops accepting.
    room: Condvar,
    /// Signalled when the queue is empty and nothing runs.
    idle: Condvar,
    next_id: AtomicU64,
    counts: Counts,
}

/// How `push` waits for room.
pub(crate) enum Wait<'w> {
    /// Not at all.
    No,
    /// Blocking the thread (or helping, on a pool thread).
    Block,
    /// Registering a future's waker.
    Wake(&'w Waker),
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
            queue: Mutex::new(Queue {
                jobs: VecDeque::with_capacity(capacity.clamp(1, 1024)),
                running: Vec::new(),
                drainers: 0,
                accepting: true,
                blocked: 0,
                wakers: Vec::new(),
                draining: 0,
                latencies: Latencies::new(),
            }),
            room: Condvar::new(),
            idle: Condvar::new(),
            next_id: AtomicU64::new(1),
            counts: Counts::default(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, Queue<I, O>> {
        // No user code runs under this lock: inputs and results are dropped after it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the oldest queued job, marking it running. The queue must not be empty.
    fn pop(&self, queue: &mut Queue<I, O>) -> Job<I, O> {
        let job = queue.jobs.pop_front().expect("pop from a non-empty queue");
        queue.running.push((job.cell.id, job.cell.cancel.clone()));
        self.made_room(queue);
        job
    }

    /// Wakes the blocked submitters and waiting futures once the queue has drained to half
    /// its capacity (so that they wake once per burst of jobs, not once per job).
    fn made_room(&self, queue: &mut Queue<I, O>) {
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

    /// A job stopped running.
    fn end(&self, queue: &mut Queue<I, O>, id: u64, timing: Option<(Timing, bool)>) {
        if let Some(at) = queue.running.iter().position(|(r, _)| *r == id) {
            queue.running.swap_remove(at);
        }
        if let Some((timing, failed)) = timing {
            queue.latencies.record(timing, failed);
        }
        if queue.draining > 0 && queue.running.is_empty() && queue.jobs.is_empty() {
            self.idle.notify_all();
        }
    }

    /// Runs one job on this thread; returns its id and, if it ran, its timing.
    fn run(&self, job: Job<I, O>) -> (u64, Option<(Timing, bool)>) {
        let Job {
            inputs,
            cell,
            queued,
        } = job;
        if !cell.start() {
            // Cancelled while queued (and counted then).
            quietly(inputs);
            return (cell.id, None);
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
        Counts::add(match status {
            JobStatus::Done => &self.counts.completed,
            JobStatus::Cancelled => &self.counts.cancelled,
            _ => &self.counts.failed,
        });
        cell.finish(status, result);
        let id = cell.id;
        // The last reference when the handle is gone: the result is dropped here.
        quietly(cell);
        let timing = Timing {
            queued,
            started,
            ended,
        };
        (id, Some((timing, status != JobStatus::Done)))
    }

    /// Stops accepting jobs; with [`Shutdown::Cancel`], cancels the queued and running ones;
    /// then waits until every job has ended (unless called from a job).
    pub(crate) fn shutdown(&self, mode: Shutdown, wait: bool) -> Result<(), ShutdownError> {
        let mut queue = self.lock();
        queue.accepting = false;
        let cancelled: Vec<Job<I, O>> = match mode {
            Shutdown::Drain => Vec::new(),
            Shutdown::Cancel => {
                for (_, token) in &queue.running {
                    token.cancel();
                }
                queue.jobs.drain(..).collect()
            }
        };
        self.wake_submitters(&mut queue);
        drop(queue);
        for job in cancelled {
            if job.cell.cancel_queued() {
                Counts::add(&self.counts.cancelled);
            }
        }
        if !wait {
            return Ok(());
        }
        if self.on_pool() {
            return Err(ShutdownError::InsideJob);
        }
        let mut queue = self.lock();
        queue.draining += 1;
        while !(queue.jobs.is_empty() && queue.running.is_empty()) {
            queue = self
                .idle
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        queue.draining -= 1;
        Ok(())
    }

    /// Stops accepting jobs, without waiting (what dropping the runtime does).
    pub(crate) fn stop_accepting(&self) {
        let mut queue = self.lock();
        queue.accepting = false;
        self.wake_submitters(&mut queue);
    }

    /// Wakes every blocked submitter and waiting future, whatever the queue holds.
    fn wake_submitters(&self, queue: &mut Queue<I, O>) {
        self.room.notify_all();
        for waker in queue.wakers.drain(..) {
            waker.wake();
        }
    }

    pub(crate) fn is_accepting(&self) -> bool {
        self.lock().accepting
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let queue = self.lock();
        let sizes = (queue.jobs.len(), queue.running.len(), self.capacity);
        let latencies = queue.latencies.clone();
        drop(queue);
        Metrics::new(sizes, &self.counts, latencies)
    }

    /// Whether the calling thread is one of the pool's.
    pub(crate) fn on_pool(&self) -> bool {
        self.pool.current_thread_index().is_some()
    }
}

impl<I: Send + 'static, O: Send + 'static> Core<I, O> {
    /// Queues a job, waiting for room as `wait` says.
    pub(crate) fn push(
        self: &Arc<Self>,
        inputs: I,
        wait: &Wait<'_>,
    ) -> Result<JobHandle<O>, SubmitError<I>> {
        let mut queue = self.lock();
        loop {
            if !queue.accepting {
                return Err(SubmitError::ShutDown(inputs));
            }
            if queue.jobs.len() < self.capacity {
                break;
            }
            match wait {
                Wait::No => return Err(SubmitError::Full(inputs)),
                Wait::Wake(waker) => {
                    if !queue.wakers.iter().any(|w| w.will_wake(waker)) {
                        queue.wakers.push((*waker).clone());
                    }
                    return Err(SubmitError::Full(inputs));
                }
                Wait::Block if self.on_pool() => {
                    // Waiting here could hold the last thread that drains the queue: make
                    // room by running the oldest job on this thread instead.
                    drop(queue);
                    self.help_one();
                    queue = self.lock();
                }
                Wait::Block => {
                    // Woken at half capacity; but look again after a millisecond, in case the
                    // queued jobs wait for this one.
                    queue.blocked += 1;
                    queue = self
                        .room
                        .wait_timeout(queue, ROOM_WAIT)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    queue.blocked -= 1;
                }
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cell = Arc::new(JobCell::new(id));
        queue.jobs.push_back(Job {
            inputs,
            cell: Arc::clone(&cell),
            queued: Instant::now(),
        });
        let spawn = queue.drainers < self.workers;
        if spawn {
            queue.drainers += 1;
        }
        drop(queue);
        Counts::add(&self.counts.submitted);
        if spawn {
            self.spawn_drainer();
        }
        let helper: Arc<dyn Helper> = Arc::clone(self) as Arc<dyn Helper>;
        Ok(JobHandle::new(cell, helper))
    }

    fn spawn_drainer(self: &Arc<Self>) {
        let core = Arc::clone(self);
        self.pool.spawn(move || core.drain());
    }

    /// A drain task: runs queued jobs until the queue is empty or its budget is spent.
    fn drain(self: &Arc<Self>) {
        let mut finished = None;
        let mut budget = DRAIN_BUDGET;
        loop {
            let mut queue = self.lock();
            if let Some((id, timing)) = finished.take() {
                self.end(&mut queue, id, timing);
            }
            if queue.jobs.is_empty() {
                queue.drainers -= 1;
                return;
            }
            if budget == 0 {
                // Hand over to a fresh task (the drainer count carries over).
                drop(queue);
                self.spawn_drainer();
                return;
            }
            budget -= 1;
            let job = self.pop(&mut queue);
            drop(queue);
            finished = Some(self.run(job));
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Helper for Core<I, O> {
    fn on_pool(&self) -> bool {
        Core::on_pool(self)
    }

    fn help_one(&self) -> bool {
        let mut queue = self.lock();
        if queue.jobs.is_empty() {
            return false;
        }
        let job = self.pop(&mut queue);
        drop(queue);
        let (id, timing) = self.run(job);
        self.end(&mut self.lock(), id, timing);
        true
    }

    fn unqueue(&self, id: u64) {
        Counts::add(&self.counts.cancelled);
        let mut queue = self.lock();
        let job = queue
            .jobs
            .iter()
            .position(|job| job.cell.id == id)
            .and_then(|at| queue.jobs.remove(at));
        if job.is_some() {
            self.made_room(&mut queue);
            if queue.draining > 0 && queue.running.is_empty() && queue.jobs.is_empty() {
                self.idle.notify_all();
            }
        }
        drop(queue);
        drop(job);
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
